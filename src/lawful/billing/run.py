"""The billing run: draft invoices for every subscription for one month.

The invoice for month P carries the usage of P in arrears and the base fee of the month after P
in advance. Base fees are reconciled per subscription and month: what a month's days of the
plan cost, minus what earlier invoices already billed for that month. That one rule prorates a
subscription that starts or ends mid-month, a plan change (the old plan's unused days come back
as a negative line, the new plan's days are billed) and a first month that was never billed in
advance. A plan's minimum commitment tops the month's base fee plus usage up to the minimum,
prorated by the days subscribed.

A run recomputes every draft of the month and changes one only when its lines changed (a
fingerprint of lines, buyer and VAT), so running it twice makes nothing new and usage arriving
late updates the drafts. A finalised invoice is never touched again.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import Session

from lawful.billing.metrics import MICROS, MetricSpec, Quantities, aggregate
from lawful.billing.models import (
    BillingRun,
    Charge,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    InvoiceType,
    LineKind,
    Metric,
    Plan,
    PriceModel,
    Subscription,
)
from lawful.billing.rating import (
    ZERO,
    Pricing,
    cents,
    from_cents,
    parse_pricing,
    plain,
    prorate,
    rate,
    to_cents,
    to_micros,
)
from lawful.billing.vat import VatChecker, VatDecision, decide
from lawful.customers.models import Customer
from lawful.data.base import new_id

Progress = Callable[[int, int], None]  # (done, total)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


@functools.lru_cache(maxsize=4096)
def days_in(month: date) -> int:
    return calendar.monthrange(month.year, month.month)[1]


def to_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000


def period_key(period: date) -> str:
    return f"{period:%Y-%m}"


@dataclass(frozen=True, slots=True)
class LineDraft:
    kind: LineKind
    subscription_id: uuid.UUID | None
    charge_id: uuid.UUID | None
    service_start: date
    service_end: date  # inclusive
    description: str
    detail: str
    unit: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal

    def key(self) -> list[str]:
        return [
            self.kind.value,
            str(self.subscription_id),
            str(self.charge_id),
            self.service_start.isoformat(),
            self.service_end.isoformat(),
            self.description,
            self.detail,
            self.unit,
            plain(self.quantity),
            plain(self.unit_price),
            str(self.amount),
        ]


# The invoice columns of the buyer snapshot, in the order of Buyer's fields.
BUYER_FIELDS = (
    "buyer_kind",
    "buyer_name",
    "buyer_street",
    "buyer_postal_code",
    "buyer_city",
    "buyer_country",
    "buyer_vat",
    "buyer_kvk",
)


@dataclass(frozen=True, slots=True)
class Buyer:
    kind: str
    name: str
    street: str
    postal_code: str
    city: str
    country: str
    vat: str | None
    kvk: str | None

    def columns(self) -> dict[str, str | None]:
        """The invoice columns that hold this buyer (its snapshot of the customer)."""
        values = (
            self.kind,
            self.name,
            self.street,
            self.postal_code,
            self.city,
            self.country,
            self.vat,
            self.kvk,
        )
        return dict(zip(BUYER_FIELDS, values, strict=True))

    def stamp(self, invoice: Invoice) -> None:
        """Write this buyer onto an invoice."""
        for name, value in self.columns().items():
            setattr(invoice, name, value)

    @classmethod
    def of(cls, customer: Customer) -> Buyer:
        return cls(
            str(customer.kind),
            customer.legal_name,
            customer.street,
            customer.postal_code,
            customer.city,
            customer.country,
            customer.vat_number,
            customer.kvk_number,
        )


@dataclass(slots=True)
class Draft:
    customer_id: uuid.UUID
    buyer: Buyer
    vat: VatDecision
    currency: str
    lines: list[LineDraft] = field(default_factory=list)

    @property
    def net(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))

    @property
    def vat_amount(self) -> Decimal:
        return cents(self.net * self.vat.rate / 100)

    @property
    def total(self) -> Decimal:
        return self.net + self.vat_amount

    def fingerprint(self) -> str:
        content = {
            "buyer": list(vars_of(self.buyer)),
            "vat": [self.vat.treatment.value, str(self.vat.rate), self.vat.how],
            "currency": self.currency,
            "lines": [line.key() for line in self.lines],
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


# What a draft needs of a customer, read as columns (loading 10,000 customers as entities costs more).
BUYER_COLUMNS = (
    Customer.kind,
    Customer.legal_name,
    Customer.street,
    Customer.postal_code,
    Customer.city,
    Customer.country,
    Customer.vat_number,
    Customer.kvk_number,
)


def vars_of(buyer: Buyer) -> Iterable[str | None]:
    return (
        buyer.kind,
        buyer.name,
        buyer.street,
        buyer.postal_code,
        buyer.city,
        buyer.country,
        buyer.vat,
        buyer.kvk,
    )


@dataclass(frozen=True, slots=True)
class Catalogue:
    plans: dict[uuid.UUID, Plan]
    charges: dict[uuid.UUID, list[tuple[Charge, Pricing]]]
    metrics: dict[uuid.UUID, Metric]
    specs: dict[uuid.UUID, MetricSpec]


def load_catalogue(session: Session, plan_ids: Iterable[uuid.UUID]) -> Catalogue:
    ids = sorted(set(plan_ids))
    plans = {p.id: p for p in session.scalars(select(Plan).where(Plan.id.in_(ids)))} if ids else {}
    charges: dict[uuid.UUID, list[tuple[Charge, Pricing]]] = defaultdict(list)
    metric_ids: set[uuid.UUID] = set()
    if ids:
        for charge in session.scalars(
            select(Charge).where(Charge.plan_id.in_(ids)).order_by(Charge.plan_id, Charge.position)
        ):
            charges[charge.plan_id].append((charge, parse_pricing(charge.model, charge.pricing)))
            metric_ids.add(charge.metric_id)
    metrics = (
        {m.id: m for m in session.scalars(select(Metric).where(Metric.id.in_(sorted(metric_ids))))}
        if metric_ids
        else {}
    )
    return Catalogue(plans, dict(charges), metrics, {i: MetricSpec.of(m) for i, m in metrics.items()})


@dataclass(frozen=True, slots=True)
class Window:
    """Where a subscription overlaps a month: first and last day (inclusive)."""

    first: date
    last: date
    month: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def whole(self) -> bool:
        return self.first == self.month and self.days == days_in(self.month)


def window(subscription: Subscription, month: date) -> Window | None:
    first = max(subscription.starts_on, month)
    end = next_month(month) if subscription.ends_on is None else min(subscription.ends_on, next_month(month))
    if end <= first:
        return None
    return Window(first, end - timedelta(days=1), month)


@functools.lru_cache(maxsize=4096)
def _period_text(w: Window) -> str:
    if w.whole:
        return f"{w.month:%B %Y}"
    return f"{w.first:%d %b} – {w.last:%d %b %Y} ({w.days} of {days_in(w.month)} days)"


def base_lines(
    subscription: Subscription, plan: Plan, w: Window, billed_cents: int, *, advance: bool
) -> list[LineDraft]:
    """The base fee of one month for the days ``w`` covers, less what was billed before."""
    if plan.base_fee_cents == 0 and billed_cents == 0:
        return []
    expected = prorate(from_cents(plan.base_fee_cents), w.days, days_in(w.month))
    difference = expected - from_cents(billed_cents)
    if difference == 0:
        return []
    if billed_cents == 0:
        description = f"{plan.name}, base fee {_period_text(w)}"
        detail = "billed in advance" if advance else "not billed before"
    else:
        description = f"{plan.name}, base fee {_period_text(w)}: adjustment"
        detail = f"{from_cents(billed_cents)} billed before, {expected} due for the days subscribed"
    return [
        LineDraft(
            LineKind.base_fee,
            subscription.id,
            None,
            w.first,
            w.last,
            description,
            detail,
            "C62",
            Decimal(1),
            difference,
            difference,
        )
    ]


def usage_lines(
    subscription: Subscription, catalogue: Catalogue, w: Window, quantities: Quantities
) -> list[LineDraft]:
    lines: list[LineDraft] = []
    for charge, pricing in catalogue.charges.get(subscription.plan_id, []):
        metric = catalogue.metrics[charge.metric_id]
        used = Decimal(quantities.get((subscription.customer_id, metric.id), 0)) / MICROS
        included = Decimal(charge.included_micros) / MICROS
        rated = rate(PriceModel(charge.model), pricing, used, included)
        unit = f" {metric.unit}" if metric.unit else ""
        detail = f"{plain(used)}{unit} used"
        if included:
            detail += f", {plain(included)} included, {plain(rated.billable)} billable"
        for item in rated.lines:
            lines.append(
                LineDraft(
                    LineKind.usage,
                    subscription.id,
                    charge.id,
                    w.first,
                    w.last,
                    f"{metric.name}, {_period_text(w)}" + (f": {item.label}" if item.label else ""),
                    detail,
                    "C62",
                    item.quantity,
                    item.unit_price,
                    item.amount,
                )
            )
    return lines


def minimum_line(subscription: Subscription, plan: Plan, w: Window, covered: Decimal) -> list[LineDraft]:
    if not plan.minimum_cents:
        return []
    minimum = prorate(from_cents(plan.minimum_cents), w.days, days_in(w.month))
    short = minimum - covered
    if short <= 0:
        return []
    return [
        LineDraft(
            LineKind.minimum,
            subscription.id,
            None,
            w.first,
            w.last,
            f"{plan.name}, minimum commitment {_period_text(w)}",
            f"minimum {minimum}, base fee and usage {covered}",
            "C62",
            Decimal(1),
            short,
            short,
        )
    ]


@dataclass(slots=True)
class Rating:
    """The drafts of one month, computed but not written."""

    period: date
    drafts: dict[uuid.UUID, Draft]
    subscriptions: int


def _billed_base(
    session: Session, subscription_ids: Sequence[uuid.UUID], period: date
) -> dict[tuple[uuid.UUID, date], int]:
    """Base fees already billed per subscription and month, on invoices of other periods."""
    billed: dict[tuple[uuid.UUID, date], int] = defaultdict(int)
    if not subscription_ids:
        return billed
    upper = next_month(next_month(period))
    # Two steps, each on its own index, so the plan does not depend on fresh statistics of the
    # invoice tables (a join planned while they looked empty took seconds a chunk).
    found: list[tuple[uuid.UUID, uuid.UUID, date, int]] = []
    for chunk in _chunks(subscription_ids, 900):
        found += [
            (invoice_id, subscription_id, start, amount)
            for invoice_id, subscription_id, start, amount in session.execute(
                select(
                    InvoiceLine.invoice_id,
                    InvoiceLine.subscription_id,
                    InvoiceLine.service_start,
                    InvoiceLine.amount_cents,
                ).where(
                    InvoiceLine.subscription_id.in_(chunk),
                    InvoiceLine.kind == LineKind.base_fee,
                    InvoiceLine.service_start >= period,
                    InvoiceLine.service_start < upper,
                )
            )
            if subscription_id is not None
        ]
    counted: set[uuid.UUID] = set()
    for chunk in _chunks(sorted({row[0] for row in found}), 900):
        counted.update(
            session.scalars(
                select(Invoice.id).where(
                    Invoice.id.in_(chunk),
                    Invoice.type == InvoiceType.invoice,
                    or_(Invoice.period_key.is_(None), Invoice.period_key != period_key(period)),
                )
            )
        )
    for invoice_id, subscription_id, start, amount in found:
        if invoice_id in counted:
            billed[(subscription_id, month_start(start))] += amount
    return billed


def _chunks(items: Sequence[uuid.UUID], size: int) -> Iterable[Sequence[uuid.UUID]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def rate_period(
    session: Session,
    period: date,
    *,
    vat_rate: Decimal,
    checker: VatChecker | None = None,
    customers: Sequence[uuid.UUID] | None = None,
) -> Rating:
    """Compute the draft invoices of ``period`` (the first day of a month) without writing them."""
    period = month_start(period)
    following = next_month(period)
    statement = select(Subscription).where(
        Subscription.starts_on < next_month(following),
        or_(Subscription.ends_on.is_(None), Subscription.ends_on > period),
    )
    if customers is not None:
        statement = statement.where(Subscription.customer_id.in_(customers))
    subscriptions = list(
        session.scalars(statement.order_by(Subscription.customer_id, Subscription.starts_on))
    )
    catalogue = load_catalogue(session, (s.plan_id for s in subscriptions))
    used_specs = {
        charge.metric_id: catalogue.specs[charge.metric_id]
        for s in subscriptions
        for charge, _ in catalogue.charges.get(s.plan_id, [])
    }
    windows = {s.id: window(s, period) for s in subscriptions}
    whole: Quantities = {}
    if used_specs:
        whole = aggregate(session, used_specs.values(), to_ms(period), to_ms(following), customers)
    billed = _billed_base(session, [s.id for s in subscriptions], period)
    customer_ids = sorted({s.customer_id for s in subscriptions})
    buyers: dict[uuid.UUID, Buyer] = {}
    for chunk in _chunks(customer_ids, 900):
        columns = select(Customer.id, *BUYER_COLUMNS).where(Customer.id.in_(chunk))
        for customer_id, kind, name, street, postal_code, city, country, vat, kvk in session.execute(columns):
            buyers[customer_id] = Buyer(str(kind), name, street, postal_code, city, country, vat, kvk)
    decisions: dict[tuple[str, str | None], VatDecision] = {}
    drafts: dict[uuid.UUID, Draft] = {}
    for subscription in subscriptions:
        customer_id = subscription.customer_id
        buyer = buyers[customer_id]
        plan = catalogue.plans[subscription.plan_id]
        draft = drafts.get(customer_id)
        if draft is None:
            key = (buyer.country, buyer.vat)
            if key not in decisions:
                decisions[key] = decide(buyer.country, buyer.vat, vat_rate, checker)
            draft = drafts[customer_id] = Draft(customer_id, buyer, decisions[key], plan.currency)
        w = windows[subscription.id]
        if w is not None:
            quantities = whole
            if not w.whole:
                charged = [catalogue.specs[c.metric_id] for c, _ in catalogue.charges.get(plan.id, [])]
                quantities = (
                    aggregate(
                        session, charged, to_ms(w.first), to_ms(w.last + timedelta(days=1)), [customer_id]
                    )
                    if charged
                    else {}
                )
            base = base_lines(subscription, plan, w, billed.get((subscription.id, period), 0), advance=False)
            usage = usage_lines(subscription, catalogue, w, quantities)
            expected_base = prorate(from_cents(plan.base_fee_cents), w.days, days_in(period))
            covered = expected_base + sum((line.amount for line in usage), ZERO)
            draft.lines += base + usage + minimum_line(subscription, plan, w, covered)
        ahead = window(subscription, following)
        if ahead is not None:
            draft.lines += base_lines(
                subscription, plan, ahead, billed.get((subscription.id, following), 0), advance=True
            )
    for draft in drafts.values():
        draft.lines.sort(key=lambda line: line.service_start >= following)  # stable: advance fees last
    return Rating(period, drafts, len(subscriptions))


@dataclass(frozen=True, slots=True)
class RunSummary:
    period: date
    run_id: uuid.UUID
    subscriptions: int
    created: int
    updated: int
    unchanged: int
    removed: int
    skipped_finalised: int
    total: Decimal

    def lines(self) -> list[str]:
        return [
            f"period: {period_key(self.period)}",
            f"subscriptions: {self.subscriptions}",
            f"drafts created: {self.created}",
            f"drafts updated: {self.updated}",
            f"drafts unchanged: {self.unchanged}",
            f"drafts removed: {self.removed}",
            f"already finalised: {self.skipped_finalised}",
            f"total of the drafts: {self.total:.2f}",
        ]


def _line_rows(invoice_id: uuid.UUID, customer_id: uuid.UUID, draft: Draft) -> list[dict[str, object]]:
    return [
        {
            "id": new_id(),
            "invoice_id": invoice_id,
            "customer_id": customer_id,
            "issue_date": None,
            "position": position,
            "kind": line.kind,
            "subscription_id": line.subscription_id,
            "charge_id": line.charge_id,
            "service_start": line.service_start,
            "service_end": line.service_end,
            "description": line.description[:200],
            "detail": line.detail[:500],
            "unit": line.unit,
            "quantity_micros": to_micros(line.quantity),
            "unit_price_micros": to_micros(line.unit_price),
            "amount_cents": to_cents(line.amount),
            "vat_rate_bp": draft.vat.rate_bp,
        }
        for position, line in enumerate(draft.lines, start=1)
    ]


def _header(draft: Draft, fingerprint: str) -> dict[str, object]:
    """An invoice's columns that a draft determines: the buyer, the VAT and the totals."""
    return {
        **draft.buyer.columns(),
        "vat_treatment": draft.vat.treatment,
        "vat_check": draft.vat.how[:200],
        "currency": draft.currency,
        "net_cents": to_cents(draft.net),
        "vat_cents": to_cents(draft.vat_amount),
        "total_cents": to_cents(draft.total),
        "fingerprint": fingerprint,
    }


def write_drafts(
    session: Session, rating: Rating, *, actor: str, progress: Progress | None = None
) -> RunSummary:
    """Create, update or remove the drafts of ``rating.period`` so that they match it."""
    period = rating.period
    run = BillingRun(period=period, actor=actor[:100], subscriptions=rating.subscriptions)
    session.add(run)
    session.flush()
    existing = {
        i.customer_id: i
        for i in session.scalars(
            select(Invoice).where(
                Invoice.period_key == period_key(period), Invoice.type == InvoiceType.invoice
            )
        )
    }
    created = updated = unchanged = removed = skipped = 0
    total = Decimal("0.00")
    new_lines: list[tuple[uuid.UUID, uuid.UUID, Draft]] = []
    new_invoices: list[dict[str, object]] = []
    now = datetime.now(UTC)
    stale: list[uuid.UUID] = []
    items = sorted(rating.drafts.items(), key=lambda kv: str(kv[0]))
    for done, (customer_id, draft) in enumerate(items, start=1):
        invoice = existing.pop(customer_id, None)
        if invoice is not None and invoice.status is InvoiceStatus.finalised:
            skipped += 1
        elif not draft.lines:
            if invoice is not None:
                stale.append(invoice.id)
                removed += 1
        else:
            fingerprint = draft.fingerprint()
            total += draft.total
            if invoice is None:
                invoice_id = new_id()
                new_invoices.append(
                    {
                        "id": invoice_id,
                        "customer_id": customer_id,
                        "type": InvoiceType.invoice,
                        "status": InvoiceStatus.draft,
                        "period": period,
                        "period_key": period_key(period),
                        "run_id": run.id,
                        "corrects_id": None,
                        "reason": "",
                        "series": None,
                        "sequence": None,
                        "number": None,
                        "issue_date": None,
                        "due_date": None,
                        "supply_date": None,
                        "finalised_at": None,
                        "finalised_by": None,
                        "sent_at": None,
                        "created_at": now,
                        "updated_at": now,
                        **_header(draft, fingerprint),
                    }
                )
                created += 1
                new_lines.append((invoice_id, customer_id, draft))
            elif invoice.fingerprint == fingerprint:
                unchanged += 1
            else:
                session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id))
                for name, value in _header(draft, fingerprint).items():
                    setattr(invoice, name, value)
                invoice.run_id = run.id
                updated += 1
                new_lines.append((invoice.id, customer_id, draft))
        if progress is not None:
            progress(done, len(items))
    for invoice in existing.values():  # subscriptions gone: their drafts go too
        if invoice.status is InvoiceStatus.draft:
            stale.append(invoice.id)
            removed += 1
    session.flush()
    for start in range(0, len(new_invoices), 2000):
        session.execute(
            insert(Invoice).execution_options(render_nulls=True), new_invoices[start : start + 2000]
        )
    rows: list[dict[str, object]] = []
    for invoice_id, owner, lines_of in new_lines:
        rows += _line_rows(invoice_id, owner, lines_of)
    for start in range(0, len(rows), 5000):
        # render_nulls: rows with None in different columns stay one executemany
        session.execute(insert(InvoiceLine).execution_options(render_nulls=True), rows[start : start + 5000])
    for chunk in _chunks(stale, 900):
        session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id.in_(chunk)))
        session.execute(delete(Invoice).where(Invoice.id.in_(chunk)))
    run.created, run.updated, run.unchanged = created, updated, unchanged
    run.total_cents = to_cents(total)
    run.finished_at = datetime.now(UTC)
    session.flush()
    return RunSummary(
        period, run.id, rating.subscriptions, created, updated, unchanged, removed, skipped, total
    )
