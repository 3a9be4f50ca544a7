"""Browser test of issue 7 in headless Chromium against a live server: a sole proprietor reads the
pricing page, chooses a plan, signs up, confirms from the mail the loopback SMTP server received,
chooses a password and lands in the portal with the plan, signs out and in again with it; a support agent then sees the customer
and the agreement record with the versions of the terms and the statement in the console."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page, expect
from sqlalchemy import select
from tests.billing.helpers import standard_catalogue
from tests.browser.conftest import LiveServer
from tests.factories import SYSTEM, make_staff

from lawful.agreements import documents
from lawful.agreements.models import DocumentKind
from lawful.customers.models import Customer, CustomerKind
from lawful.users.models import StaffRole

pytestmark = pytest.mark.browser

PASSWORD = "violet tractor quantum 42"
STAFF_PASSWORD = "correct horse battery staple"
WAIT_MS = 10_000


def watch(page: Page) -> list[str]:
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console error on {page.url}: {message.text}")

    def on_pageerror(error: Error) -> None:
        errors.append(f"uncaught error on {page.url}: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_pageerror)
    return errors


def test_a_sole_proprietor_signs_up_confirms_and_staff_see_the_agreement(
    live_server: LiveServer, page: Page, browser: Browser
) -> None:
    plans = standard_catalogue(live_server.db)
    tag = uuid.uuid4().hex[:8]
    email = f"anna-{tag}@jansen-advies.example"
    legal_name = f"Jansen Advies {tag}"
    errors = watch(page)

    # pricing → choose a plan
    page.goto(f"{live_server.url}/pricing")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pricing")
    expect(page.get_by_role("heading", name="Starter", level=2)).to_be_visible()
    page.get_by_role("link", name="Choose Starter").click()
    expect(page).to_have_url(f"{live_server.url}/signup?plan={plans['starter'].id}")
    expect(page.get_by_role("radio", name="Starter")).to_be_checked()

    # the form, as a sole proprietor
    page.get_by_role("radio", name="Myself, as a sole proprietor").check()
    expect(page.locator("#sole-proprietor-note")).to_contain_text("is personal data about you")
    expect(page.locator("#why-billing_email")).to_contain_text("Your invoices are sent here.")
    # KvK applies in the Netherlands only, a VAT number in the EU
    page.get_by_label("Country where the business is registered").select_option("BE")
    expect(page.get_by_label("KvK number")).to_be_hidden()
    expect(page.get_by_label("VAT number")).to_be_visible()
    page.get_by_label("Country where the business is registered").select_option("US")
    expect(page.get_by_label("VAT number")).to_be_hidden()
    page.get_by_label("Country where the business is registered").select_option("NL")
    expect(page.get_by_label("KvK number")).to_be_visible()

    page.get_by_label("Legal name").fill(legal_name)
    page.get_by_label("KvK number").fill("12345678")
    page.get_by_label("VAT number").fill("NL004495445B01")
    page.get_by_label("Street and number").fill("Dorpsstraat 1")
    page.get_by_label("Postal code").fill("1234 AB")
    page.get_by_label("City").fill("Utrecht")
    page.get_by_label("Billing e-mail address").fill(f"facturen-{tag}@jansen-advies.example")
    page.get_by_label("Your name").fill("Anna Jansen")
    page.get_by_label("Your e-mail address (your login)").fill(email)
    page.get_by_role("checkbox", name="I accept the terms of service").check()
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(f"{live_server.url}/signup/sent")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your e-mail")

    # the confirmation link, from the mail
    link = live_server.smtp.first_url(email)
    assert link.startswith(f"{live_server.url}/signup/confirm/"), link
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your sign-up")
    expect(page.get_by_text(legal_name).first).to_be_visible()
    expect(page.get_by_role("note")).to_contain_text("is personal data about you")
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm and start").click()

    # signed in; the portal shows the plan
    expect(page).to_have_url(f"{live_server.url}/portal/billing", timeout=WAIT_MS)
    expect(page.locator("#current-plan")).to_contain_text("Starter")

    # the first login with the chosen password
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{live_server.url}/portal/login?next=/portal/billing")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/portal/billing", timeout=WAIT_MS)
    expect(page.locator("#current-plan")).to_contain_text("Starter")
    expect(page.locator("#current-plan")).to_contain_text(datetime.now(UTC).date().isoformat())
    assert errors == []

    with live_server.db.unit_of_work("contract", SYSTEM) as session:
        customer = session.scalars(select(Customer).where(Customer.legal_name == legal_name)).one()
        assert customer.kind is CustomerKind.sole_proprietor
        customer_id = customer.id
        terms = documents.current(session, DocumentKind.terms)
        statement = documents.current(session, DocumentKind.statement)
        assert terms is not None and statement is not None
        terms_short, statement_short = terms.digest[:12], statement.digest[:12]

    # the console: the customer and the agreement record with both versions
    agent = make_staff(live_server.db, role=StaffRole.support, email=f"sam-{tag}@lawful.example")
    staff_context: BrowserContext = browser.new_context(locale="en-GB", timezone_id="Europe/Amsterdam")
    staff_context.set_default_timeout(WAIT_MS)
    try:
        console = staff_context.new_page()
        console_errors = watch(console)
        console.goto(f"{live_server.url}/console/login")
        console.get_by_label("E-mail address").fill(agent.email)
        console.get_by_label("Password").fill(STAFF_PASSWORD)
        console.get_by_role("button", name="Sign in").click()
        expect(console).to_have_url(f"{live_server.url}/console/customers")
        console.goto(f"{live_server.url}/console/customers/{customer_id}")
        expect(console.get_by_role("heading", level=1)).to_have_text(legal_name)
        record = console.locator("section#agreements tr.agreement")
        expect(record).to_have_count(1)
        expect(record).to_contain_text(terms_short)
        expect(record).to_contain_text(statement_short)
        expect(record).to_contain_text("Starter")
        assert console_errors == []
    finally:
        staff_context.close()
