"""Agreements: the published documents, what each customer agreed to, and pending sign-ups.

* ``document_versions``: every version of the privacy statement and of the terms of service that
  this installation published, with its text and the moment it became the one in force. Nothing in it
  is about a person.
* ``agreements``: one row per event of a customer's agreement (concluded, plan changed, cancelled):
  the plan and its prices at that moment, the terms and statement versions that were shown and
  accepted, and whether it was concluded on the website or by staff. For a company this is no
  personal data; it is the record of the contract and stays as long as the customer's invoices do.
* ``agreement_acceptances``: who accepted (the user) and from which IP address, under the
  contract purpose with the policy's retention of those categories (the IP address goes after
  its retention; erasing the user deletes the row, while the agreement itself stays).
* ``signups``: a sign-up waiting for its e-mail address to be confirmed. Nothing else exists
  until it is: no customer, no user, no subscription. Its token expires, and the retention run
  deletes it then.
* ``statement_notices``: per user, the statement versions whose changes they were shown.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Enum, ForeignKey, Index, String, Text, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from lawful.customers.models import AddressMixin, CustomerKind
from lawful.data.annotations import not_personal, personal, subject
from lawful.data.base import Base, IdMixin, UTCDateTime, utcnow


def _enum(cls: type[enum.StrEnum], length: int = 20) -> Enum:
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class DocumentKind(enum.StrEnum):
    statement = "statement"  # the privacy statement, rendered from the enforced policy
    terms = "terms"  # the terms of service, from LAWFUL_TERMS


class AgreementEvent(enum.StrEnum):
    concluded = "concluded"
    plan_changed = "plan_changed"
    cancelled = "cancelled"


class Channel(enum.StrEnum):
    self_service = "self_service"  # the customer signed up on the website
    console = "console"  # staff concluded or changed it for the customer


class DocumentVersion(IdMixin, Base):
    """One publication: a version that became current. A version published again later (a change
    undone) is a new row, so the latest row of a kind is always the one in force."""

    __tablename__ = "document_versions"
    # Each publication has one successor: two processes that start with a new version publish it once.
    # (A first publication has no predecessor: the partial index makes it unique too.)
    __table_args__ = (
        UniqueConstraint("kind", "previous_id"),
        Index(
            "ux_document_versions_first",
            "kind",
            unique=True,
            sqlite_where=text("previous_id IS NULL"),
            postgresql_where=text("previous_id IS NULL"),
        ),
    )

    kind: Mapped[DocumentKind] = mapped_column(_enum(DocumentKind))
    digest: Mapped[str] = mapped_column(String(64))  # the version: a content hash
    label: Mapped[str] = mapped_column(String(40), default="")  # the author's label, e.g. "2026.11"
    text: Mapped[str] = mapped_column(Text, info=not_personal("the published statement or terms"))
    previous_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("document_versions.id"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the customers were e-mailed about this version (None: the first version, or not yet).
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Agreement(IdMixin, Base):
    __tablename__ = "agreements"
    __table_args__ = (Index("ix_agreements_customer", "customer_id", "recorded_at"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"))
    event: Mapped[AgreementEvent] = mapped_column(_enum(AgreementEvent))
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    # The staff member who recorded it (console); None when the customer did it on the website.
    staff_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("staff.id", ondelete="SET NULL"))
    plan_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("billing_plans.id"))
    plan_code: Mapped[str] = mapped_column(String(64), default="")
    plan_name: Mapped[str] = mapped_column(String(100), info=not_personal("the plan's display name"))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    base_fee_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    minimum_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    prices: Mapped[str] = mapped_column(Text, default="[]")  # JSON: the plan's charges at that moment
    effective_on: Mapped[date] = mapped_column(Date)  # the day it starts, changes or ends
    terms_version_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("document_versions.id"))
    statement_version_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("document_versions.id"))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(
        String(500), default="", info=not_personal("staff's note on how the customer agreed")
    )
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AgreementAcceptance(IdMixin, Base):
    """Which user accepted an agreement, and from which IP address."""

    __tablename__ = "agreement_acceptances"
    __table_args__ = ({"info": subject("employee", key="user_id", kept="contract", since="accepted_at")},)

    agreement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("agreements.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True, info=personal("user.unique_id")
    )
    ip_address: Mapped[str | None] = mapped_column(String(45), info=personal("user.device.ip_address"))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Signup(IdMixin, AddressMixin, Base):
    """A sign-up waiting for its e-mail address to be confirmed (one per address)."""

    __tablename__ = "signups"
    __table_args__ = ({"info": subject("customer", key="id", kept="contract", since="created_at")},)

    token_hash: Mapped[str] = mapped_column(
        String(64), unique=True, info=personal("user.authorization.credentials")
    )
    email: Mapped[str] = mapped_column(
        String(254), unique=True, info=personal("user.contact.email", identifies=True)
    )  # the first admin's login, lower-case
    admin_name: Mapped[str] = mapped_column(String(200), info=personal("user.name", identifies=True))
    kind: Mapped[CustomerKind] = mapped_column(Enum(CustomerKind, native_enum=False, length=20))
    legal_name: Mapped[str] = mapped_column(String(200), info=personal("user.contact.organization"))
    kvk_number: Mapped[str | None] = mapped_column(String(8), info=personal("user.contact.organization"))
    vat_number: Mapped[str | None] = mapped_column(String(20), info=personal("user.contact.organization"))
    billing_email: Mapped[str] = mapped_column(String(254), info=personal("user.contact.email"))
    plan_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("billing_plans.id"))
    starts_on: Mapped[date] = mapped_column(Date)
    terms_version_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("document_versions.id"))
    statement_version_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("document_versions.id"))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip_address: Mapped[str | None] = mapped_column(String(45), info=personal("user.device.ip_address"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when the link was used; the row stays until it expires, so a replayed link is told so.
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StatementNotice(IdMixin, Base):
    """A user was shown what changed in the privacy statement up to ``version_id``."""

    __tablename__ = "statement_notices"
    __table_args__ = (
        UniqueConstraint("user_id", "version_id"),
        {"info": subject("employee", key="user_id", kept="contract", since="shown_at")},
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), info=personal("user.unique_id")
    )
    version_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("document_versions.id", ondelete="CASCADE")
    )
    # The version the user had seen before: the diff they were shown runs from it.
    since_version_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("document_versions.id", ondelete="SET NULL")
    )
    shown_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
