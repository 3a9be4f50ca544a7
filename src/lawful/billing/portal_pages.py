"""The portal's billing page: a customer's admin sees their own company's plan, this month's
estimate and the finalised invoices and credit notes, and downloads them.

- ``/portal/billing``: the current plan, this month's usage so far rated as an estimate (never
  stored, clearly not an invoice), and every finalised invoice and credit note;
- ``/portal/billing/invoices/{id}.pdf`` and ``.xml``: the stored Factur-X PDF and UBL XML.

Everything is read under ``contract`` as the signed-in user and only for their own company: an
invoice of another customer, or a draft, is not found. A member who is not an admin is refused,
as on the portal's other admin pages.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from lawful.billing import catalogue, invoices, reports
from lawful.billing.models import InvoiceStatus
from lawful.billing.pages import (
    charge_views,
    document_response,
    estimate_view,
    invoice_row,
    money,
    today,
)
from lawful.billing.rating import from_cents
from lawful.billing.run import month_start
from lawful.data.db import Database
from lawful.errors import NotFound
from lawful.policy.model import Policy
from lawful.settings import Settings
from lawful.web import portal
from lawful.web.auth import CurrentUser, csrf_protect, customer_admin
from lawful.web.deps import get_db, get_policy, get_settings

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

PURPOSE = "contract"
PAGE = "/portal/billing"
SHOWN = 200  # invoices and credit notes on the page, newest first


@router.get(PAGE, response_class=HTMLResponse)
def billing(
    request: Request,
    caller: CurrentUser = Depends(customer_admin),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> Response:
    on = today()
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        subscription = catalogue.current_subscription(session, caller.customer_id, on)
        plan = catalogue.get_plan(session, subscription.plan_id) if subscription else None
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
    context = portal.portal_context(
        request,
        caller,
        current=PAGE,
        title="Billing",
        plan=plan,
        subscription=subscription,
        base_fee=money(from_cents(plan.base_fee_cents)) if plan else "",
        minimum=money(from_cents(plan.minimum_cents)) if plan else "",
        charges=charges,
        month=month_start(on),
        estimate=estimate,
        documents=documents,
    )
    return portal.render(request, "billing/overview.html", context)


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
