"""Console pages of the register of disclosures to authorities, for the privacy officer.

- ``/console/disclosures``: the register, the latest first;
- ``/console/disclosures/new``: the form that registers a disclosure (``POST /console/disclosures``);
- ``/console/disclosures/{id}``: one disclosure, the people it was about, and the bundle for the
  authority (``POST /console/disclosures/{id}/bundle`` generates and downloads it).

The pages work under ``legal_obligation`` as the signed-in privacy officer (a role acting under
``accountability`` and ``legal_obligation``). A form with an error stores nothing and shows the
message next to the form, with the input as given.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from lawful.authorities import bundle, service
from lawful.authorities.api import bundle_response
from lawful.data.db import Database
from lawful.errors import Forbidden, Invalid, LawfulError
from lawful.policy.model import Policy
from lawful.rights.subjects import Subject
from lawful.web.auth import CurrentStaff, csrf_protect, staff_under
from lawful.web.console import flashes, page_url, redirect, render
from lawful.web.deps import get_db, get_policy

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

BASE = "/console/disclosures"
PER_PAGE = 50
OTHER = "other"
DONE = {"registered": "The disclosure was registered."}
FIELDS = (
    "authority",
    "authority_name",
    "authority_kind",
    "legal_ground",
    "order_reference",
    "disclosed_on",
    "subjects",
    "description",
    "confidential_until",
)


def officer(
    caller: CurrentStaff = staff_under("accountability"), policy: Policy = Depends(get_policy)
) -> CurrentStaff:
    """A dependency: a staff member whose role acts under every purpose of the register."""
    if not all(policy.role_may(caller.role, p) for p in service.OFFICER_PURPOSES):
        raise Forbidden(
            f"your role ({caller.role}) does not disclose to authorities; the register is for the privacy officer"
        )
    return caller


def _date(value: str, field: str, label: str) -> date | None:
    text = value.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{label}: write a date as YYYY-MM-DD", detail={"field": field}) from None


def _subjects(text: str) -> list[Subject]:
    return [service.parse_subject(line) for line in text.splitlines() if line.strip()]


@router.get(BASE, response_class=HTMLResponse)
def register_page(
    request: Request, page: int = 1, caller: CurrentStaff = Depends(officer), db: Database = Depends(get_db)
) -> Response:
    page = max(1, min(page, 100_000))
    rows = service.list_for(db, caller.actor, limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE)
    return render(
        request,
        "console/disclosures/list.html",
        caller,
        current=BASE,
        title="Disclosures to authorities",
        flashes=flashes(request, DONE),
        rows=[(d, n, service.is_confidential(d)) for d, n in rows[:PER_PAGE]],
        newer_url=page_url(BASE, {"page": page - 1}) if page > 1 else None,
        older_url=page_url(BASE, {"page": page + 1}) if len(rows) > PER_PAGE else None,
    )


def _form(
    request: Request,
    caller: CurrentStaff,
    policy: Policy,
    *,
    values: dict[str, str] | None = None,
    chosen: list[str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    choices = service.category_choices(policy)
    return render(
        request,
        "console/disclosures/form.html",
        caller,
        current=BASE,
        title="Register a disclosure",
        status_code=status_code,
        authorities=service.authorities(policy),
        own=[c for c in choices if c.purpose == service.PURPOSE],
        others=[c for c in choices if c.purpose != service.PURPOSE],
        values=values or {},
        chosen=set(chosen or []),
        error=error,
        today=service.today().isoformat(),
        other=OTHER,
    )


@router.get(f"{BASE}/new", response_class=HTMLResponse)
def new_form(
    request: Request, caller: CurrentStaff = Depends(officer), policy: Policy = Depends(get_policy)
) -> Response:
    return _form(request, caller, policy)


@dataclass(frozen=True, slots=True)
class Posted:
    values: dict[str, str]
    categories: list[str]


async def posted(request: Request) -> Posted:
    """The fields of the form as text; the categories are checkboxes, the same field several times."""
    form = await request.form()
    values = {key: value for key in FIELDS if isinstance(value := form.get(key, ""), str)}
    return Posted(values, [c for c in form.getlist("categories") if isinstance(c, str)])


@router.post(BASE, response_class=HTMLResponse)
def create(
    request: Request,
    form: Posted = Depends(posted),
    caller: CurrentStaff = Depends(officer),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
) -> Response:
    try:
        entry = _register(db, caller, form.values, form.categories)
    except LawfulError as exc:  # nothing was stored
        return _form(
            request,
            caller,
            policy,
            values=form.values,
            chosen=form.categories,
            error=exc.message,
            status_code=exc.status,
        )
    return redirect(f"{BASE}/{entry.disclosure.id}?done=registered")


def _register(db: Database, caller: CurrentStaff, values: dict[str, str], chosen: list[str]) -> service.Entry:
    choice = values.get("authority", "")
    if choice == OTHER:
        name, kind = values.get("authority_name", ""), values.get("authority_kind") or None
    else:
        name, kind = choice, None
    disclosed_on = _date(values.get("disclosed_on", ""), "disclosed_on", "Date of the disclosure")
    if disclosed_on is None:
        raise Invalid("give the date of the disclosure", detail={"field": "disclosed_on"})
    return service.register(
        db,
        officer=caller.actor,
        authority=name,
        authority_kind=kind,
        legal_ground=values.get("legal_ground", ""),
        order_reference=values.get("order_reference", ""),
        disclosed_on=disclosed_on,
        categories=chosen,
        subjects=_subjects(values.get("subjects", "")),
        description=values.get("description", ""),
        confidential_until=_date(
            values.get("confidential_until", ""), "confidential_until", "Confidential until"
        ),
    )


def _labels(policy: Policy) -> dict[str, str]:
    return {c.key: c.label for c in service.category_choices(policy)}


@router.get(f"{BASE}/{{disclosure_id}}", response_class=HTMLResponse)
def detail(
    request: Request,
    disclosure_id: uuid.UUID,
    caller: CurrentStaff = Depends(officer),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
) -> Response:
    entry = service.get_for(db, caller.actor, disclosure_id)
    labels = _labels(policy)
    categories: list[dict[str, Any]] = [{"key": k, "label": labels.get(k, "")} for k in entry.categories]
    return render(
        request,
        "console/disclosures/detail.html",
        caller,
        current=BASE,
        title=f"Disclosure to {entry.disclosure.authority}",
        flashes=flashes(request, DONE),
        d=entry.disclosure,
        subjects=entry.subjects,
        categories=categories,
        confidential=service.is_confidential(entry.disclosure),
        mine=str(entry.disclosure.officer_id) == caller.actor.id,
    )


@router.post(f"{BASE}/{{disclosure_id}}/bundle")
def download_bundle(
    disclosure_id: uuid.UUID, caller: CurrentStaff = Depends(officer), db: Database = Depends(get_db)
) -> Response:
    return bundle_response(bundle.build(db, disclosure_id, officer=caller.actor))
