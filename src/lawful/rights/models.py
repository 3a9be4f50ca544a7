"""Data-subject requests, restrictions of processing, and the records erasure had to keep.

A request (:class:`RightsRequest`) is kept under the ``accountability`` purpose: who asked what,
when, how it was verified, the deadline and its extension, and the outcome. After an erasure is
carried out the request keeps only the subject's (then meaningless) identifier, never their name
or address.

:class:`SealedRecord` holds what erasure may not delete because a law obliges keeping it: the
buyer on an erased sole proprietor's invoices and the invoice documents. The table is readable
under the legal obligation only (``only_under``), so after erasure nothing else can reach it.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import Date, Enum, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from lawful.data.annotations import not_personal, only_under, personal, subject
from lawful.data.base import Base, IdMixin, UTCDateTime, utcnow


def _enum(cls: type[enum.Enum], length: int = 20) -> Enum:
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class RequestKind(enum.StrEnum):
    access = "access"  # art. 15
    portability = "portability"  # art. 20
    rectification = "rectification"  # art. 16
    erasure = "erasure"  # art. 17
    restriction = "restriction"  # art. 18
    objection = "objection"  # art. 21

    @property
    def article(self) -> str:
        return {
            "access": "GDPR art. 15",
            "portability": "GDPR art. 20",
            "rectification": "GDPR art. 16",
            "erasure": "GDPR art. 17",
            "restriction": "GDPR art. 18",
            "objection": "GDPR art. 21",
        }[self.value]

    @property
    def label(self) -> str:
        return {
            "access": "access to your data",
            "portability": "a copy of your data to take elsewhere",
            "rectification": "correction of your data",
            "erasure": "erasure of your data",
            "restriction": "restriction of the processing",
            "objection": "objection to monitoring",
        }[self.value]


class RequestStatus(enum.StrEnum):
    unverified = "unverified"  # waiting for the requester to confirm the address on file
    open = "open"
    extended = "extended"  # art. 12(3): two more months, with a reason
    completed = "completed"
    refused = "refused"
    withdrawn = "withdrawn"

    @property
    def pending(self) -> bool:
        return self in (RequestStatus.unverified, RequestStatus.open, RequestStatus.extended)


class Channel(enum.StrEnum):
    portal = "portal"
    website = "website"  # a visitor's own browser, on the public page about their visits
    email = "email"
    phone = "phone"
    letter = "letter"


class SubjectKind(enum.StrEnum):
    """The kinds of person the statement names, and the table that holds each one's own row."""

    user = "user"  # a customer's user (employee or associate)
    contact_person = "contact_person"  # a customer's contact person
    sole_proprietor = "sole_proprietor"  # a customer that is a person
    visitor = "visitor"  # a website visitor, known only by a code of the day
    unknown = "unknown"  # no one Lawful holds data about matched the request

    @property
    def table(self) -> str | None:
        return {
            "user": "users",
            "contact_person": "contact_persons",
            "sole_proprietor": "customers",
        }.get(self.value)


class RightsRequest(IdMixin, Base):
    __tablename__ = "rights_requests"
    __table_args__ = (
        Index("ix_rights_requests_status_due", "status", "due_on"),
        Index("ix_rights_requests_subject", "subject_id"),
        Index("ix_rights_requests_requester_email", "requester_email"),
        {"info": subject("customer", key="subject_id", kept="accountability", since="received_at")},
    )

    kind: Mapped[RequestKind] = mapped_column(_enum(RequestKind))
    status: Mapped[RequestStatus] = mapped_column(_enum(RequestStatus), default=RequestStatus.unverified)
    channel: Mapped[Channel] = mapped_column(_enum(Channel, 10))
    subject_kind: Mapped[SubjectKind] = mapped_column(_enum(SubjectKind))
    subject_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, info=personal("user.unique_id"))
    requester_name: Mapped[str | None] = mapped_column(
        String(200), info=personal("user.name", identifies=True)
    )
    requester_email: Mapped[str | None] = mapped_column(
        String(254), info=personal("user.contact.email", identifies=True)
    )
    details: Mapped[str | None] = mapped_column(Text, info=personal("user.content.private"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_on: Mapped[date] = mapped_column(Date)
    extended_to: Mapped[date | None] = mapped_column(Date)
    extension_reason: Mapped[str | None] = mapped_column(
        String(500),
        info=not_personal("why the answer needs more time (the number or complexity of requests)"),
    )
    verify_token_hash: Mapped[str | None] = mapped_column(
        String(64), unique=True, info=not_personal("the SHA-256 of a random single-use token")
    )
    verify_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("staff.id", ondelete="SET NULL"), info=personal("user.unique_id")
    )
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(
        Text, info=not_personal("what was done, as kinds of data, tables and row counts: never the values")
    )
    refusal_reason: Mapped[str | None] = mapped_column(
        String(500), info=not_personal("the legal ground for refusing, in the officer's words")
    )

    @property
    def deadline(self) -> date:
        return self.extended_to or self.due_on


class Restriction(IdMixin, Base):
    """A restriction of processing (art. 18): the subject's data is only stored until it is lifted."""

    __tablename__ = "rights_restrictions"
    __table_args__ = (
        Index("ix_rights_restrictions_subject", "subject_id", "lifted_at"),
        {"info": subject("customer", key="subject_id", kept="accountability", since="since")},
    )

    subject_kind: Mapped[SubjectKind] = mapped_column(_enum(SubjectKind))
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid, info=personal("user.unique_id"))
    request_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("rights_requests.id", ondelete="SET NULL")
    )
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SealedRecord(IdMixin, Base):
    """What erasure had to keep of one row because a law obliges it, readable only under that law."""

    __tablename__ = "sealed_records"
    __table_args__ = (
        Index("ix_sealed_records_subject", "subject_id"),
        Index("ix_sealed_records_held_until", "held_until"),
        {
            "info": {
                **subject("customer", key="subject_id", kept="legal_obligation", since="sealed_at"),
                **only_under(
                    "legal_obligation",
                    why="kept after erasure only because tax law obliges it (GDPR art. 17(3)(b))",
                ),
            }
        },
    )

    table_name: Mapped[str] = mapped_column(String(64), info=not_personal("the name of a database table"))
    row_id: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid, info=personal("user.unique_id"))
    request_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    held_until: Mapped[date] = mapped_column(Date)
    why: Mapped[str] = mapped_column(String(300))
    values: Mapped[str] = mapped_column(Text, info=personal("user.financial"))  # JSON of the kept columns
