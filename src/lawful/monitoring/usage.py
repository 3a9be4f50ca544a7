"""Usage events from the company's online services: validated, deduplicated, counted per account.

A service authenticates with its own API key (``lwu_…``; only a hash is stored). Each event
names the customer account, optionally the user who caused it, an event code, a time, a
numeric value and properties. The idempotency key is unique per service in the database, so a
repeated event counts once whatever process receives it. An event of a user who objected to
monitoring still counts for the account, without the user.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lawful.customers.models import Customer
from lawful.data.db import dialect_insert
from lawful.errors import Conflict, Invalid, NotFound, Unauthorized
from lawful.monitoring.models import UsageEvent, UsageService
from lawful.rights.models import Restriction
from lawful.users.models import User
from lawful.users.security import new_token, token_hash

KEY_PREFIX = "lwu_"
MAX_BATCH = 1000
MAX_AGE = timedelta(days=35)
MAX_AHEAD = timedelta(minutes=5)
MAX_PROPERTIES = 20
MAX_PROPERTIES_BYTES = 2048
MAX_VALUE = Decimal(10) ** 12
CODE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")
KEY = re.compile(r"^[\x21-\x7e]{1,128}$")

Status = Literal["accepted", "duplicate", "rejected"]


@dataclass(frozen=True, slots=True)
class Outcome:
    index: int
    idempotency_key: str | None
    status: Status
    reason: str | None = None


# --- services and their keys --------------------------------------------------------------------


def create_service(session: Session, *, name: str) -> tuple[UsageService, str]:
    """Register a service; returns it and its key, which is shown once and never stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise Invalid("a service needs a name of 1 to 100 characters")
    if session.scalar(select(UsageService.id).where(UsageService.name == name)) is not None:
        raise Conflict(f"a service named {name!r} exists already")
    key = KEY_PREFIX + new_token()
    service = UsageService(name=name, key_hash=token_hash(key), key_prefix=key[:12])
    session.add(service)
    session.flush()
    return service, key


def rotate_key(session: Session, service_id: uuid.UUID) -> tuple[UsageService, str]:
    service = session.get(UsageService, service_id)
    if service is None or service.revoked_at is not None:
        raise NotFound("no such active usage service")
    key = KEY_PREFIX + new_token()
    service.key_hash, service.key_prefix = token_hash(key), key[:12]
    return service, key


def revoke_service(session: Session, service_id: uuid.UUID) -> UsageService:
    service = session.get(UsageService, service_id)
    if service is None:
        raise NotFound("no such usage service")
    if service.revoked_at is None:
        service.revoked_at = datetime.now(UTC)
    return service


def list_services(session: Session) -> list[UsageService]:
    return list(session.scalars(select(UsageService).order_by(UsageService.name)))


def authenticate(session: Session, key: str) -> UsageService:
    """The active service a key belongs to; ``Unauthorized`` otherwise."""
    if not key.startswith(KEY_PREFIX):
        raise Unauthorized("a usage service key (lwu_…) is required")
    service = session.scalar(select(UsageService).where(UsageService.key_hash == token_hash(key)))
    if service is None or service.revoked_at is not None:
        raise Unauthorized("this usage service key is not valid")
    now = datetime.now(UTC)
    if service.last_used_at is None or now - service.last_used_at > timedelta(minutes=1):
        session.execute(update(UsageService).where(UsageService.id == service.id).values(last_used_at=now))
    return service


# --- validation ---------------------------------------------------------------------------------


class Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _uuid(value: Any, field: str, *, required: bool) -> uuid.UUID | None:
    if value is None:
        if required:
            raise Rejected(f"{field} is required")
        return None
    if not isinstance(value, str):
        raise Rejected(f"{field} must be a UUID string")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Rejected(f"{field} is not a UUID") from None


def _timestamp(value: Any, now: datetime) -> int:
    if not isinstance(value, str):
        raise Rejected("timestamp is required, as ISO 8601 with a time zone (2026-11-29T10:00:00Z)")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise Rejected("timestamp is not ISO 8601 (2026-11-29T10:00:00Z)") from None
    if at.tzinfo is None:
        raise Rejected("timestamp needs a time zone (Z or +01:00)")
    if at < now - MAX_AGE:
        raise Rejected(f"timestamp is more than {MAX_AGE.days} days in the past")
    if at > now + MAX_AHEAD:
        raise Rejected("timestamp is more than 5 minutes in the future")
    return int(at.timestamp() * 1000)


def _micros(value: Any) -> int:
    if value is None:
        return 1_000_000
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Rejected("value must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise Rejected("value must be a finite number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise Rejected("value must be a number") from None
    if not number.is_finite() or abs(number) >= MAX_VALUE:
        raise Rejected("value must be a finite number below 10^12")
    micros = number * 1_000_000
    if micros != micros.to_integral_value():
        raise Rejected("value may have at most 6 decimal places")
    return int(micros)


def _properties(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Rejected("properties must be an object")
    if len(value) > MAX_PROPERTIES:
        raise Rejected(f"properties may have at most {MAX_PROPERTIES} keys")
    for key, item in value.items():
        if not isinstance(item, str | int | float | bool) and item is not None:
            raise Rejected(f"property {key!r} must be a string, number, boolean or null")
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    if len(text.encode()) > MAX_PROPERTIES_BYTES:
        raise Rejected(f"properties may take at most {MAX_PROPERTIES_BYTES} bytes as JSON")
    return text


def _row(event: Any, service: uuid.UUID, now: datetime) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise Rejected("an event must be a JSON object")
    key = event.get("idempotency_key")
    if not isinstance(key, str) or not KEY.match(key):
        raise Rejected("idempotency_key is required: 1 to 128 printable ASCII characters")
    code = event.get("code")
    if not isinstance(code, str) or not CODE.match(code):
        raise Rejected("code is required: lower-case letters, digits and _ . : - (at most 64)")
    unknown = set(event) - {
        "idempotency_key",
        "customer_id",
        "user_id",
        "code",
        "timestamp",
        "value",
        "properties",
    }
    if unknown:
        raise Rejected(f"unknown fields: {', '.join(sorted(unknown))}")
    return {
        "service_id": service,
        "idempotency_key": key,
        "customer_id": _uuid(event.get("customer_id"), "customer_id", required=True),
        "user_id": _uuid(event.get("user_id"), "user_id", required=False),
        "code": code,
        "ts": _timestamp(event.get("timestamp"), now),
        "value_micros": _micros(event.get("value")),
        "properties": _properties(event.get("properties")),
        "received_at": int(now.timestamp() * 1000),
    }


# --- ingestion -----------------------------------------------------------------------------------


def record(
    session: Session, service: UsageService, events: Sequence[Any], *, now: datetime | None = None
) -> list[Outcome]:
    """Validate and store a batch; one outcome per event, in order. Nothing is half-stored."""
    if len(events) > MAX_BATCH:
        raise Invalid(f"a batch may hold at most {MAX_BATCH} events; this one has {len(events)}")
    now = now or datetime.now(UTC)
    outcomes: list[Outcome | None] = [None] * len(events)
    rows: dict[str, tuple[int, dict[str, Any]]] = {}
    for index, event in enumerate(events):
        key = event.get("idempotency_key") if isinstance(event, dict) else None
        try:
            row = _row(event, service.id, now)
        except Rejected as exc:
            outcomes[index] = Outcome(index, key if isinstance(key, str) else None, "rejected", exc.reason)
            continue
        if row["idempotency_key"] in rows:
            outcomes[index] = Outcome(index, row["idempotency_key"], "duplicate")
            continue
        rows[row["idempotency_key"]] = (index, row)
    _check_accounts(session, rows, outcomes)
    stored = _insert(session, [row for _, row in rows.values()])
    for key, (index, _) in rows.items():
        outcomes[index] = Outcome(index, key, "accepted" if key in stored else "duplicate")
    return [o for o in outcomes if o is not None]


def _check_accounts(
    session: Session, rows: dict[str, tuple[int, dict[str, Any]]], outcomes: list[Outcome | None]
) -> None:
    """Refuse unknown customers and users of another customer; unlink users who objected or whose
    processing is restricted."""
    customers = {row["customer_id"] for _, row in rows.values()}
    users = {row["user_id"] for _, row in rows.values() if row["user_id"] is not None}
    known = (
        set(session.scalars(select(Customer.id).where(Customer.id.in_(customers)))) if customers else set()
    )
    people = (
        {
            u.id: (u.customer_id, u.monitoring_objection_at is not None)
            for u in session.execute(
                select(User.id, User.customer_id, User.monitoring_objection_at).where(User.id.in_(users))
            )
        }
        if users
        else {}
    )
    if people:  # a restriction of processing (art. 18) unlinks them too, while it is in force
        restricted = set(
            session.scalars(
                select(Restriction.subject_id).where(
                    Restriction.subject_id.in_(list(people)), Restriction.lifted_at.is_(None)
                )
            )
        )
        people = {k: (c, o or k in restricted) for k, (c, o) in people.items()}
    for key in list(rows):
        index, row = rows[key]
        reason = None
        if row["customer_id"] not in known:
            reason = "customer_id names no customer"
        elif row["user_id"] is not None:
            person = people.get(row["user_id"])
            if person is None or person[0] != row["customer_id"]:
                reason = "user_id names no user of this customer"
            elif person[1]:
                row["user_id"] = None  # the user objected: the usage counts for the account only
        if reason is not None:
            outcomes[index] = Outcome(index, key, "rejected", reason)
            del rows[key]


def _insert(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Insert, skipping idempotency keys the service has used before; the keys that were new."""
    if not rows:
        return set()
    stmt = (
        dialect_insert(session, UsageEvent)
        .on_conflict_do_nothing(index_elements=["service_id", "idempotency_key"])
        .returning(UsageEvent.idempotency_key)
    )
    return set(session.scalars(stmt, rows))


def events_of(payload: Any) -> tuple[list[Any], bool]:
    """The events of a request body and whether it was a batch: one object, or ``{"events": [...]}``."""
    if isinstance(payload, dict) and "events" in payload:
        events = payload["events"]
        if not isinstance(events, list):
            raise Invalid("events must be a list")
        if not events:
            raise Invalid("events is empty")
        return events, True
    if isinstance(payload, dict):
        return [payload], False
    raise Invalid('the body must be one event object or {"events": [...]}')
