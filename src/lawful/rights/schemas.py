"""What the API of data-subject requests accepts and shows. Input models refuse unknown fields.

Two views of a request: the privacy officer's (:class:`RequestOut`), and the requester's own in
the portal (:class:`PortalRequestOut`). Until the requester has confirmed a request recorded by
the officer, the officer's view says nothing about whom it is about: ``subject`` and
``restriction`` are null, so the answer for an address Lawful knows has the same shape as for one
it does not.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from lawful.rights.models import Channel, RequestKind, RequestStatus, SubjectKind
from lawful.web.api import Input, Text

# --- accepted ---------------------------------------------------------------------------------


class RecordIn(Input):
    """A request that arrived by e-mail, phone or letter, recorded by the privacy officer."""

    kind: RequestKind
    channel: Literal["email", "phone", "letter"]
    email: Text = Field(
        min_length=3,
        max_length=254,
        description="the address to confirm the request from; the verification link goes there",
    )
    name: Text = Field(default="", max_length=200, description="the name the requester gave")
    details: Text = Field(default="", max_length=4000, description="what was asked, in the requester's words")
    received_on: date | None = Field(
        default=None,
        ge=date(2000, 1, 1),
        description="the day the request arrived (the deadline runs from it); default: now",
    )


class ReasonIn(Input):
    reason: Text = Field(
        max_length=500, description="at least 10 characters; e-mailed to the requester with the answer"
    )


class CompleteIn(Input):
    note: Text = Field(
        default="", max_length=500, description="for rectification: what was corrected (no personal data)"
    )


class FileIn(Input):
    """A request a signed-in user files about themselves (never about anyone else)."""

    kind: RequestKind
    details: Text = Field(
        default="", max_length=4000, description="for rectification: what is wrong and what it should be"
    )


# --- shown ------------------------------------------------------------------------------------


class SubjectOut(BaseModel):
    kind: SubjectKind = Field(description="unknown: nobody Lawful holds data about matched the request")
    id: uuid.UUID | None


class RestrictionOut(BaseModel):
    id: uuid.UUID
    subject: SubjectOut
    request_id: uuid.UUID | None
    since: datetime
    lifted_at: datetime | None
    active: bool


class RestrictionList(BaseModel):
    items: list[RestrictionOut]


class RequestOut(BaseModel):
    """A request as the privacy officer sees it."""

    id: uuid.UUID
    kind: RequestKind
    article: str = Field(examples=["GDPR art. 15"])
    status: RequestStatus
    channel: Channel
    received_at: datetime
    due_on: date = Field(description="one month after receipt (GDPR art. 12(3))")
    extended_to: date | None = Field(description="two months later, when the deadline was extended")
    extension_reason: str | None
    deadline: date
    days_left: int | None = Field(description="days to the deadline while pending; negative: overdue")
    overdue: bool
    verified: bool = Field(description="the requester confirmed the request (or filed it signed in)")
    verified_at: datetime | None
    requester_name: str | None
    requester_email: str | None
    details: str | None
    subject: SubjectOut | None = Field(description="whom the request is about; null until verified")
    restriction: RestrictionOut | None = Field(
        description="the restriction of processing in force for the subject, if any; null until verified"
    )
    recorded_by: uuid.UUID | None
    completed_at: datetime | None
    refusal_reason: str | None
    outcome: dict[str, Any] | None = Field(
        description="what was done: kinds of data, tables, row counts, what was kept, why and until when"
    )


class RequestList(BaseModel):
    items: list[RequestOut] = Field(description="overdue first, then by deadline")
    limit: int
    offset: int


class PortalRequestOut(BaseModel):
    """One of the signed-in user's own requests."""

    id: uuid.UUID
    kind: RequestKind
    article: str
    status: RequestStatus
    received_at: datetime
    deadline: date
    extended_to: date | None
    extension_reason: str | None
    details: str | None
    completed_at: datetime | None
    refusal_reason: str | None
    package_url: str | None = Field(description="where to download the package (access and portability)")


class PortalRequestList(BaseModel):
    items: list[PortalRequestOut] = Field(description="newest first")
