"""Console pages of data-subject requests: the privacy officer's queue and their work on a request.

- ``/console/rights``: the queue, overdue requests first and marked as such (deadline, days left
  or overdue, status, kind, channel, and what kind of person it is about once confirmed), with
  filters; the restrictions of processing in force; and the form that records a request that
  arrived by e-mail, phone or letter. Recording it sends a link to confirm it to the address
  given, and the page says so in the same words whether or not the address is known.
- ``/console/rights/{id}``: the request's facts, deadline and extension, whether it is confirmed,
  and what can be done: extend (once, with a reason), refuse (with the ground), carry it out, the
  package of an access request (JSON, and the readable report), the restriction in force and
  lifting it. Erasure asks for confirmation first on a page that shows what will be erased and what
  a legal hold keeps: the real erasure run and rolled back (``erase(dry_run=True)``), because
  erasure cannot be undone.

Whom a request recorded by the officer is about is not shown before the requester confirms it.
The pages work under ``accountability`` as the signed-in staff member (the privacy officer; an
admin may open them too).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.orm import Session

from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.errors import Conflict, Invalid, LawfulError, NotFound
from lawful.policy.model import Policy
from lawful.rights import api, service
from lawful.rights.erasure import erase
from lawful.rights.models import Channel, RequestKind, RightsRequest, SubjectKind
from lawful.rights.render import to_html
from lawful.rights.subjects import Subject
from lawful.settings import Settings
from lawful.web.auth import CurrentStaff, csrf_protect, staff_under
from lawful.web.console import page_url, redirect, section_page
from lawful.web.deps import get_db, get_policy, get_settings
from lawful.web.mail import deliver_after_response

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

PURPOSE = service.PURPOSE
BASE = "/console/rights"
RECORDED_CHANNELS = (Channel.email, Channel.phone, Channel.letter)

# Messages shown after a redirect (?done=key): fixed texts, never echoing input.
DONE = {
    "recorded": (
        "The request is recorded. A link to confirm it was sent to the address given; the request "
        "can be carried out once the requester has confirmed it."
    ),
    "extended": "The deadline is extended by two months; the requester is told why.",
    "refused": "The request is refused; the requester is told why.",
    "completed": "The request is carried out.",
    "lifted": "The restriction is lifted: the person's data may be processed again.",
}


def today() -> date:
    return datetime.now(UTC).date()


def rights_page(
    request: Request, template: str, caller: CurrentStaff, *, title: str, **extra: Any
) -> HTMLResponse:
    return section_page(
        request, f"console/rights/{template}", caller, current=BASE, title=title, done=DONE, **extra
    )


# --- views ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One request in the queue."""

    id: uuid.UUID
    kind: str
    article: str
    status: str
    channel: str
    received: date
    deadline: date
    extended: bool
    days_left: int | None
    about: str  # the kind of person, once confirmed

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0

    @property
    def when(self) -> str:
        """Days left, or overdue, in words."""
        if self.days_left is None:
            return ""
        if self.days_left < 0:
            days = -self.days_left
            return f"overdue by {days} day{'' if days == 1 else 's'}"
        if self.days_left == 0:
            return "due today"
        return f"{self.days_left} day{'' if self.days_left == 1 else 's'} left"


SUBJECT_LABELS = {
    SubjectKind.user: "a user of a customer",
    SubjectKind.contact_person: "a customer's contact person",
    SubjectKind.sole_proprietor: "a sole proprietor",
    SubjectKind.visitor: "a website visitor",
    SubjectKind.unknown: "nobody we hold data about",
}
NOT_YET = "not shown until confirmed"


def about(request: RightsRequest) -> str:
    return SUBJECT_LABELS[request.subject_kind] if request.verified_at is not None else NOT_YET


def row_of(request: RightsRequest, day: date) -> Row:
    return Row(
        id=request.id,
        kind=request.kind.value,
        article=request.kind.article,
        status=request.status.value,
        channel=request.channel.value,
        received=request.received_at.date(),
        deadline=request.deadline,
        extended=request.extended_to is not None,
        days_left=api.days_left(request, day),
        about=about(request),
    )


def correction_links(session: Session, request: RightsRequest) -> list[tuple[str, str]]:
    """Where the data of the person a confirmed request is about is corrected (by support)."""
    if request.verified_at is None or request.subject_id is None:
        return []
    if request.subject_kind is SubjectKind.sole_proprietor:
        return [(f"/console/customers/{request.subject_id}", "the customer's record")]
    if request.subject_kind is SubjectKind.contact_person:
        customer = api.customer_of_contact(session, request.subject_id)
        if customer is None:
            return []
        return [
            (f"/console/customers/{customer}/contacts/{request.subject_id}", "the contact person's record")
        ]
    if request.subject_kind is SubjectKind.user and request.requester_email:
        return [(page_url("/console/users", {"q": request.requester_email}), "the user in the list of users")]
    return []


# --- the queue ----------------------------------------------------------------------------------------


def _choice(value: str, allowed: Iterable[str]) -> str:
    return value if value in allowed else ""


# The form's fields that show their own error (the service names the received day received_at).
FORM_FIELDS = {"kind": "kind", "channel": "channel", "email": "email", "received_at": "received_on"}
EMPTY_FORM = {"kind": "", "channel": "email", "email": "", "name": "", "details": "", "received_on": ""}


def _queue_page(
    request: Request,
    caller: CurrentStaff,
    db: Database,
    *,
    show: str = "pending",
    kind: str = "",
    status_code: int = 200,
    errors: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
) -> HTMLResponse:
    day = today()
    show = "all" if show == "all" else "pending"
    kind = _choice(kind, [k.value for k in RequestKind])
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        found = api.filtered_queue(
            session, pending_only=show == "pending", kind=RequestKind(kind) if kind else None, day=day
        )
        rows = [row_of(r, day) for r in found]
        in_force = [
            {
                "id": r.id,
                "about": SUBJECT_LABELS[r.subject_kind],
                "since": r.since,
                "request_id": r.request_id,
            }
            for r in api.restrictions(session)
        ]
    return rights_page(
        request,
        "queue.html",
        caller,
        title="Data-subject requests",
        status_code=status_code,
        rows=rows,
        overdue=sum(r.overdue for r in rows),
        show=show,
        kind=kind,
        kinds=[(k.value, k.article) for k in RequestKind],
        channels=[c.value for c in RECORDED_CHANNELS],
        restrictions=in_force,
        errors=errors or {},
        form=form or EMPTY_FORM,
        today=day,
    )


@router.get(BASE, response_class=HTMLResponse)
def queue(
    request: Request,
    show: str = "pending",
    kind: str = "",
    caller: CurrentStaff = staff_under(PURPOSE),
    db: Database = Depends(get_db),
) -> Response:
    return _queue_page(request, caller, db, show=show, kind=kind)


def parse_day(value: str) -> date | None:
    """The day a request arrived, from the form (None: today)."""
    value = value.strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{value!r} is not a date (YYYY-MM-DD)", detail={"field": "received_on"}) from None
    if day < date(2000, 1, 1):
        raise Invalid("a request cannot have been received before 2000", detail={"field": "received_on"})
    return day


@router.post(BASE, response_class=HTMLResponse)
def record(
    request: Request,
    tasks: BackgroundTasks,
    kind: str = Form(""),
    channel: str = Form(""),
    email: str = Form(""),
    name: str = Form(""),
    details: str = Form(""),
    received_on: str = Form(""),
    caller: CurrentStaff = staff_under(PURPOSE),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> Response:
    form = {
        "kind": kind,
        "channel": channel,
        "email": email,
        "name": name,
        "details": details,
        "received_on": received_on,
    }
    try:
        if "\x00" in "".join(form.values()):
            raise Invalid("the form holds a character that cannot be stored")
        recorded = service.record_request(
            db,
            officer=caller.actor,
            kind=kind,
            channel=channel,
            email=email[:254],
            name=name,
            details=details,
            received_at=api.received_at(parse_day(received_on)),
            settings=settings,
        )
    except LawfulError as exc:
        field = exc.detail.get("field") if isinstance(exc.detail, dict) else None
        field = FORM_FIELDS.get(str(field), "record")
        return _queue_page(
            request, caller, db, status_code=exc.status, errors={field: exc.message}, form=form
        )
    deliver_after_response(request, tasks)
    return redirect(f"{BASE}/{recorded.id}?done=recorded")


# --- one request ----------------------------------------------------------------------------------------


def _request_page(
    request: Request,
    caller: CurrentStaff,
    db: Database,
    request_id: uuid.UUID,
    *,
    status_code: int = 200,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
) -> HTMLResponse:
    day = today()
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        found = service.get(session, request_id)
        view = api.request_out(session, found, day)
        fixes = correction_links(session, found) if found.kind is RequestKind.rectification else []
    known = view.subject is not None and view.subject.id is not None
    return rights_page(
        request,
        "request.html",
        caller,
        title=f"Request for {found.kind.label}",
        status_code=status_code,
        r=view,
        label=found.kind.label,
        row=row_of(found, day),
        about=about(found),
        known=known,
        pending=found.status.pending,
        confirmed=found.verified_at is not None,
        extendable=found.status.pending and found.extended_to is None and found.due_on >= day,
        packaged=found.kind in api.PACKAGED and found.verified_at is not None,
        verify_expires=found.verify_expires_at,
        fixes=fixes,
        errors=errors or {},
        values=values or {},
    )


@router.get(BASE + "/{request_id}", response_class=HTMLResponse)
def request_detail(
    request: Request,
    request_id: uuid.UUID,
    caller: CurrentStaff = staff_under(PURPOSE),
    db: Database = Depends(get_db),
) -> Response:
    return _request_page(request, caller, db, request_id)


def _act(
    request: Request,
    caller: CurrentStaff,
    db: Database,
    request_id: uuid.UUID,
    tasks: BackgroundTasks,
    *,
    form: str,
    values: Mapping[str, str],
    done: str,
    action: Any,
) -> Response:
    """Run ``action``; on a refusal show the request again with the message next to ``form``."""
    try:
        action()
    except LawfulError as exc:
        if isinstance(exc, NotFound):
            raise
        return _request_page(
            request, caller, db, request_id, status_code=exc.status, errors={form: exc.message}, values=values
        )
    deliver_after_response(request, tasks)
    return redirect(f"{BASE}/{request_id}?done={done}")


def _with_reason(
    request: Request,
    caller: CurrentStaff,
    db: Database,
    request_id: uuid.UUID,
    tasks: BackgroundTasks,
    reason: str,
    *,
    form: str,
    done: str,
    step: Callable[..., object],
) -> Response:
    """Extend or refuse (``step``) with the officer's reason, through :func:`_act`."""
    return _act(
        request,
        caller,
        db,
        request_id,
        tasks,
        form=form,
        values={f"{form}_reason": reason},
        done=done,
        action=lambda: step(db, request_id, officer=caller.actor, reason=reason.replace("\x00", "")),
    )


@router.post(BASE + "/{request_id}/extend", response_class=HTMLResponse)
def extend(
    request: Request,
    request_id: uuid.UUID,
    tasks: BackgroundTasks,
    reason: str = Form(""),
    caller: CurrentStaff = staff_under(PURPOSE),
    db: Database = Depends(get_db),
) -> Response:
    return _with_reason(
        request, caller, db, request_id, tasks, reason, form="extend", done="extended", step=service.extend
    )


@router.post(BASE + "/{request_id}/refuse", response_class=HTMLResponse)
def refuse(
    request: Request,
    request_id: uuid.UUID,
    tasks: BackgroundTasks,
    reason: str = Form(""),
    caller: CurrentStaff = staff_under(PURPOSE),
    db: Database = Depends(get_db),
) -> Response:
    return _with_reason(
        request, caller, db, request_id, tasks, reason, form="refuse", done="refused", step=service.refuse
    )


def _erasable(session: Session, request_id: uuid.UUID) -> RightsRequest:
    found = service.get(session, request_id)
    if found.kind is not RequestKind.erasure:
        raise NotFound("this is not a request for erasure")
    return found


@router.get(BASE + "/{request_id}/erase", response_class=HTMLResponse)
def erase_confirmation(
    request: Request,
    request_id: uuid.UUID,
    caller: CurrentStaff = staff_under(PURPOSE),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
) -> Response:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        found = _erasable(session, request_id)
        view = api.request_out(session, found)
    if not found.status.pending or found.verified_at is None:
        return redirect(f"{BASE}/{request_id}")
    kind = found.subject_kind
    preview: dict[str, object] = {"found": False}
    if kind.table and found.subject_id is not None:
        # The real erasure, rolled back: what the page shows is exactly what confirming does.
        result = erase(
            db,
            Subject(kind, found.subject_id),
            actor=Actor.system(f"rights:{request_id}:preview"),
            dry_run=True,
        )
        preview = result.as_dict() if result is not None else preview
    return rights_page(
        request,
        "erase.html",
        caller,
        title="Confirm the erasure",
        r=view,
        about=SUBJECT_LABELS[kind],
        outcome=preview,
        closes_account=kind is SubjectKind.sole_proprietor,
    )


@router.post(BASE + "/{request_id}/complete", response_class=HTMLResponse)
def complete(
    request: Request,
    request_id: uuid.UUID,
    tasks: BackgroundTasks,
    note: str = Form(""),
    confirm: str = Form(""),
    caller: CurrentStaff = staff_under(PURPOSE),
    db: Database = Depends(get_db),
) -> Response:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        found = service.get(session, request_id)
        erasure = (
            found.kind is RequestKind.erasure
            and found.subject_id is not None
            and found.verified_at is not None
        )
    if erasure and confirm != "erase":
        return redirect(f"{BASE}/{request_id}/erase")  # erasure is only done from its confirmation page
    return _act(
        request,
        caller,
        db,
        request_id,
        tasks,
        form="complete",
        values={"note": note},
        done="completed",
        action=lambda: service.complete(db, request_id, actor=caller.actor, note=note.replace("\x00", "")),
    )


@router.post(BASE + "/restrictions/{restriction_id}/lift", response_class=HTMLResponse)
def lift(
    restriction_id: uuid.UUID,
    back: str = Form(""),
    caller: CurrentStaff = staff_under(PURPOSE),
    db: Database = Depends(get_db),
) -> Response:
    target = back if back.startswith(BASE + "/") and "//" not in back and "\\" not in back else BASE
    with contextlib.suppress(Conflict):  # lifted already (a second click): the page shows it lifted
        service.lift_restriction(db, restriction_id, officer=caller.actor)
    return redirect(f"{target}?done=lifted")


# --- the package of an access request ----------------------------------------------------------------


def _package(caller: CurrentStaff, db: Database, request_id: uuid.UUID) -> dict[str, object]:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        found = service.get(session, request_id)
        api.packaged(found)
    return service.package_of(db, found)


@router.get(BASE + "/{request_id}/package.json")
def package_json(
    request_id: uuid.UUID, caller: CurrentStaff = staff_under(PURPOSE), db: Database = Depends(get_db)
) -> JSONResponse:
    return api.package_response(_package(caller, db, request_id), request_id)


@router.get(BASE + "/{request_id}/package.html", response_class=HTMLResponse)
def package_html(
    request_id: uuid.UUID,
    caller: CurrentStaff = staff_under(PURPOSE),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
) -> HTMLResponse:
    page = to_html(_package(caller, db, request_id), policy=policy)
    return HTMLResponse(page, headers={"cache-control": "no-store", "x-content-type-options": "nosniff"})
