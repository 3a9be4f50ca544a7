"""Console pages of agreements: a customer's agreement records, concluding one, and the documents.

- the *Agreement* section of ``/console/customers/{id}`` (:func:`agreement_section`, included by
  the customer's record): every record of the customer's agreement, newest first, with the plan and
  prices agreed, how it was concluded, who accepted from where, and the versions of the terms and
  the statement; and, for the staff who work on fees when no subscription runs, the form that
  concludes an agreement the customer made outside the website (recorded as such);
- ``/console/documents``: every published version of the privacy statement and the terms of
  service, and per version what changed since the one before it.

Plan changes and cancellations stay on the customer's billing page; they leave records too
(:mod:`lawful.agreements.service`).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from lawful.agreements import documents, service
from lawful.agreements.models import Agreement, AgreementEvent, Channel, DocumentKind, DocumentVersion
from lawful.agreements.service import AgreementView
from lawful.billing import catalogue
from lawful.billing.models import Charge, Plan, PriceModel
from lawful.billing.pages import finance, number, parse_uuid, pricing_summary, today
from lawful.billing.rating import from_micros
from lawful.data.db import Database
from lawful.errors import Conflict, Invalid, LawfulError, NotFound
from lawful.monitoring.usage_api import sees_fees
from lawful.policy.model import Policy
from lawful.users import repository as users_repository
from lawful.web.auth import CurrentStaff, csrf_protect, current_staff
from lawful.web.console import redirect, render
from lawful.web.deps import ensure_published, get_db, get_policy

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

PURPOSE = "contract"
DOCUMENTS = "/console/documents"
ACCEPTED = "yes"

# Messages shown after a redirect (?done=key): fixed texts, never echoing input.
DONE = {"agreement-concluded": "The agreement was concluded and recorded."}

EVENTS = {
    AgreementEvent.concluded: "concluded",
    AgreementEvent.plan_changed: "plan changed",
    AgreementEvent.cancelled: "cancelled",
}


# --- the section of a customer's record ---------------------------------------------------------


@dataclass(frozen=True)
class PriceRow:
    metric: str
    pricing: str
    included: str
    unit: str


@dataclass(frozen=True)
class AgreementRow:
    """One record as the customer's page shows it."""

    view: AgreementView
    event: str
    channel: str
    accepted_by: str
    ip_address: str
    prices: list[PriceRow]

    @property
    def agreement(self) -> Agreement:
        return self.view.agreement


def _pricing(price: dict[str, Any]) -> str:
    """A recorded charge's prices in words, as the plans page writes them."""
    try:
        charge = Charge(model=PriceModel(price["model"]), pricing=json.dumps(price["pricing"]))
        return pricing_summary(charge)
    except (KeyError, ValueError, TypeError, LawfulError):
        return json.dumps(price.get("pricing"), sort_keys=True)


def price_rows(view: AgreementView) -> list[PriceRow]:
    return [
        PriceRow(
            metric=str(p.get("name") or p.get("metric") or ""),
            pricing=_pricing(p),
            included=number(from_micros(int(p.get("included_micros") or 0))),
            unit=str(p.get("unit") or ""),
        )
        for p in view.prices
    ]


def agreement_rows(session: Session, views: list[AgreementView]) -> list[AgreementRow]:
    staff = users_repository.staff_names(
        session, {v.agreement.staff_id for v in views if v.agreement.staff_id}
    )
    users = users_repository.user_names(session, {v.acceptance.user_id for v in views if v.acceptance})
    rows = []
    for v in views:
        a = v.agreement
        if a.channel is Channel.self_service:
            channel = "signed up on the website"
        else:
            who = staff.get(a.staff_id) if a.staff_id else None
            channel = f"recorded by {who or 'a former staff member'}"
        acceptance = v.acceptance
        rows.append(
            AgreementRow(
                view=v,
                event=EVENTS.get(a.event, str(a.event)),
                channel=channel,
                accepted_by=users.get(acceptance.user_id, "a former user") if acceptance else "—",
                ip_address=(acceptance.ip_address or "—") if acceptance else "—",
                prices=price_rows(v),
            )
        )
    return rows


def may_conclude(policy: Policy, caller: CurrentStaff) -> bool:
    """Whether the staff member concludes agreements: the staff who work on fees (finance)."""
    return sees_fees(policy, caller.role)


def agreement_section(
    session: Session,
    customer_id: uuid.UUID,
    *,
    caller: CurrentStaff,
    policy: Policy,
    values: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The variables of the customer's page for its Agreement section."""
    rows = agreement_rows(session, service.history(session, customer_id))
    on = today()
    running = catalogue.current_subscription(session, customer_id, on)
    concluding = may_conclude(policy, caller)
    offered: list[Plan] = (
        catalogue.list_plans(session, active_only=True) if concluding and not running else []
    )
    return {
        "agreements": rows,
        "agreement_running": running,
        "may_conclude": concluding,
        "offered_plans": offered,
        "current_terms": documents.current(session, DocumentKind.terms),
        "current_statement": documents.current(session, DocumentKind.statement),
        "agreement_values": values or {"starts_on": on.isoformat()},
    }


# --- concluding an agreement in the console ---------------------------------------------------


def _parse_day(value: str, field: str, label: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(f"{label}: give a date (YYYY-MM-DD)", detail={"field": field}) from None


def _check_versions(session: Session, terms: str, statement: str) -> None:
    """Refuse when the versions the form named are no longer the ones in force."""
    for kind, shown in ((DocumentKind.terms, terms), (DocumentKind.statement, statement)):
        current = documents.current(session, kind)
        if current is not None and current.digest != shown:
            raise Conflict(
                f"the {documents.TITLES[kind]} changed since this page was opened; check the versions "
                "the customer agreed to and try again",
                detail={"field": "accept"},
            )


@router.post("/console/customers/{customer_id}/agreements", response_class=HTMLResponse)
def conclude(
    request: Request,
    customer_id: uuid.UUID,
    plan_id: str = Form(""),
    starts_on: str = Form(""),
    note: str = Form(""),
    accept: str = Form(""),
    terms_version: str = Form(""),
    statement_version: str = Form(""),
    caller: CurrentStaff = Depends(finance),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
) -> Response:
    ensure_published(request)
    given = {
        "plan_id": plan_id,
        "starts_on": starts_on,
        "note": note,
        "accept": accept,
    }
    try:
        plan = parse_uuid(plan_id, "a plan", field="plan_id")
        start = _parse_day(starts_on, "starts_on", "Starts on")
        if not note.strip():
            raise Invalid("say how the customer agreed (e.g. a signed order form)", detail={"field": "note"})
        if len(note.strip()) > 500:
            raise Invalid("the note is longer than 500 characters", detail={"field": "note"})
        if accept != ACCEPTED:
            raise Invalid(
                "confirm that the customer accepted the terms and was given the privacy statement",
                detail={"field": "accept"},
            )
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            _check_versions(session, terms_version, statement_version)
            how = service.Acceptance.by_staff(session, caller.staff.id, note=note)
            service.conclude(session, customer_id, plan, starts_on=start, how=how)
    except LawfulError as exc:
        # the customer's record, with the message next to the form (a lazy import: that page
        # includes this section)
        from lawful.customers.pages import refused_form

        with db.unit_of_work(PURPOSE, caller.actor) as session:
            return refused_form(request, caller, session, customer_id, exc, "agreement", given)
    return redirect(f"/console/customers/{customer_id}?done=agreement-concluded#agreements")


# --- the published documents ------------------------------------------------------------------


def reading_purpose(policy: Policy, caller: CurrentStaff) -> str:
    """A purpose the staff member acts under, to read the published documents (no personal data)."""
    if policy.role_may(caller.role, PURPOSE):
        return PURPOSE
    role = policy.roles.get(caller.role)
    if role is None:  # pragma: no cover - a signed-in staff member always has a declared role
        raise NotFound("no documents for this role")
    return role.purposes[0]


@dataclass(frozen=True)
class VersionRow:
    version: DocumentVersion
    previous: DocumentVersion | None
    changed: int

    @property
    def short(self) -> str:
        return self.version.digest[:12]


def version_rows(session: Session, kind: DocumentKind) -> list[VersionRow]:
    versions = documents.history(session, kind)
    before = documents.predecessors(versions)
    return [VersionRow(v, before[v.id], len(documents.changes_since(before[v.id], v))) for v in versions]


@router.get(DOCUMENTS, response_class=HTMLResponse)
def documents_page(
    request: Request,
    caller: CurrentStaff = Depends(current_staff),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
) -> Response:
    ensure_published(request)
    with db.unit_of_work(reading_purpose(policy, caller), caller.actor) as session:
        kinds = [
            (kind, documents.TITLES[kind], version_rows(session, kind))
            for kind in (DocumentKind.statement, DocumentKind.terms)
        ]
    return render(
        request,
        "console/agreements/documents.html",
        caller,
        current=DOCUMENTS,
        title="Documents",
        kinds=kinds,
    )


@router.get(f"{DOCUMENTS}/{{version_id}}", response_class=HTMLResponse)
def version_page(
    request: Request,
    version_id: uuid.UUID,
    caller: CurrentStaff = Depends(current_staff),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
) -> Response:
    with db.unit_of_work(reading_purpose(policy, caller), caller.actor) as session:
        version = session.get(DocumentVersion, version_id)
        if version is None:
            raise NotFound("no such version of a document")
        previous = documents.previous(session, version)
        following = next(
            (v for v in documents.history(session, version.kind) if v.previous_id == version.id), None
        )
        session.expunge_all()
    found = documents.changes_since(previous, version)
    diff = documents.diff_html(previous.text, version.text, context=True) if previous else Markup("")
    title = f"{documents.TITLES[version.kind].capitalize()}, version {version.digest[:12]}"
    return render(
        request,
        "console/agreements/version.html",
        caller,
        current=DOCUMENTS,
        title=title,
        version=version,
        previous=previous,
        following=following,
        changed=len(found),
        diff=diff,
    )
