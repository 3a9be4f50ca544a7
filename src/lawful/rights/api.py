"""The JSON API of data-subject requests: /api/v1/rights/... and /api/v1/portal/rights/...

- ``/api/v1/rights/...``: staff whose role acts under ``accountability`` (the privacy officer; an
  admin too): the queue (overdue first), recording a request that arrived by e-mail, phone or
  letter (a verification link goes to the address given, and the answer is the same whether or
  not the address is known), one request, extending its deadline once, refusing it, carrying it
  out, the package of an access or portability request, and the restrictions of processing with
  lifting them. Until the requester has confirmed a recorded request, the answer says nothing
  about whom it is about.
- ``/api/v1/portal/rights``: a signed-in user's own requests: filing one about themselves (there
  is no field to name anyone else), listing and reading them (with those made in their name by
  e-mail, phone or letter), and the package of their answered access or portability request.
  Someone else's request answers 404 like one that does not exist.

Everything is read and written under ``accountability``, the purpose requests are kept under, as
the caller, so the processing log says who handled which request.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from lawful.customers.models import ContactPerson
from lawful.data.db import Database
from lawful.errors import Conflict, NotFound
from lawful.rights import service
from lawful.rights.models import RequestKind, RequestStatus, Restriction, RightsRequest, SubjectKind
from lawful.rights.schemas import (
    CompleteIn,
    FileIn,
    PortalRequestList,
    PortalRequestOut,
    ReasonIn,
    RecordIn,
    RequestList,
    RequestOut,
    RestrictionList,
    RestrictionOut,
    SubjectOut,
)
from lawful.settings import Settings
from lawful.web.api import Limit, Offset, errors, staff_api, user_api
from lawful.web.auth import CurrentStaff, CurrentUser, client_ip, csrf_protect
from lawful.web.deps import get_db, get_settings
from lawful.web.downloads import json_download
from lawful.web.errors import ERROR_RESPONSES
from lawful.web.mail import deliver_after_response

router = APIRouter(
    prefix="/api/v1", tags=["rights"], responses=ERROR_RESPONSES, dependencies=[Depends(csrf_protect)]
)

PURPOSE = service.PURPOSE  # accountability
PACKAGED = frozenset({RequestKind.access, RequestKind.portability})
NO_SUCH_REQUEST = "no request with that id"

_PACKAGE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the access package (format lawful-access-package/1) as a JSON download",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
}


def today() -> date:
    return datetime.now(UTC).date()


def browser_of(request: Request) -> service.Browser:
    """The address and browser of the caller: the monitoring events linked to them today."""
    return service.Browser(client_ip(request), request.headers.get("user-agent", "")[:500])


# --- reading (the queries the service does not offer) -------------------------------------------


def requests_of_user(session: Session, user_id: uuid.UUID) -> Sequence[RightsRequest]:
    """The requests about a user, newest first: those they filed, and those made in their name by
    e-mail, phone or letter (as the portal's page shows them)."""
    return session.scalars(
        select(RightsRequest)
        .where(RightsRequest.subject_kind == SubjectKind.user, RightsRequest.subject_id == user_id)
        .order_by(RightsRequest.received_at.desc())
    ).all()


def own_request(session: Session, user_id: uuid.UUID, request_id: uuid.UUID) -> RightsRequest:
    """One of the requests about the user; anyone else's is as unknown as a made-up id."""
    found = session.get(RightsRequest, request_id)
    if found is None or found.subject_kind is not SubjectKind.user or found.subject_id != user_id:
        raise NotFound(NO_SUCH_REQUEST)
    return found


def customer_of_contact(session: Session, contact_id: uuid.UUID) -> uuid.UUID | None:
    """The customer a contact person belongs to (no personal data is read)."""
    return session.scalar(select(ContactPerson.customer_id).where(ContactPerson.id == contact_id))


def restrictions(session: Session, *, active_only: bool = True) -> Sequence[Restriction]:
    query = select(Restriction)
    if active_only:
        query = query.where(Restriction.lifted_at.is_(None))
    return session.scalars(query.order_by(Restriction.since.desc())).all()


def filtered_queue(
    session: Session, *, pending_only: bool, kind: RequestKind | None, day: date | None = None
) -> list[RightsRequest]:
    """The officer's queue (overdue first, then by deadline), of one kind of request if asked."""
    found = service.queue(session, pending_only=pending_only, today=day or today())
    return [r for r in found if kind is None or r.kind is kind]


# --- conversions ----------------------------------------------------------------------------------


def days_left(request: RightsRequest, day: date) -> int | None:
    """Days to the deadline of a pending request; negative when it is overdue."""
    return (request.deadline - day).days if request.status.pending else None


def outcome_of(request: RightsRequest) -> dict[str, Any] | None:
    if not request.outcome:
        return None
    found = json.loads(request.outcome)
    return found if isinstance(found, dict) else {"outcome": found}


def restriction_out(restriction: Restriction) -> RestrictionOut:
    return RestrictionOut(
        id=restriction.id,
        subject=SubjectOut(kind=restriction.subject_kind, id=restriction.subject_id),
        request_id=restriction.request_id,
        since=restriction.since,
        lifted_at=restriction.lifted_at,
        active=restriction.lifted_at is None,
    )


def request_out(session: Session, request: RightsRequest, day: date | None = None) -> RequestOut:
    """The officer's view; whom it is about only once the requester has confirmed it."""
    day = day or today()
    verified = request.verified_at is not None
    subject = SubjectOut(kind=request.subject_kind, id=request.subject_id) if verified else None
    restriction = (
        service.restriction_of(session, request.subject_id)
        if verified and request.subject_id is not None
        else None
    )
    left = days_left(request, day)
    return RequestOut(
        id=request.id,
        kind=request.kind,
        article=request.kind.article,
        status=request.status,
        channel=request.channel,
        received_at=request.received_at,
        due_on=request.due_on,
        extended_to=request.extended_to,
        extension_reason=request.extension_reason,
        deadline=request.deadline,
        days_left=left,
        overdue=left is not None and left < 0,
        verified=verified,
        verified_at=request.verified_at,
        requester_name=request.requester_name,
        requester_email=request.requester_email,
        details=request.details,
        subject=subject,
        restriction=restriction_out(restriction) if restriction is not None else None,
        recorded_by=request.recorded_by,
        completed_at=request.completed_at,
        refusal_reason=request.refusal_reason,
        outcome=outcome_of(request),
    )


def portal_out(request: RightsRequest) -> PortalRequestOut:
    return PortalRequestOut(
        id=request.id,
        kind=request.kind,
        article=request.kind.article,
        status=request.status,
        received_at=request.received_at,
        deadline=request.deadline,
        extended_to=request.extended_to,
        extension_reason=request.extension_reason,
        details=request.details,
        completed_at=request.completed_at,
        refusal_reason=request.refusal_reason,
        package_url=f"/api/v1/portal/rights/{request.id}/package" if request.kind in PACKAGED else None,
    )


def received_at(day: date | None) -> datetime | None:
    """When a request received on ``day`` counts as received: now for today, else the day's start."""
    if day is None or day == today():
        return None
    return datetime.combine(day, time(0), UTC)


def packaged(request: RightsRequest) -> None:
    """Refuse the package of a request that has none, or whose requester has not confirmed it."""
    if request.kind not in PACKAGED:
        raise Conflict(
            f"only an access or portability request has a package; this is a request for {request.kind.label}"
        )
    if request.verified_at is None:
        raise Conflict("the requester has not confirmed the request yet; nothing is shown before that")


def package_response(package: dict[str, object], request_id: uuid.UUID) -> JSONResponse:
    return json_download(package, f"personal-data-{request_id}.json")


def _view(db: Database, caller: CurrentStaff, request_id: uuid.UUID) -> RequestOut:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        return request_out(session, service.get(session, request_id))


# --- the privacy officer ----------------------------------------------------------------------------

Accountable = Annotated[CurrentStaff, staff_api(PURPOSE)]


@router.get(
    "/rights/requests",
    summary="The queue of data-subject requests: overdue first, then by deadline (accountability)",
    response_model=RequestList,
)
def list_requests(
    caller: Accountable,
    db: Database = Depends(get_db),
    show: Annotated[
        Literal["pending", "all"], Query(description="pending (the default) or all requests")
    ] = "pending",
    kind: RequestKind | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> RequestList:
    day = today()
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        found = filtered_queue(session, pending_only=show == "pending", kind=kind, day=day)
        items = [request_out(session, r, day) for r in found[offset : offset + limit]]
    return RequestList(items=items, limit=limit, offset=offset)


@router.post(
    "/rights/requests",
    summary="Record a request that arrived by e-mail, phone or letter; a link to confirm it is "
    "e-mailed to the address given, whether or not we know it (accountability)",
    status_code=201,
    response_model=RequestOut,
)
def record_request(
    body: RecordIn,
    request: Request,
    tasks: BackgroundTasks,
    caller: Accountable,
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> RequestOut:
    recorded = service.record_request(
        db,
        officer=caller.actor,
        kind=body.kind,
        channel=body.channel,
        email=body.email,
        name=body.name,
        details=body.details,
        received_at=received_at(body.received_on),
        settings=settings,
    )
    deliver_after_response(request, tasks)
    return _view(db, caller, recorded.id)


@router.get(
    "/rights/requests/{request_id}", summary="One request (accountability)", response_model=RequestOut
)
def get_request(request_id: uuid.UUID, caller: Accountable, db: Database = Depends(get_db)) -> RequestOut:
    return _view(db, caller, request_id)


@router.post(
    "/rights/requests/{request_id}/extend",
    summary="Extend the deadline by two months, once, with the reason the requester is told "
    "(GDPR art. 12(3); accountability)",
    response_model=RequestOut,
    responses=errors(409),
)
def extend_request(
    request_id: uuid.UUID,
    body: ReasonIn,
    request: Request,
    tasks: BackgroundTasks,
    caller: Accountable,
    db: Database = Depends(get_db),
) -> RequestOut:
    service.extend(db, request_id, officer=caller.actor, reason=body.reason)
    deliver_after_response(request, tasks)
    return _view(db, caller, request_id)


@router.post(
    "/rights/requests/{request_id}/refuse",
    summary="Refuse a request, with the legal ground the requester is told (accountability)",
    response_model=RequestOut,
    responses=errors(409),
)
def refuse_request(
    request_id: uuid.UUID,
    body: ReasonIn,
    request: Request,
    tasks: BackgroundTasks,
    caller: Accountable,
    db: Database = Depends(get_db),
) -> RequestOut:
    service.refuse(db, request_id, officer=caller.actor, reason=body.reason)
    deliver_after_response(request, tasks)
    return _view(db, caller, request_id)


@router.post(
    "/rights/requests/{request_id}/complete",
    summary="Carry out a confirmed request: mail the package, erase, restrict, stop monitoring, or "
    "mark a correction done (accountability)",
    response_model=RequestOut,
    responses=errors(409),
)
def complete_request(
    request_id: uuid.UUID,
    body: CompleteIn,
    request: Request,
    tasks: BackgroundTasks,
    caller: Accountable,
    db: Database = Depends(get_db),
) -> RequestOut:
    service.complete(db, request_id, actor=caller.actor, note=body.note)
    deliver_after_response(request, tasks)
    return _view(db, caller, request_id)


@router.get(
    "/rights/requests/{request_id}/package",
    summary="The package of a confirmed access or portability request, as it would be mailed now "
    "(accountability)",
    response_class=JSONResponse,
    responses={**_PACKAGE_RESPONSE, **errors(409)},
)
def request_package(
    request_id: uuid.UUID, caller: Accountable, db: Database = Depends(get_db)
) -> JSONResponse:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        found = service.get(session, request_id)
        packaged(found)
    return package_response(service.package_of(db, found), request_id)


@router.get(
    "/rights/restrictions",
    summary="Restrictions of processing (GDPR art. 18): those in force, or all (accountability)",
    response_model=RestrictionList,
)
def list_restrictions(
    caller: Accountable,
    db: Database = Depends(get_db),
    show: Annotated[Literal["active", "all"], Query(description="active (the default) or all")] = "active",
) -> RestrictionList:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        found = restrictions(session, active_only=show == "active")
        return RestrictionList(items=[restriction_out(r) for r in found])


@router.post(
    "/rights/restrictions/{restriction_id}/lift",
    summary="Lift a restriction: the person's data may be processed again (accountability)",
    response_model=RestrictionOut,
    responses=errors(409),
)
def lift_restriction(
    restriction_id: uuid.UUID, caller: Accountable, db: Database = Depends(get_db)
) -> RestrictionOut:
    return restriction_out(service.lift_restriction(db, restriction_id, officer=caller.actor))


# --- the portal: a user's own requests ----------------------------------------------------------------

SignedIn = Annotated[CurrentUser, Depends(user_api)]


@router.get(
    "/portal/rights",
    summary="Your requests about your personal data, newest first",
    response_model=PortalRequestList,
)
def portal_requests(caller: SignedIn, db: Database = Depends(get_db)) -> PortalRequestList:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        return PortalRequestList(items=[portal_out(r) for r in requests_of_user(session, caller.id)])


@router.post(
    "/portal/rights",
    summary="Make a request about your own personal data; access, portability and objection are "
    "answered at once",
    status_code=201,
    response_model=PortalRequestOut,
)
def portal_file(
    body: FileIn,
    request: Request,
    tasks: BackgroundTasks,
    caller: SignedIn,
    db: Database = Depends(get_db),
) -> PortalRequestOut:
    filed = service.file_from_portal(
        db, caller.user, kind=body.kind, details=body.details, browser=browser_of(request)
    )
    deliver_after_response(request, tasks)
    return portal_out(filed)


@router.get("/portal/rights/{request_id}", summary="One of your requests", response_model=PortalRequestOut)
def portal_request(
    request_id: uuid.UUID, caller: SignedIn, db: Database = Depends(get_db)
) -> PortalRequestOut:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        return portal_out(own_request(session, caller.id, request_id))


@router.get(
    "/portal/rights/{request_id}/package",
    summary="Your personal data and how we process it (the package of your access or portability request)",
    response_class=JSONResponse,
    responses={**_PACKAGE_RESPONSE, **errors(409)},
)
def portal_package(
    request_id: uuid.UUID, request: Request, caller: SignedIn, db: Database = Depends(get_db)
) -> JSONResponse:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        found = own_request(session, caller.id, request_id)
        packaged(found)
        if found.status is not RequestStatus.completed:
            raise Conflict(f"the request is {found.status.value}; its package is ready once it is answered")
    return package_response(service.package_of(db, found, browser=browser_of(request)), request_id)
