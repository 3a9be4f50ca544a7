"""Usage for fees through the API, on both backends: events go in through ``POST /api/v1/usage``
with a service key, and come out as totals per customer, code and period that equal sums
computed here by hand; idempotency, refusals, objections, and who may read which totals."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select
from tests.factories import FAST, SYSTEM, api_sign_in, make_customer, make_staff, make_user

from lawful.data.db import Database
from lawful.monitoring import usage
from lawful.monitoring.models import UsageEvent
from lawful.users import service as users
from lawful.users.models import StaffRole, User, UserRole
from lawful.web.app import create_app

TOTALS = "/api/v1/usage/totals"
PORTAL = "/api/v1/portal/usage"
SERVICES = "/api/v1/usage-services"


@dataclass
class World:
    db: Database
    app: FastAPI
    key: str
    a: uuid.UUID
    b: uuid.UUID
    people: dict[str, uuid.UUID]


@pytest.fixture
def world(database: Database) -> World:
    alpha, _ = make_customer(database, legal_name="Alpha Trading B.V.", contacts=0)
    bravo, _ = make_customer(
        database, legal_name="Bravo Logistiek B.V.", billing_email="billing@bravo.example", contacts=0
    )
    people = {
        "admin_a": make_user(
            database, customer_id=alpha.id, email="adam@alpha.example", role=UserRole.admin
        ).id,
        "member_a": make_user(database, customer_id=alpha.id, email="mia@alpha.example").id,
        "objector_a": make_user(database, customer_id=alpha.id, email="otto@alpha.example").id,
        "admin_b": make_user(
            database, customer_id=bravo.id, email="bea@bravo.example", role=UserRole.admin
        ).id,
    }
    with database.unit_of_work("contract", SYSTEM) as session:
        objector = session.get(User, people["objector_a"])
        assert objector is not None
        users.set_monitoring_objection(objector, objects=True)
    for role in (StaffRole.finance, StaffRole.support, StaffRole.admin, StaffRole.analyst):
        make_staff(database, role=role, email=f"{role.value}@lawful.example")
    with database.unit_of_work("monitoring", SYSTEM) as session:
        _, key = usage.create_service(session, name="Invoicing app")
    return World(database, create_app(FAST, db=database), key, alpha.id, bravo.id, people)


@pytest.fixture
def clients(world: World) -> Iterator[dict[str, TestClient]]:
    """A signed-in client per principal (and one with no cookies for the service)."""
    made: dict[str, TestClient] = {}
    logins = {
        "admin_a": ("adam@alpha.example", False),
        "member_a": ("mia@alpha.example", False),
        "admin_b": ("bea@bravo.example", False),
        **{role: (f"{role}@lawful.example", True) for role in ("finance", "support", "admin", "analyst")},
    }
    for who, (email, staff) in logins.items():
        client = TestClient(world.app, raise_server_exceptions=False)
        api_sign_in(client, email=email, staff=staff)
        made[who] = client
    made["service"] = TestClient(world.app, raise_server_exceptions=False)
    yield made
    for client in made.values():
        client.close()


def report(client: TestClient, key: str, body: Any) -> Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        "/api/v1/usage",
        content=content,
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )


def stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def event(
    key: str, customer: uuid.UUID, code: str, at: datetime, value: Any = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "idempotency_key": key,
        "customer_id": str(customer),
        "code": code,
        "timestamp": stamp(at),
    }
    if value is not None:
        body["value"] = value
    body.update(extra)
    return body


def assert_error_body(response: Response, status: int) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status and error["code"] and error["message"]


def stored(db: Database) -> int:
    with db.unit_of_work("monitoring", SYSTEM) as session:
        return session.scalar(select(func.count()).select_from(UsageEvent)) or 0


# --- totals equal sums computed by hand ------------------------------------------------------------


def _events(world: World, now: datetime) -> list[dict[str, Any]]:
    """A spread of events over three days, two customers, three codes and several kinds of value."""
    plan = [
        (world.a, "api.call", 1, 3),
        (world.a, "api.call", 1, "2.5"),
        (world.a, "api.call", 2, None),  # no value counts as 1
        (world.a, "storage.gb", 1, "0.000001"),
        (world.a, "storage.gb", 2, 12.75),
        (world.a, "storage.gb", 9, "1000000.5"),
        (world.b, "api.call", 1, 7),
        (world.b, "api.call", 9, 1),
        (world.b, "seat.active", 2, -1),
    ]
    return [
        event(f"k{n}", customer, code, now - timedelta(days=days, minutes=n), value)
        for n, (customer, code, days, value) in enumerate(plan)
    ]


def _expected(events: list[dict[str, Any]], period: str) -> dict[tuple[str, str, str], tuple[int, Decimal]]:
    sums: dict[tuple[str, str, str], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for e in events:
        day = datetime.fromisoformat(e["timestamp"]).date()
        label = day.isoformat() if period == "day" else day.isoformat()[:7]
        entry = sums[(e["customer_id"], e["code"], label)]
        entry[0] += 1
        entry[1] += Decimal(str(e.get("value", 1)))
    return {k: (v[0], v[1]) for k, v in sums.items()}


def _got(response: Response) -> dict[tuple[str, str, str], tuple[int, Decimal]]:
    assert response.status_code == 200, response.text
    got = {}
    for item in response.json()["items"]:
        assert isinstance(item["value"], str)  # never a JSON number
        got[(item["customer_id"], item["code"], item["period"])] = (item["events"], Decimal(item["value"]))
    return got


def test_totals_equal_the_sums_of_the_events_posted(world: World, clients: dict[str, TestClient]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    events = _events(world, now)
    answer = report(clients["service"], world.key, {"events": events})
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == len(events)
    first = (now - timedelta(days=12)).date()
    last = now.date()
    window = {"from": first.isoformat(), "to": last.isoformat()}
    for period in ("day", "month"):
        got = _got(clients["finance"].get(TOTALS, params={**window, "period": period}))
        assert got == _expected(events, period)
    only_a = _got(
        clients["finance"].get(TOTALS, params={**window, "period": "day", "customer_id": str(world.a)})
    )
    assert only_a == {k: v for k, v in _expected(events, "day").items() if k[0] == str(world.a)}
    only_code = _got(clients["finance"].get(TOTALS, params={**window, "period": "month", "code": "api.call"}))
    assert only_code == {k: v for k, v in _expected(events, "month").items() if k[1] == "api.call"}
    # a range that leaves out the oldest events leaves out their sums
    recent = {"from": (now - timedelta(days=3)).date().isoformat(), "to": last.isoformat(), "period": "day"}
    kept = [
        e for e in events if datetime.fromisoformat(e["timestamp"]).date() >= now.date() - timedelta(days=3)
    ]
    assert len(kept) < len(events)
    assert _got(clients["finance"].get(TOTALS, params=recent)) == _expected(kept, "day")


def test_the_default_range_is_this_month_per_month(world: World, clients: dict[str, TestClient]) -> None:
    now = datetime.now(UTC)
    answer = report(
        clients["service"], world.key, event("today", world.a, "api.call", now - timedelta(seconds=5), 4)
    )
    assert answer.status_code == 202, answer.text
    body = clients["finance"].get(TOTALS).json()
    assert (body["start"], body["end"], body["period"]) == (
        now.date().replace(day=1).isoformat(),
        now.date().isoformat(),
        "month",
    )
    assert body["items"] == [
        {
            "customer_id": str(world.a),
            "code": "api.call",
            "period": now.strftime("%Y-%m"),
            "events": 1,
            "value": "4",
        }
    ]


def test_a_range_must_be_in_order_and_not_too_long(world: World, clients: dict[str, TestClient]) -> None:
    finance = clients["finance"]
    assert_error_body(finance.get(TOTALS, params={"from": "2026-03-10", "to": "2026-03-01"}), 422)
    assert_error_body(
        finance.get(TOTALS, params={"from": "2025-01-01", "to": "2026-03-01", "period": "day"}), 422
    )
    assert (
        finance.get(TOTALS, params={"from": "2025-01-01", "to": "2026-03-01", "period": "month"}).status_code
        == 200
    )
    assert_error_body(finance.get(TOTALS, params={"period": "week"}), 422)
    assert_error_body(finance.get(TOTALS, params={"from": "1999-12-31"}), 422)


# --- the ingestion rules, seen in the totals -----------------------------------------------------


def test_a_repeated_idempotency_key_counts_once(world: World, clients: dict[str, TestClient]) -> None:
    at = datetime.now(UTC) - timedelta(hours=1)
    same = event("once", world.a, "api.call", at, 5)
    first = report(clients["service"], world.key, {"events": [same, same]})
    assert [r["status"] for r in first.json()["results"]] == ["accepted", "duplicate"]
    again = report(clients["service"], world.key, same)
    assert again.status_code == 202 and again.json()["status"] == "duplicate"
    batch_again = report(clients["service"], world.key, {"events": [same]})
    assert batch_again.json()["duplicates"] == 1
    assert stored(world.db) == 1
    items = (
        clients["finance"]
        .get(TOTALS, params={"period": "day", "from": at.date().isoformat()})
        .json()["items"]
    )
    assert [(i["events"], i["value"]) for i in items] == [(1, "5")]


def test_bad_timestamps_are_refused_per_event_and_the_rest_is_kept(
    world: World, clients: dict[str, TestClient]
) -> None:
    now = datetime.now(UTC)
    batch = [
        event("old", world.a, "api.call", now - timedelta(days=36)),
        event("good-1", world.a, "api.call", now - timedelta(minutes=1), 2),
        event("ahead", world.a, "api.call", now + timedelta(minutes=6)),
        event("good-2", world.a, "api.call", now - timedelta(minutes=2), 3),
    ]
    answer = report(clients["service"], world.key, {"events": batch})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["accepted"], body["rejected"], body["duplicates"]) == (2, 2, 0)
    results = {r["idempotency_key"]: r for r in body["results"]}
    assert "35 days" in results["old"]["reason"] and results["old"]["status"] == "rejected"
    assert "future" in results["ahead"]["reason"] and results["ahead"]["status"] == "rejected"
    assert results["good-1"]["status"] == results["good-2"]["status"] == "accepted"
    items = (
        clients["finance"]
        .get(TOTALS, params={"from": (now - timedelta(days=40)).date().isoformat(), "period": "month"})
        .json()["items"]
    )
    assert sum(i["events"] for i in items) == 2
    assert sum(Decimal(i["value"]) for i in items) == Decimal(5)


def test_a_batch_of_1001_is_refused_whole(world: World, clients: dict[str, TestClient]) -> None:
    at = datetime.now(UTC) - timedelta(minutes=1)
    batch = [event(f"b{n}", world.a, "api.call", at) for n in range(usage.MAX_BATCH + 1)]
    assert_error_body(report(clients["service"], world.key, {"events": batch}), 422)
    assert stored(world.db) == 0
    assert report(clients["service"], world.key, {"events": batch[:-1]}).json()["accepted"] == usage.MAX_BATCH


def test_oversized_and_malformed_bodies_and_bad_keys(world: World, clients: dict[str, TestClient]) -> None:
    service = clients["service"]
    assert_error_body(report(service, world.key, b" " * (1024 * 1024 + 1)), 413)
    assert_error_body(report(service, world.key, b'{"events": [}'), 400)
    good = event("fine", world.a, "api.call", datetime.now(UTC) - timedelta(minutes=1))
    assert_error_body(report(service, "lwu_not-a-real-key", good), 401)
    assert_error_body(report(service, "", good), 401)
    assert stored(world.db) == 0


def test_a_revoked_or_rotated_key_is_refused(world: World, clients: dict[str, TestClient]) -> None:
    at = datetime.now(UTC) - timedelta(minutes=1)
    listed = clients["admin"].get(SERVICES).json()["items"]
    [service] = listed
    rotated = clients["admin"].post(f"{SERVICES}/{service['id']}/rotate")
    assert rotated.status_code == 200, rotated.text
    new_key = rotated.json()["key"]
    assert new_key != world.key and new_key.startswith("lwu_")
    assert_error_body(report(clients["service"], world.key, event("x1", world.a, "api.call", at)), 401)
    assert report(clients["service"], new_key, event("x2", world.a, "api.call", at)).status_code == 202
    assert clients["admin"].delete(f"{SERVICES}/{service['id']}").status_code == 204
    assert_error_body(report(clients["service"], new_key, event("x3", world.a, "api.call", at)), 401)
    assert stored(world.db) == 1  # what came in before the revocation stays counted


def test_an_objecting_user_is_unlinked_but_counts_and_a_stranger_is_refused(
    world: World, clients: dict[str, TestClient]
) -> None:
    at = datetime.now(UTC) - timedelta(minutes=1)
    batch = [
        event("by-objector", world.a, "seat.active", at, user_id=str(world.people["objector_a"])),
        event("by-member", world.a, "seat.active", at, user_id=str(world.people["member_a"])),
        event("by-stranger", world.a, "seat.active", at, user_id=str(world.people["admin_b"])),
    ]
    body = report(clients["service"], world.key, {"events": batch}).json()
    outcome = {r["idempotency_key"]: r for r in body["results"]}
    assert outcome["by-objector"]["status"] == outcome["by-member"]["status"] == "accepted"
    assert outcome["by-stranger"]["status"] == "rejected"
    assert "user_id" in outcome["by-stranger"]["reason"]
    with world.db.unit_of_work("monitoring", SYSTEM) as session:
        links = dict(session.execute(select(UsageEvent.idempotency_key, UsageEvent.user_id)).all())
    assert links == {"by-objector": None, "by-member": world.people["member_a"]}
    items = (
        clients["finance"]
        .get(TOTALS, params={"period": "day", "from": at.date().isoformat()})
        .json()["items"]
    )
    assert [(i["customer_id"], i["code"], i["events"]) for i in items] == [(str(world.a), "seat.active", 2)]
    assert "user" not in json.dumps(items)  # totals never name the person


# --- who sees which totals --------------------------------------------------------------------------


def test_a_customer_admin_sees_their_own_customer_only(world: World, clients: dict[str, TestClient]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    events = _events(world, now)
    assert report(clients["service"], world.key, {"events": events}).json()["accepted"] == len(events)
    window = {"from": (now - timedelta(days=12)).date().isoformat(), "period": "day"}
    expected = _expected(events, "day")
    for who, customer in (("admin_a", world.a), ("admin_b", world.b)):
        mine = _got(clients[who].get(PORTAL, params=window))
        assert mine == {k: v for k, v in expected.items() if k[0] == str(customer)}
        assert mine  # each has some
    # the portal takes no customer_id: one given is not a way into another account
    other = clients["admin_a"].get(PORTAL, params={**window, "customer_id": str(world.b)})
    assert {i["customer_id"] for i in other.json()["items"]} == {str(world.a)}
    assert _got(clients["finance"].get(TOTALS, params=window)) == expected


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        ("member_a", PORTAL, 403),
        ("finance", PORTAL, 403),
        ("support", TOTALS, 403),
        ("admin", TOTALS, 403),
        ("analyst", TOTALS, 403),
        ("admin_a", TOTALS, 403),
        ("finance", SERVICES, 403),
        ("analyst", SERVICES, 403),
        ("support", SERVICES, 403),
        ("admin_a", SERVICES, 403),
    ],
)
def test_who_may_not_read(
    world: World, clients: dict[str, TestClient], who: str, path: str, status: int
) -> None:
    assert_error_body(clients[who].get(path), status)


def test_nobody_signed_in_gets_401(world: World, clients: dict[str, TestClient]) -> None:
    for path in (TOTALS, PORTAL, SERVICES):
        assert_error_body(clients["service"].get(path), 401)


def test_a_support_agent_is_told_why(world: World, clients: dict[str, TestClient]) -> None:
    message = clients["support"].get(TOTALS).json()["error"]["message"]
    assert "fees" in message and "legal_obligation" in message


# --- usage services ----------------------------------------------------------------------------------


def test_an_admin_registers_a_service_and_sees_its_key_once(
    world: World, clients: dict[str, TestClient]
) -> None:
    admin = clients["admin"]
    created = admin.post(SERVICES, json={"name": "Reporting app"})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("lwu_") and created.json()["service"]["key_prefix"] == key[:12]
    listing = admin.get(SERVICES)
    assert key not in listing.text
    assert sorted(s["name"] for s in listing.json()["items"]) == ["Invoicing app", "Reporting app"]
    assert_error_body(admin.post(SERVICES, json={"name": "Reporting app"}), 409)
    assert_error_body(admin.post(SERVICES, json={"name": ""}), 422)
    at = datetime.now(UTC) - timedelta(minutes=1)
    assert report(clients["service"], key, event("r1", world.b, "api.call", at)).status_code == 202
    [reporting] = [s for s in admin.get(SERVICES).json()["items"] if s["name"] == "Reporting app"]
    assert reporting["last_used_at"] is not None and reporting["active"] is True
    assert admin.delete(f"{SERVICES}/{reporting['id']}").status_code == 204
    [revoked] = [s for s in admin.get(SERVICES).json()["items"] if s["name"] == "Reporting app"]
    assert revoked["active"] is False and revoked["revoked_at"] is not None
    assert_error_body(admin.post(f"{SERVICES}/{reporting['id']}/rotate"), 404)
    assert_error_body(admin.delete(f"{SERVICES}/{uuid.uuid4()}"), 404)


def test_usage_of_a_month_counts_only_days_in_the_range(world: World, clients: dict[str, TestClient]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    days = [now - timedelta(days=d) for d in (0, 1, 2)]
    batch = [
        event(f"d{n}", world.a, "api.call", at - timedelta(minutes=1), n + 1) for n, at in enumerate(days)
    ]
    assert report(clients["service"], world.key, {"events": batch}).json()["accepted"] == 3
    middle: date = days[1].date()
    items = (
        clients["finance"]
        .get(TOTALS, params={"from": middle.isoformat(), "to": middle.isoformat(), "period": "month"})
        .json()["items"]
    )
    expected = [b for b in batch if datetime.fromisoformat(b["timestamp"]).date() == middle]
    assert sum(i["events"] for i in items) == len(expected)
    assert sum(Decimal(i["value"]) for i in items) == sum(Decimal(str(b["value"])) for b in expected)


def test_malformed_events_are_refused_with_a_reason_each(
    world: World, clients: dict[str, TestClient]
) -> None:
    at = datetime.now(UTC) - timedelta(minutes=1)
    batch = [
        event("extra", world.a, "api.call", at, favourite_colour="green"),
        event("bad-code", world.a, "API Call!", at),
        event("bad-value", world.a, "api.call", at, "ten"),
        event("too-precise", world.a, "api.call", at, "0.0000001"),
        event("no-customer", uuid.uuid4(), "api.call", at),
        event("naive", world.a, "api.call", at, timestamp=at.replace(tzinfo=None).isoformat()),
        event("props", world.a, "api.call", at, properties={"nested": {"no": 1}}),
        {"customer_id": str(world.a), "code": "api.call", "timestamp": stamp(at)},
        "not an object",
        event("fine", world.a, "api.call", at, "2.5", properties={"region": "eu", "tier": 2}),
    ]
    body = report(clients["service"], world.key, {"events": batch}).json()
    reasons = {r["index"]: r["reason"] for r in body["results"] if r["status"] == "rejected"}
    assert set(reasons) == set(range(9))
    assert "favourite_colour" in reasons[0]
    assert "code" in reasons[1]
    assert "number" in reasons[2]
    assert "6 decimal" in reasons[3]
    assert "no customer" in reasons[4]
    assert "time zone" in reasons[5]
    assert "nested" in reasons[6]
    assert "idempotency_key" in reasons[7]
    assert "object" in reasons[8]
    assert body["accepted"] == 1
    with world.db.unit_of_work("monitoring", SYSTEM) as session:
        [(value, properties)] = session.execute(select(UsageEvent.value_micros, UsageEvent.properties)).all()
    assert value == 2_500_000
    assert json.loads(properties) == {"region": "eu", "tier": 2}
