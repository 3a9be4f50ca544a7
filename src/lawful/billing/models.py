"""Billing: metrics over usage events, plans and their prices, subscriptions, runs and invoices.

Money is stored as integers: amounts in cents, unit prices and quantities in millionths
(``*_micros``), so that nothing passes through a float and both databases give the same sums.

Invoices and credit notes keep a snapshot of the buyer as it was when the invoice was made.
For a legal entity that is company data; for a sole proprietor it is personal data about the
proprietor (``when=("buyer_kind", "sole_proprietor")``). A finalised invoice and its lines are
held under the legal-obligation purpose for seven years after the end of the fiscal year of
its issue date (``held(...)``): erasure of the customer or a contact person leaves them.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from lawful.data.annotations import held, not_personal, personal, subject
from lawful.data.base import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


def _enum(cls: type[enum.StrEnum], length: int = 20) -> Enum:
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class Aggregation(enum.StrEnum):
    count = "count"  # type: ignore[assignment]  # number of events (the member shadows str.count)
    sum = "sum"  # sum of the events' values
    max = "max"  # largest value
    unique_count = "unique_count"  # number of distinct values of a property
    latest = "latest"  # value of the last event in the period


class PriceModel(enum.StrEnum):
    standard = "standard"  # every unit at one price
    graduated = "graduated"  # each unit at the price of the tier it falls in
    volume = "volume"  # every unit at the price of the tier the total falls in
    package = "package"  # per started package of N units


class InvoiceType(enum.StrEnum):
    invoice = "invoice"
    credit_note = "credit_note"


class InvoiceStatus(enum.StrEnum):
    draft = "draft"
    finalised = "finalised"


class VatTreatment(enum.StrEnum):
    standard = "standard"  # Dutch VAT
    reverse_charge = "reverse_charge"  # EU business customer with a valid VAT number
    outside_scope = "outside_scope"  # business customer outside the EU


class LineKind(enum.StrEnum):
    base_fee = "base_fee"
    usage = "usage"
    minimum = "minimum"  # top-up to the minimum commitment
    correction = "correction"  # a credit note's own line


class Metric(IdMixin, TimestampMixin, Base):
    """What is counted: one aggregation over the usage events of one event code."""

    __tablename__ = "billing_metrics"

    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), info=not_personal("the metric's display name"))
    event_code: Mapped[str] = mapped_column(String(64))
    aggregation: Mapped[Aggregation] = mapped_column(_enum(Aggregation))
    distinct_property: Mapped[str | None] = mapped_column(String(64))  # for unique_count
    filters: Mapped[str] = mapped_column(Text, default="{}")  # JSON: {"property": ["value", ...]}
    unit: Mapped[str] = mapped_column(String(40), default="")  # shown on invoices: "calls", "GB"
    archived: Mapped[bool] = mapped_column(Boolean, default=False)


class Plan(IdMixin, TimestampMixin, Base):
    """A price list. Once a customer subscribed to it, its prices never change: a new price is a
    new plan, so every invoice can be traced to the prices agreed."""

    __tablename__ = "billing_plans"

    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), info=not_personal("the plan's display name"))
    description: Mapped[str] = mapped_column(Text, default="")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    base_fee_cents: Mapped[int] = mapped_column(BigInteger, default=0)  # per month, in advance
    minimum_cents: Mapped[int] = mapped_column(BigInteger, default=0)  # per month, fee plus usage
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # offered to new subscriptions


class Charge(IdMixin, Base):
    """The price of one metric under one plan."""

    __tablename__ = "billing_charges"
    __table_args__ = (UniqueConstraint("plan_id", "metric_id"),)

    plan_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("billing_plans.id", ondelete="CASCADE"))
    metric_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("billing_metrics.id"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    model: Mapped[PriceModel] = mapped_column(_enum(PriceModel))
    pricing: Mapped[str] = mapped_column(Text)  # JSON, see rating.Pricing
    included_micros: Mapped[int] = mapped_column(BigInteger, default=0)  # free units per month


class Subscription(IdMixin, TimestampMixin, Base):
    """A customer's plan from ``starts_on`` up to (not including) ``ends_on``."""

    __tablename__ = "billing_subscriptions"
    __table_args__ = (Index("ix_billing_subscriptions_customer", "customer_id", "starts_on"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"))
    plan_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("billing_plans.id"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)


class BillingRun(IdMixin, Base):
    """One run of the billing job over one period: what it made and changed."""

    __tablename__ = "billing_runs"

    period: Mapped[date] = mapped_column(Date)  # first day of the usage month
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    subscriptions: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    finalised: Mapped[int] = mapped_column(Integer, default=0)
    total_cents: Mapped[int] = mapped_column(BigInteger, default=0)


_HOLD = held(
    "legal_obligation",
    date="issue_date",
    why="tax law: invoices and the records behind them are kept 7 years after the end of the fiscal year (AWR art. 52)",
)


class Invoice(IdMixin, TimestampMixin, Base):
    """An invoice or credit note. A draft is recomputed by each billing run; a finalised one has
    its number and is never changed again (corrections are credit notes)."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("customer_id", "period_key"),
        Index("ix_invoices_status_period", "status", "period"),
        Index("ix_invoices_issue_date", "issue_date"),
        {
            "info": {
                **subject(
                    "customer",
                    key="customer_id",
                    when=("buyer_kind", "sole_proprietor"),
                    kept="contract",
                    since="created_at",
                ),
                **_HOLD,
            }
        },
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"))
    type: Mapped[InvoiceType] = mapped_column(_enum(InvoiceType), default=InvoiceType.invoice)
    status: Mapped[InvoiceStatus] = mapped_column(_enum(InvoiceStatus), default=InvoiceStatus.draft)
    period: Mapped[date] = mapped_column(Date)  # first day of the usage month billed
    period_key: Mapped[str | None] = mapped_column(String(7))  # "2026-11" for invoices, NULL for credit notes
    run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("billing_runs.id"))
    corrects_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("invoices.id"))
    reason: Mapped[str] = mapped_column(String(500), default="")  # a credit note's reason
    series: Mapped[str | None] = mapped_column(String(16))
    sequence: Mapped[int | None] = mapped_column(Integer)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    issue_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    supply_date: Mapped[date | None] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    buyer_kind: Mapped[str] = mapped_column(String(20))
    buyer_name: Mapped[str] = mapped_column(
        String(200), info=personal("user.contact.organization", identifies=True)
    )
    buyer_street: Mapped[str] = mapped_column(String(200), info=personal("user.contact.address.street"))
    buyer_postal_code: Mapped[str] = mapped_column(
        String(20), info=personal("user.contact.address.postal_code")
    )
    buyer_city: Mapped[str] = mapped_column(String(100), info=personal("user.contact.address.city"))
    buyer_country: Mapped[str] = mapped_column(String(2), info=personal("user.contact.address.country"))
    buyer_vat: Mapped[str | None] = mapped_column(String(20), info=personal("user.contact.organization"))
    buyer_kvk: Mapped[str | None] = mapped_column(String(8), info=personal("user.contact.organization"))
    vat_treatment: Mapped[VatTreatment] = mapped_column(
        _enum(VatTreatment), info=not_personal("which VAT rule applies, not the number")
    )
    vat_check: Mapped[str] = mapped_column(
        String(200), default="", info=not_personal("how the VAT number was checked")
    )
    net_cents: Mapped[int] = mapped_column(BigInteger, default=0, info=personal("user.financial"))
    vat_cents: Mapped[int] = mapped_column(BigInteger, default=0, info=personal("user.financial"))
    total_cents: Mapped[int] = mapped_column(BigInteger, default=0, info=personal("user.financial"))
    fingerprint: Mapped[str] = mapped_column(String(64), default="")  # of the lines, to see a change
    finalised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finalised_by: Mapped[str | None] = mapped_column(String(100))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InvoiceLine(IdMixin, Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        Index("ix_invoice_lines_invoice", "invoice_id", "position"),
        Index("ix_invoice_lines_subscription", "subscription_id", "kind", "service_start"),
        Index("ix_invoice_lines_customer", "customer_id"),
        {"info": {**subject("customer", key="customer_id", kept="contract"), **_HOLD}},
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("invoices.id", ondelete="CASCADE"))
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"))
    issue_date: Mapped[date | None] = mapped_column(Date)  # the invoice's, for the legal hold
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[LineKind] = mapped_column(_enum(LineKind))
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("billing_subscriptions.id"))
    charge_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("billing_charges.id"))
    service_start: Mapped[date] = mapped_column(Date)
    service_end: Mapped[date] = mapped_column(Date)  # inclusive
    description: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(String(500), default="")  # how the amount came about
    unit: Mapped[str] = mapped_column(String(3), default="C62")  # UN/ECE rec 20
    quantity_micros: Mapped[int] = mapped_column(BigInteger, info=personal("user.financial"))
    unit_price_micros: Mapped[int] = mapped_column(BigInteger, info=personal("user.financial"))
    amount_cents: Mapped[int] = mapped_column(BigInteger, info=personal("user.financial"))
    vat_rate_bp: Mapped[int] = mapped_column(
        Integer, info=not_personal("the VAT rate in basis points (2100 = 21 %)")
    )


class InvoiceSeries(Base):
    """The next number of each series: taken in the finalising transaction, so numbers are
    consecutive without gaps (a rolled-back finalisation gives its number back)."""

    __tablename__ = "invoice_series"

    series: Mapped[str] = mapped_column(String(16), primary_key=True)
    next_number: Mapped[int] = mapped_column(Integer, default=1)


class InvoiceDocumentFile(Base):
    """The documents of a finalised invoice as first rendered: the Factur-X PDF and the UBL XML.
    Stored once, so what was sent is what is kept."""

    __tablename__ = "invoice_documents"
    __table_args__ = (
        Index("ix_invoice_documents_customer", "customer_id"),
        {"info": {**subject("customer", key="customer_id", kept="contract"), **_HOLD}},
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("invoices.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"))
    issue_date: Mapped[date] = mapped_column(Date)
    pdf: Mapped[bytes] = mapped_column(LargeBinary, info=personal("user.financial"))
    ubl: Mapped[bytes] = mapped_column(LargeBinary, info=personal("user.financial"))
    rendered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
