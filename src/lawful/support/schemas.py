"""What the support-contact API accepts and shows. Input models refuse unknown fields."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from lawful.support.models import Channel
from lawful.web.api import Input, Text, omittable

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


class SupportContactOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    contact_person_id: uuid.UUID | None = Field(description="the contact person spoken with, if any")
    user_id: uuid.UUID | None = Field(description="the customer's user spoken with, if any")
    staff_id: uuid.UUID | None = Field(description="the staff member who logged it")
    channel: Channel
    occurred_at: datetime
    summary: str
    follow_up_on: date | None
    follow_up_done: bool
    created_at: datetime


class SupportContactList(BaseModel):
    items: list[SupportContactOut]
    limit: int
    offset: int


class SupportContactIn(Input):
    customer_id: uuid.UUID
    channel: Channel
    summary: Text = Field(min_length=1, max_length=10_000)
    contact_person_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    occurred_at: AwareDatetime | None = Field(default=None, description="when it happened; now if left out")
    follow_up_on: date | None = None

    @field_validator("occurred_at")
    @classmethod
    def _not_in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.year < 2 or value.year > 9998:
            raise ValueError("the time is out of range")
        value = value.astimezone(UTC)
        if value < EARLIEST or value > datetime.now(UTC) + timedelta(minutes=5):
            raise ValueError("a conversation is logged after it happened (and after 2000)")
        return value


class SupportContactPatch(Input):
    summary: Text = omittable(min_length=1, max_length=10_000)
    follow_up_on: date | None = None
    follow_up_done: bool = omittable()
