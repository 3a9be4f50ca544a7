"""Browser tests of issue 3 (category a) in headless Chromium against a live server: a customer
admin signs in, invites a teammate who accepts the invitation from the mail the loopback SMTP
server received, the teammate reads "My data", and a support agent finds a customer and logs a
support contact. Every test also checks that its pages log no errors in the browser console."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page, expect
from sqlalchemy import select
from tests.browser.conftest import LiveServer
from tests.factories import SYSTEM, make_customer, make_staff, make_user

from lawful.customers.models import Customer
from lawful.policy.model import Policy
from lawful.support.models import Channel, SupportContact
from lawful.users.models import StaffRole, User, UserRole

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "violet tractor quantum 42"
PORTAL_COOKIE = "lawful_portal"
CONSOLE_COOKIE = "lawful_console"
WAIT_MS = 10_000


def tag() -> str:
    """A short unique word for names and e-mail addresses of one test."""
    return uuid.uuid4().hex[:8]


def watch(page: Page) -> list[str]:
    """The errors the page logs to the browser console or throws, as they happen."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console error on {page.url}: {message.text}")

    def on_pageerror(error: Error) -> None:
        errors.append(f"uncaught error on {page.url}: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_pageerror)
    return errors


@pytest.fixture
def errors(page: Page) -> list[str]:
    return watch(page)


@pytest.fixture
def second_context(browser: Browser) -> Iterator[BrowserContext]:
    """Another browser (no shared cookies), e.g. for the invited teammate."""
    ctx = browser.new_context(locale="en-GB", timezone_id="Europe/Amsterdam")
    ctx.set_default_timeout(WAIT_MS)
    try:
        yield ctx
    finally:
        ctx.close()


def a_customer(live_server: LiveServer, name: str) -> Customer:
    customer, _ = make_customer(
        live_server.db, legal_name=name, billing_email=f"billing-{tag()}@acme.example"
    )
    return customer


def a_user(live_server: LiveServer, customer: Customer, *, name: str, role: UserRole) -> User:
    email = f"{name.split()[0].lower()}-{tag()}@acme.example"
    return make_user(live_server.db, customer_id=customer.id, email=email, name=name, role=role)


def portal_sign_in(page: Page, live_server: LiveServer, *, email: str, name: str) -> None:
    page.goto(f"{live_server.url}/portal/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/portal/", timeout=WAIT_MS)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {name}")


def console_sign_in(page: Page, live_server: LiveServer, *, email: str) -> None:
    page.goto(f"{live_server.url}/console/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/console/customers", timeout=WAIT_MS)
    expect(page.get_by_role("heading", level=1)).to_have_text("Customers")


def cookie(context: BrowserContext, name: str) -> dict[str, object] | None:
    found = [dict(c) for c in context.cookies() if c["name"] == name]
    assert len(found) <= 1, found
    return found[0] if found else None


# --- the portal -------------------------------------------------------------------------------


def test_a_customer_admin_signs_in_and_sees_the_overview(
    live_server: LiveServer, page: Page, context: BrowserContext, errors: list[str]
) -> None:
    company = f"Tulpenveld {tag()} B.V."
    customer = a_customer(live_server, company)
    admin = a_user(live_server, customer, name="Anna de Vries", role=UserRole.admin)

    assert cookie(context, PORTAL_COOKIE) is None
    portal_sign_in(page, live_server, email=admin.email, name="Anna de Vries")

    expect(page.get_by_text(company)).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Overview")).to_have_attribute("aria-current", "page")
    expect(nav.get_by_role("link", name="Team")).to_be_visible()  # an admin has the team page
    session = cookie(context, PORTAL_COOKIE)
    assert session is not None, "no session cookie after signing in"
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    assert errors == []


def test_the_admin_invites_a_teammate_who_accepts_from_the_mail(
    live_server: LiveServer, page: Page, second_context: BrowserContext, errors: list[str]
) -> None:
    customer = a_customer(live_server, f"Molenaar {tag()} B.V.")
    admin = a_user(live_server, customer, name="Anna de Vries", role=UserRole.admin)
    teammate_email = f"bram-{tag()}@acme.example"
    portal_sign_in(page, live_server, email=admin.email, name="Anna de Vries")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Team").click()
    expect(page).to_have_url(f"{live_server.url}/portal/team")
    page.get_by_label("Name", exact=True).fill("Bram Bakker")
    page.get_by_label("E-mail address", exact=True).fill(teammate_email)
    page.get_by_label("Role").select_option("member")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_contain_text("The invitation is on its way.")
    row = page.get_by_role("row").filter(has_text=teammate_email)
    expect(row).to_contain_text("Bram Bakker")
    expect(row).to_contain_text("invited")

    message = live_server.smtp.wait_for(teammate_email)
    assert "Bram" in live_server.smtp.body(message)
    link = live_server.smtp.url_in(message)
    assert link.startswith(f"{live_server.url}/portal/invitation/"), link

    invitee = second_context.new_page()
    invitee_errors = watch(invitee)
    invitee.goto(link)
    expect(invitee.get_by_role("heading", level=1)).to_have_text("Activate your account")
    expect(invitee.get_by_text(teammate_email)).to_be_visible()
    invitee.get_by_label("Choose a password").fill(NEW_PASSWORD)
    invitee.get_by_label("Repeat the password").fill(NEW_PASSWORD)
    invitee.get_by_role("button", name="Activate my account").click()
    expect(invitee).to_have_url(f"{live_server.url}/portal/")
    expect(invitee.get_by_role("heading", level=1)).to_have_text("Welcome, Bram Bakker")
    assert cookie(second_context, PORTAL_COOKIE) is not None
    # a member has no team page
    expect(invitee.get_by_role("navigation", name="Main").get_by_role("link", name="Team")).to_have_count(0)

    page.reload()
    row = page.get_by_role("row").filter(has_text=teammate_email)
    expect(row.get_by_role("cell").nth(2)).to_have_text("active")  # e-mail, role, status
    expect(row).to_contain_text("member")

    # the link worked once
    again = invitee.goto(link)
    assert again is not None and again.status == 410
    expect(invitee.get_by_role("button", name="Activate my account")).to_have_count(0)
    invitee_errors[:] = [e for e in invitee_errors if "status of 410" not in e]
    assert errors == []
    assert invitee_errors == []


def test_the_teammate_sees_my_data(
    live_server: LiveServer, page: Page, policy: Policy, errors: list[str]
) -> None:
    customer = a_customer(live_server, f"Zeilmakerij {tag()} B.V.")
    teammate = a_user(live_server, customer, name="Bram Bakker", role=UserRole.member)
    portal_sign_in(page, live_server, email=teammate.email, name="Bram Bakker")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My data").click()
    expect(page).to_have_url(f"{live_server.url}/portal/my-data")
    expect(page.get_by_role("heading", level=1)).to_have_text("My data")
    about = page.locator("dl.facts")
    expect(about).to_contain_text("Bram Bakker")
    expect(about).to_contain_text(teammate.email)

    sign_ins = page.get_by_role("table", name="Your most recent attempts to sign in")
    expect(
        sign_ins.get_by_role("row").filter(has_text="127.0.0.1").filter(has_text="signed in")
    ).not_to_have_count(0)

    contract = policy.purpose("contract")
    expect(page.get_by_role("heading", level=3, name=contract.title)).to_be_visible()
    purpose = page.locator("section.card").filter(has=page.get_by_role("heading", name=contract.title))
    expect(purpose).to_contain_text(contract.legal_basis.label)
    assert contract.legal_basis.label == "performance of contract"
    assert errors == []


# --- the console ------------------------------------------------------------------------------


def test_a_support_agent_finds_a_customer_and_logs_a_contact(
    live_server: LiveServer, page: Page, errors: list[str]
) -> None:
    word = tag()
    wanted, (person,) = make_customer(
        live_server.db, legal_name=f"Kaasboerderij {word} B.V.", billing_email=f"kaas-{word}@acme.example"
    )
    other = a_customer(live_server, f"Fietsenmaker {tag()} B.V.")
    agent = make_staff(live_server.db, role=StaffRole.support, email=f"sam-{tag()}@lawful.example")
    console_sign_in(page, live_server, email=agent.email)

    rows = page.get_by_role("table").get_by_role("row")
    expect(rows.filter(has_text=wanted.legal_name)).to_have_count(1)
    expect(rows.filter(has_text=other.legal_name)).to_have_count(1)

    # the live search replaces the table without loading the page again
    page.evaluate("window.loadedOnce = true")
    with page.expect_response(
        lambda r: "/console/customers?" in r.url and r.request.headers.get("hx-request") == "true"
    ) as searched:
        page.get_by_label("Search customers").fill(word)
    assert searched.value.status == 200
    expect(rows.filter(has_text=other.legal_name)).to_have_count(0)
    expect(rows.filter(has_text=wanted.legal_name)).to_have_count(1)
    expect(page.locator("#customer-count")).to_contain_text("1 customer")
    assert page.evaluate("window.loadedOnce") is True, "the search reloaded the page"
    expect(page).to_have_url(re.compile(rf"/console/customers\?q={word}"))

    page.get_by_role("link", name=wanted.legal_name).click()
    expect(page).to_have_url(f"{live_server.url}/console/customers/{wanted.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(wanted.legal_name)
    for section in ("Contact persons", "Users", "Support log"):
        expect(page.get_by_role("heading", level=2, name=section)).to_be_visible()

    summary = f"Asked about invoice {word}; sent a copy by e-mail."
    follow_up = date(2031, 3, 14)
    form = page.get_by_role("form", name="Log a support contact")
    form.get_by_label("Channel", exact=True).select_option("email")
    form.get_by_label("Who", exact=True).select_option(label=person.name)
    form.get_by_label("Summary", exact=True).fill(summary)
    form.get_by_label("Follow up on", exact=True).fill(follow_up.isoformat())
    form.get_by_role("button", name="Log contact").click()

    expect(page).to_have_url(re.compile(rf"/console/customers/{wanted.id}\?done=support-logged"))
    entry = page.get_by_role("row").filter(has_text=summary)
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text(f"{person.name} (contact person)")
    expect(entry).to_contain_text(agent.name)
    expect(entry).to_contain_text("e-mail")
    expect(entry).to_contain_text(follow_up.isoformat())

    with live_server.db.unit_of_work("contract", SYSTEM) as session:
        logged = list(session.scalars(select(SupportContact).where(SupportContact.customer_id == wanted.id)))
        assert len(logged) == 1
        (contact,) = logged
        assert contact.staff_id == agent.id
        assert contact.summary == summary
        assert contact.channel == Channel.email
        assert contact.contact_person_id == person.id
        assert contact.user_id is None
        assert contact.follow_up_on == follow_up
        assert not list(session.scalars(select(SupportContact).where(SupportContact.customer_id == other.id)))
    assert errors == []


# --- signing out and the cookies --------------------------------------------------------------


def test_signing_out_of_the_portal_ends_the_session(
    live_server: LiveServer, page: Page, context: BrowserContext, errors: list[str]
) -> None:
    customer = a_customer(live_server, f"Drukkerij {tag()} B.V.")
    user = a_user(live_server, customer, name="Cees Kok", role=UserRole.member)
    portal_sign_in(page, live_server, email=user.email, name="Cees Kok")
    before = cookie(context, PORTAL_COOKIE)
    assert before is not None and before["httpOnly"] is True

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/portal/login"))
    expect(page.get_by_role("status")).to_contain_text("You are signed out.")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert cookie(context, PORTAL_COOKIE) is None

    page.goto(f"{live_server.url}/portal/my-data")
    expect(page).to_have_url(re.compile(r"/portal/login"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")

    # the old session key is dead on the server too, not only gone from the browser
    context.add_cookies([{"name": PORTAL_COOKIE, "value": str(before["value"]), "url": live_server.url}])
    page.goto(f"{live_server.url}/portal/")
    expect(page).to_have_url(re.compile(r"/portal/login"))
    assert errors == []


def test_signing_out_of_the_console_ends_the_session(
    live_server: LiveServer, page: Page, context: BrowserContext, errors: list[str]
) -> None:
    agent = make_staff(live_server.db, role=StaffRole.support, email=f"sam-{tag()}@lawful.example")
    console_sign_in(page, live_server, email=agent.email)
    session = cookie(context, CONSOLE_COOKIE)
    assert session is not None, "no console session cookie after signing in"
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    assert cookie(context, PORTAL_COOKIE) is None

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/console/login"))
    assert cookie(context, CONSOLE_COOKIE) is None
    page.goto(f"{live_server.url}/console/customers")
    expect(page).to_have_url(re.compile(r"/console/login"))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert errors == []
