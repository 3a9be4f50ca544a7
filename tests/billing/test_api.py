"""The billing API on both backends: a month billed from metrics and a plan created through the
API to a finalised, numbered invoice with its documents, a credit note and the revenue they make;
the legal hold shown with every invoice; refusals of bad input that change nothing; which staff
roles reach which routes; and a customer's admin seeing their own company's billing only.

Expected amounts are worked out here from the prices and the usage recorded, not read back from
the code under test.
"""

from __future__ import annotations

import uuid
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
from tests.billing.helpers import make_service, record_usage
from tests.factories import FAST, SYSTEM, api_sign_in, make_customer, make_staff, make_user

from lawful.billing.models import BillingRun, Invoice, Metric, Plan, Subscription
from lawful.data import log_repository
from lawful.data.db import Database
from lawful.users.models import StaffRole, UserRole
from lawful.web.app import create_app

API = "/api/v1/billing"
PORTAL = "/api/v1/portal"
VAT = Decimal("0.21")


@dataclass
class World:
    db: Database
    app: FastAPI
    a: uuid.UUID
    b: uuid.UUID


@pytest.fixture
def world(database: Database) -> World:
    alpha, _ = make_customer(database, legal_name="Alpha Trading B.V.", contacts=0)
    bravo, _ = make_customer(
        database, legal_name="Bravo Logistiek B.V.", billing_email="billing@bravo.example", contacts=0
    )
    make_user(database, customer_id=alpha.id, email="adam@alpha.example", role=UserRole.admin)
    make_user(database, customer_id=alpha.id, email="mia@alpha.example")
    make_user(database, customer_id=bravo.id, email="bea@bravo.example", role=UserRole.admin)
    for role in (StaffRole.finance, StaffRole.support, StaffRole.admin):
        make_staff(database, role=role, email=f"{role.value}@lawful.example")
    return World(database, create_app(FAST, db=database), alpha.id, bravo.id)


@pytest.fixture
def clients(world: World) -> Iterator[dict[str, TestClient]]:
    made: dict[str, TestClient] = {}
    logins = {
        "admin_a": ("adam@alpha.example", False),
        "member_a": ("mia@alpha.example", False),
        "admin_b": ("bea@bravo.example", False),
        **{role: (f"{role}@lawful.example", True) for role in ("finance", "support", "admin")},
    }
    for who, (email, staff) in logins.items():
        client = TestClient(world.app, raise_server_exceptions=False)
        api_sign_in(client, email=email, staff=staff)
        made[who] = client
    made["nobody"] = TestClient(world.app, raise_server_exceptions=False)
    yield made
    for client in made.values():
        client.close()


# --- helpers ----------------------------------------------------------------------------------


def today() -> date:
    return datetime.now(UTC).date()


def month_start(day: date) -> date:
    return day.replace(day=1)


def last_month() -> date:
    return month_start(month_start(today()) - timedelta(days=1))


def key(period: date) -> str:
    return f"{period:%Y-%m}"


def two(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01')):.2f}"


def ok(response: Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error["status"] == status and error["code"] and error["message"]
    return error


def count(db: Database, model: type[Any]) -> int:
    with db.unit_of_work("contract", SYSTEM) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


STARTER = {
    "code": "starter",
    "name": "Starter",
    "base_fee": "19.00",
    "description": "For small teams",
    "charges": [
        {
            "metric_code": "api_calls",
            "model": "standard",
            "pricing": {"unit_price": "0.5"},
            "included": "10",
        }
    ],
}
CALLS = {
    "code": "api_calls",
    "name": "API calls",
    "event_code": "api.call",
    "aggregation": "count",
    "unit": "calls",
}


def starter_catalogue(finance: TestClient) -> dict[str, Any]:
    """The api_calls metric and the Starter plan (19.00 a month, calls at 0.50 after 10 free)."""
    ok(finance.post(f"{API}/metrics", json=CALLS), 201)
    plan: dict[str, Any] = ok(finance.post(f"{API}/plans", json=STARTER), 201)
    return plan


# --- the whole flow ---------------------------------------------------------------------------


def test_a_month_billed_finalised_credited_and_counted_in_revenue(
    world: World, clients: dict[str, TestClient]
) -> None:
    finance = clients["finance"]
    metric = ok(finance.post(f"{API}/metrics", json=CALLS), 201)
    assert (metric["code"], metric["aggregation"], metric["unit"], metric["filters"]) == (
        "api_calls",
        "count",
        "calls",
        {},
    )
    assert [m["id"] for m in ok(finance.get(f"{API}/metrics"))["items"]] == [metric["id"]]
    plan = ok(finance.post(f"{API}/plans", json=STARTER), 201)
    assert (plan["base_fee"], plan["minimum"], plan["currency"], plan["active"]) == (
        "19.00",
        "0.00",
        "EUR",
        True,
    )
    [charge] = plan["charges"]
    assert (charge["metric_code"], charge["model"], charge["included"]) == ("api_calls", "standard", "10")
    assert charge["pricing"]["unit_price"] == "0.5" and charge["pricing"]["tiers"] is None
    assert ok(finance.get(f"{API}/plans/{plan['id']}")) == plan
    assert [p["id"] for p in ok(finance.get(f"{API}/plans"))["items"]] == [plan["id"]]

    period = last_month()
    subscription = ok(
        finance.post(
            f"{API}/customers/{world.a}/subscriptions",
            json={"plan_id": plan["id"], "starts_on": period.isoformat()},
        ),
        201,
    )
    assert (subscription["plan_code"], subscription["starts_on"], subscription["ends_on"]) == (
        "starter",
        period.isoformat(),
        None,
    )
    listed = ok(finance.get(f"{API}/customers/{world.a}/subscriptions"))["items"]
    assert [s["id"] for s in listed] == [subscription["id"]]

    calls = 30
    record_usage(
        world.db,
        make_service(world.db),
        world.a,
        code="api.call",
        day=period + timedelta(days=4),
        count=calls,
    )
    usage = (calls - 10) * Decimal("0.5")
    net = Decimal("19.00") + usage + Decimal("19.00")  # the month's fee, the usage, next month in advance
    vat = (net * VAT).quantize(Decimal("0.01"))

    summary = ok(finance.post(f"{API}/runs", json={"period": key(period)}), 201)
    assert (summary["period"], summary["subscriptions"], summary["created"]) == (key(period), 1, 1)
    assert summary["total"] == two(net + vat)
    assert [r["id"] for r in ok(finance.get(f"{API}/runs"))["items"]] == [summary["run_id"]]

    drafts = ok(finance.get(f"{API}/invoices", params={"status": "draft", "customer_id": str(world.a)}))[
        "items"
    ]
    [draft] = drafts
    assert (draft["number"], draft["period"], draft["net"], draft["vat"]) == (
        None,
        key(period),
        two(net),
        two(vat),
    )
    assert ok(finance.get(f"{API}/invoices", params={"customer_id": str(world.b)}))["items"] == []
    shown = ok(finance.get(f"{API}/invoices/{draft['id']}"))
    assert [line["amount"] for line in shown["lines"]] == ["19.00", two(usage), "19.00"]
    usage_line = shown["lines"][1]
    assert (usage_line["quantity"], usage_line["unit_price"], usage_line["vat_rate"]) == (
        str(calls - 10),
        "0.5",
        "21",
    )
    assert shown["buyer"]["name"] == "Alpha Trading B.V." and shown["buyer"]["city"] == "Amsterdam"
    assert shown["hold"]["held"] is False and shown["hold"]["until"] is None
    refused(finance.get(f"{API}/invoices/{draft['id']}/pdf"), 409)
    refused(clients["admin_a"].get(f"{PORTAL}/invoices/{draft['id']}/pdf"), 404)
    assert ok(clients["admin_a"].get(f"{PORTAL}/invoices"))["items"] == []

    finalised = ok(finance.post(f"{API}/runs/{key(period)}/finalise"))
    number = f"{today().year}-000001"
    assert finalised == {"period": key(period), "numbers": [number], "failed": []}
    invoice = ok(finance.get(f"{API}/invoices/{draft['id']}"))
    assert (invoice["status"], invoice["number"], invoice["issue_date"]) == (
        "finalised",
        number,
        today().isoformat(),
    )
    assert (invoice["net"], invoice["vat"], invoice["total"]) == (two(net), two(vat), two(net + vat))
    assert invoice["hold"]["held"] is True
    assert invoice["hold"]["until"] == date(today().year + 7, 12, 31).isoformat()
    assert invoice["hold"]["purpose"] == "legal_obligation" and invoice["hold"]["why"]
    refused(finance.post(f"{API}/invoices/{draft['id']}/finalise"), 409)

    pdf = finance.get(f"{API}/invoices/{draft['id']}/pdf")
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == f'attachment; filename="{number}.pdf"'
    assert pdf.content.startswith(b"%PDF")
    assert finance.get(f"{API}/invoices/{draft['id']}/pdf").content == pdf.content  # stored, not re-rendered
    ubl = finance.get(f"{API}/invoices/{draft['id']}/ubl")
    assert ubl.status_code == 200 and ubl.headers["content-type"].startswith("application/xml")
    assert f"<cbc:ID>{number}</cbc:ID>".encode() in ubl.content

    note = ok(
        finance.post(
            f"{API}/invoices/{draft['id']}/credit-notes", json={"reason": "Outage on the 3rd", "amount": "10"}
        ),
        201,
    )
    assert (note["type"], note["number"], note["corrects_id"]) == (
        "credit_note",
        f"C{today().year}-000001",
        draft["id"],
    )
    assert (note["net"], note["vat"], note["total"], note["reason"]) == (
        "10.00",
        "2.10",
        "12.10",
        "Outage on the 3rd",
    )
    invoices_before = count(world.db, Invoice)
    too_much = refused(
        finance.post(
            f"{API}/invoices/{draft['id']}/credit-notes", json={"reason": "More", "amount": two(net - 9)}
        ),
        422,
    )
    assert too_much["detail"] == {"field": "amount"}
    refused(
        finance.post(f"{API}/invoices/{draft['id']}/credit-notes", json={"reason": "All"}), 409
    )  # partly credited
    assert count(world.db, Invoice) == invoices_before

    month = key(today())
    revenue = ok(finance.get(f"{API}/revenue", params={"from": month, "to": month}))
    assert revenue["items"] == [
        {
            "month": month,
            "invoiced": two(net),
            "credited": "10.00",
            "net": two(net - 10),
            "vat": two(vat - Decimal("2.10")),
            "invoices": 1,
            "credit_notes": 1,
        }
    ]

    # the customer's admin: their finalised invoice and credit note, and the documents of them only
    portal = ok(clients["admin_a"].get(f"{PORTAL}/invoices"))["items"]
    assert sorted(i["number"] for i in portal) == sorted([number, note["number"]])
    assert ok(clients["admin_b"].get(f"{PORTAL}/invoices"))["items"] == []
    mine = clients["admin_a"].get(f"{PORTAL}/invoices/{draft['id']}/pdf")
    assert mine.status_code == 200 and mine.content == pdf.content
    assert clients["admin_a"].get(f"{PORTAL}/invoices/{draft['id']}/ubl").content == ubl.content
    refused(clients["admin_b"].get(f"{PORTAL}/invoices/{draft['id']}/pdf"), 404)
    refused(clients["admin_b"].get(f"{PORTAL}/invoices/{draft['id']}/ubl"), 404)
    refused(clients["member_a"].get(f"{PORTAL}/invoices/{draft['id']}/pdf"), 403)
    refused(clients["finance"].get(f"{PORTAL}/invoices/{draft['id']}/pdf"), 403)

    # invoices are read under the purpose that keeps them
    with world.db.unit_of_work("accountability", SYSTEM) as session:
        reads = log_repository.search(session, purpose="legal_obligation", table="invoices", limit=500)
        assert reads and all(r.actor_kind == "staff" for r in reads)


def test_a_draft_is_finalised_alone_once_its_month_is_over(
    world: World, clients: dict[str, TestClient]
) -> None:
    finance = clients["finance"]
    plan = starter_catalogue(finance)
    previous = last_month()
    ok(
        finance.post(
            f"{API}/customers/{world.a}/subscriptions",
            json={"plan_id": plan["id"], "starts_on": previous.isoformat()},
        ),
        201,
    )
    this_month = month_start(today())
    ok(finance.post(f"{API}/runs", json={"period": key(this_month)}), 201)
    ok(finance.post(f"{API}/runs", json={"period": key(previous)}), 201)
    drafts = {i["period"]: i for i in ok(finance.get(f"{API}/invoices", params={"status": "draft"}))["items"]}
    assert sorted(drafts) == sorted([key(previous), key(this_month)])

    current = drafts[key(this_month)]["id"]
    refused(finance.post(f"{API}/invoices/{current}/finalise"), 422)
    refused(finance.post(f"{API}/runs/{key(this_month)}/finalise"), 422)
    assert ok(finance.get(f"{API}/invoices/{current}"))["status"] == "draft"

    done = ok(finance.post(f"{API}/invoices/{drafts[key(previous)]['id']}/finalise"))
    assert (done["status"], done["number"]) == ("finalised", f"{today().year}-000001")
    assert done["hold"]["held"] is True
    refused(finance.post(f"{API}/invoices/{drafts[key(previous)]['id']}/finalise"), 409)
    only = ok(finance.get(f"{API}/invoices", params={"status": "finalised", "period": key(previous)}))[
        "items"
    ]
    assert [i["id"] for i in only] == [done["id"]]
    refused(finance.post(f"{API}/invoices/{uuid.uuid4()}/finalise"), 404)


# --- bad input: a 4xx with the one error body, and nothing changed ------------------------------


def test_bad_catalogue_input_is_refused_and_nothing_is_stored(
    world: World, clients: dict[str, TestClient]
) -> None:
    finance = clients["finance"]
    ok(finance.post(f"{API}/metrics", json=CALLS), 201)

    def plan_with(**changes: Any) -> dict[str, Any]:
        return {**STARTER, "code": "bad", **changes}

    def charge(model: str, pricing: dict[str, Any], metric: str = "api_calls") -> list[dict[str, Any]]:
        return [{"metric_code": metric, "model": model, "pricing": pricing}]

    cases: list[tuple[dict[str, Any], int, str]] = [
        (
            plan_with(charges=charge("standard", {"tiers": [{"up_to": None, "unit_price": "1"}]})),
            422,
            "pricing",
        ),
        (
            plan_with(
                charges=charge(
                    "graduated",
                    {
                        "tiers": [
                            {"up_to": "100", "unit_price": "1"},
                            {"up_to": "50", "unit_price": "1"},
                            {"unit_price": "1"},
                        ]
                    },
                )
            ),
            422,
            "pricing",
        ),
        (plan_with(charges=charge("package", {"package_size": "0", "package_price": "5"})), 422, "pricing"),
        (plan_with(charges=charge("standard", {"unit_price": "1"}, metric="no_such_metric")), 422, "charges"),
        (plan_with(currency="USD"), 422, "currency"),
        (plan_with(code="Bad Code"), 422, ""),
        (plan_with(base_fee="19.001"), 422, ""),
        (plan_with(base_fee=19.5), 422, ""),  # money is a string, never a JSON number
        (plan_with(charges=charge("standard", {"unit_price": 0.5})), 422, ""),
        (plan_with(charges=charge("standard", {"unit_price": "1", "colour": "red"})), 422, ""),
    ]
    for body, status, field in cases:
        error = refused(finance.post(f"{API}/plans", json=body), status)
        if field:
            assert error["detail"] == {"field": field}, (body, error)
    assert count(world.db, Plan) == 0  # a plan whose charge is refused is not kept half-made

    refused(finance.post(f"{API}/metrics", json=CALLS), 409)
    refused(
        finance.post(f"{API}/metrics", json={**CALLS, "code": "seats", "aggregation": "unique_count"}), 422
    )
    refused(finance.post(f"{API}/metrics", json={**CALLS, "code": "other", "distinct_property": "seat"}), 422)
    refused(finance.post(f"{API}/metrics", json={**CALLS, "code": "other", "aggregation": "median"}), 422)
    refused(finance.post(f"{API}/metrics", json={**CALLS, "code": "other", "filters": {"region": 1.5}}), 422)
    assert count(world.db, Metric) == 1
    filtered = ok(
        finance.post(
            f"{API}/metrics", json={**CALLS, "code": "eu_calls", "filters": {"region": ["eu"], "paid": True}}
        ),
        201,
    )
    assert filtered["filters"] == {"paid": ["true"], "region": ["eu"]}

    graduated = ok(
        finance.post(
            f"{API}/plans",
            json=plan_with(
                code="tiered",
                charges=charge(
                    "graduated",
                    {
                        "tiers": [
                            {"up_to": "10000", "unit_price": "0.0020"},
                            {"up_to": None, "unit_price": "0.001", "flat_fee": "5"},
                        ]
                    },
                ),
            ),
        ),
        201,
    )
    assert graduated["charges"][0]["pricing"]["tiers"] == [
        {"up_to": "10000", "unit_price": "0.002", "flat_fee": "0"},
        {"up_to": None, "unit_price": "0.001", "flat_fee": "5"},
    ]
    refused(finance.get(f"{API}/plans/{uuid.uuid4()}"), 404)


def test_bad_subscriptions_periods_and_ranges_are_refused(
    world: World, clients: dict[str, TestClient]
) -> None:
    finance = clients["finance"]
    plan = starter_catalogue(finance)
    subscriptions = f"{API}/customers/{world.a}/subscriptions"
    refused(finance.post(subscriptions, json={"plan_id": str(uuid.uuid4()), "starts_on": "2026-01-01"}), 404)
    refused(
        finance.post(
            f"{API}/customers/{uuid.uuid4()}/subscriptions",
            json={"plan_id": plan["id"], "starts_on": "2026-01-01"},
        ),
        404,
    )
    refused(finance.get(f"{API}/customers/{uuid.uuid4()}/subscriptions"), 404)
    refused(finance.post(f"{subscriptions}/cancel", json={"on": "2026-02-01"}), 404)  # nothing to cancel

    archived = ok(finance.post(f"{API}/plans/{plan['id']}/archive"))
    assert archived["active"] is False
    assert ok(finance.get(f"{API}/plans", params={"active_only": "true"}))["items"] == []
    refused(finance.post(subscriptions, json={"plan_id": plan["id"], "starts_on": "2026-01-01"}), 422)
    assert ok(finance.post(f"{API}/plans/{plan['id']}/activate"))["active"] is True
    ok(finance.post(subscriptions, json={"plan_id": plan["id"], "starts_on": "2026-01-01"}), 201)
    refused(finance.post(subscriptions, json={"plan_id": plan["id"], "starts_on": "2026-01-01"}), 409)
    refused(finance.post(f"{subscriptions}/cancel", json={"on": "2026-01-01"}), 422)  # the day it starts
    cancelled = ok(finance.post(f"{subscriptions}/cancel", json={"on": "2026-03-01"}))
    assert cancelled["ends_on"] == "2026-03-01"
    assert count(world.db, Subscription) == 1

    for period in ("2026-13", "2026-1", "next month", "0000-01"):
        refused(finance.post(f"{API}/runs", json={"period": period}), 422)
    ahead = month_start(today()) + timedelta(days=32)
    refused(finance.post(f"{API}/runs", json={"period": key(ahead)}), 422)
    assert count(world.db, BillingRun) == 0
    refused(finance.post(f"{API}/runs/not-a-month/finalise"), 404)
    refused(finance.post(f"{API}/runs/{key(ahead)}/finalise"), 422)

    refused(finance.get(f"{API}/revenue", params={"from": "2026-13"}), 422)
    refused(finance.get(f"{API}/revenue", params={"from": "2026-05", "to": "2026-04"}), 422)
    refused(finance.get(f"{API}/revenue", params={"from": "2000-01", "to": "2026-04"}), 422)
    assert len(ok(finance.get(f"{API}/revenue", params={"from": "2025-11", "to": "2026-04"}))["items"]) == 6
    refused(finance.get(f"{API}/invoices", params={"period": "May"}), 422)
    refused(finance.get(f"{API}/invoices", params={"limit": "0"}), 422)
    refused(finance.get(f"{API}/invoices/{uuid.uuid4()}"), 404)
    refused(finance.post(f"{API}/invoices/{uuid.uuid4()}/credit-notes", json={"reason": "x"}), 404)


# --- who may do what --------------------------------------------------------------------------

FINANCE_ONLY = [
    ("POST", f"{API}/metrics", CALLS),
    ("POST", f"{API}/plans", STARTER),
    ("POST", f"{API}/runs", {"period": "2026-01"}),
    ("GET", f"{API}/runs", None),
    ("GET", f"{API}/invoices", None),
    ("GET", f"{API}/revenue", None),
]


def test_only_finance_works_on_invoices_and_support_reads_the_catalogue(
    world: World, clients: dict[str, TestClient]
) -> None:
    plan = starter_catalogue(clients["finance"])
    routes = [
        *FINANCE_ONLY,
        (
            "POST",
            f"{API}/customers/{world.a}/subscriptions",
            {"plan_id": plan["id"], "starts_on": "2026-01-01"},
        ),
        ("POST", f"{API}/plans/{plan['id']}/archive", None),
    ]
    for who in ("support", "admin"):
        for method, path, body in routes:
            error = refused(clients[who].request(method, path, json=body), 403)
            assert "legal_obligation" in error["message"], (who, path)
        for path in (
            f"{API}/metrics",
            f"{API}/plans",
            f"{API}/plans/{plan['id']}",
            f"{API}/customers/{world.a}/subscriptions",
        ):
            assert clients[who].get(path).status_code == 200, (who, path)
    for who in ("admin_a", "member_a"):
        for method, path, body in [*routes, ("GET", f"{API}/metrics", None)]:
            refused(clients[who].request(method, path, json=body), 403)
    refused(clients["nobody"].get(f"{API}/invoices"), 401)
    refused(clients["nobody"].get(f"{PORTAL}/billing"), 401)
    assert count(world.db, Metric) == 1 and count(world.db, Plan) == 1 and count(world.db, BillingRun) == 0


def test_the_portal_shows_an_admin_their_plan_and_this_months_estimate(
    world: World, clients: dict[str, TestClient]
) -> None:
    plan = starter_catalogue(clients["finance"])
    start = month_start(today())
    ok(
        clients["finance"].post(
            f"{API}/customers/{world.a}/subscriptions",
            json={"plan_id": plan["id"], "starts_on": start.isoformat()},
        ),
        201,
    )
    record_usage(world.db, make_service(world.db), world.a, code="api.call", day=today(), count=14)
    billing = ok(clients["admin_a"].get(f"{PORTAL}/billing"))
    assert billing["subscription"]["plan"]["code"] == "starter"
    assert billing["subscription"]["starts_on"] == start.isoformat()
    estimate = billing["estimate"]
    usage = (14 - 10) * Decimal("0.5")
    net = Decimal("19.00") + usage + Decimal("19.00")
    assert (estimate["period"], estimate["as_of"], estimate["vat_rate"]) == (
        key(start),
        today().isoformat(),
        "21",
    )
    assert [line["amount"] for line in estimate["lines"]] == ["19.00", two(usage), "19.00"]
    assert (estimate["net"], estimate["vat"]) == (two(net), two(net * VAT))
    assert estimate["total"] == two(net + (net * VAT).quantize(Decimal("0.01")))
    assert count(world.db, Invoice) == 0  # an estimate is not stored

    assert ok(clients["admin_b"].get(f"{PORTAL}/billing")) == {"subscription": None, "estimate": None}
    refused(clients["member_a"].get(f"{PORTAL}/billing"), 403)
    refused(clients["member_a"].get(f"{PORTAL}/invoices"), 403)
    refused(clients["finance"].get(f"{PORTAL}/billing"), 403)
