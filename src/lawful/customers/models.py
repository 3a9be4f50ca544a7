"""Customers (companies and sole proprietors) and their contact persons.

A legal entity's company data is not personal data; a sole proprietor's is, and its subject is
the proprietor (a home address used as the business address included). The table says so with
``when=("kind", "sole_proprietor")``: the data layer, the access report and erasure treat a row
as personal data exactly when its ``kind`` is ``sole_proprietor``. Contact persons are always
personal data.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import Date, Enum, ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lawful.data.annotations import personal, subject
from lawful.data.base import Base, IdMixin, TimestampMixin, UTCDateTime


class CustomerKind(enum.StrEnum):
    company = "company"
    sole_proprietor = "sole_proprietor"


class CustomerStatus(enum.StrEnum):
    prospect = "prospect"
    active = "active"
    suspended = "suspended"
    ended = "ended"


class AddressMixin:
    """A postal address; every part is personal data when the row is about a person."""

    street: Mapped[str] = mapped_column(String(200), default="", info=personal("user.contact.address.street"))
    postal_code: Mapped[str] = mapped_column(
        String(20), default="", info=personal("user.contact.address.postal_code")
    )
    city: Mapped[str] = mapped_column(String(100), default="", info=personal("user.contact.address.city"))
    country: Mapped[str] = mapped_column(
        String(2), default="NL", info=personal("user.contact.address.country")
    )


class Customer(IdMixin, AddressMixin, TimestampMixin, Base):
    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_legal_name", "legal_name"),
        {
            "info": subject(
                "customer",
                key="id",
                when=("kind", CustomerKind.sole_proprietor.value),
                kept="contract",
                since="created_at",
            )
        },
    )

    kind: Mapped[CustomerKind] = mapped_column(Enum(CustomerKind, native_enum=False, length=20))
    legal_name: Mapped[str] = mapped_column(
        String(200), info=personal("user.contact.organization", identifies=True)
    )
    kvk_number: Mapped[str | None] = mapped_column(String(8), info=personal("user.contact.organization"))
    vat_number: Mapped[str | None] = mapped_column(String(20), info=personal("user.contact.organization"))
    billing_email: Mapped[str] = mapped_column(
        String(254), info=personal("user.contact.email", identifies=True)
    )
    status: Mapped[CustomerStatus] = mapped_column(
        Enum(CustomerStatus, native_enum=False, length=20), default=CustomerStatus.active
    )
    contract_start: Mapped[date | None] = mapped_column(Date)
    contract_end: Mapped[date | None] = mapped_column(Date)
    # Set when the customer's personal data was erased (a sole proprietor's request, or the end of
    # the retention after the contract ended); the row stays, anonymised, for its invoices' sake.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    contacts: Mapped[list[ContactPerson]] = relationship(
        back_populates="customer", lazy="raise", order_by="ContactPerson.name"
    )


class ContactPerson(IdMixin, AddressMixin, Base):
    __tablename__ = "contact_persons"
    __table_args__ = ({"info": subject("customer", key="id", kept="contract", since="created_at")},)

    customer_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200), info=personal("user.name", identifies=True))
    email: Mapped[str] = mapped_column(String(254), info=personal("user.contact.email", identifies=True))
    phone: Mapped[str] = mapped_column(
        String(40), default="", info=personal("user.contact.phone_number", identifies=True)
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    customer: Mapped[Customer] = relationship(back_populates="contacts", lazy="raise")
