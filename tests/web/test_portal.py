"""The portal's overview and "My data" pages, on both backends."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pyotp
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import func, select
from tests.factories import SYSTEM, make_customer, make_user

from lawful.data.db import Database
from lawful.data.log import ProcessingRecord
from lawful.data.purpose import Actor
from lawful.policy.model import Policy
from lawful.settings import Settings
from lawful.support import service as support
from lawful.support.models import Channel
from lawful.users import service as users
from lawful.users.models import Staff, StaffRole, User, UserRole
from lawful.web.app import create_app
from lawful.web.auth import CSRF_COOKIE

PASSWORD = "correct horse battery staple"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
FAST = Settings(argon2_time_cost=1, argon2_memory_kib=8192)


@dataclass
class World:
    acme: uuid.UUID
    ada: User  # admin of Acme
    bram: User  # member of Acme
    cor: User  # another member of Acme
    eve: User  # a user of another customer
    sam: Staff  # a support agent


def _staff(db: Database) -> Staff:
    cfg = users.AuthConfig.from_settings(FAST)
    with db.unit_of_work("staff_access", SYSTEM) as session:
        return users.create_staff(
            session,
            email="sam@lawful.example",
            name="Sam Support",
            role=StaffRole.support,
            password="staff password 12345",
            cfg=cfg,
        )


@pytest.fixture
def world(database: Database) -> World:
    acme, _ = make_customer(database, legal_name="Acme B.V.", contacts=0)
    globex, _ = make_customer(
        database, legal_name="Globex B.V.", billing_email="billing@globex.example", contacts=0
    )
    return World(
        acme=acme.id,
        ada=make_user(
            database, customer_id=acme.id, email="ada@acme.example", name="Ada Jansen", role=UserRole.admin
        ),
        bram=make_user(database, customer_id=acme.id, email="bram@acme.example", name="Bram Smit"),
        cor=make_user(database, customer_id=acme.id, email="cor@acme.example", name="Cor Visser"),
        eve=make_user(database, customer_id=globex.id, email="eve@globex.example", name="Eve Globex"),
        sam=_staff(database),
    )


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    app = create_app(FAST, db=database)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        client.headers["accept"] = "text/html"
        yield client


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> int:
    client.get("/portal/login")
    data = {"email": email, "password": password, "csrf_token": str(client.cookies[CSRF_COOKIE])}
    return client.post("/portal/login", data=data).status_code


def staff_reads(db: Database, staff: Staff, user: User, *, times: int = 1) -> None:
    """A support agent opens a user's record (each time is one processing-log entry)."""
    for _ in range(times):
        with db.unit_of_work("contract", Actor.staff(staff.id, "support")) as session:
            assert session.get(User, user.id) is not None


def log_contact(db: Database, world: World, user: User, summary: str) -> None:
    with db.unit_of_work("contract", SYSTEM) as session:
        support.log_contact(
            session,
            customer_id=world.acme,
            staff_id=world.sam.id,
            channel=Channel.phone,
            summary=summary,
            user_id=user.id,
        )


def section(page: str, heading_id: str) -> str:
    """The HTML from the ``<h2 id=...>`` to the next ``<h2``."""
    start = page.index(f'<h2 id="{heading_id}"')
    end = page.find("<h2", start + 1)
    return page[start : end if end != -1 else len(page)]


def secrets_of(db: Database, user: User) -> tuple[str | None, str | None]:
    with db.unit_of_work("contract", SYSTEM) as session:
        row = session.get(User, user.id)
        assert row is not None
        return row.password_hash, row.totp_secret


# --- overview ---------------------------------------------------------------------------------


def test_the_overview_welcomes_the_user(client: TestClient, world: World) -> None:
    assert sign_in(client, world.ada.email) == 303
    page = client.get("/portal/")
    assert page.status_code == 200
    assert "<h1>Welcome, Ada Jansen</h1>" in page.text
    assert "Acme B.V." in page.text and "Globex" not in page.text
    assert '<a href="/portal/" aria-current="page">Overview</a>' in page.text
    for href in ("/portal/profile", "/portal/team", "/portal/my-data"):
        assert f'href="{href}"' in page.text
    assert 'action="/portal/logout"' in page.text


def test_a_member_has_no_team_link(client: TestClient, world: World) -> None:
    assert sign_in(client, world.bram.email) == 303
    page = client.get("/portal/").text
    assert "<h1>Welcome, Bram Smit</h1>" in page
    assert 'href="/portal/team"' not in page
    assert 'href="/portal/my-data"' in page


# --- my data ----------------------------------------------------------------------------------


def test_my_data_requires_signing_in(client: TestClient) -> None:
    response = client.get("/portal/my-data")
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/login?next=/portal/my-data"


def test_my_data_shows_what_is_held_about_the_user(
    client: TestClient, database: Database, world: World, policy: Policy
) -> None:
    assert sign_in(client, world.bram.email, "a wrong password!") == 401
    assert sign_in(client, world.bram.email) == 303
    log_contact(database, world, world.bram, "Bram asked how invoices are numbered")
    staff_reads(database, world.sam, world.bram)

    response = client.get("/portal/my-data")
    assert response.status_code == 200
    page = response.text
    assert page.count("<h1") == 1 and "<h1>My data</h1>" in page
    about = section(page, "about-you")
    for fact in ("Bram Smit", "bram@acme.example", "member", "active", "set (we store only", "off"):
        assert fact in about
    password_hash, _ = secrets_of(database, world.bram)
    assert password_hash and password_hash not in page

    sign_ins = section(page, "sign-ins")
    assert "testclient" in sign_ins  # the IP address the test client reports
    assert "wrong password" in sign_ins and "signed in" in sign_ins
    assert '<th scope="col">IP address</th>' in sign_ins

    conversations = section(page, "support")
    assert "Bram asked how invoices are numbered" in conversations and "phone" in conversations

    purposes = section(page, "purposes")
    for key, category in (
        ("contract", "user.device.ip_address"),
        ("contract", "user.content.private"),
        ("accountability", "user.unique_id"),
        ("monitoring", "user.device.ip_address"),
    ):
        purpose = policy.purpose(key)
        declared = purpose.category(category)
        assert declared is not None
        assert str(escape(purpose.title)) in purposes
        assert f"{purpose.legal_basis.label} ({purpose.legal_basis.article})" in purposes
        assert str(escape(declared.label)) in purposes
        assert str(escape(declared.retention.phrase)) in purposes
    assert str(escape(policy.purpose("legal_obligation").title)) not in purposes  # about customers only
    assert str(escape(policy.purpose("staff_access").title)) not in page  # internal

    processing = section(page, "processing")
    staff_rows = [row for row in processing.split("<tr>") if "a staff member" in row]
    assert len(staff_rows) == 1
    assert "a staff member (support)" in staff_rows[0]
    assert str(escape(policy.purpose("contract").title)) in staff_rows[0]
    assert ">read<" in staff_rows[0]
    assert str(escape(policy.purpose("contract").category("user.name").label)) in staff_rows[0]  # type: ignore[union-attr]
    assert str(world.sam.id) not in page and "Sam Support" not in page

    rights = section(page, "rights")
    for right in ("Access", "Rectification", "Erasure", "Restriction", "Portability", "Objection"):
        assert right in rights
    assert policy.organisation.email in rights
    assert str(escape(policy.organisation.supervisory_authority.name)) in rights


def test_my_data_shows_nothing_of_another_user(client: TestClient, database: Database, world: World) -> None:
    for other in (world.cor, world.eve, world.ada):
        with TestClient(create_app(FAST, db=database), follow_redirects=False) as elsewhere:
            assert sign_in(elsewhere, other.email) == 303
        staff_reads(database, world.sam, other)
    log_contact(database, world, world.cor, "Cor reported a broken export")
    assert sign_in(client, world.bram.email) == 303
    page = client.get("/portal/my-data").text
    for other in (world.cor, world.eve, world.ada):
        assert other.name not in page
        assert other.email not in page
        assert str(other.id) not in page
    assert "Cor reported a broken export" not in page
    assert "a staff member" not in page  # staff read the others, not Bram
    assert section(page, "sign-ins").count("<td>testclient</td>") == 1  # only Bram's own sign-in


def test_the_processing_log_is_newest_first_and_paged(
    client: TestClient, database: Database, world: World
) -> None:
    staff_reads(database, world.sam, world.bram, times=55)
    assert sign_in(client, world.bram.email) == 303
    first = client.get("/portal/my-data").text
    processing = section(first, "processing")
    times = [datetime.fromisoformat(t) for t in re.findall(r'<time datetime="([^"]+)"', processing)]
    assert len(times) == 50
    assert times == sorted(times, reverse=True)
    assert "you" in processing  # opening this page read the user's own row
    with database.unit_of_work("accountability", SYSTEM) as session:
        total = session.scalar(
            select(func.count())
            .select_from(ProcessingRecord)
            .where(
                ProcessingRecord.subject_table == "users", ProcessingRecord.subject_id == str(world.bram.id)
            )
        )
    assert total is not None and total > 55
    assert f"({total} entries)" in processing
    second = section(client.get("/portal/my-data?page=2").text, "processing")
    older = [datetime.fromisoformat(t) for t in re.findall(r'<time datetime="([^"]+)"', second)]
    assert older and max(older) <= min(times)
    assert client.get("/portal/my-data?page=0").status_code == 422


def test_my_data_says_when_two_step_sign_in_is_on(
    client: TestClient, database: Database, world: World
) -> None:
    assert sign_in(client, world.bram.email) == 303
    with database.unit_of_work("contract", SYSTEM) as session:
        row = session.get(User, world.bram.id)
        assert row is not None
        users.enable_totp(row, secret=SECRET, code=pyotp.TOTP(SECRET).now())
    page = client.get("/portal/my-data").text
    assert "on (we store the secret" in section(page, "about-you")
    assert SECRET not in page
