"""The customers API: search, create, partial updates (VAT checked, contract end), contact persons,
tenant isolation for customers' users, and the processing log that a staff member's look leaves."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.factories import FAST, SYSTEM, api_sign_in, make_customer, make_staff, make_user

from lawful.customers import repository
from lawful.customers.models import CustomerKind
from lawful.data.db import Database
from lawful.users.models import StaffRole, UserRole
from lawful.web.app import create_app

Clients = Callable[..., TestClient]
SUPPORT = "sam@lawful.example"
PRIVACY = "pia@lawful.example"
VALID_VAT = "NL004495445B01"


@pytest.fixture
def clients(database: Database) -> Iterator[Clients]:
    make_staff(database, role=StaffRole.support, email=SUPPORT)
    make_staff(database, role=StaffRole.privacy_officer, email=PRIVACY, name="Pia Privacy")
    app = create_app(FAST, db=database)
    with ExitStack() as stack:

        def make(email: str | None = SUPPORT, *, staff: bool = True) -> TestClient:
            client = stack.enter_context(TestClient(app, raise_server_exceptions=False))
            if email:
                api_sign_in(client, email=email, staff=staff)
            return client

        yield make


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status
    return body["error"]


def count(db: Database) -> int:
    with db.unit_of_work("contract", SYSTEM) as session:
        return repository.count(session)


NEW = {
    "kind": "company",
    "legal_name": "  Noord Software B.V. ",
    "billing_email": "Billing@Noord.example",
    "kvk_number": "1234 5678",
    "vat_number": "nl 0044.95.445.b01",
    "street": "Damrak 1",
    "postal_code": "1012 LG",
    "city": "Amsterdam",
    "contract_start": "2026-01-01",
}


def test_create_cleans_and_shows_exactly_the_customer(clients: Clients, database: Database) -> None:
    response = clients().post("/api/v1/customers", json=NEW)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {
        "id",
        "kind",
        "legal_name",
        "kvk_number",
        "vat_number",
        "billing_email",
        "street",
        "postal_code",
        "city",
        "country",
        "status",
        "contract_start",
        "contract_end",
        "created_at",
    }
    assert body["legal_name"] == "Noord Software B.V."
    assert (body["kvk_number"], body["vat_number"]) == ("12345678", VALID_VAT)
    assert body["billing_email"] == "billing@noord.example"
    assert (body["status"], body["country"], body["contract_end"]) == ("active", "NL", None)
    assert clients().get(f"/api/v1/customers/{body['id']}").json() == body


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"vat_number": "NL123456789B99"}, "vat_number"),
        ({"kvk_number": "1234"}, "kvk_number"),
        ({"country": "N1"}, "country"),
    ],
)
def test_invalid_company_numbers_are_refused_and_nothing_is_stored(
    clients: Clients, database: Database, changes: dict[str, str], field: str
) -> None:
    detail = error(clients().post("/api/v1/customers", json={**NEW, **changes}), 422)
    assert detail["code"] == "invalid" and detail["detail"] == {"field": field}
    assert count(database) == 0


def test_an_invalid_billing_address_is_refused(clients: Clients, database: Database) -> None:
    detail = error(
        clients().post("/api/v1/customers", json={**NEW, "billing_email": "billing at noord"}), 422
    )
    assert detail["detail"][0]["loc"] == ["body", "billing_email"]
    assert count(database) == 0


def test_search_filters_and_pages(clients: Clients, database: Database) -> None:
    for i in range(5):
        make_customer(database, legal_name=f"Zeta {i} B.V.", billing_email=f"b{i}@zeta.example", contacts=0)
    make_customer(
        database,
        kind=CustomerKind.sole_proprietor,
        legal_name="Eva de Vries Advies",
        billing_email="eva@vries.example",
    )
    client = clients()
    page = client.get("/api/v1/customers", params={"q": "zeta", "per_page": 2, "page": 2}).json()
    assert (page["total"], page["page"], page["per_page"]) == (5, 2, 2)
    assert [c["legal_name"] for c in page["items"]] == ["Zeta 2 B.V.", "Zeta 3 B.V."]
    sole = client.get("/api/v1/customers", params={"kind": "sole_proprietor"}).json()
    assert [c["legal_name"] for c in sole["items"]] == ["Eva de Vries Advies"]
    assert client.get("/api/v1/customers", params={"q": "EVA@VRIES"}).json()["total"] == 1
    assert client.get("/api/v1/customers", params={"status": "ended"}).json()["total"] == 0
    error(client.get("/api/v1/customers", params={"per_page": 201}), 422)
    error(client.get("/api/v1/customers", params={"status": "gone fishing"}), 422)


def test_a_partial_update_changes_only_what_is_sent(clients: Clients, database: Database) -> None:
    customer, _ = make_customer(database)
    client = clients()
    before = client.get(f"/api/v1/customers/{customer.id}").json()
    after = client.patch(
        f"/api/v1/customers/{customer.id}", json={"city": "Utrecht", "vat_number": VALID_VAT}
    )
    assert after.status_code == 200, after.text
    changed = {k for k in before if before[k] != after.json()[k]}
    assert changed == {"city", "vat_number"}
    error(client.patch(f"/api/v1/customers/{customer.id}", json={"legal_name": None}), 422)
    detail = error(client.patch(f"/api/v1/customers/{customer.id}", json={"vat_number": "XX1"}), 422)
    assert detail["detail"] == {"field": "vat_number"}
    cleared = client.patch(f"/api/v1/customers/{customer.id}", json={"vat_number": None}).json()
    assert cleared["vat_number"] is None and cleared["city"] == "Utrecht"


def test_setting_the_contract_end_ends_the_contract(clients: Clients, database: Database) -> None:
    customer, _ = make_customer(database)
    client = clients()
    start = client.patch(f"/api/v1/customers/{customer.id}", json={"contract_start": "2025-01-01"})
    assert start.json()["status"] == "active"
    too_early = client.patch(f"/api/v1/customers/{customer.id}", json={"contract_end": "2024-12-31"})
    assert error(too_early, 422)["detail"] == {"field": "contract_end"}
    later = (date.today() + timedelta(days=30)).isoformat()
    planned = client.patch(f"/api/v1/customers/{customer.id}", json={"contract_end": later}).json()
    assert (planned["contract_end"], planned["status"]) == (later, "active")
    ended = client.patch(f"/api/v1/customers/{customer.id}", json={"contract_end": date.today().isoformat()})
    assert ended.json()["status"] == "ended"


def test_unknown_ids_are_404(clients: Clients) -> None:
    client = clients()
    missing = uuid.uuid4()
    assert error(client.get(f"/api/v1/customers/{missing}"), 404)["code"] == "not_found"
    error(client.patch(f"/api/v1/customers/{missing}", json={"city": "Gouda"}), 404)
    error(client.get(f"/api/v1/customers/{missing}/contacts"), 404)
    error(client.get("/api/v1/customers/not-a-uuid"), 422)


def test_contact_persons(clients: Clients, database: Database) -> None:
    customer, [person] = make_customer(database)
    other, [stranger] = make_customer(database, legal_name="Other B.V.", billing_email="b@other.example")
    client = clients()
    base = f"/api/v1/customers/{customer.id}/contacts"
    added = client.post(base, json={"name": "Karin Kok", "email": "Karin@Acme.example", "phone": "+31 6 1"})
    assert added.status_code == 201, added.text
    karin = added.json()
    assert karin["email"] == "karin@acme.example" and karin["customer_id"] == str(customer.id)
    error(client.post(base, json={"name": "Karin Twice", "email": "karin@acme.example"}), 409)
    listed = client.get(base).json()["items"]
    assert [c["name"] for c in listed] == ["Karin Kok", "Person 0"]
    patched = client.patch(f"{base}/{karin['id']}", json={"phone": "+31 20 123 4567"}).json()
    assert patched["phone"] == "+31 20 123 4567" and patched["name"] == "Karin Kok"
    # another customer's contact person is not reachable through this customer
    error(client.get(f"{base}/{stranger.id}"), 404)
    error(client.delete(f"{base}/{stranger.id}"), 404)
    assert client.get(f"/api/v1/customers/{other.id}/contacts/{stranger.id}").status_code == 200
    assert client.delete(f"{base}/{karin['id']}").status_code == 204
    error(client.get(f"{base}/{karin['id']}"), 404)
    assert [c["id"] for c in client.get(base).json()["items"]] == [str(person.id)]


def test_a_user_sees_their_own_customer_only(clients: Clients, database: Database) -> None:
    mine, _ = make_customer(database)
    theirs, _ = make_customer(database, legal_name="Theirs B.V.", billing_email="b@theirs.example")
    make_user(database, customer_id=mine.id, email="ada@acme.example", role=UserRole.admin)
    user = clients("ada@acme.example", staff=False)
    assert user.get(f"/api/v1/customers/{mine.id}").json()["legal_name"] == "Acme B.V."
    refused = user.get(f"/api/v1/customers/{theirs.id}")
    assert (
        error(refused, 404)["message"] == error(user.get(f"/api/v1/customers/{uuid.uuid4()}"), 404)["message"]
    )
    assert "Theirs" not in refused.text
    error(user.get("/api/v1/customers"), 403)
    error(user.patch(f"/api/v1/customers/{mine.id}", json={"city": "Gouda"}), 403)
    error(user.get(f"/api/v1/customers/{mine.id}/contacts"), 403)


def test_opening_a_customer_lands_in_the_processing_log(clients: Clients, database: Database) -> None:
    customer, _ = make_customer(database, kind=CustomerKind.sole_proprietor, legal_name="Eva de Vries Advies")
    agent = clients()
    assert agent.get(f"/api/v1/customers/{customer.id}").status_code == 200
    officer = clients(PRIVACY)
    log = officer.get(
        "/api/v1/processing-log", params={"subject_table": "customers", "subject_id": str(customer.id)}
    )
    assert log.status_code == 200, log.text
    reads = [e for e in log.json()["items"] if e["actor_kind"] == "staff" and e["operation"] == "read"]
    assert len(reads) == 1
    [entry] = reads
    assert entry["purpose"] == "contract" and entry["table_name"] == "customers"
    assert "user.contact.organization" in entry["categories"]
    by_actor = officer.get("/api/v1/processing-log", params={"actor_id": f"staff:{entry['actor_id']}"}).json()
    assert by_actor["items"] and {e["actor_id"] for e in by_actor["items"]} == {entry["actor_id"]}
    times = [e["at"] for e in officer.get("/api/v1/processing-log").json()["items"]]
    assert times == sorted(times, reverse=True)  # newest first
    page = officer.get("/api/v1/processing-log", params={"limit": 1, "offset": 1}).json()
    assert (page["limit"], page["offset"], len(page["items"])) == (1, 1, 1)
    assert officer.get("/api/v1/processing-log", params={"purpose": "monitoring"}).json()["items"] == []
