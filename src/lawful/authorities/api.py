"""The JSON API of the register of disclosures to authorities.

For the privacy officer only: staff whose role acts under ``accountability`` *and*
``legal_obligation`` (finance also works under the legal obligation, for invoices, but does not
disclose). The register is read and written under ``legal_obligation``, the purpose the statement
names for disclosures.

- ``GET /api/v1/disclosures``: the register, the latest first;
- ``POST /api/v1/disclosures``: register a disclosure (201);
- ``GET /api/v1/disclosures/{id}``: one disclosure with the people it was about;
- ``GET /api/v1/disclosures/{id}/bundle``: the ZIP for the authority (generating it records its
  manifest's SHA-256 in the register).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Response

from lawful.authorities import bundle, service
from lawful.authorities.models import Disclosure
from lawful.authorities.schemas import (
    DisclosureIn,
    DisclosureList,
    DisclosureOut,
    DisclosureSummary,
    SubjectOut,
)
from lawful.data.db import Database
from lawful.errors import Forbidden
from lawful.policy.model import Policy
from lawful.rights.models import SubjectKind
from lawful.rights.subjects import Subject
from lawful.web.api import Limit, Offset, errors, staff_api
from lawful.web.auth import CurrentStaff, csrf_protect
from lawful.web.deps import get_db, get_policy
from lawful.web.downloads import download
from lawful.web.errors import ERROR_RESPONSES

router = APIRouter(
    prefix="/api/v1", tags=["disclosures"], responses=ERROR_RESPONSES, dependencies=[Depends(csrf_protect)]
)


def privacy_officer(
    staff: CurrentStaff = staff_api("accountability"), policy: Policy = Depends(get_policy)
) -> CurrentStaff:
    """A dependency: a staff member whose role acts under every purpose of the register."""
    if not all(policy.role_may(staff.role, p) for p in service.OFFICER_PURPOSES):
        raise Forbidden(
            f"your role ({staff.role}) does not disclose to authorities; the register is for roles "
            f"acting under {' and '.join(service.OFFICER_PURPOSES)}",
            detail={"purposes": list(service.OFFICER_PURPOSES), "role": staff.role},
        )
    return staff


def _summary_fields(disclosure: Disclosure) -> dict[str, Any]:
    return {
        "id": disclosure.id,
        "authority": disclosure.authority,
        "authority_kind": disclosure.authority_kind,
        "legal_ground": disclosure.legal_ground,
        "order_reference": disclosure.order_reference,
        "disclosed_on": disclosure.disclosed_on,
        "officer_id": disclosure.officer_id,
        "categories": service.categories_of(disclosure),
        "description": disclosure.description,
        "confidential_until": disclosure.confidential_until,
        "confidential": service.is_confidential(disclosure),
        "bundle_sha256": disclosure.bundle_sha256,
        "created_at": disclosure.created_at,
    }


def disclosure_out(entry: service.Entry) -> DisclosureOut:
    return DisclosureOut(
        **_summary_fields(entry.disclosure),
        subject_count=len(entry.subjects),
        subjects=[SubjectOut(kind=s.kind.value, id=s.id) for s in entry.subjects],
    )


@router.get(
    "/disclosures",
    summary="The register of disclosures to authorities, the latest first (privacy officer)",
    response_model=DisclosureList,
)
def list_disclosures(
    caller: CurrentStaff = Depends(privacy_officer),
    db: Database = Depends(get_db),
    limit: Limit = 100,
    offset: Offset = 0,
) -> DisclosureList:
    rows = service.list_for(db, caller.actor, limit=limit, offset=offset)
    return DisclosureList(
        items=[DisclosureSummary(**_summary_fields(d), subject_count=n) for d, n in rows],
        limit=limit,
        offset=offset,
    )


@router.post(
    "/disclosures",
    summary="Register a disclosure to an authority (privacy officer)",
    response_model=DisclosureOut,
    status_code=201,
)
def create_disclosure(
    body: DisclosureIn, caller: CurrentStaff = Depends(privacy_officer), db: Database = Depends(get_db)
) -> DisclosureOut:
    entry = service.register(
        db,
        officer=caller.actor,
        authority=body.authority,
        authority_kind=body.authority_kind,
        legal_ground=body.legal_ground,
        order_reference=body.order_reference,
        disclosed_on=body.disclosed_on,
        categories=body.categories,
        subjects=[Subject(SubjectKind(s.kind), s.id) for s in body.subjects],
        description=body.description,
        confidential_until=body.confidential_until,
    )
    return disclosure_out(entry)


@router.get(
    "/disclosures/{disclosure_id}",
    summary="One disclosure and the people it was about (privacy officer)",
    response_model=DisclosureOut,
    responses=errors(404),
)
def get_disclosure(
    disclosure_id: uuid.UUID, caller: CurrentStaff = Depends(privacy_officer), db: Database = Depends(get_db)
) -> DisclosureOut:
    return disclosure_out(service.get_for(db, caller.actor, disclosure_id))


@router.get(
    "/disclosures/{disclosure_id}/bundle",
    summary="The bundle for the authority: a ZIP of JSON, CSV, a manifest and SHA256SUMS (privacy officer)",
    response_class=Response,
    responses={
        200: {
            "description": "the ZIP; its manifest's SHA-256 is recorded in the register and sent in X-Manifest-SHA256",
            "content": {bundle.MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        },
        **errors(404),
    },
)
def get_bundle(
    disclosure_id: uuid.UUID, caller: CurrentStaff = Depends(privacy_officer), db: Database = Depends(get_db)
) -> Response:
    made = bundle.build(db, disclosure_id, officer=caller.actor)
    return bundle_response(made)


def bundle_response(made: bundle.Bundle) -> Response:
    return download(
        made.content, bundle.MEDIA_TYPE, made.filename, headers={"x-manifest-sha256": made.manifest_sha256}
    )
