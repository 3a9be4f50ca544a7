"""The usage pages, on both backends: finance's overview and a customer's month with its chart,
the admin's usage services (a key shown once, a new key, revocation), and a customer admin's
portal page; each open only to whom it is for."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from tests.factories import SYSTEM, make_customer, make_staff, make_user
from tests.web.test_console import assert_accessible, console_client, post, sign_in

from lawful.data.db import Database
from lawful.monitoring import usage
from lawful.monitoring.usage_pages import amount
from lawful.monitoring.usage_repository import month_start
from lawful.users.models import StaffRole, UserRole
from lawful.web.auth import CSRF_COOKIE

NOW = datetime.now(UTC).replace(microsecond=0)
MONTH = month_start(NOW.date())
# (customer, code, days ago, value)
PLAN = [
    ("a", "api.call", 0, "120"),
    ("a", "api.call", 1, "80"),
    ("a", "api.call", 2, "15.5"),
    ("a", "storage.gb", 0, "3.25"),
    ("b", "api.call", 0, "1000"),
    ("b", "api.call", 3, "7"),
    ("b", "seat.active", 1, "1"),
]


@dataclass
class World:
    db: Database
    ids: dict[str, uuid.UUID]
    names: dict[str, str]


def _record(db: Database, ids: dict[str, uuid.UUID]) -> None:
    with db.unit_of_work("monitoring", SYSTEM) as session:
        service, _ = usage.create_service(session, name="Demo app")
        events = [
            {
                "idempotency_key": f"e{n}",
                "customer_id": str(ids[who]),
                "code": code,
                "timestamp": (NOW - timedelta(days=days, minutes=1)).isoformat(),
                "value": value,
            }
            for n, (who, code, days, value) in enumerate(PLAN)
        ]
        outcomes = usage.record(session, service, events, now=NOW)
        assert all(o.status == "accepted" for o in outcomes)


@pytest.fixture
def world(database: Database) -> World:
    names = {"a": "Alpha Trading B.V.", "b": "Bravo Logistiek B.V."}
    alpha, _ = make_customer(database, legal_name=names["a"], contacts=0)
    bravo, _ = make_customer(
        database, legal_name=names["b"], billing_email="billing@bravo.example", contacts=0
    )
    ids = {"a": alpha.id, "b": bravo.id}
    make_user(database, customer_id=alpha.id, email="adam@alpha.example", role=UserRole.admin)
    make_user(database, customer_id=alpha.id, email="mia@alpha.example")
    for role in StaffRole:
        make_staff(database, role=role, email=f"{role.value}@lawful.example")
    _record(database, ids)
    return World(database, ids, names)


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    with console_client(database) as client:
        yield client


def as_staff(client: TestClient, role: StaffRole) -> TestClient:
    assert sign_in(client, f"{role.value}@lawful.example").status_code == 303
    return client


def as_user(client: TestClient, email: str) -> TestClient:
    client.get("/portal/login")
    data = {
        "email": email,
        "password": "correct horse battery staple",
        "csrf_token": client.cookies[CSRF_COOKIE],
    }
    assert client.post("/portal/login", data=data).status_code == 303
    return client


def in_month(day_offset: int) -> bool:
    return (NOW - timedelta(days=day_offset, minutes=1)).date() >= MONTH


def expected_totals() -> dict[tuple[str, str], tuple[int, Decimal]]:
    """Events and total value per (customer, code) in this month, from the plan."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for who, code, days, value in PLAN:
        if in_month(days):
            counts[(who, code)] += 1
            sums[(who, code)] += Decimal(value)
    return {k: (counts[k], sums[k]) for k in counts}


ROW = re.compile(
    r'<th scope="row"><a href="/console/usage/([0-9a-f-]+)\?month=[0-9-]+">[^<]+</a></th>\s*'
    r'<td><code>([^<]+)</code></td>\s*<td class="num">([0-9,]+)</td>\s*<td class="num">([0-9,.\-]+)</td>'
)


def table_rows(html: str, world: World) -> list[tuple[str, str, int, Decimal]]:
    by_id = {str(v): k for k, v in world.ids.items()}
    return [
        (by_id[cid], code, int(events.replace(",", "")), Decimal(value.replace(",", "")))
        for cid, code, events, value in ROW.findall(html)
    ]


# --- finance: the overview ----------------------------------------------------------------------


def test_finance_sees_every_customer_per_code_sorted_by_total(client: TestClient, world: World) -> None:
    as_staff(client, StaffRole.finance)
    page = client.get("/console/usage", params={"month": f"{MONTH:%Y-%m}"})
    assert page.status_code == 200, page.text
    assert_accessible(page.text)
    expected = expected_totals()
    rows = table_rows(page.text, world)
    assert {(w, c): (n, v) for w, c, n, v in rows} == expected
    assert [v for *_, v in rows] == sorted((v for _, v in expected.values()), reverse=True)
    for who, name in world.names.items():
        if any(k[0] == who for k in expected):
            assert name in page.text
    ascending = table_rows(
        client.get("/console/usage", params={"month": f"{MONTH:%Y-%m}", "order": "asc"}).text, world
    )
    assert [v for *_, v in ascending] == sorted(v for _, v in expected.values())
    by_customer = client.get(
        "/console/usage", params={"month": f"{MONTH:%Y-%m}", "sort": "customer", "order": "asc"}
    )
    names = [world.names[w] for w, *_ in table_rows(by_customer.text, world)]
    assert names == sorted(names)
    only = table_rows(
        client.get("/console/usage", params={"month": f"{MONTH:%Y-%m}", "code": "api.call"}).text, world
    )
    assert {(w, c) for w, c, *_ in only} == {k for k in expected if k[1] == "api.call"}


def test_the_overview_totals_each_code(client: TestClient, world: World) -> None:
    as_staff(client, StaffRole.finance)
    page = client.get("/console/usage").text
    per_code: dict[str, Decimal] = defaultdict(Decimal)
    for (_, code), (_, value) in expected_totals().items():
        per_code[code] += value
    for code, value in per_code.items():
        assert f'<th scope="row"><code>{code}</code></th>' in page
        assert f'<td class="num">{amount(value)}</td>' in page


def test_a_month_without_usage_says_so(client: TestClient, world: World) -> None:
    as_staff(client, StaffRole.finance)
    page = client.get("/console/usage", params={"month": "2001-02"})
    assert page.status_code == 200
    assert "No usage was reported for February 2001." in page.text
    assert client.get("/console/usage", params={"month": "last month"}).status_code == 422


def test_one_customers_month_has_a_daily_chart(client: TestClient, world: World) -> None:
    as_staff(client, StaffRole.finance)
    page = client.get(f"/console/usage/{world.ids['a']}", params={"month": f"{MONTH:%Y-%m}"})
    assert page.status_code == 200, page.text
    assert_accessible(page.text)
    assert world.names["a"] in page.text and world.names["b"] not in page.text
    days_in_month = ((MONTH.replace(day=28) + timedelta(days=4)).replace(day=1) - MONTH).days
    for code in ("api.call", "storage.gb"):
        days = {
            (NOW - timedelta(days=d, minutes=1)).date(): v
            for w, c, d, v in PLAN
            if w == "a" and c == code and in_month(d)
        }
        if not days:
            continue
        chart = page.text[page.text.index(f"<code>{code}</code> per day") :]
        svg = chart[chart.index("<svg") : chart.index("</svg>")]
        bars = re.findall(r'<rect class="bar"[^>]*><title>([0-9-]+): ([0-9,.]+) \(', svg)
        assert {date.fromisoformat(d): Decimal(v.replace(",", "")) for d, v in bars} == {
            d: Decimal(v) for d, v in days.items()
        }
        assert 'role="img"' in svg and days_in_month >= 28
    assert client.get(f"/console/usage/{uuid.uuid4()}").status_code == 404


@pytest.mark.parametrize(
    "role", [StaffRole.support, StaffRole.admin, StaffRole.analyst, StaffRole.privacy_officer]
)
def test_the_usage_pages_are_for_finance(client: TestClient, world: World, role: StaffRole) -> None:
    as_staff(client, role)
    for path in ("/console/usage", f"/console/usage/{world.ids['a']}"):
        response = client.get(path)
        assert response.status_code == 403, (role, path)
        assert world.names["a"] not in response.text
    assert '<a href="/console/usage">' not in client.get("/console/profile").text


def test_the_navigation_shows_usage_to_finance_and_services_to_the_admin(
    client: TestClient, world: World
) -> None:
    as_staff(client, StaffRole.finance)
    page = client.get("/console/usage").text
    assert '<a href="/console/usage" aria-current="page">Usage</a>' in page
    assert ">Usage services</a>" not in page
    client.post("/console/logout", data={"csrf_token": client.cookies[CSRF_COOKIE]})
    as_staff(client, StaffRole.admin)
    page = client.get("/console/profile").text
    assert '<a href="/console/usage-services">Usage services</a>' in page
    assert '<a href="/console/usage">' not in page


# --- the admin: usage services ----------------------------------------------------------------------


def test_an_admin_registers_a_service_and_its_key_is_shown_once(client: TestClient, world: World) -> None:
    as_staff(client, StaffRole.admin)
    page = client.get("/console/usage-services")
    assert page.status_code == 200
    assert_accessible(page.text)
    assert "Demo app" in page.text
    created = post(client, "/console/usage-services", {"name": "Billing bridge"})
    assert created.status_code == 201, created.text
    key = re.search(r'<code id="new-key">(lwu_[^<]+)</code>', created.text)
    assert key is not None
    with world.db.unit_of_work("monitoring", SYSTEM) as session:
        assert usage.authenticate(session, key.group(1)).name == "Billing bridge"
    assert key.group(1) not in client.get("/console/usage-services").text
    again = post(client, "/console/usage-services", {"name": "Billing bridge"})
    assert again.status_code == 409 and "exists already" in again.text
    with world.db.unit_of_work("monitoring", SYSTEM) as session:
        service_id = next(s.id for s in usage.list_services(session) if s.name == "Billing bridge")
    rotated = post(client, f"/console/usage-services/{service_id}/rotate")
    assert rotated.status_code == 200
    new_key = re.search(r'<code id="new-key">(lwu_[^<]+)</code>', rotated.text)
    assert new_key is not None and new_key.group(1) != key.group(1)
    revoked = post(client, f"/console/usage-services/{service_id}/revoke")
    assert revoked.status_code == 303 and revoked.headers["location"] == "/console/usage-services?revoked=1"
    assert (
        "The key is revoked; the usage it reported stays counted."
        in client.get(revoked.headers["location"]).text
    )
    with world.db.unit_of_work("monitoring", SYSTEM) as session:
        for secret in (key.group(1), new_key.group(1)):
            with pytest.raises(Exception, match="not valid"):
                usage.authenticate(session, secret)


def test_the_service_forms_need_the_csrf_token(client: TestClient, world: World) -> None:
    as_staff(client, StaffRole.admin)
    refused = post(client, "/console/usage-services", {"name": "Sneaky"}, token=False)
    assert refused.status_code == 403
    with world.db.unit_of_work("monitoring", SYSTEM) as session:
        assert [s.name for s in usage.list_services(session)] == ["Demo app"]


@pytest.mark.parametrize("role", [StaffRole.analyst, StaffRole.finance, StaffRole.support])
def test_the_service_pages_are_for_the_admin(client: TestClient, world: World, role: StaffRole) -> None:
    as_staff(client, role)
    assert client.get("/console/usage-services").status_code == 403
    assert post(client, "/console/usage-services", {"name": "Not mine"}).status_code == 403
    with world.db.unit_of_work("monitoring", SYSTEM) as session:
        assert [s.name for s in usage.list_services(session)] == ["Demo app"]


# --- the portal ------------------------------------------------------------------------------------


def test_a_customer_admin_sees_their_companys_usage(client: TestClient, world: World) -> None:
    as_user(client, "adam@alpha.example")
    page = client.get("/portal/usage", params={"month": f"{MONTH:%Y-%m}"})
    assert page.status_code == 200, page.text
    assert_accessible(page.text)
    assert '<a href="/portal/usage" aria-current="page">Usage</a>' in page.text
    expected = {c: v for (w, c), v in expected_totals().items() if w == "a"}
    for code, (events, value) in expected.items():
        row = (
            f'<code>{code}</code></a></th><td class="num">{events:,}</td><td class="num">{amount(value)}</td>'
        )
        assert row in page.text
    b_only = {c for (w, c) in expected_totals() if w == "b"} - set(expected)
    for code in b_only:
        assert f"<code>{code}</code>" not in page.text
    assert world.names["b"] not in page.text
    assert page.text.count('<svg class="chart"') == len(expected)


def test_a_member_may_not_see_the_usage(client: TestClient, world: World) -> None:
    as_user(client, "mia@alpha.example")
    assert client.get("/portal/usage").status_code == 403
    assert '<a href="/portal/usage"' not in client.get("/portal/").text
