"""The portal's billing page: a customer's admin sees their own company's plan, this month's
estimate and the finalised invoices and credit notes, and downloads them.

- ``/portal/billing``: the current plan, this month's usage so far rated as an estimate (never
  stored, clearly not an invoice), and every finalised invoice and credit note;
- ``/portal/billing/invoices/{id}.pdf`` and ``.xml``: the stored Factur-X PDF and UBL XML;
- ``/portal/billing/plan`` and ``/portal/billing/cancel``: the admin changes plan from a day, or
  ends the agreement on a day, accepting the terms in force; each is a new agreement record
  (:mod:`lawful.agreements.service`) with the admin and their IP address, as at the sign-up.

Everything is read under ``contract`` as the signed-in user and only for their own company: an
invoice of another customer, or a draft, is not found. A member who is not an admin is refused,
as on the portal's other admin pages.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from lawful.agreements import service as agreements
from lawful.agreements.models import Channel, DocumentVersion
from lawful.billing import catalogue, invoices, reports
from lawful.billing.models import InvoiceStatus
from lawful.billing.pages import (
    charge_views,
    document_response,
    estimate_view,
    invoice_row,
    money,
    parse_day,
    parse_uuid,
    today,
)
from lawful.billing.rating import from_cents
from lawful.billing.run import month_start
from lawful.data.base import utcnow
from lawful.data.db import Database
from lawful.errors import Invalid, LawfulError, NotFound
from lawful.policy.model import Policy
from lawful.settings import Settings
from lawful.web import portal
from lawful.web.auth import CurrentUser, client_ip, csrf_protect, customer_admin
from lawful.web.deps import get_db, get_policy, get_publication, get_settings

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

PURPOSE = "contract"
PAGE = "/portal/billing"
SHOWN = 200  # invoices and credit notes on the page, newest first


DONE = {
    "plan": "Your plan is changed. The change is recorded with the terms you accepted.",
    "cancelled": "The agreement ends on the day you chose. The change is recorded.",
}


def _page(
    request: Request,
    caller: CurrentUser,
    db: Database,
    settings: Settings,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    on = today()
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        subscription = catalogue.current_subscription(session, caller.customer_id, on)
        plan = catalogue.get_plan(session, subscription.plan_id) if subscription else None
        offered = [
            p for p in catalogue.list_plans(session, active_only=True) if plan is None or p.id != plan.id
        ]
        upcoming = [s for s in catalogue.subscriptions_of(session, caller.customer_id) if s.starts_on > on]
        charges = charge_views(reports.charges_of(session, [plan.id])[plan.id]) if plan else []
        estimate = estimate_view(
            reports.estimate(session, caller.customer_id, on, vat_rate=settings.vat_rate)
        )
        documents = [
            invoice_row(i)
            for i in reports.list_invoices(
                session, customer_id=caller.customer_id, status=InvoiceStatus.finalised, limit=SHOWN
            )
        ]
    documents.sort(key=lambda row: (row.issue_date, row.number), reverse=True)
    done = DONE.get(request.query_params.get("done", ""))
    terms, statement = get_publication(request).in_force()
    context = portal.portal_context(
        request,
        caller,
        current=PAGE,
        title="Billing",
        flashes=[("ok", done)] if done else [],
        offered=offered,
        upcoming=upcoming,
        terms=terms,
        statement=statement,
        tomorrow=on + timedelta(days=1),
        errors=errors or {},
        values=values or {},
        plan=plan,
        subscription=subscription,
        base_fee=money(from_cents(plan.base_fee_cents)) if plan else "",
        minimum=money(from_cents(plan.minimum_cents)) if plan else "",
        charges=charges,
        month=month_start(on),
        estimate=estimate,
        documents=documents,
    )
    return portal.render(request, "billing/overview.html", context, status)


@router.get(PAGE, response_class=HTMLResponse)
def billing(
    request: Request,
    caller: CurrentUser = Depends(customer_admin),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> Response:
    return _page(request, caller, db, settings)


def _acceptance(
    request: Request, session: Session, caller: CurrentUser, terms: str, statement: str
) -> agreements.Acceptance:
    """The admin's acceptance of the versions shown on the form, which must be the ones in force."""
    shown_terms, shown_statement = get_publication(request).in_force()
    if terms != shown_terms.digest or statement != shown_statement.digest:
        raise Invalid(
            "the terms or the privacy statement changed while you were on this page; read them and try again",
            detail={"field": "accept"},
        )
    return agreements.Acceptance(
        Channel.self_service,
        user_id=caller.user.id,
        ip_address=client_ip(request),
        accepted_at=utcnow(),
        terms=session.get(DocumentVersion, shown_terms.id),
        statement=session.get(DocumentVersion, shown_statement.id),
    )


def _future_day(value: str, field: str) -> date:
    day = parse_day(value, field)
    if day <= today():
        raise Invalid("choose a day after today", detail={"field": field})
    return day


@router.post(f"{PAGE}/plan", response_class=HTMLResponse)
def change_plan(
    request: Request,
    plan_id: str = Form(""),
    starts_on: str = Form(""),
    accept: str = Form(""),
    terms_version: str = Form(""),
    statement_version: str = Form(""),
    caller: CurrentUser = Depends(customer_admin),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> Response:
    try:
        plan = parse_uuid(plan_id, "plan_id")
        day = _future_day(starts_on, "starts_on")
        if not accept:
            raise Invalid("to change plan, accept the terms of service", detail={"field": "accept"})
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            how = _acceptance(request, session, caller, terms_version, statement_version)
            agreements.change_plan(session, caller.customer_id, plan, starts_on=day, how=how)
    except LawfulError as exc:
        return _page(
            request,
            caller,
            db,
            settings,
            status=exc.status,
            errors={"plan": exc.message},
            values={"plan_id": plan_id, "starts_on": starts_on},
        )
    return RedirectResponse(f"{PAGE}?done=plan", status_code=303)


@router.post(f"{PAGE}/cancel", response_class=HTMLResponse)
def cancel(
    request: Request,
    on: str = Form(""),
    confirm: str = Form(""),
    terms_version: str = Form(""),
    statement_version: str = Form(""),
    caller: CurrentUser = Depends(customer_admin),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> Response:
    try:
        day = _future_day(on, "on")
        if not confirm:
            raise Invalid("confirm that the agreement ends on that day", detail={"field": "confirm"})
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            how = _acceptance(request, session, caller, terms_version, statement_version)
            agreements.cancel(session, caller.customer_id, on=day, how=how)
    except LawfulError as exc:
        return _page(
            request,
            caller,
            db,
            settings,
            status=exc.status,
            errors={"cancel": exc.message},
            values={"on": on},
        )
    return RedirectResponse(f"{PAGE}?done=cancelled", status_code=303)


def _download(
    caller: CurrentUser, db: Database, policy: Policy, settings: Settings, invoice_id: uuid.UUID, kind: str
) -> Response:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        invoice = invoices.get_invoice(session, invoice_id, customer_id=caller.customer_id)
        if invoice.status is not InvoiceStatus.finalised:
            raise NotFound("no such invoice")  # a draft is not the customer's to see
        stored = invoices.documents(session, invoice, policy=policy, settings=settings)
        content, name = (stored.pdf if kind == "pdf" else stored.ubl), invoice.number or str(invoice.id)
    return document_response(content, name, kind)


@router.get(f"{PAGE}/invoices/{{invoice_id}}.pdf")
def invoice_pdf(
    invoice_id: uuid.UUID,
    caller: CurrentUser = Depends(customer_admin),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
    settings: Settings = Depends(get_settings),
) -> Response:
    return _download(caller, db, policy, settings, invoice_id, "pdf")


@router.get(f"{PAGE}/invoices/{{invoice_id}}.xml")
def invoice_ubl(
    invoice_id: uuid.UUID,
    caller: CurrentUser = Depends(customer_admin),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
    settings: Settings = Depends(get_settings),
) -> Response:
    return _download(caller, db, policy, settings, invoice_id, "xml")
