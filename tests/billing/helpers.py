"""Billing test data, written through the real services."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.factories import SYSTEM

from lawful.billing import catalogue
from lawful.billing.catalogue import ChargeInput
from lawful.billing.models import Plan
from lawful.data.db import Database
from lawful.monitoring import usage
from lawful.monitoring.models import UsageService
from lawful.users.models import User

_keys = itertools.count(1)


def make_service(db: Database) -> UsageService:
    with db.unit_of_work("contract", SYSTEM) as session:
        service, _ = usage.create_service(session, name=f"api-{uuid.uuid4().hex[:6]}")
    return service


def record_usage(
    db: Database,
    service: UsageService,
    customer_id: uuid.UUID,
    *,
    code: str,
    day: date,
    count: int = 1,
    value: Decimal | int | str = 1,
    properties: dict[str, Any] | None = None,
) -> None:
    """``count`` events of ``code`` on ``day`` (spread over its hours), accepted as reported then."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    events = [
        {
            "idempotency_key": f"k-{next(_keys)}",
            "customer_id": str(customer_id),
            "code": code,
            "timestamp": (start + timedelta(seconds=i * 37 % 86_000)).isoformat(),
            "value": str(value),
            **({"properties": properties} if properties else {}),
        }
        for i in range(count)
    ]
    with db.unit_of_work("contract", SYSTEM) as session:
        for offset in range(0, len(events), 1000):
            outcomes = usage.record(
                session, service, events[offset : offset + 1000], now=start + timedelta(days=1)
            )
            assert all(o.status == "accepted" for o in outcomes), outcomes


def usage_by(db: Database, user: User, *, minutes_ago: int = 5) -> None:
    """A usage event about ``user`` that a new service reports (server to server), ``minutes_ago``
    minutes before now; it is accepted."""
    api = make_service(db)
    now = datetime.now(UTC)
    event = {
        "idempotency_key": uuid.uuid4().hex,
        "customer_id": str(user.customer_id),
        "user_id": str(user.id),
        "code": "api.call",
        "timestamp": (now - timedelta(minutes=minutes_ago)).isoformat(),
    }
    with db.unit_of_work("contract", SYSTEM) as session:
        [outcome] = usage.record(session, api, [event], now=now)
        assert outcome.status == "accepted", outcome


def standard_catalogue(db: Database) -> dict[str, Plan]:
    """Metrics api_calls (count), storage_gb (max), seats (unique users); plans starter and business."""
    with db.unit_of_work("contract", SYSTEM) as session:
        catalogue.create_metric(
            session,
            code="api_calls",
            name="API calls",
            event_code="api.call",
            aggregation="count",
            unit="calls",
        )
        catalogue.create_metric(
            session, code="storage_gb", name="Storage", event_code="storage", aggregation="max", unit="GB"
        )
        catalogue.create_metric(
            session,
            code="seats",
            name="Active seats",
            event_code="login",
            aggregation="unique_count",
            distinct_property="seat",
            unit="seats",
        )
        starter = catalogue.create_plan(
            session,
            code="starter",
            name="Starter",
            base_fee="19.00",
            charges=[ChargeInput("api_calls", "standard", {"unit_price": "0.002"}, included=1000)],
        )
        business = catalogue.create_plan(
            session,
            code="business",
            name="Business",
            base_fee="99.00",
            minimum="150.00",
            charges=[
                ChargeInput(
                    "api_calls",
                    "graduated",
                    {
                        "tiers": [
                            {"up_to": "10000", "unit_price": "0.002"},
                            {"up_to": None, "unit_price": "0.001"},
                        ]
                    },
                ),
                ChargeInput("storage_gb", "package", {"package_size": "10", "package_price": "5"}),
                ChargeInput(
                    "seats",
                    "volume",
                    {"tiers": [{"up_to": "5", "unit_price": "8"}, {"up_to": None, "unit_price": "6"}]},
                ),
            ],
        )
    return {"starter": starter, "business": business}
