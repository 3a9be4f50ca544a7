"""Statement notices per user, the mail to customers about a new version, the changes page's
access rules, and the notices in a user's access report and erasure; on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.agreements.helpers import publish as publish_both
from tests.billing.helpers import standard_catalogue
from tests.factories import FAST, SYSTEM, make_customer, make_user, post_form

from lawful.agreements import documents, notices, service
from lawful.agreements.documents import Document
from lawful.agreements.models import (
    Agreement,
    AgreementAcceptance,
    Channel,
    DocumentKind,
    DocumentVersion,
    StatementNotice,
)
from lawful.customers.models import Customer, CustomerStatus
from lawful.data.base import utcnow
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.mail.models import OutboundMail
from lawful.rights.access import package
from lawful.rights.erasure import erase
from lawful.rights.models import SubjectKind
from lawful.rights.subjects import Subject
from lawful.users.models import User, UserRole
from lawful.web.app import create_app
from lawful.web.auth import CSRF_COOKIE

PAST = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
OLD = "# Privacy\n\n## Keeping\n\nWe keep your name for 1 year.\n\nWe never sell data.\n"
NEW = "# Privacy\n\n## Keeping\n\nWe keep your name for 2 years.\n\nWe never sell data.\n"
PASSWORD = "correct horse battery staple"


def statement(text: str, digest: str) -> Document:
    return Document(DocumentKind.statement, digest, "", text)


def publish(db: Database, doc: Document, *, now: datetime | None = None) -> DocumentVersion:
    with db.unit_of_work("contract", SYSTEM) as session:
        row, _ = documents.publish(session, doc, now=now)
        session.expunge(row)
    return row


def notice_of(db: Database, user: User) -> tuple[str, str, str] | None:
    """(since digest, current digest, diff html) of the user's notice, or None."""
    with db.unit_of_work("contract", Actor.user(user.id)) as session:
        notice = notices.notice_for(session, user)
        if notice is None:
            return None
        return notice.since.digest, notice.current.digest, str(notice.html())


def read(db: Database, user: User) -> None:
    with db.unit_of_work("contract", Actor.user(user.id)) as session:
        notice = notices.notice_for(session, user)
        assert notice is not None
        notices.mark_read(session, user, notice)


def test_a_user_made_after_the_version_in_force_has_no_notice(database: Database) -> None:
    publish(database, statement(OLD, "a" * 16), now=PAST)
    publish(database, statement(NEW, "b" * 16), now=PAST + timedelta(days=1))
    acme, _ = make_customer(database, contacts=0)
    ada = make_user(database, customer_id=acme.id)
    assert notice_of(database, ada) is None
    with database.unit_of_work("contract", Actor.user(ada.id)) as session:
        assert notices.changed_on(session, ada) is None


def test_a_user_made_before_a_change_sees_it_until_they_read_it(database: Database) -> None:
    publish(database, statement(OLD, "a" * 16), now=PAST)
    acme, _ = make_customer(database, contacts=0)
    ada = make_user(database, customer_id=acme.id, role=UserRole.admin)
    bram = make_user(database, customer_id=acme.id, email="bram@acme.example", name="Bram Smit")
    assert notice_of(database, ada) is None  # one version only
    new = publish(database, statement(NEW, "b" * 16))
    found = notice_of(database, ada)
    assert found is not None
    since, current, html = found
    assert (since, current) == ("a" * 16, "b" * 16)
    assert "for <del>1 year.</del> <ins>2 years.</ins>" in html
    with database.unit_of_work("contract", Actor.user(ada.id)) as session:
        assert notices.changed_on(session, ada) == new.published_at
    # shown is not read: the banner stays until the user confirms
    with database.unit_of_work("contract", Actor.user(ada.id)) as session:
        notice = notices.notice_for(session, ada)
        assert notice is not None
        shown = notices.mark_shown(session, ada, notice)
        assert shown.read_at is None and shown.since_version_id == notice.since.id
        again = notices.mark_shown(session, ada, notice)
        assert again.id == shown.id
    assert notice_of(database, ada) is not None
    read(database, ada)
    assert notice_of(database, ada) is None
    # recorded per user: Bram has not read it
    assert notice_of(database, bram) is not None
    with database.unit_of_work("contract", SYSTEM) as session:
        (row,) = notices.notices_of(session, ada.id)
        assert row.version_id == new.id and row.read_at is not None and row.shown_at <= row.read_at
        assert notices.notices_of(session, bram.id) == []


def test_the_next_change_runs_from_the_version_last_read(database: Database) -> None:
    publish(database, statement(OLD, "a" * 16), now=PAST)
    acme, _ = make_customer(database, contacts=0)
    ada = make_user(database, customer_id=acme.id)
    bram = make_user(database, customer_id=acme.id, email="bram@acme.example", name="Bram Smit")
    publish(database, statement(NEW, "b" * 16))
    read(database, ada)
    third = NEW.replace("We never sell data.", "We never sell or rent data.")
    publish(database, statement(third, "c" * 16))
    ada_notice, bram_notice = notice_of(database, ada), notice_of(database, bram)
    assert ada_notice is not None and ada_notice[:2] == ("b" * 16, "c" * 16)
    assert "1 year" not in ada_notice[2] and "<ins>or rent</ins>" in ada_notice[2]
    assert bram_notice is not None and bram_notice[:2] == ("a" * 16, "c" * 16)


def test_an_undone_change_is_no_news_to_who_saw_the_same_text(database: Database) -> None:
    publish(database, statement(OLD, "a" * 16), now=PAST)
    acme, _ = make_customer(database, contacts=0)
    ada = make_user(database, customer_id=acme.id)
    bram = make_user(database, customer_id=acme.id, email="bram@acme.example", name="Bram Smit")
    publish(database, statement(NEW, "b" * 16))
    read(database, bram)
    publish(database, statement(OLD, "a" * 16))  # changed back
    assert notice_of(database, ada) is None  # saw this text before the change
    back = notice_of(database, bram)  # read the change, so is told it was undone
    assert back is not None and "<del>2 years.</del> <ins>1 year.</ins>" in back[2]


def test_a_policy_change_the_statement_does_not_show_is_no_notice(database: Database) -> None:
    publish(database, statement(OLD + "\nVersion aaaaaaaaaaaaaaaa\n", "a" * 16), now=PAST)
    acme, _ = make_customer(database, contacts=0)
    ada = make_user(database, customer_id=acme.id)
    row = publish(database, statement(OLD + "\nVersion bbbbbbbbbbbbbbbb\n", "b" * 16))
    assert notice_of(database, ada) is None
    with database.unit_of_work("contract", SYSTEM) as session:
        version = session.get(DocumentVersion, row.id)
        assert version is not None
        assert notices.mail_customers(session, version, base_url="http://x", organisation="Us") == 0
        assert version.notified_at is not None


def _outbox(db: Database, kind: str) -> list[tuple[str, str]]:
    with db.unit_of_work("contract", SYSTEM) as session:
        return [
            (m.to_address, m.body)
            for m in session.scalars(
                select(OutboundMail).where(OutboundMail.kind == kind).order_by(OutboundMail.to_address)
            )
        ]


def test_customers_whose_agreement_runs_are_mailed_the_changes_once(database: Database) -> None:
    make_customer(database, legal_name="Acme B.V.", contacts=0)
    make_customer(database, legal_name="Ending B.V.", billing_email="billing@ending.example", contacts=0)
    ended, _ = make_customer(
        database, legal_name="Ended B.V.", billing_email="billing@ended.example", contacts=0
    )
    gone, _ = make_customer(
        database, legal_name="Gone B.V.", billing_email="billing@gone.example", contacts=0
    )
    with database.unit_of_work("contract", SYSTEM) as session:
        ending = session.scalar(select(Customer).where(Customer.legal_name == "Ending B.V."))
        assert ending is not None
        ending.contract_end = date.today() + timedelta(days=30)
        ended_row = session.get(Customer, ended.id)
        assert ended_row is not None
        ended_row.contract_end, ended_row.status = date.today() - timedelta(days=1), CustomerStatus.ended
        gone_row = session.get(Customer, gone.id)
        assert gone_row is not None
        gone_row.erased_at = utcnow()
    first = publish(database, statement(OLD, "a" * 16), now=PAST)
    second = publish(database, statement(NEW, "b" * 16))
    with database.unit_of_work("contract", SYSTEM) as session:
        for version in (first, second):
            row = session.get(DocumentVersion, version.id)
            assert row is not None
            sent = notices.mail_customers(
                session, row, base_url="https://lawful.test", organisation="Us B.V."
            )
            assert sent == (0 if version is first else 2)  # the first version is no change
        row = session.get(DocumentVersion, second.id)
        assert row is not None and row.notified_at is not None
        assert notices.mail_customers(session, row, base_url="https://lawful.test", organisation="Us") == 0
    mails = _outbox(database, notices.MAIL_KIND)
    assert [to for to, _ in mails] == ["billing@acme.example", "billing@ending.example"]
    body = mails[0][1]
    assert body.startswith("Dear Acme B.V.,") and "Us B.V. changed its privacy statement" in body
    assert "https://lawful.test/privacy" in body and "b" * 12 in body
    assert "In “Keeping”:\n- We keep your name for 1 year.\n+ We keep your name for 2 years.\n" in body
    assert "We never sell data" not in body


# --- the access report and erasure ------------------------------------------------------------


def test_a_users_notices_and_acceptances_are_in_their_access_report_and_erased_with_them(
    database: Database,
) -> None:
    plans = standard_catalogue(database)
    terms, first = publish_both(database)
    acme, _ = make_customer(database, contacts=0)
    ada = make_user(database, customer_id=acme.id, role=UserRole.admin)
    with database.unit_of_work("contract", SYSTEM) as session:
        how = service.Acceptance(
            Channel.self_service,
            user_id=ada.id,
            ip_address="203.0.113.7",
            accepted_at=utcnow(),
            terms=session.get(DocumentVersion, terms.id),
            statement=session.get(DocumentVersion, first.id),
        )
        service.conclude(session, acme.id, plans["starter"].id, starts_on=date.today(), how=how)
    publish(database, statement(first.text.replace("argon2id", "salted argon2id"), "f" * 16))
    read(database, ada)
    actor = Actor.system("tests:access")
    report = package(database, Subject(SubjectKind.user, ada.id), actor=actor)
    assert report is not None
    tables = {t["table"]: t for t in report["data"]}
    (accepted,) = tables["agreement_acceptances"]["rows"]
    assert accepted["ip_address"] == "203.0.113.7"
    (seen,) = tables["statement_notices"]["rows"]
    assert seen["read_at"] is not None
    assert tables["statement_notices"]["purpose"] == "contract"

    assert erase(database, Subject(SubjectKind.user, ada.id), actor=actor) is not None
    with database.unit_of_work("contract", SYSTEM) as session:
        for model in (StatementNotice, AgreementAcceptance):
            assert session.scalar(select(func.count()).select_from(model)) == 0
        assert session.scalar(select(func.count()).select_from(Agreement)) == 1  # the contract stays


# --- the changes page's access rules ----------------------------------------------------------


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    app = create_app(FAST.model_copy(update={"maintenance_minutes": 0}), db=database)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        client.headers["accept"] = "text/html"
        yield client


def sign_in(client: TestClient, email: str) -> None:
    client.get("/portal/login")
    data = {"email": email, "password": PASSWORD, "csrf_token": str(client.cookies[CSRF_COOKIE])}
    assert client.post("/portal/login", data=data).status_code == 303


def test_the_changes_page_needs_a_signed_in_user(client: TestClient) -> None:
    response = client.get("/portal/privacy-changes")
    assert response.status_code in (302, 303)
    assert response.headers["location"].startswith("/portal/login")


def test_reading_the_changes_needs_the_csrf_token(database: Database, client: TestClient) -> None:
    acme, _ = make_customer(database, contacts=0)
    ada = make_user(database, customer_id=acme.id)
    sign_in(client, ada.email)
    page = "/portal/privacy-changes"
    refused = post_form(client, page, {"version": "x"}, page=page, token=False)
    assert refused.status_code == 403
    ok = post_form(client, page, {"version": "x"}, page=page)
    assert ok.status_code == 303 and ok.headers["location"] == "/portal/?ok=statement_read"


def test_without_a_change_the_page_says_the_user_saw_the_version_in_force(
    database: Database, client: TestClient
) -> None:
    acme, _ = make_customer(database, contacts=0)
    ada = make_user(database, customer_id=acme.id)
    sign_in(client, ada.email)
    version = client.app.state.publication.version(DocumentKind.statement)  # type: ignore[attr-defined]
    page = client.get("/portal/privacy-changes").text
    assert "You have seen the privacy statement in force" in page and version.short in page
    assert version.published_at.strftime("%-d %B %Y") in page
    assert "Our privacy statement changed on" not in client.get("/portal/").text
    with database.unit_of_work("contract", SYSTEM) as session:
        assert notices.notices_of(session, ada.id) == []  # nothing shown, nothing recorded


def test_changes_published_while_reading_are_shown_before_they_count_as_read(database: Database) -> None:
    acme, _ = make_customer(database, contacts=0)
    ada = make_user(database, customer_id=acme.id)
    old = documents.statement_document(database.policy).text.replace("argon2id", "bcrypt")
    publish(database, statement(old, "a" * 16), now=PAST)
    app = create_app(FAST.model_copy(update={"maintenance_minutes": 0}), db=database)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        client.headers["accept"] = "text/html"
        sign_in(client, ada.email)
        page = "/portal/privacy-changes"
        assert "<del>bcrypt</del> <ins>argon2id</ins>" in client.get(page).text
        stale = post_form(client, page, {"version": "a" * 16}, page=page)
        assert stale.status_code == 303 and stale.headers["location"] == f"{page}?newer=1"
        assert "changed again while you were reading" in client.get(stale.headers["location"]).text
        assert notice_of(database, ada) is not None
