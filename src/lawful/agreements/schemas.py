"""What the agreements API accepts and shows. Input models refuse unknown fields.

Money is a decimal string with two decimals (``"19.00"``), as in the billing API. A version of the
terms or the statement is named by its digest (the content hash) and the moment it was published.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lawful.agreements.models import AgreementEvent, Channel, DocumentKind
from lawful.billing.schemas import Day, Money
from lawful.web.api import Input, Text

# --- shown ------------------------------------------------------------------------------------


class VersionOut(BaseModel):
    id: uuid.UUID
    kind: DocumentKind
    digest: str = Field(description="the version: a hash of the published text")
    label: str = Field(description="the author's own label, if any")
    published_at: datetime = Field(description='when it came in force ("last changed")')


class PriceOut(BaseModel):
    metric: str
    name: str
    unit: str
    model: str
    pricing: dict[str, Any]
    included: str = Field(description="the quantity included each month, a plain decimal")


class AcceptedBy(BaseModel):
    user_id: uuid.UUID
    name: str | None = Field(description="null: the user is no longer found")


class AgreementOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    event: AgreementEvent
    channel: Channel = Field(description="self_service: signed up on the website; console: recorded by staff")
    effective_on: date = Field(description="the day it starts, changes or ends")
    recorded_at: datetime
    plan_id: uuid.UUID | None
    plan_code: str
    plan_name: str
    currency: str
    base_fee: Money
    minimum: Money
    prices: list[PriceOut] = Field(description="the plan's charges at that moment")
    terms: VersionOut | None = Field(description="the terms of service agreed to")
    statement: VersionOut | None = Field(description="the privacy statement the customer was given")
    accepted_at: datetime | None
    accepted_by: AcceptedBy | None = Field(description="the user who accepted on the website, if any")
    ip_address: str | None = Field(description="from where they accepted; null once its retention ran out")
    staff_id: uuid.UUID | None = Field(description="the staff member who recorded it in the console")
    note: str = Field(description="staff's note on how the customer agreed")


class AgreementList(BaseModel):
    items: list[AgreementOut] = Field(description="newest first")


class DocumentVersionOut(VersionOut):
    previous_id: uuid.UUID | None = Field(description="the version it replaced")
    changed: int = Field(description="paragraphs added, removed or changed since the previous version")


class DocumentVersionList(BaseModel):
    items: list[DocumentVersionOut] = Field(description="newest first")


class ChangeOut(BaseModel):
    kind: str = Field(description="added, removed or changed")
    old: str = Field(description="the paragraph before (empty when added)")
    new: str = Field(description="the paragraph after (empty when removed)")


class DiffOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: DocumentVersionOut | None = Field(
        alias="from", description="the previous version; null for the first one"
    )
    to: DocumentVersionOut
    changes: list[ChangeOut] = Field(description="the changed paragraphs, in the order of the text")


# --- accepted ---------------------------------------------------------------------------------


class AgreementIn(Input):
    plan_id: uuid.UUID
    starts_on: Day = Field(description="the first day of the subscription")
    note: Text = Field(
        min_length=1,
        max_length=500,
        description="how the customer agreed, e.g. 'signed order form 2026-11-28'",
        examples=["signed order form 2026-11-28"],
    )

    @field_validator("note")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("say how the customer agreed")
        return value.strip()
