"""The console's agreement pages, on both backends: the Agreement section of a customer's record
and its form to conclude an agreement; ending a contract and the billing forms record their
changes; the documents page with each version's diff."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import func, select
from tests.billing.helpers import standard_catalogue
from tests.factories import SYSTEM, make_customer, make_staff, post_form
from tests.web.test_console import assert_accessible, console_client, sign_in

from lawful.agreements import documents, service
from lawful.agreements.models import Agreement, AgreementEvent, DocumentKind
from lawful.billing import catalogue
from lawful.customers.models import Customer, CustomerStatus
from lawful.data.db import Database
from lawful.users.models import StaffRole

NOTE = "signed order form 2026-11-28"
TERMS = documents.terms_document(None)


@dataclass
class World:
    db: Database
    customer: uuid.UUID
    plans: dict[str, uuid.UUID]
    names: dict[StaffRole, str]


@pytest.fixture
def world(database: Database) -> World:
    plans = standard_catalogue(database)
    customer, _ = make_customer(database, legal_name="Alpha Trading B.V.", contacts=0)
    names = {}
    for role in StaffRole:
        names[role] = f"Staff {role.value}"
        make_staff(database, role=role, email=f"{role.value}@lawful.example", name=names[role])
    return World(database, customer.id, {code: p.id for code, p in plans.items()}, names)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with console_client(world.db) as client:
        yield client


def as_staff(client: TestClient, role: StaffRole) -> TestClient:
    assert sign_in(client, f"{role.value}@lawful.example").status_code == 303
    return client


def tree(text: str) -> Any:
    return etree.fromstring(text, etree.HTMLParser())


def text_of(node: Any) -> str:
    return " ".join("".join(node.itertext()).split())


def agreement_rows(page: str) -> list[str]:
    return [text_of(tr) for tr in tree(page).xpath("//section[@id='agreements']//tr[@class='agreement']")]


def records(db: Database) -> list[Agreement]:
    with db.unit_of_work("contract", SYSTEM) as session:
        return list(session.scalars(select(Agreement).order_by(Agreement.recorded_at)))


def statement_short(db: Database) -> str:
    return documents.statement_document(db.policy).short


def conclude_form(world: World, **changes: str) -> dict[str, str]:
    values = {
        "plan_id": str(world.plans["starter"]),
        "starts_on": date.today().isoformat(),
        "note": NOTE,
        "accept": "yes",
        "terms_version": TERMS.digest,
        "statement_version": documents.statement_document(world.db.policy).digest,
    }
    values.update(changes)
    return values


# --- the customer's record --------------------------------------------------------------------


def test_finance_concludes_an_agreement_on_the_customer_record(client: TestClient, world: World) -> None:
    as_staff(client, StaffRole.finance)
    page_url = f"/console/customers/{world.customer}"
    page = client.get(page_url)
    assert page.status_code == 200
    assert_accessible(page.text)
    section = tree(page.text).xpath("//section[@id='agreements']")[0]
    assert text_of(section.xpath(".//h2")[0]) == "Agreement"
    assert "No agreement recorded." in text_of(section)
    label = text_of(section.xpath(".//label[@for='agreement-accept']")[0])
    assert label == (
        f"The customer accepted terms version {TERMS.short} and was given privacy statement version "
        f"{statement_short(world.db)}"
    )
    assert section.xpath(".//input[@name='accept'][@required]")
    plans = section.xpath(".//select[@name='plan_id']/option/@value")
    assert set(plans) == {"", *(str(p) for p in world.plans.values())}

    done = post_form(client, f"{page_url}/agreements", conclude_form(world), page=page_url)
    assert done.status_code == 303, done.text
    assert done.headers["location"].endswith("?done=agreement-concluded#agreements")
    page = client.get(done.headers["location"])
    assert "The agreement was concluded and recorded." in page.text
    [row] = agreement_rows(page.text)
    assert TERMS.short in row and statement_short(world.db) in row
    assert "concluded" in row and date.today().isoformat() in row
    assert "Starter" in row and "EUR 19.00 a month" in row and "0.002 per unit" in row
    assert f"recorded by {world.names[StaffRole.finance]}" in row and NOTE in row
    # a subscription runs: no form now, but the way to change or cancel it
    section = tree(page.text).xpath("//section[@id='agreements']")[0]
    assert not section.xpath(".//form")
    assert section.xpath(f".//a[@href='/console/billing/customers/{world.customer}']")
    [record] = records(world.db)
    assert (record.event, record.note, record.plan_code) == (AgreementEvent.concluded, NOTE, "starter")


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"accept": ""}, 422, "confirm that the customer accepted the terms"),
        ({"note": "  "}, 422, "say how the customer agreed"),
        ({"plan_id": ""}, 422, "choose a plan"),
        ({"plan_id": str(uuid.UUID(int=3))}, 404, "no such plan"),
        ({"starts_on": "tomorrow"}, 422, "give a date"),
        ({"terms_version": "0" * 16}, 409, "the terms of service changed since this page was opened"),
    ],
)
def test_a_wrong_conclusion_is_refused_next_to_the_form_and_stores_nothing(
    client: TestClient, world: World, changes: dict[str, str], status: int, message: str
) -> None:
    as_staff(client, StaffRole.finance)
    page_url = f"/console/customers/{world.customer}"
    response = post_form(client, f"{page_url}/agreements", conclude_form(world, **changes), page=page_url)
    assert response.status_code == status, response.text
    error = tree(response.text).xpath("//section[@id='agreements']//*[@id='agreement-error']")
    assert error and message in text_of(error[0])
    assert NOTE in response.text or "note" in changes  # the input is kept
    assert records(world.db) == []
    with world.db.unit_of_work("contract", SYSTEM) as session:
        assert catalogue.subscriptions_of(session, world.customer) == []


def test_support_sees_the_records_but_concludes_nothing(client: TestClient, world: World) -> None:
    with world.db.unit_of_work("contract", SYSTEM) as session:
        documents.publish(session, documents.statement_document(world.db.policy))
        documents.publish(session, TERMS)
    with world.db.unit_of_work("contract", SYSTEM) as session:
        how = service.Acceptance.by_staff(session, _staff_id(world, StaffRole.finance), note=NOTE)
        service.conclude(session, world.customer, world.plans["business"], starts_on=date.today(), how=how)
    as_staff(client, StaffRole.support)
    page_url = f"/console/customers/{world.customer}"
    page = client.get(page_url)
    [row] = agreement_rows(page.text)
    assert "Business" in row and "at least EUR 150.00" in row
    assert not tree(page.text).xpath("//section[@id='agreements']//form")
    refused = post_form(client, f"{page_url}/agreements", conclude_form(world), page=page_url)
    assert refused.status_code == 403
    assert len(records(world.db)) == 1


def _staff_id(world: World, role: StaffRole) -> uuid.UUID:
    from lawful.users.models import Staff

    with world.db.unit_of_work("staff_access", SYSTEM) as session:
        found = session.scalar(select(Staff.id).where(Staff.email == f"{role.value}@lawful.example"))
        assert found is not None
        return found


# --- ending the contract and the billing forms ------------------------------------------------


def test_ending_the_contract_cancels_the_running_subscription_and_records_it(
    client: TestClient, world: World
) -> None:
    as_staff(client, StaffRole.support)
    start = date.today() - timedelta(days=40)
    with world.db.unit_of_work("contract", SYSTEM) as session:
        catalogue.subscribe(session, world.customer, world.plans["starter"], starts_on=start)
    page_url = f"/console/customers/{world.customer}"
    end = date.today() + timedelta(days=20)
    done = post_form(client, f"{page_url}/contract-end", {"contract_end": end.isoformat()}, page=page_url)
    assert done.status_code == 303, done.text
    with world.db.unit_of_work("contract", SYSTEM) as session:
        [subscription] = catalogue.subscriptions_of(session, world.customer)
        customer = session.get(Customer, world.customer)
        assert customer is not None
        assert (subscription.ends_on, customer.contract_end, customer.status) == (
            end,
            end,
            CustomerStatus.active,
        )
    [record] = records(world.db)
    assert (record.event, record.effective_on, record.plan_code) == (AgreementEvent.cancelled, end, "starter")
    [row] = agreement_rows(client.get(page_url).text)
    assert "cancelled" in row and f"recorded by {world.names[StaffRole.support]}" in row


def test_ending_a_contract_without_a_subscription_records_no_agreement(
    client: TestClient, world: World
) -> None:
    as_staff(client, StaffRole.support)
    page_url = f"/console/customers/{world.customer}"
    today = date.today().isoformat()
    assert (
        post_form(client, f"{page_url}/contract-end", {"contract_end": today}, page=page_url).status_code
        == 303
    )
    assert records(world.db) == []
    with world.db.unit_of_work("contract", SYSTEM) as session:
        customer = session.get(Customer, world.customer)
        assert customer is not None and customer.status is CustomerStatus.ended


def test_a_refused_contract_end_changes_nothing(client: TestClient, world: World) -> None:
    as_staff(client, StaffRole.support)
    start = date.today() - timedelta(days=10)
    with world.db.unit_of_work("contract", SYSTEM) as session:
        catalogue.subscribe(session, world.customer, world.plans["starter"], starts_on=start)
    page_url = f"/console/customers/{world.customer}"
    # the day the subscription starts: it cannot end then
    response = post_form(
        client, f"{page_url}/contract-end", {"contract_end": start.isoformat()}, page=page_url
    )
    assert response.status_code == 422 and "after the day it starts" in response.text
    with world.db.unit_of_work("contract", SYSTEM) as session:
        [subscription] = catalogue.subscriptions_of(session, world.customer)
        assert subscription.ends_on is None
    assert records(world.db) == []


def test_the_billing_forms_record_plan_changes_and_cancellations(client: TestClient, world: World) -> None:
    as_staff(client, StaffRole.finance)
    billing = f"/console/billing/customers/{world.customer}"
    start = date.today() - timedelta(days=30)
    for plan, day in (("starter", start), ("business", date.today())):
        response = post_form(
            client,
            f"{billing}/subscribe",
            {"plan_id": str(world.plans[plan]), "starts_on": day.isoformat()},
            page=billing,
        )
        assert response.status_code == 303, response.text
    end = date.today() + timedelta(days=31)
    assert post_form(client, f"{billing}/cancel", {"on": end.isoformat()}, page=billing).status_code == 303
    assert [(r.event, r.plan_code) for r in records(world.db)] == [
        (AgreementEvent.concluded, "starter"),
        (AgreementEvent.plan_changed, "business"),
        (AgreementEvent.cancelled, "business"),
    ]
    rows = agreement_rows(client.get(f"/console/customers/{world.customer}").text)
    assert [r.split(" ")[2] for r in rows] == ["cancelled", "plan", "concluded"]  # after date and time
    assert all(TERMS.short in r and statement_short(world.db) in r for r in rows)


# --- the documents ----------------------------------------------------------------------------


def test_the_documents_page_lists_versions_and_shows_what_changed(client: TestClient, world: World) -> None:
    as_staff(client, StaffRole.support)
    page = client.get("/console/documents")
    assert page.status_code == 200
    assert_accessible(page.text)
    assert '<a href="/console/documents" aria-current' in page.text or "/console/documents" in page.text
    assert TERMS.short in page.text and statement_short(world.db) in page.text
    changed = TERMS.text.replace(
        "Invoices are due within fourteen days.", "Invoices are due within thirty days."
    )
    changed += "\n## 9. Notices\n\nWe write to your billing address.\n"
    with world.db.unit_of_work("contract", SYSTEM) as session:
        newer, _ = documents.publish(session, documents.terms_from_text(changed))
        older = documents.history(session, DocumentKind.terms)[1]
    listed = tree(client.get("/console/documents").text)
    terms_rows = [text_of(tr) for tr in listed.xpath("//section[@id='terms']//tr[@class='document-version']")]
    assert len(terms_rows) == 2
    assert newer.digest[:12] in terms_rows[0] and "3" in terms_rows[0].split()
    assert older.digest[:12] in terms_rows[1] and "first version" in terms_rows[1]

    view = client.get(f"/console/documents/{newer.id}")
    assert view.status_code == 200
    assert_accessible(view.text)
    html = tree(view.text)
    [changed_p] = html.xpath("//p[contains(concat(' ', @class, ' '), ' diff-changed ')]")
    assert (
        text_of(changed_p.xpath(".//del")[0]) == "fourteen"
        and text_of(changed_p.xpath(".//ins")[0]) == "thirty"
    )
    assert [text_of(p) for p in html.xpath("//p[contains(concat(' ', @class, ' '), ' diff-added ')]")] == [
        "9. Notices",
        "We write to your billing address.",
    ]
    assert html.xpath(f"//a[@href='/console/documents/{older.id}']")
    first = client.get(f"/console/documents/{older.id}")
    assert first.status_code == 200 and "the first version" in first.text
    assert client.get(f"/console/documents/{uuid.uuid4()}").status_code == 404


@pytest.mark.parametrize("role", list(StaffRole))
def test_every_staff_member_reads_the_documents(client: TestClient, world: World, role: StaffRole) -> None:
    as_staff(client, role)
    page = client.get("/console/documents")
    assert page.status_code == 200
    assert '<a href="/console/documents"' in page.text  # in the navigation


def test_nobody_signed_in_is_sent_to_the_login(client: TestClient, world: World) -> None:
    response = client.get("/console/documents")
    assert response.status_code in (303, 401)
    with world.db.unit_of_work("contract", SYSTEM) as session:
        assert session.scalar(select(func.count()).select_from(Agreement)) == 0
