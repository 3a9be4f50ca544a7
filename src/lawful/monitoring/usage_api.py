"""JSON API of usage for fees, and of the services that report it.

- ``GET /api/v1/usage/totals``: every customer's usage per code and period, for staff who work
  on fees (``contract``, and ``legal_obligation`` for the invoices tax law requires: finance).
- ``GET /api/v1/portal/usage``: a customer's admin sees their own company's usage.
- ``/api/v1/usage-services``: the services that send usage events and their keys, for staff who
  act under ``monitoring`` and see individual records (admin). A key is shown once.

Amounts are decimal strings (``"12.5"``), never JSON numbers, so no float touches a fee.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from lawful.data.db import Database
from lawful.errors import Forbidden
from lawful.monitoring import usage
from lawful.monitoring import usage_repository as repo
from lawful.monitoring.models import UsageService
from lawful.policy.model import Policy
from lawful.web.api import NO_NUL, Input, errors, staff_api, user_api
from lawful.web.auth import CurrentStaff, CurrentUser, csrf_protect
from lawful.web.deps import get_db, get_policy
from lawful.web.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, dependencies=[Depends(csrf_protect)])

#: The purposes of a role that works on fees: the account (contract) and the invoices (legal_obligation).
FEES_PURPOSES = ("contract", "legal_obligation")
SERVICES_PURPOSE = "monitoring"
DECIMAL = r"^-?[0-9]+(\.[0-9]{1,6})?$"
CODE = r"^[a-z0-9][a-z0-9_.:-]{0,63}$"


def sees_fees(policy: Policy, role: str) -> bool:
    """Whether a staff role works on fees: it acts under every purpose of :data:`FEES_PURPOSES`."""
    return all(policy.role_may(role, purpose) for purpose in FEES_PURPOSES)


def check_fees(policy: Policy, staff: CurrentStaff) -> None:
    if not sees_fees(policy, staff.role):
        raise Forbidden(
            f"your role ({staff.role}) does not work on fees; usage totals are for roles acting "
            f"under {' and '.join(FEES_PURPOSES)}",
            detail={"purposes": list(FEES_PURPOSES), "role": staff.role},
        )


def fees_staff(
    staff: CurrentStaff = staff_api("contract"), policy: Policy = Depends(get_policy)
) -> CurrentStaff:
    """A dependency: a staff member whose role works on fees (finance)."""
    check_fees(policy, staff)
    return staff


def portal_admin(caller: CurrentUser = Depends(user_api)) -> CurrentUser:
    """A dependency: a customer's admin (a member gets 403, staff 403, nobody signed in 401)."""
    if not caller.is_admin:
        raise Forbidden("only an admin of your company sees its usage")
    return caller


# --- totals ------------------------------------------------------------------------------------

From = Annotated[
    date | None,
    Query(alias="from", description="first day (UTC), included; default: the first of this month"),
]
To = Annotated[date | None, Query(description="last day (UTC), included; default: today")]
PeriodQuery = Annotated[Literal["day", "month"], Query(description="totals per day or per calendar month")]
CodeQuery = Annotated[str | None, Query(pattern=CODE, max_length=64, description="only this event code")]


class UsageTotal(BaseModel):
    customer_id: uuid.UUID
    code: str = Field(description="the event code, e.g. api.call")
    period: str = Field(description="the day (2026-11-29) or the month (2026-11)")
    events: int = Field(description="how many usage events")
    value: str = Field(pattern=DECIMAL, description="the sum of their values, as a decimal string")


class UsageTotals(BaseModel):
    start: date = Field(description="the first day counted")
    end: date = Field(description="the last day counted")
    period: Literal["day", "month"]
    items: list[UsageTotal]


def _range(start: date | None, end: date | None) -> tuple[date, date]:
    today = datetime.now(UTC).date()
    end = end or today
    start = start or repo.month_start(min(end, today))
    return start, end


def _totals(
    db: Database,
    caller: CurrentStaff | CurrentUser,
    *,
    start: date | None,
    end: date | None,
    period: repo.Period,
    customer_id: uuid.UUID | None,
    code: str | None,
) -> UsageTotals:
    first, last = _range(start, end)
    repo.check_range(first, last, period)
    with db.unit_of_work("contract", caller.actor) as session:
        rows = repo.totals(session, start=first, end=last, period=period, customer_id=customer_id, code=code)
    return UsageTotals(
        start=first,
        end=last,
        period=period,
        items=[
            UsageTotal(
                customer_id=r.customer_id,
                code=r.code,
                period=repo.period_label(r.period, period),
                events=r.events,
                value=repo.decimal_text(r.value_micros),
            )
            for r in rows
        ],
    )


@router.get(
    "/usage/totals",
    tags=["usage"],
    summary="Usage per customer, event code and period (staff working on fees)",
    response_model=UsageTotals,
)
def usage_totals(
    caller: CurrentStaff = Depends(fees_staff),
    db: Database = Depends(get_db),
    start: From = None,
    to: To = None,
    period: PeriodQuery = "month",
    customer_id: uuid.UUID | None = None,
    code: CodeQuery = None,
) -> UsageTotals:
    return _totals(db, caller, start=start, end=to, period=period, customer_id=customer_id, code=code)


@router.get(
    "/portal/usage",
    tags=["usage"],
    summary="Your company's usage per event code and period (a customer's admin)",
    response_model=UsageTotals,
)
def portal_usage(
    caller: CurrentUser = Depends(portal_admin),
    db: Database = Depends(get_db),
    start: From = None,
    to: To = None,
    period: PeriodQuery = "month",
    code: CodeQuery = None,
) -> UsageTotals:
    return _totals(db, caller, start=start, end=to, period=period, customer_id=caller.customer_id, code=code)


# --- usage services ----------------------------------------------------------------------------


class UsageServiceIn(Input):
    name: str = Field(min_length=1, max_length=100, pattern=NO_NUL, description="the service's name")


class UsageServiceOut(BaseModel):
    id: uuid.UUID
    name: str
    key_prefix: str = Field(description="the first characters of its key, to recognise it")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    active: bool


class UsageServiceList(BaseModel):
    items: list[UsageServiceOut]


class UsageServiceKey(BaseModel):
    service: UsageServiceOut
    key: str = Field(description="the API key (lwu_…), shown this once: only its hash is stored")


def service_out(service: UsageService) -> UsageServiceOut:
    return UsageServiceOut(
        id=service.id,
        name=service.name,
        key_prefix=service.key_prefix,
        created_at=service.created_at,
        last_used_at=service.last_used_at,
        revoked_at=service.revoked_at,
        active=service.revoked_at is None,
    )


@router.get(
    "/usage-services",
    tags=["usage"],
    summary="The services that report usage (admin)",
    response_model=UsageServiceList,
)
def list_usage_services(
    caller: CurrentStaff = staff_api(SERVICES_PURPOSE), db: Database = Depends(get_db)
) -> UsageServiceList:
    with db.unit_of_work(SERVICES_PURPOSE, caller.actor) as session:
        return UsageServiceList(items=[service_out(s) for s in usage.list_services(session)])


@router.post(
    "/usage-services",
    tags=["usage"],
    summary="Register a service that reports usage; its key is in the answer, once (admin)",
    status_code=201,
    response_model=UsageServiceKey,
    responses=errors(409),
)
def create_usage_service(
    body: UsageServiceIn, caller: CurrentStaff = staff_api(SERVICES_PURPOSE), db: Database = Depends(get_db)
) -> UsageServiceKey:
    with db.unit_of_work(SERVICES_PURPOSE, caller.actor) as session:
        service, key = usage.create_service(session, name=body.name)
        return UsageServiceKey(service=service_out(service), key=key)


@router.post(
    "/usage-services/{service_id}/rotate",
    tags=["usage"],
    summary="Give a service a new key; the old one stops working at once (admin)",
    response_model=UsageServiceKey,
)
def rotate_usage_service_key(
    service_id: uuid.UUID,
    caller: CurrentStaff = staff_api(SERVICES_PURPOSE),
    db: Database = Depends(get_db),
) -> UsageServiceKey:
    with db.unit_of_work(SERVICES_PURPOSE, caller.actor) as session:
        service, key = usage.rotate_key(session, service_id)
        session.flush()
        return UsageServiceKey(service=service_out(service), key=key)


@router.delete(
    "/usage-services/{service_id}",
    tags=["usage"],
    summary="Revoke a service's key for good; its usage events stay counted (admin)",
    status_code=204,
    responses={204: {"description": "revoked"}},
)
def revoke_usage_service(
    service_id: uuid.UUID,
    caller: CurrentStaff = staff_api(SERVICES_PURPOSE),
    db: Database = Depends(get_db),
) -> Response:
    with db.unit_of_work(SERVICES_PURPOSE, caller.actor) as session:
        usage.revoke_service(session, service_id)
    return Response(status_code=204)
