"""Console pages of billing, for the staff who work on fees (finance).

- ``/console/billing``: net revenue of the last twelve months (a bar chart and its table), the
  drafts waiting to be finalised and the last billing runs;
- ``/console/billing/plans``: plans with their charges, metrics, and the forms that create them;
  archiving and re-offering a plan;
- ``/console/billing/customers[/{id}]``: a customer's current plan and history, subscribing,
  changing plan and cancelling (each recorded as an agreement event, :mod:`lawful.agreements`),
  its invoices and this month's estimate;
- ``/console/billing/runs``: running a month, the runs and their counts, finalising a period's
  drafts after a confirmation page;
- ``/console/billing/invoices[/{id}]``: invoices and credit notes with filters, one invoice with
  its buyer snapshot, lines, VAT, totals and legal hold; finalising, the stored Factur-X PDF and
  UBL, and credit notes.

Every page works under the billing service's purpose (``contract``) as the signed-in staff
member, so the processing log says who looked at or changed which customer's invoices. A form
with an error changes nothing (its unit of work rolls back) and shows the service's message next
to the form, with the input as given.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape
from sqlalchemy import Table
from sqlalchemy.orm import Session

from lawful.agreements import service as agreements
from lawful.billing import catalogue, invoices, reports, service
from lawful.billing.catalogue import ChargeInput
from lawful.billing.models import (
    Aggregation,
    BillingRun,
    Charge,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    InvoiceType,
    Metric,
    Plan,
    PriceModel,
    Subscription,
)
from lawful.billing.rating import from_cents, from_micros, parse_pricing, plain
from lawful.billing.run import Draft, month_start, next_month
from lawful.customers import repository as customers_repository
from lawful.data.db import Database
from lawful.errors import Conflict, Invalid, LawfulError, NotFound
from lawful.monitoring.usage_api import check_fees
from lawful.monitoring.usage_repository import parse_month
from lawful.policy.model import Policy
from lawful.retention.holds import Hold, hold_of
from lawful.settings import Settings
from lawful.users import repository as users_repository
from lawful.web.auth import CurrentStaff, csrf_protect, staff_under
from lawful.web.console import page_url, redirect, section_page
from lawful.web.deps import ensure_published, get_db, get_policy, get_settings

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

PURPOSE = service.PURPOSE
BASE = "/console/billing"
PER_PAGE = 50
CHARGE_ROWS = 2  # charge rows of an empty plan form
MAX_CHARGE_ROWS = 20
REVENUE_MONTHS = 12
UNBOUNDED = frozenset({"-", "*", "inf", "infinity", "none", "null", "above", "∞"})
NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?$")

#: The note on the agreement record of a subscription changed on the customer's billing page.
CONSOLE_NOTE = "recorded on the customer's billing page"

# Sections of the billing pages, for the navigation inside them.
SECTIONS = (
    (BASE, "Overview"),
    (f"{BASE}/plans", "Plans and metrics"),
    (f"{BASE}/customers", "Subscriptions"),
    (f"{BASE}/runs", "Runs"),
    (f"{BASE}/invoices", "Invoices"),
)

# Messages shown after a redirect (?done=key): fixed texts, never echoing input.
DONE = {
    "plan-created": "The plan was created.",
    "plan-archived": "The plan is no longer offered; its subscriptions continue.",
    "plan-activated": "The plan is offered again.",
    "metric-created": "The metric was created.",
    "subscribed": "The subscription was recorded.",
    "cancelled": "The end of the subscription was recorded.",
    "finalised": "The invoice was finalised and numbered; its e-mail is in the outbox.",
    "credited": "The credit note was issued and numbered; its e-mail is in the outbox.",
}


def finance(
    caller: CurrentStaff = staff_under("contract"), policy: Policy = Depends(get_policy)
) -> CurrentStaff:
    """A dependency: a staff member whose role works on fees and invoices (finance)."""
    check_fees(policy, caller)
    return caller


def today() -> date:
    return datetime.now(UTC).date()


def add_months(month: date, count: int) -> date:
    """The first day of the month ``count`` months after (or before) ``month``."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def billing_page(
    request: Request, template: str, caller: CurrentStaff, *, section: str, title: str, **extra: Any
) -> HTMLResponse:
    """A billing page: the console layout with the billing sections' navigation."""
    return section_page(
        request,
        f"console/billing/{template}",
        caller,
        current=BASE,
        title=title,
        done=DONE,
        sections=SECTIONS,
        section=section,
        **extra,
    )


# --- formatting ---------------------------------------------------------------------------------


def money(value: Decimal) -> str:
    """An amount with thousands separators and two decimals: ``1,234.50``."""
    return f"{value:,.2f}"


def number(value: Decimal) -> str:
    """A quantity with thousands separators and no trailing zeros: ``12,500``, ``0.0015``."""
    text = format(value.normalize(), ",f")
    return "0" if text in ("-0", "") else text


def month_label(month: date) -> str:
    return f"{month:%B %Y}"


def invoice_label(invoice: Invoice) -> str:
    kind = "Credit note" if invoice.type is InvoiceType.credit_note else "Invoice"
    return (
        f"{kind} {invoice.number}" if invoice.number else f"Draft invoice for {month_label(invoice.period)}"
    )


def pricing_summary(charge: Charge) -> str:
    """A charge's prices in words: ``0.002 per unit``, ``5 per started package of 10``, tiers."""
    pricing = parse_pricing(charge.model, charge.pricing)
    if charge.model is PriceModel.standard and pricing.unit_price is not None:
        return f"{plain(pricing.unit_price)} per unit"
    if charge.model is PriceModel.package and pricing.package_size is not None:
        price = plain(pricing.package_price or Decimal(0))
        return f"{price} per started package of {number(pricing.package_size)}"
    parts = []
    lower = Decimal(0)
    for tier in pricing.tiers or []:
        span = (
            f"{number(lower + 1)}–{number(tier.up_to)}"
            if tier.up_to is not None
            else f"above {number(lower)}"
        )
        text = f"{span}: {plain(tier.unit_price)} per unit"
        if tier.flat_fee:
            text += f" + {plain(tier.flat_fee)} flat"
        parts.append(text)
        lower = tier.up_to if tier.up_to is not None else lower
    how = (
        "each unit at its tier's price"
        if charge.model is PriceModel.graduated
        else "all units at one tier's price"
    )
    return f"{'; '.join(parts)} ({how})"


@dataclass(frozen=True)
class ChargeView:
    metric: str
    metric_code: str
    unit: str
    model: str
    pricing: str
    included: str


def charge_views(rows: Sequence[tuple[Charge, Metric]]) -> list[ChargeView]:
    return [
        ChargeView(
            metric=metric.name,
            metric_code=metric.code,
            unit=metric.unit,
            model=charge.model.value,
            pricing=pricing_summary(charge),
            included=number(from_micros(charge.included_micros)),
        )
        for charge, metric in rows
    ]


@dataclass(frozen=True)
class PlanView:
    plan: Plan
    base_fee: str
    minimum: str
    charges: list[ChargeView]


def plan_views(session: Session, plans: Sequence[Plan]) -> list[PlanView]:
    """Plans with their charges, read in one query whatever the number of plans."""
    charges = reports.charges_of(session, [p.id for p in plans])
    return [
        PlanView(
            plan=plan,
            base_fee=money(from_cents(plan.base_fee_cents)),
            minimum=money(from_cents(plan.minimum_cents)),
            charges=charge_views(charges[plan.id]),
        )
        for plan in plans
    ]


@dataclass(frozen=True)
class InvoiceRow:
    id: uuid.UUID
    customer_id: uuid.UUID
    label: str
    number: str
    buyer: str
    type: str
    status: str
    period: date
    issue_date: date | None
    net: str
    vat: str
    total: str
    currency: str


def invoice_row(invoice: Invoice) -> InvoiceRow:
    return InvoiceRow(
        id=invoice.id,
        customer_id=invoice.customer_id,
        label=invoice_label(invoice),
        number=invoice.number or "",
        buyer=invoice.buyer_name,
        type="credit note" if invoice.type is InvoiceType.credit_note else "invoice",
        status=invoice.status.value,
        period=invoice.period,
        issue_date=invoice.issue_date,
        net=money(from_cents(invoice.net_cents)),
        vat=money(from_cents(invoice.vat_cents)),
        total=money(from_cents(invoice.total_cents)),
        currency=invoice.currency,
    )


@dataclass(frozen=True)
class EstimateView:
    lines: list[dict[str, str]]
    net: str
    vat: str
    vat_rate: str
    total: str
    currency: str


def estimate_view(draft: Draft | None) -> EstimateView | None:
    """An estimate's lines and totals, formatted (None: no subscription this month)."""
    if draft is None:
        return None
    return EstimateView(
        lines=[
            {
                "description": line.description,
                "detail": line.detail,
                "quantity": number(line.quantity),
                "unit_price": plain(line.unit_price),
                "amount": money(line.amount),
            }
            for line in draft.lines
        ],
        net=money(draft.net),
        vat=money(draft.vat_amount),
        vat_rate=number(draft.vat.rate),
        total=money(draft.total),
        currency=draft.currency,
    )


# --- the revenue chart ----------------------------------------------------------------------------


def _nice(top: Decimal) -> Decimal:
    """The smallest of 1, 2, 5 × 10^k that is at least ``top`` (> 0)."""
    base = Decimal(10) ** top.adjusted()
    for step in (1, 2, 5, 10):
        if top <= base * step:
            return base * step
    return base * 10  # pragma: no cover - 10 × base always holds


def _px(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.1')):f}"


def revenue_chart(months: Sequence[reports.MonthRevenue], *, chart_id: str = "revenue-chart") -> Markup:
    """Net revenue per month as inline SVG bars (negative months below the zero line)."""
    width, height, left, right, top, bottom = 720, 210, 72, 8, 10, 36
    plot_w, plot_h = Decimal(width - left - right), Decimal(height - top - bottom)
    highest = max((m.net for m in months), default=Decimal(0))
    lowest = min((m.net for m in months), default=Decimal(0))
    ceiling = _nice(highest) if highest > 0 else Decimal(0)
    floor = -_nice(-lowest) if lowest < 0 else Decimal(0)
    if ceiling == floor:
        ceiling = Decimal(1)
    span = ceiling - floor

    def y_of(value: Decimal) -> Decimal:
        return Decimal(top) + plot_h * (ceiling - value) / span

    zero = y_of(Decimal(0))
    slot = plot_w / max(len(months), 1)
    gap = min(Decimal(6), slot / 4)
    total = sum((m.net for m in months), Decimal(0))
    first, last = (months[0].month, months[-1].month) if months else (None, None)
    label = f"Net revenue per month, {first:%B %Y} to {last:%B %Y}" if first and last else "Net revenue"
    parts = [
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title">',
        f'<title id="{chart_id}-title">{escape(label)}: {money(total)} in total</title>',
    ]
    ticks = {ceiling, floor, Decimal(0), (ceiling + floor) / 2 if floor else ceiling / 2}
    for tick in sorted(ticks):
        y = y_of(tick)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{_px(y)}" y2="{_px(y)}"></line>'
            f'<text class="axis" x="{left - 6}" y="{_px(y + 4)}" text-anchor="end">{number(tick)}</text>'
        )
    for index, month in enumerate(months):
        x = Decimal(left) + slot * index
        if month.net != 0:
            y = y_of(month.net)
            bar_top, bar_height = (y, zero - y) if month.net > 0 else (zero, y - zero)
            documents = f"{month.invoices} invoice{'' if month.invoices == 1 else 's'}"
            if month.credit_notes:
                documents += f", {month.credit_notes} credit note{'' if month.credit_notes == 1 else 's'}"
            parts.append(
                f'<rect class="bar" x="{_px(x + gap / 2)}" y="{_px(bar_top)}" '
                f'width="{_px(slot - gap)}" height="{_px(bar_height)}">'
                f"<title>{month.month:%B %Y}: net {money(month.net)} ({documents})</title></rect>"
            )
        middle = _px(x + slot / 2)
        parts.append(
            f'<text class="axis" x="{middle}" y="{height - 20}" text-anchor="middle">{month.month:%b}</text>'
        )
        if month.month.month == 1 or index == 0:
            parts.append(
                f'<text class="axis" x="{middle}" y="{height - 5}" text-anchor="middle">{month.month:%Y}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # every text in it is escaped or made here from numbers and dates


# --- form input -----------------------------------------------------------------------------------


async def posted(request: Request) -> dict[str, str]:
    """The fields of a posted form, as text (a form whose rows vary cannot be declared one by one)."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def decimal_of(value: str, label: str, *, required: bool = True) -> Decimal | None:
    """A non-negative decimal typed in a form: digits with a point for decimals."""
    value = value.strip()
    if not value:
        if required:
            raise Invalid(f"{label}: give a number", detail={"field": label})
        return None
    if not NUMBER.match(value):
        raise Invalid(
            f"{label}: {value!r} is not a number (digits, with a point for decimals, e.g. 0.0015)",
            detail={"field": label},
        )
    return Decimal(value)


def parse_tiers(text: str, label: str) -> list[dict[str, str | None]]:
    """Tiers typed one per line as ``up_to unit_price [flat_fee]``; ``-`` for no upper bound."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise Invalid(
            f"{label}: give the tiers, one per line: up_to unit_price [flat_fee]", detail={"field": label}
        )
    tiers: list[dict[str, str | None]] = []
    for n, line in enumerate(lines, start=1):
        fields = line.split()
        where = f"{label}, tier line {n} ({line!r})"
        if len(fields) not in (2, 3):
            raise Invalid(
                f"{where}: write up_to, unit price and optionally a flat fee, separated by spaces "
                "(- as up_to for the last tier)",
                detail={"field": label},
            )
        up_to = None if fields[0].lower() in UNBOUNDED else decimal_of(fields[0], f"{where}, up_to")
        if up_to is not None and up_to <= 0:
            raise Invalid(f"{where}: up_to must be more than 0", detail={"field": label})
        price = decimal_of(fields[1], f"{where}, unit price")
        flat = decimal_of(fields[2], f"{where}, flat fee") if len(fields) == 3 else Decimal(0)
        tiers.append(
            {
                "up_to": None if up_to is None else plain(up_to),
                "unit_price": plain(price or Decimal(0)),
                "flat_fee": plain(flat or Decimal(0)),
            }
        )
    return tiers


def charge_rows(form: Mapping[str, str]) -> int:
    try:
        rows = int(form.get("rows", "") or CHARGE_ROWS)
    except ValueError:
        rows = CHARGE_ROWS
    return min(max(rows, 1), MAX_CHARGE_ROWS)


def charge_inputs(form: Mapping[str, str], rows: int) -> list[ChargeInput]:
    """The charge rows of the plan form, checked (Invalid names the row and what is wrong)."""
    charges: list[ChargeInput] = []
    for i in range(rows):
        label = f"charge {i + 1}"
        metric = form.get(f"metric_{i}", "").strip()
        priced = any(
            form.get(f"{name}_{i}", "").strip()
            for name in ("unit_price", "package_size", "package_price", "tiers", "included")
        )
        if not metric:
            if priced:
                raise Invalid(f"{label}: choose the metric it prices", detail={"field": f"metric_{i}"})
            continue
        model = form.get(f"model_{i}", "").strip()
        pricing: dict[str, Any]
        if model == PriceModel.standard.value:
            pricing = {
                "unit_price": plain(
                    decimal_of(form.get(f"unit_price_{i}", ""), f"{label}, unit price") or Decimal(0)
                )
            }
        elif model == PriceModel.package.value:
            size = decimal_of(form.get(f"package_size_{i}", ""), f"{label}, package size") or Decimal(0)
            price = decimal_of(form.get(f"package_price_{i}", ""), f"{label}, package price") or Decimal(0)
            pricing = {"package_size": plain(size), "package_price": plain(price)}
        elif model in (PriceModel.graduated.value, PriceModel.volume.value):
            pricing = {"tiers": parse_tiers(form.get(f"tiers_{i}", ""), f"{label}, tiers")}
        else:
            raise Invalid(
                f"{label}: choose a price model ({', '.join(m.value for m in PriceModel)})",
                detail={"field": f"model_{i}"},
            )
        try:
            parse_pricing(model, pricing)
        except Invalid as exc:
            raise Invalid(f"{label}: {exc.message}", detail={"field": f"charge_{i}"}) from None
        included = decimal_of(form.get(f"included_{i}", ""), f"{label}, included units", required=False)
        charges.append(ChargeInput(metric, model, pricing, included=included or Decimal(0)))
    if not charges:
        raise Invalid(
            "a plan needs at least one charge: choose a metric and its price", detail={"field": "charges"}
        )
    return charges


def parse_filters_text(text: str) -> dict[str, list[str]]:
    """Metric filters typed one per line as ``property = value, value``."""
    filters: dict[str, list[str]] = {}
    for n, line in enumerate((line.strip() for line in text.splitlines()), start=1):
        if not line:
            continue
        name, sep, values = line.partition("=")
        accepted = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not name.strip() or not accepted:
            raise Invalid(
                f"filters, line {n} ({line!r}): write property = value, value", detail={"field": "filters"}
            )
        filters[name.strip()] = accepted
    return filters


def parse_day(value: str, label: str) -> date:
    value = value.strip()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{label}: {value!r} is not a date (YYYY-MM-DD)", detail={"field": label}) from None


def parse_uuid(value: str, what: str, *, field: str = "") -> uuid.UUID:
    """The id a form's choice names; refused with "choose ``what``" for ``field`` (else ``what``)."""
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise Invalid(f"choose {what}", detail={"field": field or what}) from None


# --- the overview ---------------------------------------------------------------------------------


def actor_names(session: Session, actors: Iterable[str]) -> dict[str, str]:
    """Who ran something, from the actor text (``staff:<id>`` names the staff member)."""
    ids: dict[str, uuid.UUID] = {}
    for actor in actors:
        kind, _, value = actor.partition(":")
        if kind == "staff":
            with contextlib.suppress(ValueError):
                ids[actor] = uuid.UUID(value)
    names = users_repository.staff_names(session, set(ids.values()))
    result = {}
    for actor in actors:
        if actor in ids:
            result[actor] = names.get(ids[actor], "a former staff member")
        elif actor.startswith("system:"):
            result[actor] = f"the {actor.partition(':')[2]} job"
        else:
            result[actor] = actor
    return result


@dataclass(frozen=True)
class RunView:
    run: BillingRun
    who: str
    total: str


def run_views(session: Session, runs: Sequence[BillingRun]) -> list[RunView]:
    names = actor_names(session, [r.actor for r in runs])
    return [RunView(r, names.get(r.actor, r.actor), money(from_cents(r.total_cents))) for r in runs]


@router.get(BASE, response_class=HTMLResponse)
def overview(
    request: Request, caller: CurrentStaff = Depends(finance), db: Database = Depends(get_db)
) -> Response:
    this_month = month_start(today())
    first = add_months(this_month, -(REVENUE_MONTHS - 1))
    billed = add_months(this_month, -1)  # the month whose invoices are made this month
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        months = reports.revenue(session, first, this_month)
        drafts = reports.open_drafts(session)
        runs = run_views(session, reports.list_runs(session, limit=5))
    current = next((d for d in drafts if d.period == billed), None)
    return billing_page(
        request,
        "overview.html",
        caller,
        section=BASE,
        title="Billing",
        chart=revenue_chart(months),
        months=[
            {
                "month": m.month,
                "invoiced": money(m.invoiced),
                "credited": money(m.credited),
                "net": money(m.net),
                "vat": money(m.vat),
                "invoices": m.invoices,
                "credit_notes": m.credit_notes,
            }
            for m in reversed(months)
        ],
        total=money(sum((m.net for m in months), Decimal(0))),
        billed=billed,
        billed_drafts={"count": current.count, "net": money(current.net), "total": money(current.total)}
        if current
        else None,
        drafts=[
            {"period": d.period, "count": d.count, "net": money(d.net), "total": money(d.total)}
            for d in drafts
        ],
        runs=runs,
    )


# --- plans and metrics ----------------------------------------------------------------------------


def _plans_page(
    request: Request,
    caller: CurrentStaff,
    session: Session,
    *,
    status_code: int = 200,
    errors: Mapping[str, str] | None = None,
    plan_values: Mapping[str, str] | None = None,
    rows: int = CHARGE_ROWS,
    metric_values: Mapping[str, str] | None = None,
) -> HTMLResponse:
    plans = plan_views(session, catalogue.list_plans(session))
    metrics = catalogue.list_metrics(session)
    return billing_page(
        request,
        "plans.html",
        caller,
        section=f"{BASE}/plans",
        title="Plans and metrics",
        status_code=status_code,
        plans=plans,
        metrics=metrics,
        models=[m.value for m in PriceModel],
        aggregations=[a.value for a in Aggregation],
        errors=errors or {},
        plan_values=plan_values or {"base_fee": "0.00", "minimum": "0.00"},
        rows=rows,
        metric_values=metric_values or {"aggregation": Aggregation.count.value},
    )


@router.get(f"{BASE}/plans", response_class=HTMLResponse)
def plans(
    request: Request, caller: CurrentStaff = Depends(finance), db: Database = Depends(get_db)
) -> Response:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        return _plans_page(request, caller, session)


@router.post(f"{BASE}/plans", response_class=HTMLResponse)
def create_plan(
    request: Request,
    form: dict[str, str] = Depends(posted),
    caller: CurrentStaff = Depends(finance),
    db: Database = Depends(get_db),
) -> Response:
    rows = charge_rows(form)
    if form.get("add_row"):  # another charge row: the same form, one row longer, nothing stored
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            return _plans_page(
                request, caller, session, plan_values=form, rows=min(rows + 1, MAX_CHARGE_ROWS)
            )
    try:
        charges = charge_inputs(form, rows)
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            plan = catalogue.create_plan(
                session,
                code=form.get("code", ""),
                name=form.get("name", ""),
                base_fee=form.get("base_fee", "").strip() or "0",
                minimum=form.get("minimum", "").strip() or "0",
                description=form.get("description", ""),
                charges=charges,
            )
            plan_id = plan.id
    except LawfulError as exc:  # the unit of work rolled back: no plan, no charge
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            return _plans_page(
                request,
                caller,
                session,
                status_code=exc.status,
                errors={"plan": exc.message},
                plan_values=form,
                rows=rows,
            )
    return redirect(f"{BASE}/plans?done=plan-created#plan-{plan_id}")


def _set_active(caller: CurrentStaff, db: Database, plan_id: uuid.UUID, active: bool) -> Response:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        catalogue.set_plan_active(session, catalogue.get_plan(session, plan_id), active)
    return redirect(f"{BASE}/plans?done={'plan-activated' if active else 'plan-archived'}#plan-{plan_id}")


@router.post(f"{BASE}/plans/{{plan_id}}/archive")
def archive_plan(
    plan_id: uuid.UUID, caller: CurrentStaff = Depends(finance), db: Database = Depends(get_db)
) -> Response:
    return _set_active(caller, db, plan_id, False)


@router.post(f"{BASE}/plans/{{plan_id}}/activate")
def activate_plan(
    plan_id: uuid.UUID, caller: CurrentStaff = Depends(finance), db: Database = Depends(get_db)
) -> Response:
    return _set_active(caller, db, plan_id, True)


@router.post(f"{BASE}/metrics", response_class=HTMLResponse)
def create_metric(
    request: Request,
    form: dict[str, str] = Depends(posted),
    caller: CurrentStaff = Depends(finance),
    db: Database = Depends(get_db),
) -> Response:
    try:
        filters = parse_filters_text(form.get("filters", ""))
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            catalogue.create_metric(
                session,
                code=form.get("code", ""),
                name=form.get("name", ""),
                event_code=form.get("event_code", ""),
                aggregation=form.get("aggregation", ""),
                distinct_property=form.get("distinct_property", "").strip() or None,
                filters=filters,
                unit=form.get("unit", ""),
            )
    except LawfulError as exc:
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            return _plans_page(
                request,
                caller,
                session,
                status_code=exc.status,
                errors={"metric": exc.message},
                metric_values=form,
            )
    return redirect(f"{BASE}/plans?done=metric-created#metrics")


# --- subscriptions ----------------------------------------------------------------------------------


@router.get(f"{BASE}/customers", response_class=HTMLResponse)
def customers(
    request: Request,
    q: str = "",
    page: int = 1,
    caller: CurrentStaff = Depends(finance),
    db: Database = Depends(get_db),
) -> Response:
    page = max(1, page)
    on = today()
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        found = customers_repository.search(session, query=q[:200], page=page, per_page=PER_PAGE)
        current = reports.current_plans(session, [c.id for c in found.customers], on)
    base = f"{BASE}/customers"
    return billing_page(
        request,
        "customers.html",
        caller,
        section=base,
        title="Subscriptions",
        q=q,
        found=found,
        rows=[{"customer": c, "plan": current.get(c.id)} for c in found.customers],
        previous_url=page_url(base, {"q": q, "page": page - 1}) if page > 1 else None,
        next_url=page_url(base, {"q": q, "page": page + 1}) if page < found.pages else None,
    )


@dataclass(frozen=True)
class SubscriptionView:
    subscription: Subscription
    plan: Plan
    state: str


def _customer_page(
    request: Request,
    caller: CurrentStaff,
    session: Session,
    customer_id: uuid.UUID,
    settings: Settings,
    *,
    status_code: int = 200,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, Mapping[str, str]] | None = None,
) -> HTMLResponse:
    customer = customers_repository.get(session, customer_id)
    if customer is None:
        raise NotFound("no such customer")
    on = today()
    history = []
    for s in catalogue.subscriptions_of(session, customer_id):
        state = (
            "upcoming"
            if s.starts_on > on
            else "ended"
            if s.ends_on is not None and s.ends_on <= on
            else "current"
        )
        history.append(SubscriptionView(s, catalogue.get_plan(session, s.plan_id), state))
    current = catalogue.current_subscription(session, customer_id, on)
    current_plan = plan_views(session, [catalogue.get_plan(session, current.plan_id)])[0] if current else None
    estimate = estimate_view(reports.estimate(session, customer_id, on, vat_rate=settings.vat_rate))
    listed = [invoice_row(i) for i in reports.list_invoices(session, customer_id=customer_id, limit=PER_PAGE)]
    given = values or {}
    return billing_page(
        request,
        "customer.html",
        caller,
        section=f"{BASE}/customers",
        title=f"Subscription of {customer.legal_name}",
        status_code=status_code,
        customer=customer,
        running=current,
        current_plan=current_plan,
        history=history,
        offered=catalogue.list_plans(session, active_only=True),
        estimate=estimate,
        month=month_start(on),
        invoices=listed,
        errors=errors or {},
        subscribe_values=given.get("subscribe", {"starts_on": on.isoformat()}),
        cancel_values=given.get("cancel", {"on": next_month(on).isoformat()}),
    )


@router.get(f"{BASE}/customers/{{customer_id}}", response_class=HTMLResponse)
def customer(
    request: Request,
    customer_id: uuid.UUID,
    caller: CurrentStaff = Depends(finance),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> Response:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        return _customer_page(request, caller, session, customer_id, settings)


@router.post(f"{BASE}/customers/{{customer_id}}/subscribe", response_class=HTMLResponse)
def subscribe(
    request: Request,
    customer_id: uuid.UUID,
    plan_id: str = Form(""),
    starts_on: str = Form(""),
    caller: CurrentStaff = Depends(finance),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> Response:
    try:
        plan = parse_uuid(plan_id, "plan_id")
        start = parse_day(starts_on, "starts_on")
        ensure_published(request)  # the record names the terms and statement in force
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            how = agreements.Acceptance.by_staff(session, caller.staff.id, note=CONSOLE_NOTE)
            agreements.subscribe(session, customer_id, plan, starts_on=start, how=how)
    except LawfulError as exc:
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            return _customer_page(
                request,
                caller,
                session,
                customer_id,
                settings,
                status_code=exc.status,
                errors={"subscribe": exc.message},
                values={"subscribe": {"plan_id": plan_id, "starts_on": starts_on}},
            )
    return redirect(f"{BASE}/customers/{customer_id}?done=subscribed")


@router.post(f"{BASE}/customers/{{customer_id}}/cancel", response_class=HTMLResponse)
def cancel(
    request: Request,
    customer_id: uuid.UUID,
    on: str = Form(""),
    caller: CurrentStaff = Depends(finance),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> Response:
    try:
        day = parse_day(on, "on")
        ensure_published(request)
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            how = agreements.Acceptance.by_staff(session, caller.staff.id, note=CONSOLE_NOTE)
            agreements.cancel(session, customer_id, on=day, how=how)
    except LawfulError as exc:
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            return _customer_page(
                request,
                caller,
                session,
                customer_id,
                settings,
                status_code=exc.status,
                errors={"cancel": exc.message},
                values={"cancel": {"on": on}},
            )
    return redirect(f"{BASE}/customers/{customer_id}?done=cancelled")


# --- runs and finalising ----------------------------------------------------------------------------


def _runs_page(
    request: Request,
    caller: CurrentStaff,
    db: Database,
    *,
    status_code: int = 200,
    error: str | None = None,
    period: str = "",
    flashes: Iterable[tuple[str, str]] = (),
    ran: uuid.UUID | None = None,
) -> HTMLResponse:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        runs = run_views(session, reports.list_runs(session, limit=PER_PAGE))
        drafts = reports.open_drafts(session)
    notes = list(flashes)
    done = next((r for r in runs if r.run.id == ran), None)
    if done is not None:
        notes.append(
            (
                "ok",
                f"The run of {month_label(done.run.period)} is done: "
                f"{done.run.subscriptions} subscriptions, {done.run.created} drafts made, "
                f"{done.run.updated} updated, {done.run.unchanged} unchanged; the drafts total {done.total}.",
            )
        )
    return billing_page(
        request,
        "runs.html",
        caller,
        section=f"{BASE}/runs",
        title="Billing runs",
        status_code=status_code,
        notes=notes,
        error=error,
        period=period or f"{add_months(month_start(today()), -1):%Y-%m}",
        runs=runs,
        ran=ran,
        drafts=[
            {
                "period": d.period,
                "count": d.count,
                "net": money(d.net),
                "total": money(d.total),
                "open": next_month(d.period) <= today(),
            }
            for d in drafts
        ],
    )


@router.get(f"{BASE}/runs", response_class=HTMLResponse)
def runs(
    request: Request, ran: str = "", caller: CurrentStaff = Depends(finance), db: Database = Depends(get_db)
) -> Response:
    try:
        ran_id = uuid.UUID(ran) if ran else None
    except ValueError:
        ran_id = None
    return _runs_page(request, caller, db, ran=ran_id)


def billable_period(value: str) -> date:
    """A month given as ``YYYY-MM`` (the run refuses one that has not begun)."""
    if not value.strip():
        raise Invalid("give the month to bill (YYYY-MM)", detail={"field": "period"})
    return parse_month(value)


@router.post(f"{BASE}/runs", response_class=HTMLResponse)
def run(
    request: Request,
    period: str = Form(""),
    caller: CurrentStaff = Depends(finance),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> Response:
    try:
        month = billable_period(period)
        summary = service.run(db, month, settings=settings, actor=caller.actor)
    except LawfulError as exc:
        return _runs_page(request, caller, db, status_code=exc.status, error=exc.message, period=period)
    return redirect(f"{BASE}/runs?ran={summary.run_id}")


def _finalisable(period: str) -> date:
    month = parse_month(period)
    if next_month(month) > today():
        raise Conflict(
            f"the usage of {month:%B %Y} is not complete before {next_month(month):%d %B %Y}; "
            "its drafts can be finalised from then on",
            detail={"field": "period"},
        )
    return month


@router.get(f"{BASE}/finalise", response_class=HTMLResponse)
def finalise_confirmation(
    request: Request,
    period: str = "",
    caller: CurrentStaff = Depends(finance),
    db: Database = Depends(get_db),
) -> Response:
    try:
        month = parse_month(period)
    except LawfulError as exc:
        return _runs_page(request, caller, db, status_code=exc.status, error=exc.message)
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        drafts = reports.list_invoices(
            session, status=InvoiceStatus.draft, period=month, limit=reports.MAX_PAGE
        )
        rows = [invoice_row(i) for i in drafts]
    total = sum((from_cents(i.total_cents) for i in drafts), Decimal(0))
    return billing_page(
        request,
        "finalise.html",
        caller,
        section=f"{BASE}/runs",
        title=f"Finalise the drafts of {month_label(month)}",
        month=month,
        rows=rows,
        total=money(total),
        ready=next_month(month) <= today(),
        ready_on=next_month(month),
    )


@router.post(f"{BASE}/finalise", response_class=HTMLResponse)
def finalise_period(
    request: Request,
    period: str = Form(""),
    caller: CurrentStaff = Depends(finance),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> Response:
    try:
        month = _finalisable(period)
    except LawfulError as exc:
        return _runs_page(request, caller, db, status_code=exc.status, error=exc.message)
    result = service.finalise_drafts(db, today=today(), settings=settings, period=month, actor=caller.actor)
    notes: list[tuple[str, str]] = []
    if result.numbers:
        notes.append(
            (
                "ok",
                f"{len(result.numbers)} invoice{'' if len(result.numbers) == 1 else 's'} of "
                f"{month_label(month)} finalised: {', '.join(result.numbers)}. "
                "Their e-mails are in the outbox.",
            )
        )
    elif not result.failed:
        notes.append(("ok", f"{month_label(month)} has no drafts to finalise."))
    notes += [("error", f"Not finalised: {failure}") for failure in result.failed]
    return _runs_page(request, caller, db, flashes=notes, status_code=409 if result.failed else 200)


# --- invoices -----------------------------------------------------------------------------------------


def _choice(value: str, allowed: Iterable[str]) -> str:
    return value if value in allowed else ""


@router.get(f"{BASE}/invoices", response_class=HTMLResponse)
def invoice_list(
    request: Request,
    status: str = "",
    period: str = "",
    type: str = "",
    page: int = 1,
    caller: CurrentStaff = Depends(finance),
    db: Database = Depends(get_db),
) -> Response:
    page = max(1, page)
    status = _choice(status, [s.value for s in InvoiceStatus])
    type = _choice(type, [t.value for t in InvoiceType])
    error: str | None = None
    month: date | None = None
    if period.strip():
        try:
            month = parse_month(period)
        except LawfulError as exc:
            error = f"Period: {exc.message}; showing every period."
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        found = reports.list_invoices(
            session,
            status=InvoiceStatus(status) if status else None,
            type=InvoiceType(type) if type else None,
            period=month,
            limit=PER_PAGE + 1,
            offset=(page - 1) * PER_PAGE,
        )
        rows = [invoice_row(i) for i in found[:PER_PAGE]]
    filters = {"status": status, "period": f"{month:%Y-%m}" if month else "", "type": type}
    base = f"{BASE}/invoices"
    partial = (
        request.headers.get("hx-request") == "true" and "hx-history-restore-request" not in request.headers
    )
    response = billing_page(
        request,
        "_invoice_table.html" if partial else "invoices.html",
        caller,
        section=base,
        title="Invoices",
        status_code=422 if error else 200,
        error=error,
        rows=rows,
        filters=filters,
        statuses=[s.value for s in InvoiceStatus],
        types=[t.value for t in InvoiceType],
        page=page,
        previous_url=page_url(base, {**filters, "page": page - 1}) if page > 1 else None,
        next_url=page_url(base, {**filters, "page": page + 1}) if len(found) > PER_PAGE else None,
    )
    response.headers["Vary"] = "HX-Request"
    return response


def _download(
    caller: CurrentStaff, db: Database, policy: Policy, settings: Settings, invoice_id: uuid.UUID, kind: str
) -> Response:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        invoice = invoices.get_invoice(session, invoice_id)
        stored = invoices.documents(session, invoice, policy=policy, settings=settings)
        content, name = (stored.pdf if kind == "pdf" else stored.ubl), invoice.number or str(invoice.id)
    return document_response(content, name, kind)


def document_response(content: bytes, name: str, kind: str) -> Response:
    """A stored invoice document as a download (``pdf``: Factur-X, ``xml``: UBL)."""
    media = "application/pdf" if kind == "pdf" else "application/xml"
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    return Response(
        content,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{safe}.{kind}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


# The download routes come before the invoice page, whose path would match them too.
@router.get(f"{BASE}/invoices/{{invoice_id}}.pdf")
def invoice_pdf(
    invoice_id: uuid.UUID,
    caller: CurrentStaff = Depends(finance),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
    settings: Settings = Depends(get_settings),
) -> Response:
    return _download(caller, db, policy, settings, invoice_id, "pdf")


@router.get(f"{BASE}/invoices/{{invoice_id}}.xml")
def invoice_ubl(
    invoice_id: uuid.UUID,
    caller: CurrentStaff = Depends(finance),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
    settings: Settings = Depends(get_settings),
) -> Response:
    return _download(caller, db, policy, settings, invoice_id, "xml")


def invoice_table() -> Table:
    table = Invoice.__table__
    assert isinstance(table, Table)
    return table


@dataclass(frozen=True)
class LineView:
    position: int
    description: str
    detail: str
    start: date
    end: date
    quantity: str
    unit_price: str
    amount: str


def line_views(lines: Sequence[InvoiceLine]) -> list[LineView]:
    return [
        LineView(
            position=line.position,
            description=line.description,
            detail=line.detail,
            start=line.service_start,
            end=line.service_end,
            quantity=number(from_micros(line.quantity_micros)),
            unit_price=plain(from_micros(line.unit_price_micros)),
            amount=money(from_cents(line.amount_cents)),
        )
        for line in lines
    ]


def _invoice_page(
    request: Request,
    caller: CurrentStaff,
    session: Session,
    invoice_id: uuid.UUID,
    policy: Policy,
    *,
    status_code: int = 200,
    errors: Mapping[str, str] | None = None,
    credit_values: Mapping[str, str] | None = None,
) -> HTMLResponse:
    invoice = invoices.get_invoice(session, invoice_id)
    lines = invoices.lines_of(session, invoice.id)
    notes = reports.credit_notes_of(session, invoice.id) if invoice.type is InvoiceType.invoice else []
    corrects = invoices.get_invoice(session, invoice.corrects_id) if invoice.corrects_id else None
    credited = sum((n.net_cents for n in notes if n.status is InvoiceStatus.finalised), 0)
    hold: Hold = hold_of(policy, invoice_table(), invoice.issue_date)
    names = actor_names(session, [invoice.finalised_by] if invoice.finalised_by else [])
    creditable = invoice.type is InvoiceType.invoice and invoice.status is InvoiceStatus.finalised
    return billing_page(
        request,
        "invoice.html",
        caller,
        section=f"{BASE}/invoices",
        title=invoice_label(invoice),
        status_code=status_code,
        invoice=invoice,
        row=invoice_row(invoice),
        lines=line_views(lines),
        vat_rate=number(Decimal(lines[0].vat_rate_bp) / 100) if lines else "0",
        credit_notes=[invoice_row(n) for n in notes],
        corrects=invoice_row(corrects) if corrects else None,
        open_amount=money(from_cents(invoice.net_cents - credited)),
        creditable=creditable and invoice.net_cents - credited > 0,
        whole_creditable=creditable and not notes,
        hold=hold,
        finalised_by=names.get(invoice.finalised_by or "", invoice.finalised_by or ""),
        errors=errors or {},
        credit_values=credit_values or {"scope": "amount" if notes else "whole"},
    )


@router.get(f"{BASE}/invoices/{{invoice_id}}", response_class=HTMLResponse)
def invoice_detail(
    request: Request,
    invoice_id: uuid.UUID,
    caller: CurrentStaff = Depends(finance),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
) -> Response:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        return _invoice_page(request, caller, session, invoice_id, policy)


@router.post(f"{BASE}/invoices/{{invoice_id}}/finalise", response_class=HTMLResponse)
def finalise_invoice(
    request: Request,
    invoice_id: uuid.UUID,
    caller: CurrentStaff = Depends(finance),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
    settings: Settings = Depends(get_settings),
) -> Response:
    try:
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            invoices.finalise(
                session,
                invoice_id,
                today=today(),
                actor=str(caller.actor),
                settings=settings,
                checker=service.checker_for(settings),
            )
    except LawfulError as exc:
        if isinstance(exc, NotFound):
            raise
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            return _invoice_page(
                request,
                caller,
                session,
                invoice_id,
                policy,
                status_code=exc.status,
                errors={"finalise": exc.message},
            )
    return redirect(f"{BASE}/invoices/{invoice_id}?done=finalised")


@router.post(f"{BASE}/invoices/{{invoice_id}}/credit", response_class=HTMLResponse)
def credit_invoice(
    request: Request,
    invoice_id: uuid.UUID,
    scope: str = Form("amount"),
    amount: str = Form(""),
    reason: str = Form(""),
    caller: CurrentStaff = Depends(finance),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
    settings: Settings = Depends(get_settings),
) -> Response:
    try:
        value: Decimal | None = None
        if scope != "whole":
            text = amount.strip()
            if not text:
                raise Invalid("give the amount to credit (net, without VAT), or credit the whole invoice")
            try:
                value = Decimal(text)
            except InvalidOperation:
                raise Invalid(
                    f"the amount to credit: {text!r} is not an amount (digits, with a point for cents)",
                    detail={"field": "amount"},
                ) from None
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            note = invoices.credit(
                session,
                invoice_id,
                invoices.CreditRequest(reason=reason, amount=value),
                today=today(),
                actor=str(caller.actor),
                settings=settings,
            )
            note_id = note.id
    except LawfulError as exc:
        if isinstance(exc, NotFound):
            raise
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            return _invoice_page(
                request,
                caller,
                session,
                invoice_id,
                policy,
                status_code=exc.status,
                errors={"credit": exc.message},
                credit_values={"scope": scope, "amount": amount, "reason": reason},
            )
    return redirect(f"{BASE}/invoices/{note_id}?done=credited")
