"""Smoke tests of the browser set-up: Chromium renders Lawful's pages from a live server, and the
loopback SMTP server receives what Lawful sends."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import LiveServer, Mailbox

from lawful.mail.models import OutboundMail
from lawful.mail.service import SmtpMailer, compose
from lawful.policy.model import Policy

pytestmark = pytest.mark.browser


def test_the_privacy_statement_renders_in_chromium(
    live_server: LiveServer, page: Page, policy: Policy
) -> None:
    response = page.goto(f"{live_server.url}/privacy")
    assert response is not None and response.status == 200
    expect(page).to_have_title(f"Privacy statement of {policy.organisation.name}")
    assert policy.public_purposes
    for purpose in policy.public_purposes:
        expect(page.get_by_text(purpose.title, exact=True).first).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_count(1)


def test_the_portal_login_page_has_labelled_inputs(live_server: LiveServer, page: Page) -> None:
    response = page.goto(f"{live_server.url}/portal/login")
    assert response is not None
    assert response.status == 200
    email = page.get_by_label("E-mail address")
    password = page.get_by_label("Password")
    expect(email).to_be_visible()
    expect(email).to_have_attribute("name", "email")
    expect(password).to_be_visible()
    expect(password).to_have_attribute("type", "password")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    email.fill("nobody@example.com")
    password.fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(re.compile("the e-mail address or the password is wrong"))).to_be_visible()


def test_the_loopback_smtp_server_receives_lawfuls_mail(
    live_server: LiveServer, smtp_server: Mailbox
) -> None:
    mail = OutboundMail(
        to_address="anna@tulpenveld.example",
        subject_line="You are invited to our online services",
        body=f"Hello Anna,\n\nChoose your password here:\n\n{live_server.url}/portal/invitation/abc123.\n",
        kind="invitation",
    )
    SmtpMailer(live_server.settings).send(compose(mail, live_server.settings.mail_from))
    message = smtp_server.wait_for("Anna@Tulpenveld.example")
    assert message["Subject"] == "You are invited to our online services"
    assert smtp_server.first_url("anna@tulpenveld.example") == f"{live_server.url}/portal/invitation/abc123"
    assert smtp_server.to("someone-else@example.com") == []
