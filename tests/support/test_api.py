"""The support-contact API: logging conversations, searching the log, following up."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.factories import FAST, SYSTEM, api_sign_in, make_customer, make_staff, make_user

from lawful.customers.models import ContactPerson, Customer
from lawful.data.db import Database
from lawful.users import repository
from lawful.users.models import PrincipalKind, StaffRole
from lawful.web.app import create_app

AGENT = "sam@lawful.example"


@pytest.fixture
def acme(database: Database) -> tuple[Customer, ContactPerson]:
    customer, [person] = make_customer(database)
    return customer, person


@pytest.fixture
def agent(database: Database, acme: tuple[Customer, ContactPerson]) -> Iterator[TestClient]:
    make_staff(database, role=StaffRole.support, email=AGENT)
    with TestClient(create_app(FAST, db=database), raise_server_exceptions=False) as client:
        api_sign_in(client, email=AGENT, staff=True)
        yield client


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status
    return body["error"]


def log(client: TestClient, customer: Customer, **fields: Any) -> Any:
    body = {"customer_id": str(customer.id), "channel": "phone", "summary": "Asked about invoices", **fields}
    return client.post("/api/v1/support-contacts", json=body)


def test_logging_a_conversation_names_the_staff_member(
    agent: TestClient, database: Database, acme: tuple[Customer, ContactPerson]
) -> None:
    customer, person = acme
    response = log(agent, customer, contact_person_id=str(person.id), follow_up_on="2030-01-15")
    assert response.status_code == 201, response.text
    entry = response.json()
    with database.unit_of_work("staff_access", SYSTEM) as session:
        staff = repository.by_email(session, PrincipalKind.staff, AGENT)
        assert staff is not None
    assert entry["staff_id"] == str(staff.id) and entry["contact_person_id"] == str(person.id)
    assert (entry["channel"], entry["follow_up_on"], entry["follow_up_done"]) == (
        "phone",
        "2030-01-15",
        False,
    )
    assert agent.get(f"/api/v1/support-contacts/{entry['id']}").json() == entry


def test_who_was_spoken_with_must_belong_to_the_customer(
    agent: TestClient, database: Database, acme: tuple[Customer, ContactPerson]
) -> None:
    customer, _ = acme
    other, [stranger] = make_customer(database, legal_name="Other B.V.", billing_email="b@other.example")
    outsider = make_user(database, customer_id=other.id, email="olga@other.example")
    insider = make_user(database, customer_id=customer.id, email="ada@acme.example")
    error(log(agent, customer, contact_person_id=str(stranger.id)), 404)
    error(log(agent, customer, user_id=str(outsider.id)), 404)
    assert log(agent, customer, user_id=str(insider.id)).json()["user_id"] == str(insider.id)
    error(log(agent, customer, customer_id=str(uuid.uuid4())), 404)


@pytest.mark.parametrize(
    "changes",
    [
        {"summary": "   "},
        {"summary": None},
        {"channel": "fax"},
        {"occurred_at": "2026-03-01T10:00:00"},  # no time zone
        {"occurred_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()},
        {"occurred_at": "0001-01-01T00:00:00+01:00"},
    ],
)
def test_invalid_entries_are_refused(
    agent: TestClient, acme: tuple[Customer, ContactPerson], changes: dict[str, Any]
) -> None:
    customer, _ = acme
    error(log(agent, customer, **changes), 422)
    assert agent.get("/api/v1/support-contacts").json()["items"] == []


def test_the_log_is_searchable(
    agent: TestClient, database: Database, acme: tuple[Customer, ContactPerson]
) -> None:
    customer, _ = acme
    other, _ = make_customer(database, legal_name="Other B.V.", billing_email="b@other.example", contacts=0)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    log(agent, customer, summary="Printer trouble", occurred_at=yesterday)
    log(agent, customer, summary="Wants a discount", follow_up_on=date.today().isoformat())
    log(agent, other, summary="Moved offices", follow_up_on=(date.today() + timedelta(days=9)).isoformat())
    every = agent.get("/api/v1/support-contacts").json()["items"]
    assert [e["summary"] for e in every] == ["Moved offices", "Wants a discount", "Printer trouble"]
    acme_only = agent.get("/api/v1/support-contacts", params={"customer_id": str(customer.id)}).json()
    assert {e["customer_id"] for e in acme_only["items"]} == {str(customer.id)} and len(
        acme_only["items"]
    ) == 2
    found = agent.get("/api/v1/support-contacts", params={"q": "DISCOUNT"}).json()["items"]
    assert [e["summary"] for e in found] == ["Wants a discount"]
    due = agent.get("/api/v1/support-contacts", params={"follow_up_due": date.today().isoformat()}).json()
    assert [e["summary"] for e in due["items"]] == ["Wants a discount"]
    page = agent.get("/api/v1/support-contacts", params={"limit": 1, "offset": 2}).json()
    assert [e["summary"] for e in page["items"]] == ["Printer trouble"] and page["limit"] == 1
    error(agent.get("/api/v1/support-contacts", params={"limit": 0}), 422)


def test_following_up(agent: TestClient, acme: tuple[Customer, ContactPerson]) -> None:
    customer, _ = acme
    entry = log(agent, customer, follow_up_on=date.today().isoformat()).json()
    url = f"/api/v1/support-contacts/{entry['id']}"
    done = agent.patch(url, json={"follow_up_done": True}).json()
    assert done["follow_up_done"] is True and done["summary"] == entry["summary"]
    due = agent.get("/api/v1/support-contacts", params={"follow_up_due": date.today().isoformat()}).json()
    assert due["items"] == []
    corrected = agent.patch(
        url, json={"summary": "Asked about the March invoice", "follow_up_on": None}
    ).json()
    assert (corrected["summary"], corrected["follow_up_on"]) == ("Asked about the March invoice", None)
    error(agent.patch(url, json={"summary": " "}), 422)
    error(agent.patch(url, json={"follow_up_done": None}), 422)
    error(agent.patch(url, json={"channel": "chat"}), 422)  # what happened stays as logged
    error(agent.patch(f"/api/v1/support-contacts/{uuid.uuid4()}", json={"follow_up_done": True}), 404)
    assert agent.get(url).json()["summary"] == "Asked about the March invoice"
