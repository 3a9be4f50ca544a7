"""The console's customer pages: the list with its search and pages, a customer's record (and
the processing-log entry that opening it leaves), contact persons and the end of a contract."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import event, select
from tests.factories import SYSTEM, make_customer, make_staff, make_user

from lawful.customers import service
from lawful.customers.models import ContactPerson, Customer, CustomerKind, CustomerStatus
from lawful.data.db import Database
from lawful.data.log import ProcessingRecord
from lawful.settings import Settings
from lawful.support import service as support_service
from lawful.support.models import Channel
from lawful.users.models import Staff, StaffRole, UserRole
from lawful.web.app import create_app
from lawful.web.auth import CSRF_COOKIE

PASSWORD = "correct horse battery staple"


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    app = create_app(Settings(argon2_time_cost=1, argon2_memory_kib=8192), db=database)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        client.headers.update({"accept": "text/html"})
        yield client


@pytest.fixture
def agent(client: TestClient, database: Database) -> Staff:
    """A support agent, signed in on ``client``."""
    staff = make_staff(database, role=StaffRole.support, email="agent@lawful.example")
    response = post(client, "/console/login", {"email": staff.email, "password": PASSWORD})
    assert response.status_code == 303
    return staff


def post(client: TestClient, url: str, data: dict[str, str]) -> Response:
    if CSRF_COOKIE not in client.cookies:
        client.get("/console/login")
    return client.post(url, data={**data, "csrf_token": str(client.cookies[CSRF_COOKIE])})


def load(db: Database, customer_id: uuid.UUID) -> tuple[Customer, list[ContactPerson]]:
    with db.unit_of_work("contract", SYSTEM) as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        contacts = list(
            session.scalars(select(ContactPerson).where(ContactPerson.customer_id == customer_id))
        )
        return customer, contacts


class Headings(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h1", "h2", "h3"):
            self.stack.append(tag)
            self.found.append((tag, ""))

    def handle_data(self, data: str) -> None:
        if self.stack:
            tag, text = self.found[-1]
            self.found[-1] = (tag, text + data)

    def handle_endtag(self, tag: str) -> None:
        if self.stack and tag == self.stack[-1]:
            self.stack.pop()


def headings(html: str) -> list[tuple[str, str]]:
    parser = Headings()
    parser.feed(html)
    return [(tag, text.strip()) for tag, text in parser.found]


def seed_customers(db: Database, count: int) -> None:
    with db.unit_of_work("contract", SYSTEM) as session:
        for i in range(count):
            service.create_customer(
                session,
                kind=CustomerKind.company if i % 2 else CustomerKind.sole_proprietor,
                legal_name=f"Customer {i:03d}",
                billing_email=f"billing{i}@customer.example",
                city="Utrecht" if i == 7 else "Amsterdam",
                kvk_number=f"{10000000 + i}",
            )


# --- the list ---------------------------------------------------------------------------------


def test_the_list_is_paginated(client: TestClient, database: Database, agent: Staff) -> None:
    seed_customers(database, 55)
    first = client.get("/console/customers")
    assert first.status_code == 200
    assert headings(first.text)[0] == ("h1", "Customers")
    assert re.search(r'<label for="([\w-]+)">Search customers</label>\s*<input id="\1" name="q"', first.text)
    assert first.text.count('<th scope="row"><a href="/console/customers/') == 50
    assert "55 customers, page 1 of 2" in first.text
    assert 'href="/console/customers?page=2">Next page</a>' in first.text
    second = client.get("/console/customers", params={"page": 2})
    assert second.text.count('<th scope="row"><a href="/console/customers/') == 5
    assert "Customer 054" in second.text and "Customer 000" not in second.text
    assert ">Previous page</a>" in second.text and ">Next page</a>" not in second.text


def test_the_search_finds_name_city_and_kvk(client: TestClient, database: Database, agent: Staff) -> None:
    seed_customers(database, 12)
    by_city = client.get("/console/customers", params={"q": "utrecht"}).text
    assert "Customer 007" in by_city and "Customer 008" not in by_city
    assert "1 customer matching “utrecht”" in by_city
    by_kvk = client.get("/console/customers", params={"q": "10000011"}).text
    assert "Customer 011" in by_kvk and "Customer 001<" not in by_kvk
    by_mail = client.get("/console/customers", params={"q": "billing3@"}).text
    assert "Customer 003" in by_mail and "Customer 004" not in by_mail
    by_name = client.get("/console/customers", params={"q": "customer 01"}).text
    assert "Customer 010" in by_name and "Customer 011" in by_name and "Customer 009" not in by_name


def test_the_status_filter(client: TestClient, database: Database, agent: Staff) -> None:
    make_customer(database, legal_name="Active B.V.")
    ended, _ = make_customer(database, legal_name="Gone B.V.", billing_email="x@gone.example")
    with database.unit_of_work("contract", SYSTEM) as session:
        service.update_customer(
            session, service.get_customer(session, ended.id), {"status": CustomerStatus.ended}
        )
    page = client.get("/console/customers", params={"status": "ended"}).text
    assert "Gone B.V." in page and "Active B.V." not in page
    assert '<option value="ended" selected>' in page


def test_htmx_gets_only_the_table(client: TestClient, database: Database, agent: Staff) -> None:
    seed_customers(database, 3)
    partial = client.get("/console/customers", params={"q": "customer 002"}, headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert "<html" not in partial.text and "<h1>" not in partial.text
    assert "Customer 002" in partial.text and "Customer 001" not in partial.text
    assert "HX-Request" in partial.headers["vary"]
    full = client.get("/console/customers", params={"q": "customer 002"})
    assert "<html" in full.text and "<h1>Customers</h1>" in full.text
    assert 'hx-get="/console/customers"' in full.text
    assert 'hx-trigger="input changed delay:300ms' in full.text
    assert 'hx-target="#customer-results"' in full.text and 'id="customer-results"' in full.text
    restore = client.get(
        "/console/customers", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.text  # a history restore needs the whole page


# --- a customer's record ----------------------------------------------------------------------


def test_the_record_shows_contacts_users_and_support(
    client: TestClient, database: Database, agent: Staff
) -> None:
    customer, (person,) = make_customer(database, legal_name="Bakkerij Jansen", contacts=1)
    user = make_user(database, customer_id=customer.id, email="ada@bakkerij.example", name="Ada Jansen")
    make_user(
        database,
        customer_id=customer.id,
        email="bram@bakkerij.example",
        name="Bram Smit",
        role=UserRole.admin,
    )
    with database.unit_of_work("contract", SYSTEM) as session:
        support_service.log_contact(
            session,
            customer_id=customer.id,
            staff_id=agent.id,
            channel=Channel.phone,
            summary="Asked how to add a colleague",
            contact_person_id=person.id,
        )
        support_service.log_contact(
            session,
            customer_id=customer.id,
            staff_id=None,
            channel=Channel.email,
            summary="Invoice address changed",
            user_id=user.id,
        )
    response = client.get(f"/console/customers/{customer.id}")
    assert response.status_code == 200
    page = response.text
    found = headings(page)
    assert [h for h in found if h[0] == "h1"] == [("h1", "Bakkerij Jansen")]
    assert {("h2", "Contact persons"), ("h2", "Users"), ("h2", "Support log")} <= set(found)
    assert ("h3", "Log a support contact") in found
    assert person.name in page and person.email in page and person.phone in page
    assert "Ada Jansen" in page and "bram@bakkerij.example" in page and ">admin<" in page
    assert "Asked how to add a colleague" in page and "Invoice address changed" in page
    assert page.index("Invoice address changed") < page.index("Asked how to add a colleague")  # newest first
    assert f"{person.name} (contact person)" in page and "Ada Jansen (user)" in page
    assert agent.name in page  # who logged it
    assert f'<option value="contact:{person.id}">' in page and f'<option value="user:{user.id}">' in page
    for label in (
        "Channel",
        "Who",
        "Summary",
        "Follow up on",
        "Contract ends on",
        "Name",
        "E-mail address",
        "Phone",
    ):
        assert re.search(rf'<label for="[\w-]+">{label}</label>', page), label
    assert ">Log contact</button>" in page and ">End contract</button>" in page
    assert "personal data about the proprietor" not in page


def test_a_sole_proprietors_data_is_called_personal(
    client: TestClient, database: Database, agent: Staff
) -> None:
    customer, _ = make_customer(database, kind=CustomerKind.sole_proprietor, legal_name="Klusbedrijf Piet")
    page = client.get(f"/console/customers/{customer.id}").text
    assert "personal data about the proprietor" in page
    assert "sole proprietor" in page


def test_opening_a_record_is_in_the_processing_log(
    client: TestClient, database: Database, agent: Staff
) -> None:
    customer, _ = make_customer(database)
    assert client.get(f"/console/customers/{customer.id}").status_code == 200
    with database.unit_of_work("accountability", SYSTEM) as session:
        entries = list(
            session.scalars(
                select(ProcessingRecord).where(
                    ProcessingRecord.subject_table == "customers",
                    ProcessingRecord.subject_id == str(customer.id),
                    ProcessingRecord.actor_id == str(agent.id),
                )
            )
        )
    assert len(entries) == 1
    (entry,) = entries
    assert entry.actor_kind == "staff"
    assert entry.purpose == "contract"
    assert entry.operation == "read"
    assert entry.table_name == "customers"
    assert "user.contact.organization" in entry.categories.split(",")


def test_the_record_takes_a_fixed_number_of_queries(
    client: TestClient, database: Database, agent: Staff
) -> None:
    small, _ = make_customer(database, legal_name="Small B.V.", contacts=1)
    big, people = make_customer(database, legal_name="Big B.V.", billing_email="b@big.example", contacts=8)
    for i in range(6):
        make_user(database, customer_id=big.id, email=f"u{i}@big.example", name=f"User {i}")
    other = make_staff(database, role=StaffRole.support, email="other@lawful.example", name="Other Agent")
    with database.unit_of_work("contract", SYSTEM) as session:
        for i in range(60):
            support_service.log_contact(
                session,
                customer_id=big.id,
                staff_id=agent.id if i % 2 else other.id,
                channel=Channel.chat,
                summary=f"Conversation {i}",
                contact_person_id=people[i % len(people)].id,
            )
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        assert client.get(f"/console/customers/{small.id}").status_code == 200
        few = len(statements)
        statements.clear()
        page = client.get(f"/console/customers/{big.id}").text
        many = len(statements)
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    assert many == few + 1  # plus the staff names, which the small customer does not need
    assert many <= 12
    assert page.count("Conversation ") == 50
    assert "The newest 50 contacts" in page


def test_an_unknown_customer_is_a_404_page(client: TestClient, agent: Staff) -> None:
    response = client.get(f"/console/customers/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "no customer with that id" in response.text


# --- contact persons --------------------------------------------------------------------------


def test_adding_a_contact_person(client: TestClient, database: Database, agent: Staff) -> None:
    customer, _ = make_customer(database, contacts=0)
    form = {
        "name": "Carla de Vries",
        "email": "Carla@Acme.example",
        "phone": "+31 20 555 0101",
        "street": "Damrak 5",
        "postal_code": "1012 LG",
        "city": "Amsterdam",
        "country": "nl",
    }
    response = post(client, f"/console/customers/{customer.id}/contacts", form)
    assert response.status_code == 303
    assert response.headers["location"] == f"/console/customers/{customer.id}?done=contact-added#contacts"
    page = client.get(response.headers["location"]).text
    assert "The contact person was added." in page
    assert "Carla de Vries" in page and "carla@acme.example" in page
    _, (contact,) = load(database, customer.id)
    assert (contact.name, contact.email, contact.phone, contact.street, contact.country) == (
        "Carla de Vries",
        "carla@acme.example",
        "+31 20 555 0101",
        "Damrak 5",
        "NL",
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": " "}, "a contact person needs a name"),
        ({"email": "not an address"}, "not a valid e-mail address"),
        ({"country": "Nederland"}, "is not a two-letter country code"),
    ],
)
def test_a_wrong_contact_person_is_refused_with_the_input_kept(
    client: TestClient, database: Database, agent: Staff, change: dict[str, str], message: str
) -> None:
    customer, _ = make_customer(database, contacts=0)
    form = {"name": "Carla", "email": "carla@acme.example", "phone": "0612345678", "country": "NL"} | change
    response = post(client, f"/console/customers/{customer.id}/contacts", form)
    assert response.status_code == 422
    assert message in response.text
    assert 'role="alert"' in response.text
    assert 'value="0612345678"' in response.text
    assert load(database, customer.id)[1] == []


def test_a_duplicate_contact_person_is_a_conflict(
    client: TestClient, database: Database, agent: Staff
) -> None:
    customer, (person,) = make_customer(database, contacts=1)
    response = post(
        client, f"/console/customers/{customer.id}/contacts", {"name": "Again", "email": person.email}
    )
    assert response.status_code == 409
    assert "already has a contact person" in response.text
    assert len(load(database, customer.id)[1]) == 1


def test_editing_and_removing_a_contact_person(client: TestClient, database: Database, agent: Staff) -> None:
    customer, (person,) = make_customer(database, contacts=1)
    url = f"/console/customers/{customer.id}/contacts/{person.id}"
    form = client.get(url)
    assert form.status_code == 200
    assert f'value="{person.email}"' in form.text
    assert headings(form.text)[0] == ("h1", "Edit contact person")
    bad = post(client, url, {"name": "Person Zero", "email": "nope", "country": "NL"})
    assert bad.status_code == 422
    assert 'value="Person Zero"' in bad.text
    assert load(database, customer.id)[1][0].name == person.name  # unchanged
    saved = post(
        client, url, {"name": "Person Zero", "email": "zero@acme.example", "phone": "", "country": "BE"}
    )
    assert saved.status_code == 303
    _, (contact,) = load(database, customer.id)
    assert (contact.name, contact.email, contact.phone, contact.country) == (
        "Person Zero",
        "zero@acme.example",
        "",
        "BE",
    )
    removed = post(client, f"{url}/remove", {})
    assert removed.status_code == 303
    assert load(database, customer.id)[1] == []
    assert client.get(url).status_code == 404


def test_a_contact_person_of_another_customer_is_not_found(
    client: TestClient, database: Database, agent: Staff
) -> None:
    customer, _ = make_customer(database, contacts=0)
    _, (stranger,) = make_customer(database, legal_name="Other B.V.", billing_email="o@other.example")
    url = f"/console/customers/{customer.id}/contacts/{stranger.id}"
    assert client.get(url).status_code == 404
    assert post(client, url, {"name": "Taken", "email": "t@other.example"}).status_code == 404
    assert post(client, f"{url}/remove", {}).status_code == 404
    assert load(database, stranger.customer_id)[1][0].name == stranger.name


# --- the contract -----------------------------------------------------------------------------


def test_ending_the_contract(client: TestClient, database: Database, agent: Staff) -> None:
    customer, _ = make_customer(database)
    today = date.today()
    response = post(
        client, f"/console/customers/{customer.id}/contract-end", {"contract_end": today.isoformat()}
    )
    assert response.status_code == 303
    assert "The end of the contract was recorded." in client.get(response.headers["location"]).text
    stored, _ = load(database, customer.id)
    assert stored.contract_end == today
    assert stored.status == CustomerStatus.ended


def test_a_contract_ending_later_stays_active(client: TestClient, database: Database, agent: Staff) -> None:
    customer, _ = make_customer(database)
    later = date.today() + timedelta(days=30)
    assert (
        post(
            client, f"/console/customers/{customer.id}/contract-end", {"contract_end": later.isoformat()}
        ).status_code
        == 303
    )
    stored, _ = load(database, customer.id)
    assert (stored.contract_end, stored.status) == (later, CustomerStatus.active)


@pytest.mark.parametrize(("value", "message"), [("", "give the date"), ("31-12-2026", "is not a date")])
def test_a_wrong_end_date_is_refused(
    client: TestClient, database: Database, agent: Staff, value: str, message: str
) -> None:
    customer, _ = make_customer(database)
    response = post(client, f"/console/customers/{customer.id}/contract-end", {"contract_end": value})
    assert response.status_code == 422
    assert message in response.text
    assert load(database, customer.id)[0].contract_end is None


def test_a_contract_cannot_end_before_it_starts(client: TestClient, database: Database, agent: Staff) -> None:
    customer, _ = make_customer(database)
    with database.unit_of_work("contract", SYSTEM) as session:
        service.update_customer(
            session, service.get_customer(session, customer.id), {"contract_start": date.today()}
        )
    before = (date.today() - timedelta(days=1)).isoformat()
    response = post(client, f"/console/customers/{customer.id}/contract-end", {"contract_end": before})
    assert response.status_code == 422
    assert "cannot end before it starts" in response.text
    assert f'value="{before}"' in response.text
    assert load(database, customer.id)[0].status == CustomerStatus.active


def test_an_analyst_cannot_open_customers(client: TestClient, database: Database) -> None:
    customer, _ = make_customer(database)
    analyst = make_staff(database, role=StaffRole.analyst, email="analyst@lawful.example")
    assert post(client, "/console/login", {"email": analyst.email, "password": PASSWORD}).status_code == 303
    assert client.get("/console/customers").status_code == 403
    assert client.get(f"/console/customers/{customer.id}").status_code == 403
    refused = post(client, f"/console/customers/{customer.id}/contract-end", {"contract_end": "2026-01-01"})
    assert refused.status_code == 403
    assert load(database, customer.id)[0].contract_end is None
