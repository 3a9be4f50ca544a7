"""JSON API of billing: the catalogue, subscriptions, runs, invoices and revenue; and the portal's view.

Who may do what (staff roles come from the policy):

- reading the catalogue (metrics, plans) and a customer's subscriptions: staff acting under
  ``contract`` (support answers "which plan am I on?");
- everything that decides or shows what is invoiced (creating metrics and plans, offering them,
  subscribing and cancelling, runs, invoices, credit notes, documents, revenue): staff acting
  under ``contract`` *and* ``legal_obligation`` (finance). Subscribing and cancelling go through
  :mod:`lawful.agreements.service`, so each leaves an agreement record in the caller's name. Changes run under ``contract``, like the
  billing service; invoices and revenue are read under ``legal_obligation``, the purpose that keeps
  them;
- ``/api/v1/portal/billing`` and ``/api/v1/portal/invoices``: a customer's admin, for their own
  company only (another customer's invoice, or a draft, answers 404 like one that does not exist).

Money is a decimal string with two decimals (``"12.10"``), quantities and prices plain decimal
strings: never a JSON number.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lawful.agreements import service as agreements
from lawful.billing import catalogue, invoices, reports, service
from lawful.billing.metrics import parse_filters
from lawful.billing.models import (
    Charge,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    InvoiceType,
    Metric,
    Plan,
    Subscription,
)
from lawful.billing.rating import cents, from_cents, from_micros, parse_pricing, plain
from lawful.billing.run import Draft, month_start, next_month, period_key
from lawful.billing.schemas import (
    PERIOD,
    BuyerOut,
    CancelIn,
    ChargeOut,
    CreditIn,
    CurrentPlan,
    EstimateLine,
    EstimateOut,
    FinalisedOut,
    HoldOut,
    InvoiceOut,
    InvoicePage,
    InvoiceSummary,
    LineOut,
    MetricIn,
    MetricList,
    MetricOut,
    MonthRevenueOut,
    PlanIn,
    PlanList,
    PlanOut,
    PortalBilling,
    PricingOut,
    RevenueOut,
    RunIn,
    RunList,
    RunOut,
    RunSummaryOut,
    SubscriptionIn,
    SubscriptionList,
    SubscriptionOut,
    TierOut,
)
from lawful.customers.models import Customer
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.errors import Conflict, Forbidden, Invalid, NotFound
from lawful.policy.model import Policy
from lawful.retention.holds import hold_of
from lawful.settings import Settings
from lawful.web.api import Limit, Offset, errors, staff_api, user_api
from lawful.web.auth import CurrentStaff, CurrentUser, csrf_protect
from lawful.web.deps import ensure_published, get_db, get_policy, get_settings
from lawful.web.errors import ERROR_RESPONSES

router = APIRouter(
    prefix="/api/v1", tags=["billing"], responses=ERROR_RESPONSES, dependencies=[Depends(csrf_protect)]
)

#: The purposes of a role that works on invoices: the customer relation and what tax law requires.
FINANCE_PURPOSES = ("contract", "legal_obligation")
CONTRACT = "contract"
RECORDS = "legal_obligation"  # invoices are kept, and read, under the purpose that obliges keeping them
MAX_MONTHS = 120
NO_SUCH_INVOICE = "no such invoice"
INVOICES = cast(Table, Invoice.__table__)

#: The note on the agreement record of a subscription changed through this API.
API_NOTE = "recorded through the billing API"

PDF = "application/pdf"
XML = "application/xml"


def _document_response(media_type: str, what: str, *, draft: int = 409) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI responses of a document route (a draft answers ``draft``: 409, or 404 in the portal)."""
    return {
        200: {
            "description": what,
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
        },
        **(errors(draft) if draft != 404 else {}),
    }


# --- who is calling ---------------------------------------------------------------------------


def finance_staff(
    staff: CurrentStaff = staff_api(CONTRACT), policy: Policy = Depends(get_policy)
) -> CurrentStaff:
    """A dependency: a staff member whose role acts under every purpose of :data:`FINANCE_PURPOSES`."""
    if not all(policy.role_may(staff.role, purpose) for purpose in FINANCE_PURPOSES):
        raise Forbidden(
            f"your role ({staff.role}) does not work on invoices; billing is for roles acting under "
            f"{' and '.join(FINANCE_PURPOSES)}",
            detail={"purposes": list(FINANCE_PURPOSES), "role": staff.role},
        )
    return staff


def billing_admin(caller: CurrentUser = Depends(user_api)) -> CurrentUser:
    """A dependency: a customer's admin (a member gets 403, staff 403, nobody signed in 401)."""
    if not caller.is_admin:
        raise Forbidden("only an admin of your company sees its billing and invoices")
    return caller


def today() -> date:
    return datetime.now(UTC).date()


# --- conversions ------------------------------------------------------------------------------


def money(amount_cents: int) -> str:
    return f"{from_cents(amount_cents):.2f}"


def money_of(amount: Decimal) -> str:
    return f"{cents(amount):.2f}"


def period_of(text: str) -> date:
    """The first day of a month written ``YYYY-MM`` (already checked against :data:`PERIOD`)."""
    return date(int(text[:4]), int(text[5:7]), 1)


def path_period(text: str) -> date:
    """A month in a path: a path that names no month names nothing (404)."""
    if not re.fullmatch(PERIOD, text):
        raise NotFound("no such period; a period is written YYYY-MM")
    return period_of(text)


def metric_out(metric: Metric) -> MetricOut:
    return MetricOut(
        id=metric.id,
        code=metric.code,
        name=metric.name,
        event_code=metric.event_code,
        aggregation=metric.aggregation,
        distinct_property=metric.distinct_property,
        filters=parse_filters(metric.filters),
        unit=metric.unit,
        archived=metric.archived,
    )


def _optional(value: Decimal | None) -> str | None:
    return plain(value) if value is not None else None


def charge_out(charge: Charge, metric: Metric) -> ChargeOut:
    pricing = parse_pricing(charge.model, charge.pricing)
    tiers = (
        [
            TierOut(up_to=_optional(t.up_to), unit_price=plain(t.unit_price), flat_fee=plain(t.flat_fee))
            for t in pricing.tiers
        ]
        if pricing.tiers is not None
        else None
    )
    return ChargeOut(
        metric_id=metric.id,
        metric_code=metric.code,
        metric_name=metric.name,
        unit=metric.unit,
        model=charge.model,
        pricing=PricingOut(
            unit_price=_optional(pricing.unit_price),
            tiers=tiers,
            package_size=_optional(pricing.package_size),
            package_price=_optional(pricing.package_price),
        ),
        included=plain(from_micros(charge.included_micros)),
    )


def plan_out(session: Session, plan: Plan) -> PlanOut:
    return PlanOut(
        id=plan.id,
        code=plan.code,
        name=plan.name,
        description=plan.description,
        currency=plan.currency,
        base_fee=money(plan.base_fee_cents),
        minimum=money(plan.minimum_cents),
        active=plan.active,
        created_at=plan.created_at,
        charges=[charge_out(c, m) for c, m in reports.charges_of(session, [plan.id])[plan.id]],
    )


def subscription_out(session: Session, subscription: Subscription) -> SubscriptionOut:
    plan = catalogue.get_plan(session, subscription.plan_id)
    return SubscriptionOut(
        id=subscription.id,
        customer_id=subscription.customer_id,
        plan_id=plan.id,
        plan_code=plan.code,
        plan_name=plan.name,
        starts_on=subscription.starts_on,
        ends_on=subscription.ends_on,
    )


def _summary_fields(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": invoice.id,
        "type": invoice.type,
        "status": invoice.status,
        "number": invoice.number,
        "customer_id": invoice.customer_id,
        "period": period_key(invoice.period),
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "currency": invoice.currency,
        "buyer_name": invoice.buyer_name,
        "net": money(invoice.net_cents),
        "vat": money(invoice.vat_cents),
        "total": money(invoice.total_cents),
        "corrects_id": invoice.corrects_id,
    }


def invoice_summary(invoice: Invoice) -> InvoiceSummary:
    return InvoiceSummary(**_summary_fields(invoice))


def line_out(line: InvoiceLine) -> LineOut:
    return LineOut(
        position=line.position,
        kind=line.kind,
        description=line.description,
        detail=line.detail,
        service_start=line.service_start,
        service_end=line.service_end,
        unit=line.unit,
        quantity=plain(from_micros(line.quantity_micros)),
        unit_price=plain(from_micros(line.unit_price_micros)),
        amount=money(line.amount_cents),
        vat_rate=plain(Decimal(line.vat_rate_bp) / 100),
    )


def invoice_out(session: Session, invoice: Invoice, policy: Policy) -> InvoiceOut:
    hold = hold_of(policy, INVOICES, invoice.issue_date).as_dict()
    return InvoiceOut(
        **_summary_fields(invoice),
        supply_date=invoice.supply_date,
        reason=invoice.reason,
        buyer=BuyerOut(
            kind=invoice.buyer_kind,
            name=invoice.buyer_name,
            street=invoice.buyer_street,
            postal_code=invoice.buyer_postal_code,
            city=invoice.buyer_city,
            country=invoice.buyer_country,
            vat_number=invoice.buyer_vat,
            kvk_number=invoice.buyer_kvk,
        ),
        vat_treatment=invoice.vat_treatment,
        vat_check=invoice.vat_check,
        lines=[line_out(line) for line in invoices.lines_of(session, invoice.id)],
        created_at=invoice.created_at,
        finalised_at=invoice.finalised_at,
        finalised_by=invoice.finalised_by,
        hold=HoldOut.model_validate(hold),
    )


def estimate_out(draft: Draft, as_of: date) -> EstimateOut:
    return EstimateOut(
        period=period_key(month_start(as_of)),
        as_of=as_of,
        currency=draft.currency,
        vat_rate=plain(draft.vat.rate),
        lines=[
            EstimateLine(
                kind=line.kind,
                description=line.description,
                detail=line.detail,
                service_start=line.service_start,
                service_end=line.service_end,
                quantity=plain(line.quantity),
                unit_price=plain(line.unit_price),
                amount=money_of(line.amount),
            )
            for line in draft.lines
        ],
        net=money_of(draft.net),
        vat=money_of(draft.vat_amount),
        total=money_of(draft.total),
    )


# --- metrics ----------------------------------------------------------------------------------


@router.get("/billing/metrics", summary="The metrics usage is billed by", response_model=MetricList)
def list_metrics(caller: CurrentStaff = staff_api(CONTRACT), db: Database = Depends(get_db)) -> MetricList:
    with db.unit_of_work(CONTRACT, caller.actor) as session:
        return MetricList(items=[metric_out(m) for m in catalogue.list_metrics(session)])


@router.post(
    "/billing/metrics",
    summary="Define a metric: an aggregation over the usage events of one code (finance)",
    status_code=201,
    response_model=MetricOut,
    responses=errors(409),
)
def create_metric(
    body: MetricIn, caller: CurrentStaff = Depends(finance_staff), db: Database = Depends(get_db)
) -> MetricOut:
    with db.unit_of_work(CONTRACT, caller.actor) as session:
        metric = catalogue.create_metric(session, **body.model_dump())
        return metric_out(metric)


# --- plans ------------------------------------------------------------------------------------


@router.get("/billing/plans", summary="The plans and their prices", response_model=PlanList)
def list_plans(
    caller: CurrentStaff = staff_api(CONTRACT),
    db: Database = Depends(get_db),
    active_only: bool = False,
) -> PlanList:
    with db.unit_of_work(CONTRACT, caller.actor) as session:
        plans = catalogue.list_plans(session, active_only=active_only)
        return PlanList(items=[plan_out(session, p) for p in plans])


@router.get("/billing/plans/{plan_id}", summary="One plan and its prices", response_model=PlanOut)
def get_plan(
    plan_id: uuid.UUID, caller: CurrentStaff = staff_api(CONTRACT), db: Database = Depends(get_db)
) -> PlanOut:
    with db.unit_of_work(CONTRACT, caller.actor) as session:
        return plan_out(session, catalogue.get_plan(session, plan_id))


@router.post(
    "/billing/plans",
    summary="Create a plan with its charges; its prices never change afterwards (finance)",
    status_code=201,
    response_model=PlanOut,
    responses=errors(409),
)
def create_plan(
    body: PlanIn, caller: CurrentStaff = Depends(finance_staff), db: Database = Depends(get_db)
) -> PlanOut:
    charges = [
        catalogue.ChargeInput(
            metric_code=c.metric_code,
            model=c.model,
            pricing=c.pricing.model_dump(exclude_none=True),
            included=c.included,
        )
        for c in body.charges
    ]
    with db.unit_of_work(CONTRACT, caller.actor) as session:
        plan = catalogue.create_plan(
            session,
            code=body.code,
            name=body.name,
            base_fee=body.base_fee,
            minimum=body.minimum,
            currency=body.currency,
            description=body.description,
            charges=charges,
        )
        return plan_out(session, plan)


def _set_active(db: Database, caller: CurrentStaff, plan_id: uuid.UUID, active: bool) -> PlanOut:
    with db.unit_of_work(CONTRACT, caller.actor) as session:
        plan = catalogue.set_plan_active(session, catalogue.get_plan(session, plan_id), active)
        return plan_out(session, plan)


@router.post(
    "/billing/plans/{plan_id}/archive",
    summary="Stop offering a plan to new subscriptions; current ones continue (finance)",
    response_model=PlanOut,
)
def archive_plan(
    plan_id: uuid.UUID, caller: CurrentStaff = Depends(finance_staff), db: Database = Depends(get_db)
) -> PlanOut:
    return _set_active(db, caller, plan_id, False)


@router.post(
    "/billing/plans/{plan_id}/activate",
    summary="Offer a plan to new subscriptions again (finance)",
    response_model=PlanOut,
)
def activate_plan(
    plan_id: uuid.UUID, caller: CurrentStaff = Depends(finance_staff), db: Database = Depends(get_db)
) -> PlanOut:
    return _set_active(db, caller, plan_id, True)


# --- subscriptions ----------------------------------------------------------------------------


def _customer(session: Session, customer_id: uuid.UUID) -> None:
    if session.get(Customer, customer_id) is None:
        raise NotFound("no customer with that id")


@router.get(
    "/billing/customers/{customer_id}/subscriptions",
    summary="A customer's subscriptions, newest first",
    response_model=SubscriptionList,
)
def list_subscriptions(
    customer_id: uuid.UUID, caller: CurrentStaff = staff_api(CONTRACT), db: Database = Depends(get_db)
) -> SubscriptionList:
    with db.unit_of_work(CONTRACT, caller.actor) as session:
        _customer(session, customer_id)
        found = catalogue.subscriptions_of(session, customer_id)
        return SubscriptionList(items=[subscription_out(session, s) for s in found])


@router.post(
    "/billing/customers/{customer_id}/subscriptions",
    summary="Subscribe a customer to a plan, or change their plan from a day (finance)",
    status_code=201,
    response_model=SubscriptionOut,
    responses=errors(409),
)
def subscribe(
    request: Request,
    customer_id: uuid.UUID,
    body: SubscriptionIn,
    caller: CurrentStaff = Depends(finance_staff),
    db: Database = Depends(get_db),
) -> SubscriptionOut:
    ensure_published(request)  # the record names the terms and statement in force
    with db.unit_of_work(CONTRACT, caller.actor) as session:
        how = agreements.Acceptance.by_staff(session, caller.staff.id, note=API_NOTE)
        agreements.subscribe(session, customer_id, body.plan_id, starts_on=body.starts_on, how=how)
        subscription = catalogue.current_subscription(session, customer_id, body.starts_on)
        assert subscription is not None
        return subscription_out(session, subscription)


@router.post(
    "/billing/customers/{customer_id}/subscriptions/cancel",
    summary="End a customer's subscription on a day (finance)",
    response_model=SubscriptionOut,
)
def cancel_subscription(
    request: Request,
    customer_id: uuid.UUID,
    body: CancelIn,
    caller: CurrentStaff = Depends(finance_staff),
    db: Database = Depends(get_db),
) -> SubscriptionOut:
    ensure_published(request)
    with db.unit_of_work(CONTRACT, caller.actor) as session:
        how = agreements.Acceptance.by_staff(session, caller.staff.id, note=API_NOTE)
        agreements.cancel(session, customer_id, on=body.on, how=how)
        subscription = catalogue.current_subscription(session, customer_id, body.on - timedelta(days=1))
        assert subscription is not None
        return subscription_out(session, subscription)


# --- runs -------------------------------------------------------------------------------------


@router.post(
    "/billing/runs",
    summary="Run billing for a month: make or update its draft invoices (finance)",
    status_code=201,
    response_model=RunSummaryOut,
)
def start_run(
    body: RunIn,
    caller: CurrentStaff = Depends(finance_staff),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> RunSummaryOut:
    summary = service.run(db, period_of(body.period), settings=settings, actor=caller.actor)
    return RunSummaryOut(
        run_id=summary.run_id,
        period=period_key(summary.period),
        subscriptions=summary.subscriptions,
        created=summary.created,
        updated=summary.updated,
        unchanged=summary.unchanged,
        removed=summary.removed,
        skipped_finalised=summary.skipped_finalised,
        total=money_of(summary.total),
    )


@router.get("/billing/runs", summary="The billing runs, newest first (finance)", response_model=RunList)
def list_runs(
    caller: CurrentStaff = Depends(finance_staff), db: Database = Depends(get_db), limit: Limit = 50
) -> RunList:
    with db.unit_of_work(CONTRACT, caller.actor) as session:
        runs = reports.list_runs(session, limit=limit)
        return RunList(
            items=[
                RunOut(
                    id=r.id,
                    period=period_key(r.period),
                    started_at=r.started_at,
                    finished_at=r.finished_at,
                    actor=r.actor,
                    subscriptions=r.subscriptions,
                    created=r.created,
                    updated=r.updated,
                    unchanged=r.unchanged,
                    finalised=r.finalised,
                    total=money(r.total_cents),
                )
                for r in runs
            ]
        )


@router.post(
    "/billing/runs/{period}/finalise",
    summary="Finalise the drafts of a month that is over: numbers, and the e-mails (finance)",
    response_model=FinalisedOut,
)
def finalise_period(
    period: str,
    caller: CurrentStaff = Depends(finance_staff),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> FinalisedOut:
    month = path_period(period)
    day = today()
    if day < next_month(month):
        raise Invalid(
            f"the usage of {month:%B %Y} is not complete before {next_month(month):%d %B %Y}",
            detail={"field": "period"},
        )
    result = service.finalise_drafts(db, today=day, settings=settings, period=month, actor=caller.actor)
    return FinalisedOut(period=period_key(month), numbers=result.numbers, failed=result.failed)


# --- invoices ---------------------------------------------------------------------------------

PeriodQuery = Annotated[str | None, Query(pattern=PERIOD, description="the month billed, YYYY-MM")]


@router.get(
    "/billing/invoices",
    summary="Invoices and credit notes, newest period first (finance)",
    response_model=InvoicePage,
)
def list_invoices(
    caller: CurrentStaff = Depends(finance_staff),
    db: Database = Depends(get_db),
    customer_id: uuid.UUID | None = None,
    status: InvoiceStatus | None = None,
    type: InvoiceType | None = None,
    period: PeriodQuery = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> InvoicePage:
    with db.unit_of_work(RECORDS, caller.actor) as session:
        found = reports.list_invoices(
            session,
            customer_id=customer_id,
            status=status,
            type=type,
            period=period_of(period) if period else None,
            limit=limit,
            offset=offset,
        )
        return InvoicePage(items=[invoice_summary(i) for i in found], limit=limit, offset=offset)


@router.get(
    "/billing/invoices/{invoice_id}",
    summary="One invoice or credit note: buyer, lines, totals and its legal hold (finance)",
    response_model=InvoiceOut,
)
def get_invoice(
    invoice_id: uuid.UUID,
    caller: CurrentStaff = Depends(finance_staff),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
) -> InvoiceOut:
    with db.unit_of_work(RECORDS, caller.actor) as session:
        return invoice_out(session, invoices.get_invoice(session, invoice_id), policy)


@router.post(
    "/billing/invoices/{invoice_id}/finalise",
    summary="Finalise a draft: its number, the buyer as of today, the e-mail (finance)",
    response_model=InvoiceOut,
    responses=errors(409),
)
def finalise_invoice(
    invoice_id: uuid.UUID,
    caller: CurrentStaff = Depends(finance_staff),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
    settings: Settings = Depends(get_settings),
) -> InvoiceOut:
    with db.unit_of_work(CONTRACT, caller.actor) as session:
        invoice = invoices.finalise(
            session,
            invoice_id,
            today=today(),
            actor=str(caller.actor),
            settings=settings,
            checker=service.checker_for(settings),
        )
        return invoice_out(session, invoice, policy)


@router.post(
    "/billing/invoices/{invoice_id}/credit-notes",
    summary="Credit a finalised invoice, wholly or by an amount, with a reason (finance)",
    status_code=201,
    response_model=InvoiceOut,
    responses=errors(409),
)
def credit_invoice(
    invoice_id: uuid.UUID,
    body: CreditIn,
    caller: CurrentStaff = Depends(finance_staff),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
    settings: Settings = Depends(get_settings),
) -> InvoiceOut:
    request = invoices.CreditRequest(
        reason=body.reason, amount=Decimal(body.amount) if body.amount is not None else None
    )
    with db.unit_of_work(CONTRACT, caller.actor) as session:
        note = invoices.credit(
            session, invoice_id, request, today=today(), actor=str(caller.actor), settings=settings
        )
        return invoice_out(session, note, policy)


def stored_documents(
    db: Database,
    purpose: str,
    actor: Actor,
    invoice_id: uuid.UUID,
    *,
    policy: Policy,
    settings: Settings,
    customer_id: uuid.UUID | None = None,
) -> tuple[str, bytes, bytes]:
    """The number, PDF and UBL of a finalised invoice, rendered and stored on the first request.

    With ``customer_id`` (the portal) a draft is as unknown as another customer's invoice: 404.
    Two first requests at once both render; the second to commit finds the row taken and reads it.
    """
    for attempt in (1, 2):
        try:
            with db.unit_of_work(purpose, actor) as session:
                invoice = invoices.get_invoice(session, invoice_id, customer_id=customer_id)
                if invoice.status is not InvoiceStatus.finalised or invoice.number is None:
                    if customer_id is not None:
                        raise NotFound(NO_SUCH_INVOICE)
                    raise Conflict(
                        "a draft has no documents yet; finalise it first", detail={"invoice": str(invoice_id)}
                    )
                stored = invoices.documents(session, invoice, policy=policy, settings=settings)
                return invoice.number, stored.pdf, stored.ubl
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def pdf_response(number: str, pdf: bytes) -> Response:
    return Response(
        pdf, media_type=PDF, headers={"content-disposition": f'attachment; filename="{number}.pdf"'}
    )


def ubl_response(number: str, ubl: bytes) -> Response:
    return Response(
        ubl, media_type=XML, headers={"content-disposition": f'attachment; filename="{number}.xml"'}
    )


@router.get(
    "/billing/invoices/{invoice_id}/pdf",
    summary="The invoice as Factur-X PDF, as first rendered (finance)",
    response_class=Response,
    responses=_document_response(PDF, "the PDF with the invoice's data embedded as CII XML"),
)
def invoice_pdf(
    invoice_id: uuid.UUID,
    caller: CurrentStaff = Depends(finance_staff),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
    settings: Settings = Depends(get_settings),
) -> Response:
    number, pdf, _ = stored_documents(db, RECORDS, caller.actor, invoice_id, policy=policy, settings=settings)
    return pdf_response(number, pdf)


@router.get(
    "/billing/invoices/{invoice_id}/ubl",
    summary="The invoice as UBL 2.1 (Peppol BIS Billing 3.0), as first rendered (finance)",
    response_class=Response,
    responses=_document_response(XML, "the UBL Invoice or CreditNote"),
)
def invoice_ubl(
    invoice_id: uuid.UUID,
    caller: CurrentStaff = Depends(finance_staff),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
    settings: Settings = Depends(get_settings),
) -> Response:
    number, _, ubl = stored_documents(db, RECORDS, caller.actor, invoice_id, policy=policy, settings=settings)
    return ubl_response(number, ubl)


# --- revenue ----------------------------------------------------------------------------------


@router.get(
    "/billing/revenue",
    summary="Revenue per month of issue: invoiced, credited, net and VAT (finance)",
    response_model=RevenueOut,
)
def revenue(
    caller: CurrentStaff = Depends(finance_staff),
    db: Database = Depends(get_db),
    start: Annotated[
        str | None, Query(alias="from", pattern=PERIOD, description="first month; default: January")
    ] = None,
    to: Annotated[str | None, Query(pattern=PERIOD, description="last month; default: this month")] = None,
) -> RevenueOut:
    now = month_start(today())
    last = period_of(to) if to else now
    first = period_of(start) if start else date(last.year, 1, 1)
    if (last.year - first.year) * 12 + last.month - first.month >= MAX_MONTHS:
        raise Invalid(f"at most {MAX_MONTHS} months at a time", detail={"field": "from"})
    with db.unit_of_work(RECORDS, caller.actor) as session:
        months = reports.revenue(session, first, last)
    return RevenueOut(
        start=period_key(first),
        end=period_key(last),
        items=[
            MonthRevenueOut(
                month=period_key(m.month),
                invoiced=money_of(m.invoiced),
                credited=money_of(m.credited),
                net=money_of(m.net),
                vat=money_of(m.vat),
                invoices=m.invoices,
                credit_notes=m.credit_notes,
            )
            for m in months
        ],
    )


# --- the portal: a customer's admin -----------------------------------------------------------


@router.get(
    "/portal/billing",
    summary="Your plan and what this month's invoice would be if the month ended today (a customer's admin)",
    response_model=PortalBilling,
)
def portal_billing(
    caller: CurrentUser = Depends(billing_admin),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> PortalBilling:
    day = today()
    with db.unit_of_work(CONTRACT, caller.actor) as session:
        current = catalogue.current_subscription(session, caller.customer_id, day)
        subscription = (
            CurrentPlan(
                starts_on=current.starts_on,
                ends_on=current.ends_on,
                plan=plan_out(session, catalogue.get_plan(session, current.plan_id)),
            )
            if current is not None
            else None
        )
        draft = reports.estimate(session, caller.customer_id, day, vat_rate=settings.vat_rate)
    return PortalBilling(
        subscription=subscription,
        estimate=estimate_out(draft, day) if draft is not None and draft.lines else None,
    )


@router.get(
    "/portal/invoices",
    summary="Your company's invoices and credit notes (a customer's admin)",
    response_model=InvoicePage,
)
def portal_invoices(
    caller: CurrentUser = Depends(billing_admin),
    db: Database = Depends(get_db),
    limit: Limit = 100,
    offset: Offset = 0,
) -> InvoicePage:
    with db.unit_of_work(CONTRACT, caller.actor) as session:
        found = reports.list_invoices(
            session,
            customer_id=caller.customer_id,
            status=InvoiceStatus.finalised,
            limit=limit,
            offset=offset,
        )
        return InvoicePage(items=[invoice_summary(i) for i in found], limit=limit, offset=offset)


@router.get(
    "/portal/invoices/{invoice_id}/pdf",
    summary="One of your invoices as Factur-X PDF (a customer's admin)",
    response_class=Response,
    responses=_document_response(PDF, "the PDF with the invoice's data embedded as CII XML", draft=404),
)
def portal_invoice_pdf(
    invoice_id: uuid.UUID,
    caller: CurrentUser = Depends(billing_admin),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
    settings: Settings = Depends(get_settings),
) -> Response:
    number, pdf, _ = stored_documents(
        db,
        CONTRACT,
        caller.actor,
        invoice_id,
        policy=policy,
        settings=settings,
        customer_id=caller.customer_id,
    )
    return pdf_response(number, pdf)


@router.get(
    "/portal/invoices/{invoice_id}/ubl",
    summary="One of your invoices as UBL 2.1 for your bookkeeping (a customer's admin)",
    response_class=Response,
    responses=_document_response(XML, "the UBL Invoice or CreditNote", draft=404),
)
def portal_invoice_ubl(
    invoice_id: uuid.UUID,
    caller: CurrentUser = Depends(billing_admin),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
    settings: Settings = Depends(get_settings),
) -> Response:
    number, _, ubl = stored_documents(
        db,
        CONTRACT,
        caller.actor,
        invoice_id,
        policy=policy,
        settings=settings,
        customer_id=caller.customer_id,
    )
    return ubl_response(number, ubl)
