"""The agreements API on both backends: concluding an agreement for a customer and listing its
records; refusals with the error body that store nothing; subscribing, changing plan and
cancelling through the billing API leave records with the price of that moment; the published
documents' versions and their diffs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select
from tests.billing.helpers import standard_catalogue
from tests.factories import FAST, SYSTEM, api_sign_in, make_customer, make_staff, make_user

from lawful.agreements import documents
from lawful.agreements.models import Agreement, DocumentKind
from lawful.customers.models import Customer, CustomerStatus
from lawful.data.db import Database
from lawful.users.models import StaffRole, UserRole
from lawful.web.app import create_app

BILLING = "/api/v1/billing"
NOTE = "signed order form 2026-11-28"


@dataclass
class World:
    db: Database
    app: FastAPI
    customer: uuid.UUID
    plans: dict[str, uuid.UUID]
    staff: dict[str, uuid.UUID]


@pytest.fixture
def world(database: Database) -> World:
    plans = standard_catalogue(database)
    customer, _ = make_customer(database, legal_name="Alpha Trading B.V.", contacts=0)
    make_user(database, customer_id=customer.id, email="adam@alpha.example", role=UserRole.admin)
    staff = {
        role.value: make_staff(
            database, role=role, email=f"{role.value}@lawful.example", name=f"{role.value} one"
        ).id
        for role in (StaffRole.finance, StaffRole.support, StaffRole.admin)
    }
    return World(
        database,
        create_app(FAST, db=database),
        customer.id,
        {code: plan.id for code, plan in plans.items()},
        staff,
    )


@pytest.fixture
def clients(world: World) -> Iterator[dict[str, TestClient]]:
    made: dict[str, TestClient] = {}
    for who in ("finance", "support", "admin"):
        made[who] = TestClient(world.app, raise_server_exceptions=False)
        api_sign_in(made[who], email=f"{who}@lawful.example", staff=True)
    made["user"] = TestClient(world.app, raise_server_exceptions=False)
    api_sign_in(made["user"], email="adam@alpha.example")
    made["nobody"] = TestClient(world.app, raise_server_exceptions=False)
    yield made
    for client in made.values():
        client.close()


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


def records(db: Database) -> int:
    with db.unit_of_work("contract", SYSTEM) as session:
        return int(session.scalar(select(func.count()).select_from(Agreement)) or 0)


def customer_of(db: Database, customer_id: uuid.UUID) -> Customer:
    with db.unit_of_work("contract", SYSTEM) as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        return customer


TERMS = documents.terms_document(None)


# --- concluding and listing -------------------------------------------------------------------


def test_finance_concludes_an_agreement_and_staff_read_its_record(
    world: World, clients: dict[str, TestClient]
) -> None:
    url = f"/api/v1/customers/{world.customer}/agreements"
    assert ok(clients["support"].get(url)) == {"items": []}
    start = date.today()
    made = ok(
        clients["finance"].post(
            url, json={"plan_id": str(world.plans["starter"]), "starts_on": start.isoformat(), "note": NOTE}
        ),
        201,
    )
    statement = documents.statement_document(world.db.policy)
    assert made["event"] == "concluded" and made["channel"] == "console"
    assert made["staff_id"] == str(world.staff["finance"]) and made["note"] == NOTE
    assert (made["plan_code"], made["plan_name"], made["currency"]) == ("starter", "Starter", "EUR")
    assert (made["base_fee"], made["minimum"], made["effective_on"]) == ("19.00", "0.00", start.isoformat())
    [price] = made["prices"]
    assert (price["metric"], price["model"], price["pricing"], price["included"]) == (
        "api_calls",
        "standard",
        {"unit_price": "0.002"},
        "1000",
    )
    assert made["terms"]["digest"] == TERMS.digest and made["terms"]["kind"] == "terms"
    assert made["statement"]["digest"] == statement.digest and made["statement"]["published_at"]
    assert made["accepted_at"] and made["accepted_by"] is None and made["ip_address"] is None
    for who in ("support", "finance", "admin"):
        assert ok(clients[who].get(url))["items"] == [made]
    stored = customer_of(world.db, world.customer)
    assert (stored.contract_start, stored.contract_end, stored.status) == (start, None, CustomerStatus.active)
    # one runs now: concluding another is a conflict, and changes nothing
    error = refused(
        clients["finance"].post(
            url,
            json={
                "plan_id": str(world.plans["business"]),
                "starts_on": (start + timedelta(days=3)).isoformat(),
                "note": NOTE,
            },
        ),
        409,
    )
    assert "change its plan" in error["message"]
    assert records(world.db) == 1


def test_who_may_read_and_conclude(world: World, clients: dict[str, TestClient]) -> None:
    url = f"/api/v1/customers/{world.customer}/agreements"
    body = {"plan_id": str(world.plans["starter"]), "starts_on": date.today().isoformat(), "note": NOTE}
    refused(clients["nobody"].get(url), 401)
    refused(clients["user"].get(url), 403)
    for who in ("support", "admin", "user"):
        refused(clients[who].post(url, json=body), 403)
    refused(clients["nobody"].post(url, json=body), 401)
    refused(clients["support"].get(f"/api/v1/customers/{uuid.uuid4()}/agreements"), 404)
    assert records(world.db) == 0


@pytest.mark.parametrize(
    ("change", "status", "where"),
    [
        ({"plan_id": str(uuid.UUID(int=7))}, 404, "no such plan"),
        ({"plan_id": "starter"}, 422, "plan_id"),
        ({"starts_on": "28-11-2026"}, 422, "starts_on"),
        ({"starts_on": "1999-12-31"}, 422, "starts_on"),
        ({"note": "   "}, 422, "note"),
        ({"note": "x" * 501}, 422, "note"),
        ({"note": None}, 422, "note"),
    ],
)
def test_bad_input_is_refused_with_the_error_body_and_stores_nothing(
    world: World, clients: dict[str, TestClient], change: dict[str, Any], status: int, where: str
) -> None:
    body = {"plan_id": str(world.plans["starter"]), "starts_on": date.today().isoformat(), "note": NOTE}
    body.update(change)
    if change.get("note", "") is None:
        del body["note"]
    error = refused(
        clients["finance"].post(f"/api/v1/customers/{world.customer}/agreements", json=body), status
    )
    assert where in str(error)
    assert records(world.db) == 0
    assert customer_of(world.db, world.customer).contract_start is None


def test_an_unknown_customer_or_an_archived_plan_is_refused(
    world: World, clients: dict[str, TestClient]
) -> None:
    finance = clients["finance"]
    body = {"plan_id": str(world.plans["starter"]), "starts_on": date.today().isoformat(), "note": NOTE}
    refused(finance.post(f"/api/v1/customers/{uuid.uuid4()}/agreements", json=body), 404)
    ok(finance.post(f"{BILLING}/plans/{world.plans['starter']}/archive"))
    error = refused(finance.post(f"/api/v1/customers/{world.customer}/agreements", json=body), 422)
    assert "no longer offered" in error["message"]
    assert records(world.db) == 0


# --- the billing API records ------------------------------------------------------------------


def test_subscribing_changing_and_cancelling_through_billing_leave_records(
    world: World, clients: dict[str, TestClient]
) -> None:
    finance = clients["finance"]
    subscriptions = f"{BILLING}/customers/{world.customer}/subscriptions"
    start = date.today() - timedelta(days=60)
    change, end = start + timedelta(days=30), date.today()
    first = ok(
        finance.post(
            subscriptions, json={"plan_id": str(world.plans["starter"]), "starts_on": start.isoformat()}
        ),
        201,
    )
    assert (first["plan_code"], first["starts_on"], first["ends_on"]) == ("starter", start.isoformat(), None)
    second = ok(
        finance.post(
            subscriptions, json={"plan_id": str(world.plans["business"]), "starts_on": change.isoformat()}
        ),
        201,
    )
    assert (second["plan_code"], second["starts_on"]) == ("business", change.isoformat())
    # the plan is no longer offered: the record keeps the price agreed then
    ok(finance.post(f"{BILLING}/plans/{world.plans['business']}/archive"))
    cancelled = ok(finance.post(f"{subscriptions}/cancel", json={"on": end.isoformat()}))
    assert (cancelled["id"], cancelled["ends_on"]) == (second["id"], end.isoformat())

    items = ok(clients["support"].get(f"/api/v1/customers/{world.customer}/agreements"))["items"]
    assert [(i["event"], i["plan_code"], i["effective_on"]) for i in items] == [
        ("cancelled", "business", end.isoformat()),
        ("plan_changed", "business", change.isoformat()),
        ("concluded", "starter", start.isoformat()),
    ]
    assert all(i["channel"] == "console" and i["staff_id"] == str(world.staff["finance"]) for i in items)
    assert all(i["terms"]["digest"] == TERMS.digest for i in items)
    last = items[0]
    assert (last["base_fee"], last["minimum"]) == ("99.00", "150.00")
    assert [p["metric"] for p in last["prices"]] == ["api_calls", "storage_gb", "seats"]
    assert last["prices"][1]["pricing"] == {"package_size": "10", "package_price": "5"}
    stored = customer_of(world.db, world.customer)
    assert (stored.contract_end, stored.status) == (end, CustomerStatus.ended)


def test_a_refused_billing_change_leaves_no_record(world: World, clients: dict[str, TestClient]) -> None:
    finance = clients["finance"]
    subscriptions = f"{BILLING}/customers/{world.customer}/subscriptions"
    refused(finance.post(f"{subscriptions}/cancel", json={"on": date.today().isoformat()}), 404)
    day = date.today().isoformat()
    ok(finance.post(subscriptions, json={"plan_id": str(world.plans["starter"]), "starts_on": day}), 201)
    refused(finance.post(subscriptions, json={"plan_id": str(world.plans["starter"]), "starts_on": day}), 409)
    refused(finance.post(f"{subscriptions}/cancel", json={"on": day}), 422)  # the day it starts
    assert records(world.db) == 1


# --- the published documents ------------------------------------------------------------------


def test_the_versions_of_the_documents_and_their_diffs(world: World, clients: dict[str, TestClient]) -> None:
    support = clients["support"]
    statement = documents.statement_document(world.db.policy)
    [only] = ok(support.get("/api/v1/documents/statement/versions"))["items"]
    assert (only["kind"], only["digest"], only["label"], only["previous_id"]) == (
        "statement",
        statement.digest,
        world.db.policy.version,
        None,
    )
    assert only["changed"] == len(documents.blocks(statement.text))  # every paragraph is new
    first = ok(support.get(f"/api/v1/documents/statement/versions/{only['id']}/diff"))
    assert first["from"] is None and first["to"]["id"] == only["id"]
    assert {c["kind"] for c in first["changes"]} == {"added"}

    # a new version of the terms, one paragraph changed and one added
    changed = TERMS.text.replace(
        "Invoices are due within fourteen days.", "Invoices are due within thirty days."
    )
    changed += "\n## 9. Notices\n\nWe write to your billing address.\n"
    with world.db.unit_of_work("contract", SYSTEM) as session:
        documents.publish(session, documents.terms_from_text(changed))
    newer, older = ok(support.get("/api/v1/documents/terms/versions"))["items"]
    assert (older["digest"], newer["previous_id"]) == (TERMS.digest, older["id"])
    assert newer["changed"] == 3
    diff = ok(clients["finance"].get(f"/api/v1/documents/terms/versions/{newer['id']}/diff"))
    assert diff["from"]["digest"] == TERMS.digest and diff["to"]["digest"] == newer["digest"]
    kinds = [c["kind"] for c in diff["changes"]]
    assert kinds == ["changed", "added", "added"]
    assert "fourteen" in diff["changes"][0]["old"] and "thirty" in diff["changes"][0]["new"]
    assert diff["changes"][2] == {"kind": "added", "old": "", "new": "We write to your billing address."}

    refused(support.get("/api/v1/documents/policy/versions"), 404)
    refused(support.get(f"/api/v1/documents/statement/versions/{newer['id']}/diff"), 404)  # a terms version
    refused(support.get(f"/api/v1/documents/terms/versions/{uuid.uuid4()}/diff"), 404)
    refused(clients["user"].get("/api/v1/documents/terms/versions"), 403)
    refused(clients["nobody"].get("/api/v1/documents/terms/versions"), 401)


def test_the_documents_are_published_on_first_use(world: World, clients: dict[str, TestClient]) -> None:
    with world.db.unit_of_work("contract", SYSTEM) as session:
        assert documents.current(session, DocumentKind.terms) is None
    ok(
        clients["finance"].post(
            f"{BILLING}/customers/{world.customer}/subscriptions",
            json={"plan_id": str(world.plans["starter"]), "starts_on": date.today().isoformat()},
        ),
        201,
    )
    with world.db.unit_of_work("contract", SYSTEM) as session:
        current = documents.current(session, DocumentKind.terms)
        assert current is not None and current.digest == TERMS.digest
