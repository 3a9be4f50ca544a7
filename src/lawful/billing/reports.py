"""Reading billing: lists of invoices and runs, revenue per month, a customer's estimate.

Revenue is what finalised invoices bill net of VAT, minus finalised credit notes, per month of
issue. The estimate rates the current month's usage so far with the same code as the billing
run, for the portal; it is not stored and not an invoice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import String, case, cast, func, or_, select
from sqlalchemy.orm import Session

from lawful.billing.models import (
    BillingRun,
    Charge,
    Invoice,
    InvoiceStatus,
    InvoiceType,
    Metric,
    Plan,
    Subscription,
)
from lawful.billing.rating import from_cents
from lawful.billing.run import Draft, month_start, next_month, period_key, rate_period
from lawful.errors import Invalid

MAX_PAGE = 500


def list_invoices(
    session: Session,
    *,
    customer_id: uuid.UUID | None = None,
    status: InvoiceStatus | None = None,
    type: InvoiceType | None = None,
    period: date | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Invoice]:
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise Invalid(f"limit must be 1 to {MAX_PAGE} and offset not negative", detail={"field": "limit"})
    statement = select(Invoice)
    if customer_id is not None:
        statement = statement.where(Invoice.customer_id == customer_id)
    if status is not None:
        statement = statement.where(Invoice.status == status)
    if type is not None:
        statement = statement.where(Invoice.type == type)
    if period is not None:
        statement = statement.where(Invoice.period == month_start(period))
    statement = statement.order_by(
        Invoice.period.desc(), Invoice.number.desc().nulls_first(), Invoice.created_at.desc(), Invoice.id
    )
    return list(session.scalars(statement.limit(limit).offset(offset)))


def list_runs(session: Session, *, limit: int = 50) -> list[BillingRun]:
    return list(session.scalars(select(BillingRun).order_by(BillingRun.started_at.desc()).limit(limit)))


@dataclass(frozen=True, slots=True)
class MonthRevenue:
    month: date
    invoiced: Decimal  # net, finalised invoices
    credited: Decimal  # net, finalised credit notes
    vat: Decimal  # VAT invoiced minus VAT credited
    invoices: int
    credit_notes: int

    @property
    def net(self) -> Decimal:
        return self.invoiced - self.credited


def revenue(session: Session, first: date, last: date) -> list[MonthRevenue]:
    """Net revenue per month of issue from ``first`` to ``last`` (months without invoices included)."""
    first, last = month_start(first), month_start(last)
    if last < first:
        raise Invalid("the range ends before it starts", detail={"field": "to"})
    month = func.substr(cast(Invoice.issue_date, String), 1, 7)
    is_credit = Invoice.type == InvoiceType.credit_note
    rows = session.execute(
        select(
            month,
            func.sum(case((is_credit, 0), else_=Invoice.net_cents)),
            func.sum(case((is_credit, Invoice.net_cents), else_=0)),
            func.sum(case((is_credit, -Invoice.vat_cents), else_=Invoice.vat_cents)),
            func.sum(case((is_credit, 0), else_=1)),
            func.sum(case((is_credit, 1), else_=0)),
        )
        .where(
            Invoice.status == InvoiceStatus.finalised,
            Invoice.issue_date >= first,
            Invoice.issue_date < next_month(last),
        )
        .group_by(month)
    )
    found = {key: tuple(int(v or 0) for v in values) for key, *values in rows}
    result: list[MonthRevenue] = []
    current = first
    while current <= last:
        invoiced, credited, vat, count, notes = found.get(period_key(current), (0, 0, 0, 0, 0))
        result.append(
            MonthRevenue(current, from_cents(invoiced), from_cents(credited), from_cents(vat), count, notes)
        )
        current = next_month(current)
    return result


def estimate(session: Session, customer_id: uuid.UUID, today: date, *, vat_rate: Decimal) -> Draft | None:
    """What the invoice for this month would be if the month ended today (None: no subscription)."""
    rating = rate_period(session, month_start(today), vat_rate=vat_rate, customers=[customer_id])
    return rating.drafts.get(customer_id)


@dataclass(frozen=True, slots=True)
class OpenDrafts:
    """The drafts of one period that wait to be finalised."""

    period: date
    count: int
    net: Decimal
    total: Decimal


def open_drafts(session: Session) -> list[OpenDrafts]:
    """Count and amounts of the drafts per period, newest period first."""
    rows = session.execute(
        select(Invoice.period, func.count(), func.sum(Invoice.net_cents), func.sum(Invoice.total_cents))
        .where(Invoice.status == InvoiceStatus.draft)
        .group_by(Invoice.period)
        .order_by(Invoice.period.desc())
    )
    return [
        OpenDrafts(period, int(count), from_cents(int(net or 0)), from_cents(int(total or 0)))
        for period, count, net, total in rows
    ]


def credit_notes_of(session: Session, invoice_id: uuid.UUID) -> list[Invoice]:
    """The credit notes that correct one invoice, oldest first."""
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.corrects_id == invoice_id, Invoice.type == InvoiceType.credit_note)
            .order_by(Invoice.created_at, Invoice.id)
        )
    )


def current_plans(session: Session, customer_ids: list[uuid.UUID], on: date) -> dict[uuid.UUID, Plan]:
    """The plan each of ``customer_ids`` is subscribed to on ``on`` (customers without one are left out)."""
    if not customer_ids:
        return {}
    rows = session.execute(
        select(Subscription.customer_id, Plan)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(
            Subscription.customer_id.in_(customer_ids),
            Subscription.starts_on <= on,
            or_(Subscription.ends_on.is_(None), Subscription.ends_on > on),
        )
        .order_by(Subscription.starts_on)
    )
    return dict(rows.all())


def charges_of(session: Session, plan_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[tuple[Charge, Metric]]]:
    """The charges of several plans with their metrics, in the plans' order of charges."""
    found: dict[uuid.UUID, list[tuple[Charge, Metric]]] = {plan_id: [] for plan_id in plan_ids}
    if not plan_ids:
        return found
    rows = session.execute(
        select(Charge, Metric)
        .join(Metric, Metric.id == Charge.metric_id)
        .where(Charge.plan_id.in_(plan_ids))
        .order_by(Charge.plan_id, Charge.position)
    )
    for charge, metric in rows:
        found[charge.plan_id].append((charge, metric))
    return found
