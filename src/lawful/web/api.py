"""The JSON API root (``/api/v1``): what this installation is and the policy it enforces, the
processing log, and the building blocks every API module uses (who is calling, text fields that
can be stored on every database, partial updates, the error responses of the document).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from lawful import __version__
from lawful.authorities.service import OFFICER_PURPOSES, disclosed_recipients
from lawful.data import log_repository
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.errors import Forbidden
from lawful.policy.loader import policy_hash
from lawful.policy.model import Policy
from lawful.policy.render import ropa_record
from lawful.web.auth import CurrentStaff, CurrentUser, LoginRequired, optional_staff, optional_user
from lawful.web.deps import get_db, get_policy
from lawful.web.errors import ERROR_RESPONSES, ErrorBody

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)

# --- building blocks --------------------------------------------------------------------------

_DESCRIPTIONS = {
    400: "bad request",
    401: "not signed in, or the credentials are wrong",
    403: "signed in, but not allowed",
    404: "not found (or not yours)",
    409: "conflicts with the current state",
    410: "the link was already used or has expired",
    422: "the request is invalid",
    429: "too many failed attempts; wait and try again",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error responses a route answers besides the common ones (ERROR_RESPONSES)."""
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]} for status in statuses}


NO_NUL = r"^[^\x00]*$"


Text = Annotated[str, Field(pattern=NO_NUL)]
"""A string every backend can store (PostgreSQL refuses NUL; pydantic already refuses lone
surrogates); give it a ``max_length`` no longer than its column where it is used."""


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def omittable(**constraints: Any) -> Any:
    """A field of a partial update that may be left out but not set to null."""
    return Field(default=None, json_schema_extra=_no_default, **constraints)


class Input(BaseModel):
    """Every input model: unknown fields are refused (minimisation), never silently dropped."""

    model_config = ConfigDict(extra="forbid")


SearchQuery = Annotated[str, Query(max_length=200, pattern=NO_NUL)]
Page = Annotated[int, Query(ge=1, le=100_000)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


# --- who is calling ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """A signed-in customer's user or a staff member (cookie or API token)."""

    user: CurrentUser | None = None
    staff: CurrentStaff | None = None

    @property
    def actor(self) -> Actor:
        if self.staff is not None:
            return self.staff.actor
        assert self.user is not None
        return self.user.actor


def _check_role(caller: CurrentStaff, policy: Policy, purpose: str) -> None:
    if not policy.role_may(caller.role, purpose):
        raise Forbidden(
            f"your role ({caller.role}) does not act under the purpose {purpose!r}",
            detail={"purpose": purpose, "role": caller.role},
        )
    role = policy.roles.get(caller.role)
    if role is not None and role.aggregates_only:
        raise Forbidden(f"your role ({caller.role}) sees totals only")


def staff_api(purpose: str | None) -> Any:
    """A dependency: the staff member, whose role must act under ``purpose`` (None: any role).

    A customer's user gets 403; nobody signed in gets 401.
    """

    def dependency(
        user: CurrentUser | None = Depends(optional_user),
        staff: CurrentStaff | None = Depends(optional_staff),
        policy: Policy = Depends(get_policy),
    ) -> CurrentStaff:
        if staff is None:
            if user is not None:
                raise Forbidden("only our staff may do this")
            raise LoginRequired("sign in to continue", login_url="/console/login")
        if purpose is not None:
            _check_role(staff, policy, purpose)
        return staff

    return Depends(dependency)


def user_api(
    user: CurrentUser | None = Depends(optional_user), staff: CurrentStaff | None = Depends(optional_staff)
) -> CurrentUser:
    """A dependency: the signed-in customer's user; staff get 403, nobody signed in 401."""
    if user is not None:
        return user
    if staff is not None:
        raise Forbidden("this is for our customers' users, not for staff")
    raise LoginRequired("sign in to continue", login_url="/portal/login")


def caller_api(purpose: str) -> Any:
    """A dependency: a customer's user, or a staff member whose role acts under ``purpose``.

    The route itself limits a user to their own customer's data.
    """

    def dependency(
        user: CurrentUser | None = Depends(optional_user),
        staff: CurrentStaff | None = Depends(optional_staff),
        policy: Policy = Depends(get_policy),
    ) -> Caller:
        if staff is not None:
            _check_role(staff, policy, purpose)
            return Caller(staff=staff)
        if user is not None:
            return Caller(user=user)
        raise LoginRequired("sign in to continue", login_url="/portal/login")

    return Depends(dependency)


# --- the API root -----------------------------------------------------------------------------


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
def get_record(
    policy: Policy = Depends(get_policy),
    db: Database = Depends(get_db),
    caller: CurrentStaff | None = Depends(optional_staff),
) -> dict[str, Any]:
    # The record as the policy declares it; for the privacy officer, who keeps the register, also
    # the authorities actually disclosed to (which authorities received data is not public).
    keeps_register = caller is not None and all(policy.role_may(caller.role, p) for p in OFFICER_PURPOSES)
    record: dict[str, Any] = ropa_record(policy, disclosed_recipients(db) if keeps_register else None)
    return record


# --- the processing log -----------------------------------------------------------------------


class ProcessingEntry(BaseModel):
    id: uuid.UUID
    at: datetime
    actor_kind: str = Field(description="staff, user or system")
    actor_id: str
    purpose: str
    operation: str = Field(description="read, write or delete")
    table_name: str
    categories: list[str] = Field(description="the kinds of personal data, never their contents")
    subject_table: str | None
    subject_id: str | None
    statements: int


class ProcessingLog(BaseModel):
    items: list[ProcessingEntry]
    limit: int
    offset: int


@router.get(
    "/processing-log",
    summary="The processing log, newest first (purpose: accountability)",
    response_model=ProcessingLog,
)
def processing_log(
    caller: CurrentStaff = staff_api("accountability"),
    db: Database = Depends(get_db),
    actor_id: Annotated[str, Query(max_length=80, pattern=NO_NUL, description="an id or kind:id")] = "",
    purpose: Annotated[str, Query(max_length=64, pattern=NO_NUL)] = "",
    subject_table: Annotated[str, Query(max_length=64, pattern=NO_NUL)] = "",
    subject_id: Annotated[str, Query(max_length=64, pattern=NO_NUL)] = "",
    limit: Limit = 100,
    offset: Offset = 0,
) -> ProcessingLog:
    with db.unit_of_work("accountability", caller.actor) as session:
        rows = log_repository.search(
            session,
            actor=actor_id,
            purpose=purpose,
            subject=subject_id,
            subject_table=subject_table,
            limit=limit,
            offset=offset,
        )
        items = [
            ProcessingEntry(
                id=r.id,
                at=r.at,
                actor_kind=r.actor_kind,
                actor_id=r.actor_id,
                purpose=r.purpose,
                operation=r.operation,
                table_name=r.table_name,
                categories=[c for c in r.categories.split(",") if c],
                subject_table=r.subject_table,
                subject_id=r.subject_id,
                statements=r.statements,
            )
            for r in rows
        ]
    return ProcessingLog(items=items, limit=limit, offset=offset)
