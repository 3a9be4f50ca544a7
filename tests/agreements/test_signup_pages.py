"""Sign-up on the website and its confirmation link, on both databases: every refusal is a clear
message next to its field and leaves nothing half-created; the answer never tells whether an
address has an account; a confirmed sign-up is a customer with its admin (signed in), subscription
and agreement record, and the next billing run makes its first invoice."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select, update
from tests.agreements.helpers import SOLE_PROPRIETOR, counts, hidden
from tests.billing.helpers import standard_catalogue
from tests.factories import FAST, SYSTEM, csrf_token, mailed_token, make_customer, make_user
from tests.web.test_console import console_client

from lawful.agreements import service as agreements
from lawful.agreements.models import Channel, Signup
from lawful.agreements.signup import CONFIRM_KIND, EXISTING_KIND
from lawful.billing import catalogue
from lawful.billing import service as billing
from lawful.billing.models import Invoice, InvoiceStatus, Plan
from lawful.customers.models import Customer, CustomerKind
from lawful.data.db import Database
from lawful.mail.models import OutboundMail
from lawful.policy.model import Policy
from lawful.users.models import AccountStatus, LoginOutcome, LoginRecord, User, UserRole
from lawful.web.auth import USER_COOKIE

PASSWORD = "a long enough passphrase 42"
EMAIL = "anna@jansen-advies.nl"


@pytest.fixture
def plans(database: Database) -> dict[str, Plan]:
    return standard_catalogue(database)


@pytest.fixture
def client(database: Database, plans: dict[str, Plan]) -> Iterator[TestClient]:
    client = console_client(database)
    yield client
    client.close()


def fields(client: TestClient, plan: Plan, **changes: str) -> dict[str, str]:
    """A valid sign-up of a Dutch sole proprietor, with the versions the form shows."""
    page = client.get("/signup").text
    data = {
        "csrf_token": csrf_token(client, "/signup"),
        "plan_id": str(plan.id),
        **SOLE_PROPRIETOR,
        "starts_on": date.today().isoformat(),
        "accept": "yes",
        "terms_version": hidden(page, "terms_version"),
        "statement_version": hidden(page, "statement_version"),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def sign_up(client: TestClient, plan: Plan, **changes: Any) -> Response:
    return client.post("/signup", data=fields(client, plan, **changes))


def confirm(client: TestClient, token: str, password: str = PASSWORD, repeat: str | None = None) -> Response:
    data = {
        "csrf_token": csrf_token(client, "/signup"),
        "password": password,
        "password_repeat": password if repeat is None else repeat,
    }
    return client.post(f"/signup/confirm/{token}", data=data)


NOTHING = {
    "customers": 0,
    "users": 0,
    "billing_subscriptions": 0,
    "agreements": 0,
    "agreement_acceptances": 0,
    "signups": 0,
}


def mails(db: Database, kind: str) -> list[str]:
    with db.unit_of_work("contract", SYSTEM) as session:
        return list(session.scalars(select(OutboundMail.to_address).where(OutboundMail.kind == kind)))


def error_of(page: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="error-{name}">(.*?)</p>', page, re.S)
    assert found, f"no message next to {name}"
    return found.group(1)


def input_tag(page: str, name: str) -> str:
    found = re.search(rf'<input id="{name}"[^>]*>', page)
    assert found, f"no input {name}"
    return found.group(0)


# --- the form ---------------------------------------------------------------------------------


def test_the_form_says_why_for_every_field_and_preselects_the_plan(
    client: TestClient, plans: dict[str, Plan], policy: Policy
) -> None:
    response = client.get(f"/signup?plan={plans['business'].id}")
    assert response.status_code == 200
    page = response.text
    for name, label in (
        ("legal_name", "Legal name"),
        ("kvk_number", "KvK number"),
        ("vat_number", "VAT number"),
        ("street", "Street and number"),
        ("postal_code", "Postal code"),
        ("city", "City"),
        ("billing_email", "Billing e-mail address"),
        ("admin_name", "Your name"),
        ("admin_email", "Your e-mail address (your login)"),
        ("starts_on", "Start date"),
    ):
        assert f'<label for="{name}">{label}</label>' in page
        assert f"why-{name}" in input_tag(page, name)
        assert f'id="why-{name}"' in page
    for name in ("plan_id", "kind", "country", "accept"):
        assert f'id="why-{name}"' in page
    assert "Your invoices are sent here." in page
    assert "kept 1 year after the agreement with your company ends" in page
    assert "performance of contract (GDPR art. 6(1)(b))" in page
    assert "As a sole proprietor, the business data you give us" in page
    assert f'value="{plans["business"].id}" required checked' in page
    assert f'value="{plans["starter"].id}" required>' in page
    assert input_tag(page, "starts_on").count(f'value="{date.today().isoformat()}"') == 1
    assert '<a href="/terms" target="_blank" rel="noopener">terms of service</a> (version ' in page
    assert 'type="checkbox" id="accept" name="accept" value="yes" required aria' in page  # not ticked


def test_sign_up_is_closed_when_the_settings_say_so(database: Database, plans: dict[str, Plan]) -> None:
    client = console_client(database, signup_open=False)
    response = client.get("/signup")
    assert response.status_code == 404 and "sign-up on this website is closed" in response.text.lower()
    posted = client.post("/signup", data={"csrf_token": csrf_token(client, "/pricing")})
    assert posted.status_code == 404
    assert counts(database) == NOTHING


def test_a_post_without_the_csrf_token_is_refused(client: TestClient, plans: dict[str, Plan]) -> None:
    data = fields(client, plans["starter"])
    del data["csrf_token"]
    assert client.post("/signup", data=data).status_code == 403


# --- refusals: a message at the field, nothing created -----------------------------------------


def test_an_invalid_vat_number_is_named_at_its_field_and_nothing_is_created(
    database: Database, client: TestClient, plans: dict[str, Plan]
) -> None:
    response = sign_up(client, plans["starter"], vat_number="NL123456789B99")
    assert response.status_code == 422
    page = response.text
    assert "VAT number" in error_of(page, "vat_number")
    tag = input_tag(page, "vat_number")
    assert 'aria-invalid="true"' in tag and "error-vat_number" in tag
    assert 'value="NL123456789B99"' in tag
    assert 'value="Jansen Advies"' in input_tag(page, "legal_name")  # what was typed is kept
    assert 'href="#field-vat_number"' in page  # the summary at the top links to the field
    assert 'type="checkbox" id="accept" name="accept" value="yes" required checked' in page
    assert counts(database) == NOTHING
    assert mails(database, CONFIRM_KIND) == []


def test_a_missing_acceptance_is_refused_and_nothing_is_created(
    database: Database, client: TestClient, plans: dict[str, Plan]
) -> None:
    response = sign_up(client, plans["starter"], accept=None)
    assert response.status_code == 422
    assert "accept the terms of service" in error_of(response.text, "accept")
    assert "checked" not in re.search(r'<input type="checkbox"[^>]*>', response.text).group(0)  # type: ignore[union-attr]
    assert counts(database) == NOTHING


def test_changed_versions_untick_the_box(
    database: Database, client: TestClient, plans: dict[str, Plan]
) -> None:
    current = hidden(client.get("/signup").text, "terms_version")
    response = sign_up(client, plans["starter"], terms_version="0123456789abcdef")
    assert response.status_code == 422
    assert "changed while you were filling in the form" in error_of(response.text, "accept")
    assert hidden(response.text, "terms_version") == current
    assert "checked" not in re.search(r'<input type="checkbox"[^>]*>', response.text).group(0)  # type: ignore[union-attr]
    assert counts(database) == NOTHING


def test_several_problems_are_each_shown_at_their_field(
    database: Database, client: TestClient, plans: dict[str, Plan]
) -> None:
    response = sign_up(client, plans["starter"], kvk_number="12", billing_email="not an address", city="")
    assert response.status_code == 422
    assert "KvK" in error_of(response.text, "kvk_number")
    assert error_of(response.text, "billing_email")
    assert "city" in error_of(response.text, "city")
    assert "3 things need your attention" in response.text
    assert counts(database) == NOTHING


# --- no answer reveals whether an address has an account --------------------------------------


def test_an_existing_address_gets_the_same_answer_and_a_mail_instead(
    database: Database, client: TestClient, plans: dict[str, Plan]
) -> None:
    customer, _ = make_customer(database, contacts=0)
    make_user(database, customer_id=customer.id, email="ada@acme.example", role=UserRole.admin)
    existing = sign_up(client, plans["starter"], admin_email="ada@acme.example")
    new = sign_up(client, plans["starter"])
    assert existing.status_code == new.status_code == 303
    assert existing.headers["location"] == new.headers["location"] == "/signup/sent"
    assert existing.content == new.content
    with database.unit_of_work("contract", SYSTEM) as session:
        assert list(session.scalars(select(Signup.email))) == [EMAIL]
    assert mails(database, EXISTING_KIND) == ["ada@acme.example"]
    assert mails(database, CONFIRM_KIND) == [EMAIL]
    sent = client.get("/signup/sent")
    assert sent.status_code == 200 and "Check your e-mail" in sent.text
    assert EMAIL not in sent.text and "ada@acme.example" not in sent.text


# --- the confirmation link --------------------------------------------------------------------


def test_an_expired_link_is_gone_and_nothing_is_created(
    database: Database, client: TestClient, plans: dict[str, Plan]
) -> None:
    assert sign_up(client, plans["starter"]).status_code == 303
    token = mailed_token(database, to=EMAIL, kind=CONFIRM_KIND)
    with database.unit_of_work("contract", SYSTEM) as session:
        session.execute(update(Signup).values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    page = client.get(f"/signup/confirm/{token}")
    assert page.status_code == 410 and "expired" in page.text
    assert 'role="alert"' in page.text and "<form" not in page.text.split("<main", 1)[1]
    response = confirm(client, token)
    assert response.status_code == 410 and "expired" in response.text
    assert USER_COOKIE not in response.cookies
    assert {k: v for k, v in counts(database).items() if k != "signups"} == {
        k: v for k, v in NOTHING.items() if k != "signups"
    }


def test_a_replayed_link_is_gone_and_the_customer_is_made_once(
    database: Database, client: TestClient, plans: dict[str, Plan]
) -> None:
    sign_up(client, plans["starter"])
    token = mailed_token(database, to=EMAIL, kind=CONFIRM_KIND)
    assert confirm(client, token).status_code == 303
    other = console_client(database)
    page = other.get(f"/signup/confirm/{token}")
    assert page.status_code == 410 and "already used" in page.text
    again = confirm(other, token)
    assert again.status_code == 410 and "already used" in again.text
    assert counts(database)["customers"] == 1 and counts(database)["users"] == 1
    assert counts(database)["agreements"] == 1


def test_an_unknown_link_is_not_found(client: TestClient) -> None:
    response = client.get(f"/signup/confirm/{uuid.uuid4().hex}")
    assert response.status_code == 404 and "not valid" in response.text


def test_a_new_sign_up_replaces_the_pending_one(
    database: Database, client: TestClient, plans: dict[str, Plan]
) -> None:
    sign_up(client, plans["starter"])
    first = mailed_token(database, to=EMAIL, kind=CONFIRM_KIND)
    sign_up(client, plans["business"], legal_name="Jansen Advies en Zonen")
    second = mailed_token(database, to=EMAIL, kind=CONFIRM_KIND)
    assert first != second
    assert counts(database)["signups"] == 1
    assert client.get(f"/signup/confirm/{first}").status_code == 404
    page = client.get(f"/signup/confirm/{second}")
    assert page.status_code == 200 and "Jansen Advies en Zonen" in page.text and "Business" in page.text


def test_different_passwords_are_refused_and_the_link_still_works(
    database: Database, client: TestClient, plans: dict[str, Plan]
) -> None:
    sign_up(client, plans["starter"])
    token = mailed_token(database, to=EMAIL, kind=CONFIRM_KIND)
    mismatch = confirm(client, token, repeat="another long passphrase 43")
    assert mismatch.status_code == 422 and "not the same" in mismatch.text
    weak = confirm(client, token, password="short")
    assert weak.status_code == 422
    assert counts(database)["customers"] == 0
    assert confirm(client, token).status_code == 303


def test_sign_ups_are_rate_limited_per_address(database: Database, plans: dict[str, Plan]) -> None:
    client = console_client(database, signup_ip_limit=2)
    assert sign_up(client, plans["starter"]).status_code == 303
    assert sign_up(client, plans["starter"], vat_number="NL123456789B99").status_code == 422
    third = sign_up(client, plans["starter"], admin_email="other@jansen-advies.nl")
    assert third.status_code == 429
    assert "too many sign-ups from your network address" in third.text.lower()
    assert third.headers["retry-after"] == "3600"
    assert counts(database)["signups"] == 1


def test_confirmation_attempts_are_rate_limited(database: Database, plans: dict[str, Plan]) -> None:
    client = console_client(database, confirm_ip_limit=2)
    for _ in range(2):
        assert client.get(f"/signup/confirm/{uuid.uuid4().hex}").status_code == 404
    assert client.get(f"/signup/confirm/{uuid.uuid4().hex}").status_code == 429


# --- a confirmed sign-up ----------------------------------------------------------------------


def test_a_confirmed_sign_up_is_a_customer_signed_in_and_invoiced_in_the_next_run(
    database: Database, client: TestClient, plans: dict[str, Plan]
) -> None:
    assert sign_up(client, plans["starter"]).status_code == 303
    assert counts(database)["customers"] == 0
    token = mailed_token(database, to=EMAIL, kind=CONFIRM_KIND)
    page = client.get(f"/signup/confirm/{token}")
    assert page.status_code == 200
    for text in ("Starter", "Jansen Advies", "NL004495445B01", "Dorpsstraat 1, 1234 AB Utrecht, Netherlands"):
        assert text in page.text
    assert "As a sole proprietor, the business data you give us" in page.text
    terms_version = hidden(client.get("/signup").text, "terms_version")
    assert f"version {terms_version[:12]}" in page.text

    response = confirm(client, token)
    assert response.status_code == 303 and response.headers["location"] == "/portal/billing"
    assert USER_COOKIE in response.cookies
    billing_page = client.get("/portal/billing")
    assert billing_page.status_code == 200
    assert re.search(r'<p id="current-plan"><strong>Starter</strong>', billing_page.text)

    with database.unit_of_work("contract", SYSTEM) as session:
        customer = session.scalars(select(Customer)).one()
        assert customer.kind is CustomerKind.sole_proprietor and customer.legal_name == "Jansen Advies"
        user = session.scalars(select(User)).one()
        assert user.email == EMAIL and user.role is UserRole.admin and user.status is AccountStatus.active
        assert session.scalars(select(LoginRecord.outcome)).all() == [LoginOutcome.success]
        subscription = catalogue.current_subscription(session, customer.id, date.today())
        assert subscription is not None and subscription.plan_id == plans["starter"].id
        (view,) = agreements.history(session, customer.id)
        assert view.agreement.channel is Channel.self_service
        assert view.terms is not None and view.terms.digest == terms_version
        assert view.acceptance is not None and view.acceptance.user_id == user.id
        assert view.acceptance.ip_address == "testclient"
        customer_id = customer.id

    billing.run(database, date.today(), settings=FAST)
    with database.unit_of_work("contract", SYSTEM) as session:
        invoice = session.scalars(select(Invoice).where(Invoice.customer_id == customer_id)).one()
        assert invoice.status is InvoiceStatus.draft
