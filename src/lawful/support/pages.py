"""Console pages of the support log: logging a conversation on a customer's record, and the log
across customers with its search and the follow-ups that are due."""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from lawful.customers import repository as customers_repository
from lawful.customers import service as customers_service
from lawful.customers.pages import parse_date, refused_form
from lawful.data.db import Database
from lawful.errors import Invalid, LawfulError
from lawful.support import repository, service
from lawful.support.models import Channel
from lawful.users import repository as users_repository
from lawful.web.auth import CurrentStaff, csrf_protect, staff_under
from lawful.web.console import PER_PAGE, page_url, redirect, render
from lawful.web.deps import get_db

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


def parse_who(value: str) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """``contact:<id>``, ``user:<id>`` or nothing: (contact person id, user id)."""
    if not value:
        return None, None
    kind, _, ident = value.partition(":")
    try:
        parsed = uuid.UUID(ident)
    except ValueError:
        raise Invalid("choose who at the customer you spoke with", detail={"field": "who"}) from None
    if kind == "contact":
        return parsed, None
    if kind == "user":
        return None, parsed
    raise Invalid("choose who at the customer you spoke with", detail={"field": "who"})


@router.post("/console/customers/{customer_id}/support", response_class=HTMLResponse)
def log_contact(
    request: Request,
    customer_id: uuid.UUID,
    channel: str = Form(""),
    who: str = Form(""),
    summary: str = Form(""),
    follow_up_on: str = Form(""),
    caller: CurrentStaff = staff_under("contract"),
    db: Database = Depends(get_db),
) -> Response:
    form = {"channel": channel, "who": who, "summary": summary, "follow_up_on": follow_up_on}
    with db.unit_of_work("contract", caller.actor) as session:
        customer = customers_service.get_customer(session, customer_id)
        try:
            if channel not in Channel.__members__:
                raise Invalid("choose the channel: phone, e-mail or chat", detail={"field": "channel"})
            contact_person_id, user_id = parse_who(who)
            service.log_contact(
                session,
                customer_id=customer.id,
                staff_id=caller.staff.id,
                channel=Channel(channel),
                summary=summary,
                contact_person_id=contact_person_id,
                user_id=user_id,
                follow_up_on=parse_date(follow_up_on, field="follow_up_on", label="Follow up on"),
            )
        except LawfulError as exc:
            return refused_form(request, caller, session, customer_id, exc, "support", form)
    return redirect(f"/console/customers/{customer_id}?done=support-logged#support")


@router.get("/console/support", response_class=HTMLResponse)
def support_log(
    request: Request,
    q: str = "",
    due: str = "",
    customer: uuid.UUID | None = None,
    page: int = 1,
    caller: CurrentStaff = staff_under("contract"),
    db: Database = Depends(get_db),
) -> Response:
    page = max(1, page)
    only_due = due not in ("", "0")
    with db.unit_of_work("contract", caller.actor) as session:
        rows = repository.search_with_customers(
            session,
            query=q[:200],
            customer_id=customer,
            follow_up_due=date.today() if only_due else None,
            limit=PER_PAGE + 1,
            offset=(page - 1) * PER_PAGE,
        )
        shown = rows[:PER_PAGE]
        contacts = customers_repository.contact_names(
            session, {e.contact_person_id for e, _ in shown if e.contact_person_id}
        )
        users = users_repository.user_names(session, {e.user_id for e, _ in shown if e.user_id})
        staff = users_repository.staff_names(session, {e.staff_id for e, _ in shown if e.staff_id})
    entries = [
        {
            "entry": e,
            "customer": name,
            "who": (
                f"{contacts.get(e.contact_person_id, 'a former contact person')} (contact person)"
                if e.contact_person_id
                else f"{users.get(e.user_id, 'a former user')} (user)"
                if e.user_id
                else ""
            ),
            "staff": staff.get(e.staff_id, "") if e.staff_id else "",
        }
        for e, name in shown
    ]
    filters = {"q": q, "due": "1" if only_due else "", "customer": str(customer) if customer else ""}
    return render(
        request,
        "console/support/list.html",
        caller,
        current="/console/support",
        title="Support log",
        entries=entries,
        filters=filters,
        today=date.today(),
        page=page,
        back=page_url("/console/support", {**filters, "page": page if page > 1 else None}),
        newer_url=page_url("/console/support", {**filters, "page": page - 1}) if page > 1 else None,
        older_url=page_url("/console/support", {**filters, "page": page + 1})
        if len(rows) > PER_PAGE
        else None,
    )


@router.post("/console/support/{entry_id}/done")
def follow_up_done(
    entry_id: uuid.UUID,
    back: str = Form(""),
    caller: CurrentStaff = staff_under("contract"),
    db: Database = Depends(get_db),
) -> Response:
    with db.unit_of_work("contract", caller.actor) as session:
        service.mark_followed_up(service.get_entry(session, entry_id))
    target = back if back.startswith("/console/support") and "//" not in back else "/console/support"
    separator = "&" if "?" in target else "?"
    return redirect(f"{target}{separator}done=followed-up")
