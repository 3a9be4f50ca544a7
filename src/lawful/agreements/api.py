"""JSON API of agreements: a customer's agreement records, concluding one for a customer, and the
publication history of the privacy statement and the terms of service with their diffs.

Who may do what (staff roles come from the policy):

- reading a customer's agreements and the documents' versions: staff acting under ``contract``;
- concluding an agreement for a customer (recorded as concluded in the console, by the caller):
  the staff who subscribe customers in billing (``contract`` and ``legal_obligation``: finance).

An agreement record is the plan and its prices at that moment and the versions of the terms and
the statement in force; who accepted and from which IP address is shown while the acceptance is
kept (erasing the user deletes it; the IP address goes when its retention runs out).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from lawful.agreements import documents, service
from lawful.agreements.models import DocumentKind, DocumentVersion
from lawful.agreements.schemas import (
    AcceptedBy,
    AgreementIn,
    AgreementList,
    AgreementOut,
    ChangeOut,
    DiffOut,
    DocumentVersionList,
    DocumentVersionOut,
    PriceOut,
    VersionOut,
)
from lawful.agreements.service import AgreementView
from lawful.billing.api import finance_staff
from lawful.billing.rating import from_micros, plain
from lawful.customers import service as customers
from lawful.data.db import Database
from lawful.errors import NotFound
from lawful.users import repository as users_repository
from lawful.web.api import errors, staff_api
from lawful.web.auth import CurrentStaff, csrf_protect
from lawful.web.deps import ensure_published, get_db
from lawful.web.errors import ERROR_RESPONSES

router = APIRouter(
    prefix="/api/v1", tags=["agreements"], responses=ERROR_RESPONSES, dependencies=[Depends(csrf_protect)]
)

CONTRACT = "contract"
NO_SUCH_VERSION = "no such version"


# --- conversions ------------------------------------------------------------------------------


def _version_fields(version: DocumentVersion) -> dict[str, Any]:
    """The fields of :class:`VersionOut`, which :class:`DocumentVersionOut` extends."""
    return {
        "id": version.id,
        "kind": version.kind,
        "digest": version.digest,
        "label": version.label,
        "published_at": version.published_at,
    }


def version_out(version: DocumentVersion | None) -> VersionOut | None:
    return VersionOut(**_version_fields(version)) if version is not None else None


def price_out(price: dict[str, Any]) -> PriceOut:
    return PriceOut(
        metric=str(price.get("metric", "")),
        name=str(price.get("name", "")),
        unit=str(price.get("unit", "")),
        model=str(price.get("model", "")),
        pricing=dict(price.get("pricing") or {}),
        included=plain(from_micros(int(price.get("included_micros") or 0))),
    )


def agreement_out(view: AgreementView, user_names: dict[uuid.UUID, str]) -> AgreementOut:
    a, acceptance = view.agreement, view.acceptance
    return AgreementOut(
        id=a.id,
        customer_id=a.customer_id,
        event=a.event,
        channel=a.channel,
        effective_on=a.effective_on,
        recorded_at=a.recorded_at,
        plan_id=a.plan_id,
        plan_code=a.plan_code,
        plan_name=a.plan_name,
        currency=a.currency,
        base_fee=view.base_fee,
        minimum=view.minimum,
        prices=[price_out(p) for p in view.prices],
        terms=version_out(view.terms),
        statement=version_out(view.statement),
        accepted_at=a.accepted_at,
        accepted_by=AcceptedBy(user_id=acceptance.user_id, name=user_names.get(acceptance.user_id))
        if acceptance is not None
        else None,
        ip_address=acceptance.ip_address if acceptance is not None else None,
        staff_id=a.staff_id,
        note=a.note,
    )


def agreements_of(session: Session, customer_id: uuid.UUID) -> AgreementList:
    views = service.history(session, customer_id)
    names = users_repository.user_names(session, {v.acceptance.user_id for v in views if v.acceptance})
    return AgreementList(items=[agreement_out(v, names) for v in views])


def document_kind(kind: str) -> DocumentKind:
    """A document kind in a path: an unknown one names nothing (404)."""
    if kind not in DocumentKind.__members__:
        raise NotFound("no such document; the documents are statement and terms")
    return DocumentKind(kind)


def document_version_out(version: DocumentVersion, previous: DocumentVersion | None) -> DocumentVersionOut:
    return DocumentVersionOut(
        **_version_fields(version),
        previous_id=version.previous_id,
        changed=len(documents.changes_since(previous, version)),
    )


# --- a customer's agreements ------------------------------------------------------------------


@router.get(
    "/customers/{customer_id}/agreements",
    summary="A customer's agreement records, newest first: plan and prices, versions, who accepted",
    response_model=AgreementList,
)
def list_agreements(
    customer_id: uuid.UUID, caller: CurrentStaff = staff_api(CONTRACT), db: Database = Depends(get_db)
) -> AgreementList:
    with db.unit_of_work(CONTRACT, caller.actor) as session:
        customers.get_customer(session, customer_id)
        return agreements_of(session, customer_id)


@router.post(
    "/customers/{customer_id}/agreements",
    summary="Conclude an agreement for a customer, recorded in the console's name (finance)",
    status_code=201,
    response_model=AgreementOut,
    responses=errors(409),
)
def conclude_agreement(
    request: Request,
    customer_id: uuid.UUID,
    body: AgreementIn,
    caller: CurrentStaff = Depends(finance_staff),
    db: Database = Depends(get_db),
) -> AgreementOut:
    ensure_published(request)
    with db.unit_of_work(CONTRACT, caller.actor) as session:
        how = service.Acceptance.by_staff(session, caller.staff.id, note=body.note)
        made = service.conclude(session, customer_id, body.plan_id, starts_on=body.starts_on, how=how)
        view = next(v for v in service.history(session, customer_id) if v.agreement.id == made.id)
        return agreement_out(view, {})


# --- the published documents ------------------------------------------------------------------


@router.get(
    "/documents/{kind}/versions",
    summary="Every published version of the privacy statement or the terms of service, newest first",
    response_model=DocumentVersionList,
)
def list_versions(
    request: Request, kind: str, caller: CurrentStaff = staff_api(CONTRACT), db: Database = Depends(get_db)
) -> DocumentVersionList:
    wanted = document_kind(kind)
    ensure_published(request)
    with db.unit_of_work(CONTRACT, caller.actor) as session:
        versions = documents.history(session, wanted)
        before = documents.predecessors(versions)
        return DocumentVersionList(items=[document_version_out(v, before[v.id]) for v in versions])


@router.get(
    "/documents/{kind}/versions/{version_id}/diff",
    summary="What changed in a version of the statement or the terms since the one before it",
    response_model=DiffOut,
)
def version_diff(
    request: Request,
    kind: str,
    version_id: uuid.UUID,
    caller: CurrentStaff = staff_api(CONTRACT),
    db: Database = Depends(get_db),
) -> DiffOut:
    wanted = document_kind(kind)
    ensure_published(request)
    with db.unit_of_work(CONTRACT, caller.actor) as session:
        version = session.get(DocumentVersion, version_id)
        if version is None or version.kind != wanted:
            raise NotFound(NO_SUCH_VERSION)
        previous = documents.previous(session, version)
        earlier = documents.previous(session, previous)
        found = documents.changes_since(previous, version)
        return DiffOut(
            from_=document_version_out(previous, earlier) if previous else None,
            to=document_version_out(version, previous),
            changes=[ChangeOut(kind=c.kind, old=c.old, new=c.new) for c in found],
        )
