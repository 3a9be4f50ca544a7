"""Console pages of customers: the searchable list, a customer's record, its contact persons, its
agreement (:mod:`lawful.agreements.pages`) and the end of its contract (which cancels the
subscription that runs that day, so the end is recorded as an agreement event).

Opening a customer's record is processing by the staff member under the ``contract`` purpose:
every page reads in a unit of work with the staff member as actor, so it lands in the processing
log with actor, purpose and subject.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from lawful.agreements import pages as agreements_pages
from lawful.agreements import service as agreements
from lawful.billing import catalogue
from lawful.customers import repository, service
from lawful.customers.models import CustomerKind, CustomerStatus
from lawful.data.db import Database
from lawful.errors import Invalid, LawfulError
from lawful.support import repository as support_repository
from lawful.support.models import Channel
from lawful.users import repository as users_repository
from lawful.users.service import normalise_email
from lawful.web.auth import CurrentStaff, csrf_protect, staff_under
from lawful.web.console import DONE, PER_PAGE, flashes, page_url, redirect, render
from lawful.web.deps import ensure_published, get_db, get_policy

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

SUPPORT_ON_PAGE = 50
CONTACT_FIELDS = ("name", "email", "phone", "street", "postal_code", "city", "country")


def parse_date(value: str, *, field: str, label: str) -> date | None:
    """An ISO date from a form (``YYYY-MM-DD``), None when empty."""
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{label}: {value!r} is not a date (YYYY-MM-DD)", detail={"field": field}) from None


def is_htmx_partial(request: Request) -> bool:
    """An htmx request for a fragment (not a history restore, which needs the whole page)."""
    return request.headers.get("hx-request") == "true" and "hx-history-restore-request" not in request.headers


# --- the list ---------------------------------------------------------------------------------


@router.get("/console/customers", response_class=HTMLResponse)
def customers(
    request: Request,
    q: str = "",
    status: str = "",
    page: int = 1,
    caller: CurrentStaff = staff_under("contract"),
    db: Database = Depends(get_db),
) -> Response:
    page = max(1, page)
    wanted = CustomerStatus(status) if status in CustomerStatus.__members__ else None
    with db.unit_of_work("contract", caller.actor) as session:
        found = repository.search(session, query=q[:200], status=wanted, page=page, per_page=PER_PAGE)
    filters = {"q": q, "status": wanted.value if wanted else ""}
    partial = is_htmx_partial(request)
    response = render(
        request,
        "console/customers/_table.html" if partial else "console/customers/list.html",
        caller,
        current="/console/customers",
        title="Customers",
        found=found,
        filters=filters,
        statuses=[s.value for s in CustomerStatus],
        previous_url=page_url("/console/customers", {**filters, "page": page - 1}) if page > 1 else None,
        next_url=page_url("/console/customers", {**filters, "page": page + 1})
        if page < found.pages
        else None,
    )
    response.headers["Vary"] = "HX-Request"
    return response


# --- a customer's record ----------------------------------------------------------------------


def detail_response(
    request: Request,
    caller: CurrentStaff,
    session: Session,
    customer_id: uuid.UUID,
    *,
    status_code: int = 200,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, Mapping[str, str]] | None = None,
) -> HTMLResponse:
    """The customer's record; after a failed form, with its message and the input as given.

    A handful of queries whatever the size of the customer: the customer, its contact persons,
    its users, the newest support contacts and the names of the staff who logged them.
    """
    customer = service.get_customer(session, customer_id)
    contacts = repository.contacts_of(session, customer.id)
    users = users_repository.users_of(session, customer.id)
    entries = support_repository.search(session, customer_id=customer.id, limit=SUPPORT_ON_PAGE)
    staff_names = users_repository.staff_names(session, {e.staff_id for e in entries if e.staff_id})
    contact_names = {c.id: c.name for c in contacts}
    user_names = {u.id: u.name for u in users}
    support = [
        {
            "entry": e,
            "who": (
                f"{contact_names.get(e.contact_person_id, 'a former contact person')} (contact person)"
                if e.contact_person_id
                else f"{user_names.get(e.user_id, 'a former user')} (user)"
                if e.user_id
                else ""
            ),
            "staff": staff_names.get(e.staff_id, "") if e.staff_id else "",
        }
        for e in entries
    ]
    given = values or {}
    return render(
        request,
        "console/customers/detail.html",
        caller,
        current="/console/customers",
        title=customer.legal_name,
        status_code=status_code,
        customer=customer,
        sole_proprietor=customer.kind == CustomerKind.sole_proprietor,
        contacts=contacts,
        users=users,
        support=support,
        support_limit=SUPPORT_ON_PAGE,
        channels=[c.value for c in Channel],
        errors=errors or {},
        contact_values=given.get("contact", {"country": "NL"}),
        support_values=given.get("support", {"channel": Channel.phone.value}),
        contract_values=given.get("contract", {"contract_end": date.today().isoformat()}),
        flashes=flashes(request, {**DONE, **agreements_pages.DONE}),
        **agreements_pages.agreement_section(
            session,
            customer.id,
            caller=caller,
            policy=get_policy(request),
            values=dict(given["agreement"]) if "agreement" in given else None,
        ),
    )


def refused_form(
    request: Request,
    caller: CurrentStaff,
    session: Session,
    customer_id: uuid.UUID,
    exc: LawfulError,
    form: str,
    given: Mapping[str, str],
) -> HTMLResponse:
    """The customer's record again after ``exc`` refused the section's form ``form``: the message
    next to it, and the form filled in as given."""
    return detail_response(
        request,
        caller,
        session,
        customer_id,
        status_code=exc.status,
        errors={form: exc.message},
        values={form: given},
    )


@router.get("/console/customers/{customer_id}", response_class=HTMLResponse)
def customer_detail(
    request: Request,
    customer_id: uuid.UUID,
    caller: CurrentStaff = staff_under("contract"),
    db: Database = Depends(get_db),
) -> Response:
    ensure_published(request)  # the versions the form to conclude an agreement names
    with db.unit_of_work("contract", caller.actor) as session:
        return detail_response(request, caller, session, customer_id)


# --- contact persons --------------------------------------------------------------------------


def _contact_changes(form: Mapping[str, str]) -> dict[str, str]:
    """Checked values of the contact form (raises Invalid before anything is changed)."""
    if not form["name"].strip():
        raise Invalid("a contact person needs a name", detail={"field": "name"})
    return {
        "name": form["name"].strip(),
        "email": normalise_email(form["email"]),
        "phone": form["phone"].strip(),
        "street": form["street"].strip(),
        "postal_code": form["postal_code"].strip(),
        "city": form["city"].strip(),
        "country": service.clean_country(form["country"] or "NL"),
    }


def contact_form(
    name: str = Form(""),
    email: str = Form(""),
    phone: str = Form(""),
    street: str = Form(""),
    postal_code: str = Form(""),
    city: str = Form(""),
    country: str = Form("NL"),
) -> dict[str, str]:
    """The contact-person form as posted (the add and the edit form have the same fields)."""
    return {
        "name": name,
        "email": email,
        "phone": phone,
        "street": street,
        "postal_code": postal_code,
        "city": city,
        "country": country,
    }


@router.post("/console/customers/{customer_id}/contacts", response_class=HTMLResponse)
def add_contact(
    request: Request,
    customer_id: uuid.UUID,
    form: dict[str, str] = Depends(contact_form),
    caller: CurrentStaff = staff_under("contract"),
    db: Database = Depends(get_db),
) -> Response:
    with db.unit_of_work("contract", caller.actor) as session:
        customer = service.get_customer(session, customer_id)
        try:
            changes = _contact_changes(form)
            service.add_contact(session, customer, **changes)
        except LawfulError as exc:
            return refused_form(request, caller, session, customer_id, exc, "contact", form)
    return redirect(f"/console/customers/{customer_id}?done=contact-added#contacts")


def _edit_page(
    request: Request,
    caller: CurrentStaff,
    session: Session,
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    *,
    status_code: int = 200,
    error: str | None = None,
    form: Mapping[str, str] | None = None,
) -> HTMLResponse:
    customer = service.get_customer(session, customer_id)
    contact = service.get_contact(session, customer_id, contact_id)
    values = form or {field: str(getattr(contact, field)) for field in CONTACT_FIELDS}
    return render(
        request,
        "console/customers/contact_edit.html",
        caller,
        current="/console/customers",
        title=f"Edit contact person · {customer.legal_name}",
        status_code=status_code,
        customer=customer,
        contact=contact,
        values=values,
        error=error,
    )


@router.get("/console/customers/{customer_id}/contacts/{contact_id}", response_class=HTMLResponse)
def edit_contact_form(
    request: Request,
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    caller: CurrentStaff = staff_under("contract"),
    db: Database = Depends(get_db),
) -> Response:
    with db.unit_of_work("contract", caller.actor) as session:
        return _edit_page(request, caller, session, customer_id, contact_id)


@router.post("/console/customers/{customer_id}/contacts/{contact_id}", response_class=HTMLResponse)
def edit_contact(
    request: Request,
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    form: dict[str, str] = Depends(contact_form),
    caller: CurrentStaff = staff_under("contract"),
    db: Database = Depends(get_db),
) -> Response:
    with db.unit_of_work("contract", caller.actor) as session:
        contact = service.get_contact(session, customer_id, contact_id)
        try:
            changes: dict[str, object] = {**_contact_changes(form)}
            service.update_contact(contact, changes)
        except LawfulError as exc:
            return _edit_page(
                request,
                caller,
                session,
                customer_id,
                contact_id,
                status_code=exc.status,
                error=exc.message,
                form=form,
            )
    return redirect(f"/console/customers/{customer_id}?done=contact-saved#contacts")


@router.post("/console/customers/{customer_id}/contacts/{contact_id}/remove")
def remove_contact(
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    caller: CurrentStaff = staff_under("contract"),
    db: Database = Depends(get_db),
) -> Response:
    with db.unit_of_work("contract", caller.actor) as session:
        contact = service.get_contact(session, customer_id, contact_id)
        service.remove_contact(session, contact)
    return redirect(f"/console/customers/{customer_id}?done=contact-removed#contacts")


# --- the contract -----------------------------------------------------------------------------


@router.post("/console/customers/{customer_id}/contract-end", response_class=HTMLResponse)
def end_contract(
    request: Request,
    customer_id: uuid.UUID,
    contract_end: str = Form(""),
    caller: CurrentStaff = staff_under("contract"),
    db: Database = Depends(get_db),
) -> Response:
    ensure_published(request)
    try:
        on = parse_date(contract_end, field="contract_end", label="Contract ends on")
        if on is None:
            raise Invalid("give the date the contract ends", detail={"field": "contract_end"})
        with db.unit_of_work("contract", caller.actor) as session:
            customer = service.get_customer(session, customer_id)
            if catalogue.current_subscription(session, customer.id, on) is not None:
                # a subscription runs that day: it ends with the contract, and the end is recorded
                how = agreements.Acceptance.by_staff(
                    session, caller.staff.id, note="contract ended on the customer's record"
                )
                agreements.cancel(session, customer.id, on=on, how=how)
            else:
                service.end_contract(customer, on=on)
    except LawfulError as exc:
        # nothing was changed (the unit of work rolled back); an unknown customer is a 404 here
        with db.unit_of_work("contract", caller.actor) as session:
            given = {"contract_end": contract_end}
            return refused_form(request, caller, session, customer_id, exc, "contract", given)
    return redirect(f"/console/customers/{customer_id}?done=contract-ended#contract")
