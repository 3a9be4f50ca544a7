"""The console's support pages: logging a conversation on a customer's record, and the support
log across customers with its search and the follow-ups that are due."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select
from tests.factories import SYSTEM, make_customer, make_staff, make_user

from lawful.data.db import Database
from lawful.settings import Settings
from lawful.support import service
from lawful.support.models import Channel, SupportContact
from lawful.users.models import Staff, StaffRole
from lawful.web.app import create_app
from lawful.web.auth import CSRF_COOKIE

PASSWORD = "correct horse battery staple"


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    app = create_app(Settings(argon2_time_cost=1, argon2_memory_kib=8192), db=database)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        client.headers.update({"accept": "text/html"})
        yield client


def post(client: TestClient, url: str, data: dict[str, str], *, token: bool = True) -> Response:
    if CSRF_COOKIE not in client.cookies:
        client.get("/console/login")
    form = {**data, "csrf_token": str(client.cookies[CSRF_COOKIE])} if token else data
    return client.post(url, data=form)


@pytest.fixture
def agent(client: TestClient, database: Database) -> Staff:
    """A support agent, signed in on ``client``."""
    staff = make_staff(database, role=StaffRole.support, email="agent@lawful.example", name="Sam Agent")
    assert post(client, "/console/login", {"email": staff.email, "password": PASSWORD}).status_code == 303
    return staff


def entries(db: Database) -> list[SupportContact]:
    with db.unit_of_work("contract", SYSTEM) as session:
        return list(session.scalars(select(SupportContact).order_by(SupportContact.occurred_at)))


def test_logging_a_support_contact(client: TestClient, database: Database, agent: Staff) -> None:
    customer, (person,) = make_customer(database, contacts=1)
    follow_up = date.today() + timedelta(days=3)
    response = post(
        client,
        f"/console/customers/{customer.id}/support",
        {
            "channel": "email",
            "who": f"contact:{person.id}",
            "summary": "Wants a second admin account",
            "follow_up_on": follow_up.isoformat(),
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/console/customers/{customer.id}?done=support-logged#support"
    page = client.get(response.headers["location"]).text
    assert "The support contact was logged." in page
    assert "Wants a second admin account" in page
    assert f"{person.name} (contact person)" in page
    assert "Sam Agent" in page
    (entry,) = entries(database)
    assert entry.customer_id == customer.id
    assert entry.staff_id == agent.id
    assert entry.contact_person_id == person.id and entry.user_id is None
    assert entry.channel == Channel.email
    assert entry.follow_up_on == follow_up


def test_a_support_contact_with_a_user(client: TestClient, database: Database, agent: Staff) -> None:
    customer, _ = make_customer(database, contacts=0)
    user = make_user(database, customer_id=customer.id, email="ada@acme.example", name="Ada Jansen")
    response = post(
        client,
        f"/console/customers/{customer.id}/support",
        {"channel": "chat", "who": f"user:{user.id}", "summary": "Could not sign in", "follow_up_on": ""},
    )
    assert response.status_code == 303
    (entry,) = entries(database)
    assert (entry.user_id, entry.contact_person_id, entry.follow_up_on) == (user.id, None, None)
    assert "Ada Jansen (user)" in client.get(f"/console/customers/{customer.id}").text


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"channel": "phone", "who": "", "summary": "   "}, 422, "a summary of the conversation is needed"),
        ({"channel": "fax", "who": "", "summary": "Hello"}, 422, "choose the channel"),
        ({"channel": "phone", "who": "contact:nonsense", "summary": "Hello"}, 422, "choose who"),
        (
            {"channel": "phone", "who": "", "summary": "Hello", "follow_up_on": "tomorrow"},
            422,
            "is not a date",
        ),
        (
            {"channel": "phone", "who": f"user:{uuid.uuid4()}", "summary": "Hello"},
            404,
            "no user with that id",
        ),
    ],
)
def test_a_wrong_support_contact_is_refused_with_the_input_kept(
    client: TestClient, database: Database, agent: Staff, form: dict[str, str], status: int, message: str
) -> None:
    customer, _ = make_customer(database, contacts=0)
    response = post(client, f"/console/customers/{customer.id}/support", form)
    assert response.status_code == status
    assert message in response.text
    assert 'role="alert"' in response.text
    if form["summary"].strip():
        assert f">{form['summary']}</textarea>" in response.text
    assert entries(database) == []


def test_someone_of_another_customer_cannot_be_named(
    client: TestClient, database: Database, agent: Staff
) -> None:
    customer, _ = make_customer(database, contacts=0)
    _, (stranger,) = make_customer(database, legal_name="Other B.V.", billing_email="o@other.example")
    response = post(
        client,
        f"/console/customers/{customer.id}/support",
        {"channel": "phone", "who": f"contact:{stranger.id}", "summary": "Hello"},
    )
    assert response.status_code == 404
    assert "no contact person with that id at this customer" in response.text
    assert entries(database) == []


def test_logging_needs_the_csrf_token_and_the_contract_purpose(
    client: TestClient, database: Database
) -> None:
    customer, _ = make_customer(database, contacts=0)
    officer = make_staff(database, role=StaffRole.privacy_officer, email="privacy@lawful.example")
    assert post(client, "/console/login", {"email": officer.email, "password": PASSWORD}).status_code == 303
    form = {"channel": "phone", "who": "", "summary": "Hello"}
    assert post(client, f"/console/customers/{customer.id}/support", form).status_code == 403
    assert post(client, f"/console/customers/{customer.id}/support", form, token=False).status_code == 403
    assert client.get("/console/support").status_code == 403
    assert entries(database) == []


def test_the_support_log_across_customers(client: TestClient, database: Database, agent: Staff) -> None:
    acme, (person,) = make_customer(database, contacts=1)
    bakery, _ = make_customer(
        database, legal_name="Bakkerij Jansen", billing_email="b@bakkerij.example", contacts=0
    )
    with database.unit_of_work("contract", SYSTEM) as session:
        service.log_contact(
            session,
            customer_id=acme.id,
            staff_id=agent.id,
            channel=Channel.phone,
            summary="Asked for a copy of the invoice",
            contact_person_id=person.id,
            follow_up_on=date.today() - timedelta(days=1),
        )
        service.log_contact(
            session,
            customer_id=bakery.id,
            staff_id=None,
            channel=Channel.chat,
            summary="Wants to change the plan",
            follow_up_on=date.today() + timedelta(days=10),
        )
    page = client.get("/console/support")
    assert page.status_code == 200
    assert "<h1>Support log</h1>" in page.text
    assert "Asked for a copy of the invoice" in page.text and "Wants to change the plan" in page.text
    assert f'href="/console/customers/{bakery.id}#support">Bakkerij Jansen</a>' in page.text
    assert f"{person.name} (contact person)" in page.text and "Sam Agent" in page.text

    by_summary = client.get("/console/support", params={"q": "INVOICE"}).text
    assert "Asked for a copy" in by_summary and "change the plan" not in by_summary
    by_customer_name = client.get("/console/support", params={"q": "bakkerij"}).text
    assert "change the plan" in by_customer_name and "Asked for a copy" not in by_customer_name
    one_customer = client.get("/console/support", params={"customer": str(bakery.id)}).text
    assert "change the plan" in one_customer and "Asked for a copy" not in one_customer

    due = client.get("/console/support", params={"due": "1"}).text
    assert "Asked for a copy" in due and "change the plan" not in due
    assert "<strong>due</strong>" in due


def test_a_follow_up_is_marked_done(client: TestClient, database: Database, agent: Staff) -> None:
    customer, _ = make_customer(database, contacts=0)
    with database.unit_of_work("contract", SYSTEM) as session:
        entry = service.log_contact(
            session,
            customer_id=customer.id,
            staff_id=agent.id,
            channel=Channel.phone,
            summary="Call back about the contract",
            follow_up_on=date.today(),
        )
    response = post(client, f"/console/support/{entry.id}/done", {"back": "/console/support?due=1"})
    assert response.status_code == 303
    assert response.headers["location"] == "/console/support?due=1&done=followed-up"
    page = client.get(response.headers["location"]).text
    assert "The follow-up was marked as done." in page
    assert "Call back about the contract" not in page
    assert entries(database)[0].follow_up_done is True
    elsewhere = post(client, f"/console/support/{entry.id}/done", {"back": "https://evil.example/"})
    assert elsewhere.headers["location"] == "/console/support?done=followed-up"
    assert post(client, f"/console/support/{uuid.uuid4()}/done", {}).status_code == 404
