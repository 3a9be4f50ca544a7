"""The JSON API root (``/api/v1``): what this installation is and the policy it enforces."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from lawful import __version__
from lawful.policy.loader import policy_hash
from lawful.policy.model import Policy
from lawful.policy.render import ropa_record
from lawful.web.deps import get_policy
from lawful.web.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


class PolicyVersion(BaseModel):
    version: str
    effective: date
    hash: str


class ApiRoot(BaseModel):
    name: str
    version: str
    policy: PolicyVersion
    links: dict[str, str]


def _version(policy: Policy) -> PolicyVersion:
    return PolicyVersion(version=policy.version, effective=policy.effective, hash=policy_hash(policy))


@router.get("/", summary="The API root", response_model=ApiRoot)
def api_root(policy: Policy = Depends(get_policy)) -> ApiRoot:
    return ApiRoot(
        name="Lawful",
        version=__version__,
        policy=_version(policy),
        links={
            "openapi": "/openapi.json",
            "docs": "/docs",
            "policy": "/api/v1/policy",
            "record_of_processing": "/api/v1/policy/record",
            "statement": "/privacy",
        },
    )


@router.get("/policy", summary="The policy this installation enforces", response_model=Policy)
def get_policy_document(policy: Policy = Depends(get_policy)) -> Policy:
    return policy


@router.get("/policy/record", summary="The GDPR art. 30(1) record of processing activities")
def get_record(policy: Policy = Depends(get_policy)) -> dict[str, Any]:
    record: dict[str, Any] = ropa_record(policy)
    return record
