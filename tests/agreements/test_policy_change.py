"""The issue's "must show": the policy file changes, the app restarts, and /privacy, its version,
each user's notice with the diff, and the customers' mail follow; on both databases."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import FAST, PASSWORD, SYSTEM, make_customer, make_user, post_form
from tests.users.test_mail import Inbox
from tests.users.test_mail import smtp as smtp

from lawful.agreements import notices
from lawful.agreements.models import DocumentKind
from lawful.agreements.publication import Version
from lawful.data.db import Database
from lawful.mail.models import MailStatus, OutboundMail
from lawful.policy.loader import default_policy_path, load_policy
from lawful.users.models import User, UserRole
from lawful.web.app import create_app
from lawful.web.auth import CSRF_COOKIE

OLD = "every access to personal data is recorded in a processing log with its purpose and actor"
NEW = "every access to personal data is written to a processing log with its purpose and actor"
BANNER = "Our privacy statement changed on"
CHANGES = "/portal/privacy-changes"


@contextmanager
def running(
    database: Database, policy_file: Path, smtp_port: int | None = None
) -> Iterator[tuple[FastAPI, TestClient]]:
    """The app started with ``policy_file`` on the test's database (a restart is another call);
    with ``smtp_port``, it sends mail to the loopback SMTP server there."""
    db = Database(database.url, load_policy(policy_file))
    mail = {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_starttls": False} if smtp_port else {}
    settings = FAST.model_copy(
        update={"policy": policy_file, "maintenance_minutes": 0, "base_url": "http://testserver", **mail}
    )
    app = create_app(settings, db=db)
    try:
        with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
            client.headers["accept"] = "text/html"
            yield app, client
    finally:
        db.dispose()


def sign_in(client: TestClient, user: User) -> None:
    client.get("/portal/login")
    data = {"email": user.email, "password": PASSWORD, "csrf_token": str(client.cookies[CSRF_COOKIE])}
    assert client.post("/portal/login", data=data).status_code == 303


def statement_version(app: FastAPI) -> Version:
    version: Version = app.state.publication.version(DocumentKind.statement)
    return version


def test_a_changed_policy_changes_the_statement_its_version_and_every_users_notice(
    database: Database, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    policy_file = tmp_path / "policy.toml"
    original = default_policy_path().read_text(encoding="utf-8")
    assert original.count(OLD) == 1
    policy_file.write_text(original, encoding="utf-8")
    acme, _ = make_customer(
        database, legal_name="Acme B.V.", billing_email="billing@acme.example", contacts=0
    )
    ada = make_user(database, customer_id=acme.id, email="ada@acme.example", role=UserRole.admin)
    bram = make_user(database, customer_id=acme.id, email="bram@acme.example", name="Bram Smit")

    # Version A: the statement as shipped.
    with running(database, policy_file) as (app, client):
        first = statement_version(app)
        page = client.get("/privacy")
        assert page.status_code == 200
        assert OLD in page.text and first.short in page.text
        assert first.published_at.date().isoformat() in page.text  # "last changed"
        sign_in(client, ada)
        assert BANNER not in client.get("/portal/").text
        assert "You have seen the privacy statement in force" in client.get(CHANGES).text

    # The company changes a sentence of its policy and restarts Lawful.
    policy_file.write_text(original.replace(OLD, NEW), encoding="utf-8")
    with running(database, policy_file, port) as (app, client):
        second = statement_version(app)
        # The start sends the customers' mail in the background, over real SMTP.
        deadline = time.monotonic() + 15

        def statement_mails() -> list[tuple[list[str], EmailMessage]]:
            with inbox.lock:
                return [m for m in inbox.messages if m[1]["Subject"] == "Our privacy statement changed"]

        while not statement_mails() and time.monotonic() < deadline:
            time.sleep(0.05)
        [(recipients, message)] = statement_mails()
        assert recipients == ["billing@acme.example"]
        delivered = message.get_content().replace("\r\n", "\n")
        assert f"+ {NEW}" in message.get_content()
        assert second.digest != first.digest and second.published_at > first.published_at
        page = client.get("/privacy")
        assert NEW in page.text and OLD not in page.text
        assert second.short in page.text and first.short not in page.text
        assert second.published_at.date().isoformat() in page.text

        sign_in(client, ada)
        for portal_page in ("/portal/", "/portal/profile", "/portal/my-data"):
            shown = client.get(portal_page).text
            assert BANNER in shown and f'href="{CHANGES}"' in shown, portal_page
            assert second.published_at.strftime("%-d %B %Y") in shown
            banner = shown[shown.index(BANNER) - 60 : shown.index(BANNER)]
            assert 'role="status"' in banner

        diff = client.get(CHANGES).text
        assert "is <del>recorded in</del> <ins>written to</ins> a processing log" in diff
        assert first.short in diff and second.short in diff and 'href="/privacy"' in diff
        assert 'class="diff-same muted"' in diff and 'class="flash notice"' not in diff
        only = client.get(f"{CHANGES}?only=changes").text
        assert "<del>recorded in</del>" in only and "diff-same" not in only
        with database.unit_of_work("contract", SYSTEM) as session:
            (row,) = notices.notices_of(session, ada.id)
            assert row.read_at is None  # shown, not yet read

        done = post_form(client, CHANGES, {"version": second.digest}, page=CHANGES)
        assert done.status_code == 303 and done.headers["location"] == "/portal/?ok=statement_read"
        after = client.get(done.headers["location"]).text
        assert BANNER not in after and "you have read the changes to our privacy statement" in after
        with database.unit_of_work("contract", SYSTEM) as session:
            (row,) = notices.notices_of(session, ada.id)
            assert row.read_at is not None and row.version_id == second.id

        # Bram has not read them.
        client.cookies.clear()
        sign_in(client, bram)
        assert BANNER in client.get("/portal/").text

    # The customer was mailed the change, once.
    with running(database, policy_file) as (app, _):
        assert statement_version(app).id == second.id  # a restart without a change publishes nothing
    with database.unit_of_work("contract", SYSTEM) as session:
        mails = list(session.scalars(select(OutboundMail).where(OutboundMail.kind == notices.MAIL_KIND)))
    assert [(m.to_address, m.status) for m in mails] == [("billing@acme.example", MailStatus.sent)]
    assert len(statement_mails()) == 1
    assert f"- {OLD}\n+ {NEW}\n" in delivered
    assert second.digest[:12] in delivered and "http://testserver/privacy" in delivered
