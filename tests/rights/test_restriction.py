"""Restriction of processing (GDPR art. 18): while it is in force the person's data is only stored.
Changes through the customers and users services are refused with 409 (the privacy officer's own
work goes on), and ingestion treats a restricted signed-in user like one who objected. Lifting
the restriction lets processing resume. On both databases."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.factories import SYSTEM, api_sign_in, make_customer, make_site, make_user
from tests.rights.test_api import (
    ADA,
    BEN,
    SUPPORT,
    assert_error,
    client_for,
    file_as,
    officer_api,
    people,
    recorded_and_confirmed,
)

from lawful.customers import service as customers
from lawful.customers.models import ContactPerson, Customer, CustomerKind
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.errors import Conflict
from lawful.rights import service
from lawful.rights.models import RequestKind, Restriction, SubjectKind
from lawful.users import service as users
from lawful.users.models import User, UserRole

RESTRICTED = "processing of this person's data is restricted"
URL = "https://shop.test/pricing"
SOLE = "jan@devries.example"
CONTACT = "marieke@devries.example"


@pytest.fixture
def ids(database: Database) -> dict[str, uuid.UUID]:
    found = people(database)
    shop, (contact,) = make_customer(
        database,
        kind=CustomerKind.sole_proprietor,
        legal_name="Jan de Vries Advies",
        billing_email=SOLE,
        contacts=1,
    )
    with database.unit_of_work("contract", SYSTEM) as session:
        stored = session.get(ContactPerson, contact.id)
        assert stored is not None
        customers.update_contact(stored, {"email": CONTACT})
    found["shop"], found["contact"] = shop.id, contact.id
    return found


@pytest.fixture
def officer(database: Database, ids: dict[str, uuid.UUID]) -> Iterator[TestClient]:
    with officer_api(database) as client:
        yield client


@pytest.fixture
def support(database: Database, ids: dict[str, uuid.UUID]) -> Iterator[TestClient]:
    with client_for(database) as client:
        api_sign_in(client, email=SUPPORT, staff=True)
        yield client


def restrict(db: Database, officer: TestClient, email: str) -> dict[str, Any]:
    """A restriction asked for by e-mail, confirmed and carried out; the request as the API shows it."""
    created = recorded_and_confirmed(db, officer, email, "restriction")
    done = officer.post(f"/api/v1/rights/requests/{created['id']}/complete", json={})
    assert done.status_code == 200, done.text
    body: dict[str, Any] = done.json()
    assert body["outcome"] == {"kind": "restriction", "restricted": True}
    assert body["restriction"] is not None and body["restriction"]["active"] is True
    return body


def lift(officer: TestClient, restriction_id: str) -> None:
    lifted = officer.post(f"/api/v1/rights/restrictions/{restriction_id}/lift")
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["active"] is False and lifted.json()["lifted_at"]


def assert_restricted(response: Any) -> None:
    error = assert_error(response, 409)
    assert error["code"] == "conflict" and RESTRICTED in error["message"]
    assert set(error["detail"]) == {"restriction_id", "since"}


def test_a_restricted_user_cannot_be_changed_until_the_restriction_is_lifted(
    database: Database, ids: dict[str, uuid.UUID], officer: TestClient
) -> None:
    request_id = file_as(database, ids[BEN], RequestKind.restriction, "My data is wrong; do not use it")
    done = officer.post(f"/api/v1/rights/requests/{request_id}/complete", json={})
    assert done.status_code == 200, done.text
    restriction = done.json()["restriction"]
    assert restriction["subject"] == {"kind": "user", "id": str(ids[BEN])}
    listed = officer.get("/api/v1/rights/restrictions").json()["items"]
    assert [r["id"] for r in listed] == [restriction["id"]]

    with client_for(database) as admin:  # Ada is the admin of Ben's company
        api_sign_in(admin, email=ADA)
        assert_restricted(admin.patch(f"/api/v1/users/{ids[BEN]}", json={"role": "admin"}))
        assert_restricted(admin.delete(f"/api/v1/users/{ids[BEN]}"))
        with database.unit_of_work("contract", SYSTEM) as session:
            ben = session.get(User, ids[BEN])
            assert ben is not None and ben.role is UserRole.member and ben.status.value == "active"
        # a colleague who is not restricted can still be changed
        assert admin.patch(f"/api/v1/users/{ids[ADA]}", json={"role": "admin"}).status_code == 200

        lift(officer, restriction["id"])
        assert officer.get("/api/v1/rights/restrictions").json()["items"] == []
        assert officer.get("/api/v1/rights/restrictions", params={"show": "all"}).json()["items"][0][
            "lifted_at"
        ]
        assert_error(officer.post(f"/api/v1/rights/restrictions/{restriction['id']}/lift"), 409)
        changed = admin.patch(f"/api/v1/users/{ids[BEN]}", json={"role": "admin"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["role"] == "admin"


def test_a_restricted_contact_person_and_sole_proprietor_cannot_be_changed(
    database: Database, ids: dict[str, uuid.UUID], officer: TestClient, support: TestClient
) -> None:
    shop, contact = ids["shop"], ids["contact"]
    contact_url = f"/api/v1/customers/{shop}/contacts/{contact}"
    contact_restriction = restrict(database, officer, CONTACT)["restriction"]
    assert contact_restriction["subject"] == {"kind": "contact_person", "id": str(contact)}
    assert_restricted(support.patch(contact_url, json={"phone": "+31 20 555 0199"}))
    assert_restricted(support.delete(contact_url))
    # the customer itself is not restricted by its contact person's restriction
    assert support.patch(f"/api/v1/customers/{shop}", json={"city": "Haarlem"}).status_code == 200

    shop_restriction = restrict(database, officer, SOLE)["restriction"]
    assert shop_restriction["subject"] == {"kind": "sole_proprietor", "id": str(shop)}
    assert_restricted(support.patch(f"/api/v1/customers/{shop}", json={"city": "Leiden"}))
    with database.unit_of_work("contract", SYSTEM) as session:
        stored = session.get(Customer, shop)
        assert stored is not None and stored.city == "Haarlem"
        with pytest.raises(Conflict, match=RESTRICTED):
            customers.end_contract(stored, on=stored.created_at.date())

    lift(officer, contact_restriction["id"])
    changed = support.patch(contact_url, json={"phone": "+31 20 555 0199"})
    assert changed.status_code == 200, changed.text
    assert_restricted(support.patch(f"/api/v1/customers/{shop}", json={"city": "Leiden"}))
    lift(officer, shop_restriction["id"])
    assert support.patch(f"/api/v1/customers/{shop}", json={"city": "Leiden"}).json()["city"] == "Leiden"


def test_a_company_customer_is_never_restricted(sqlite_db: Database) -> None:
    company, _ = make_customer(sqlite_db, contacts=0)
    with sqlite_db.unit_of_work("accountability", SYSTEM) as session:
        # a restriction recorded under the company's id (it is no person) changes nothing for it
        session.add(Restriction(subject_kind=SubjectKind.contact_person, subject_id=company.id))
    with sqlite_db.unit_of_work("contract", SYSTEM) as session:
        stored = session.get(Customer, company.id)
        assert stored is not None
        customers.update_customer(session, stored, {"city": "Utrecht"})


def test_the_officers_own_work_is_not_stopped_by_a_restriction(sqlite_db: Database) -> None:
    customer, _ = make_customer(sqlite_db, contacts=0)
    user = make_user(sqlite_db, customer_id=customer.id, email="rita@acme.example", name="Rita")
    request_id = file_as(sqlite_db, user.id, RequestKind.restriction)
    service.complete(sqlite_db, request_id, actor=Actor.system("tests:officer"))
    with pytest.raises(Conflict, match=RESTRICTED), sqlite_db.unit_of_work("contract", SYSTEM) as session:
        users.refuse_if_restricted(session, user.id)
    with sqlite_db.unit_of_work("accountability", SYSTEM) as session:
        users.refuse_if_restricted(session, user.id)  # the privacy officer's purpose
    # a restricted user's erasure (the officer's work on them) still runs
    erasure = file_as(sqlite_db, user.id, RequestKind.erasure)
    done = service.complete(sqlite_db, erasure, actor=Actor.system("tests:officer"))
    assert done.status.value == "completed"
    erased = json.loads(done.outcome or "{}")["erased"]
    assert ("users", "deleted") in {(e["table"], e["action"]) for e in erased}


def test_a_restricted_users_tracker_events_are_dropped(
    database: Database, ids: dict[str, uuid.UUID], officer: TestClient
) -> None:
    make_site(database)
    headers = {"content-type": "text/plain", "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0"}
    event = json.dumps({"n": "pageview", "s": "shop.test", "u": URL})
    with client_for(database) as ben:
        api_sign_in(ben, email=BEN)
        assert ben.post("/api/event", content=event, headers=headers).json() == {"status": "accepted"}
        request_id = file_as(database, ids[BEN], RequestKind.restriction)
        restriction = officer.post(f"/api/v1/rights/requests/{request_id}/complete", json={}).json()[
            "restriction"
        ]
        assert ben.post("/api/event", content=event, headers=headers).json() == {
            "status": "dropped",
            "reason": "objection",
        }
        with client_for(database) as anonymous:  # without Ben's cookie the same browser is counted
            assert anonymous.post("/api/event", content=event, headers=headers).json()["status"] == "accepted"
        lift(officer, restriction["id"])
        assert ben.post("/api/event", content=event, headers=headers).json() == {"status": "accepted"}
    with database.unit_of_work("contract", SYSTEM) as session:
        found = session.get(User, ids[BEN])
        assert found is not None and found.monitoring_objection_at is None  # a restriction is no objection
