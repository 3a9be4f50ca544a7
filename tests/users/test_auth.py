"""Authentication through the JSON API: throttling, CSRF, session expiry, signing out everywhere,
password reset and invitation links, the second factor and the login records."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import (
    FAST,
    PASSWORD,
    SYSTEM,
    api_sign_in,
    mailed_token,
    make_customer,
    make_staff,
    make_user,
)

from lawful.data.base import utcnow
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.settings import Settings
from lawful.users import repository, service
from lawful.users.models import LoginOutcome, OneTimeToken, PrincipalKind, StaffRole, UserRole, WebSession
from lawful.web.app import create_app

EMAIL = "ada@acme.example"
ClientMaker = Callable[..., TestClient]


def settings(**changes: Any) -> Settings:
    return FAST.model_copy(update=changes)


@pytest.fixture
def user_id(database: Database) -> uuid.UUID:
    customer, _ = make_customer(database, contacts=0)
    make_user(
        database, customer_id=customer.id, email="boss@acme.example", name="Bo Boss", role=UserRole.admin
    )
    return make_user(database, customer_id=customer.id, email=EMAIL).id


@pytest.fixture
def client_for(database: Database) -> Iterator[ClientMaker]:
    """Clients of one app per Settings; ``ip`` is the address the client calls from."""
    apps: dict[int, FastAPI] = {}
    with ExitStack() as stack:

        def make(config: Settings = FAST, *, ip: str = "testclient") -> TestClient:
            app = apps.setdefault(id(config), create_app(config, db=database))
            client = TestClient(app, raise_server_exceptions=False, client=(ip, 50000))
            return stack.enter_context(client)

        yield make


def login(client: TestClient, email: str = EMAIL, password: str = PASSWORD, *, staff: bool = False) -> Any:
    path = "/api/v1/staff-auth/login" if staff else "/api/v1/auth/login"
    return client.post(path, json={"email": email, "password": password})


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status and body["error"]["message"]
    return body


def login_outcomes(db: Database, principal_id: uuid.UUID) -> list[tuple[str, str]]:
    support = Actor.staff(uuid.uuid4(), "support")
    with db.unit_of_work("contract", support) as session:
        return [(r.outcome.value, r.ip_address) for r in repository.login_records_of(session, principal_id)]


# --- signing in and throttling ----------------------------------------------------------------


def test_sign_in_sets_an_http_only_cookie_and_gives_the_csrf_token(
    client_for: ClientMaker, user_id: uuid.UUID
) -> None:
    client = client_for()
    response = login(client)
    assert response.status_code == 200
    body = response.json()
    assert body["second_factor_required"] is False
    assert body["csrf_token"] == client.cookies["lawful_csrf"]
    cookie = response.headers["set-cookie"]
    assert "lawful_portal=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    me = client.get("/api/v1/users/me")
    assert me.status_code == 200 and me.json()["id"] == str(user_id)


def test_a_wrong_password_is_refused_with_the_same_message_as_an_unknown_address(
    client_for: ClientMaker, user_id: uuid.UUID
) -> None:
    client = client_for()
    wrong = assert_error(login(client, password="not the password at all"), 401)
    unknown = assert_error(login(client, email="nobody@acme.example"), 401)
    assert wrong["error"]["message"] == unknown["error"]["message"] == service.BAD_CREDENTIALS
    assert "lawful_portal" not in client.cookies


def test_an_account_locks_after_too_many_failures(
    client_for: ClientMaker, user_id: uuid.UUID, database: Database
) -> None:
    client = client_for(settings(login_account_failures=3))
    for _ in range(3):
        assert_error(login(client, password="guess guess guess"), 401)
    locked = assert_error(login(client), 429)  # even the right password
    assert locked["error"]["code"] == "too_many_requests"
    assert "lawful_portal" not in client.cookies
    # the lock is per account: someone else signs in from the same address
    assert login(client, email="boss@acme.example").status_code == 200
    outcomes = [outcome for outcome, _ in login_outcomes(database, user_id)]
    assert outcomes.count("bad_password") == 3 and outcomes[0] == "account_locked"


def test_an_ip_address_is_refused_after_too_many_failures(
    client_for: ClientMaker, user_id: uuid.UUID, database: Database
) -> None:
    config = settings(login_ip_failures=4, login_account_failures=100)
    attacker = client_for(config, ip="203.0.113.66")
    for i in range(4):
        assert_error(login(attacker, email=f"guess{i}@acme.example", password="123456789012"), 401)
    assert_error(login(attacker), 429)
    # the same account from another address is not affected
    assert login(client_for(config, ip="198.51.100.7")).status_code == 200
    assert login_outcomes(database, user_id)[:2] == [
        ("success", "198.51.100.7"),
        ("ip_throttled", "203.0.113.66"),
    ]


def test_staff_sign_in_is_throttled_too(client_for: ClientMaker, database: Database) -> None:
    staff = make_staff(database, role=StaffRole.support, email="sam@lawful.example")
    client = client_for(settings(login_account_failures=2))
    for _ in range(2):
        assert_error(login(client, "sam@lawful.example", "wrong wrong wrong", staff=True), 401)
    assert_error(login(client, "sam@lawful.example", staff=True), 429)
    with database.unit_of_work("staff_access", SYSTEM) as session:
        outcomes = [r.outcome for r in repository.login_records_of(session, staff.id)]
    assert outcomes == [LoginOutcome.account_locked, LoginOutcome.bad_password, LoginOutcome.bad_password]


def test_login_records_hold_time_ip_and_outcome_under_the_contract_purpose(
    client_for: ClientMaker, user_id: uuid.UUID, database: Database
) -> None:
    client = client_for(ip="192.0.2.10")
    assert_error(login(client, password="wrong password 123"), 401)
    assert login(client).status_code == 200
    assert login_outcomes(database, user_id) == [("success", "192.0.2.10"), ("bad_password", "192.0.2.10")]
    with database.unit_of_work("contract", SYSTEM) as session:
        records = repository.login_records_of(session, user_id)
        assert all(r.principal_kind == PrincipalKind.user and r.at <= utcnow() for r in records)


# --- CSRF -------------------------------------------------------------------------------------


def test_a_cookie_authenticated_change_needs_the_csrf_header(
    client_for: ClientMaker, user_id: uuid.UUID
) -> None:
    client = client_for()
    csrf = login(client).json()["csrf_token"]
    refused = assert_error(client.patch("/api/v1/users/me", json={"name": "Ada Forged"}), 403)
    assert "form" in refused["error"]["message"]
    assert_error(
        client.patch("/api/v1/users/me", json={"name": "Ada Forged"}, headers={"X-CSRF-Token": "nope"}), 403
    )
    assert client.get("/api/v1/users/me").json()["name"] == "Ada Jansen"
    accepted = client.patch("/api/v1/users/me", json={"name": "Ada Lovelace"}, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 200 and accepted.json()["name"] == "Ada Lovelace"


def test_a_bearer_token_call_needs_no_csrf_token(client_for: ClientMaker, database: Database) -> None:
    customer, _ = make_customer(database, contacts=0)
    make_staff(database, role=StaffRole.support, email="sam@lawful.example")
    console = client_for()
    api_sign_in(console, email="sam@lawful.example", staff=True)
    token = console.post("/api/v1/tokens", json={"label": "ERP sync"}).json()["token"]
    robot = client_for()
    response = robot.post(
        "/api/v1/support-contacts",
        json={"customer_id": str(customer.id), "channel": "email", "summary": "Sent by the ERP"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text


# --- sessions ---------------------------------------------------------------------------------


def _move_sessions(db: Database, principal_id: uuid.UUID, **changes: Any) -> None:
    with db.unit_of_work("contract", SYSTEM) as session:
        rows = session.scalars(select(WebSession).where(WebSession.principal_id == principal_id)).all()
        assert rows
        for row in rows:
            for name, value in changes.items():
                setattr(row, name, value)


def test_a_session_ends_after_being_idle(
    client_for: ClientMaker, user_id: uuid.UUID, database: Database
) -> None:
    client = client_for(settings(session_idle_minutes=30))
    api_sign_in(client, email=EMAIL)
    _move_sessions(database, user_id, last_seen_at=utcnow() - timedelta(minutes=29))
    assert client.get("/api/v1/users/me").status_code == 200
    _move_sessions(database, user_id, last_seen_at=utcnow() - timedelta(minutes=31))
    assert_error(client.get("/api/v1/users/me"), 401)
    with database.unit_of_work("contract", SYSTEM) as session:  # and the expired session is gone
        assert repository.sessions_of(session, PrincipalKind.user, user_id) == []


def test_a_session_ends_at_its_maximum_age_however_busy(
    client_for: ClientMaker, user_id: uuid.UUID, database: Database
) -> None:
    client = client_for()
    api_sign_in(client, email=EMAIL)
    _move_sessions(database, user_id, expires_at=utcnow() - timedelta(seconds=1), last_seen_at=utcnow())
    assert_error(client.get("/api/v1/users/me"), 401)


def test_sign_out_ends_this_session_only(client_for: ClientMaker, user_id: uuid.UUID) -> None:
    laptop, phone = client_for(), client_for()
    api_sign_in(laptop, email=EMAIL)
    api_sign_in(phone, email=EMAIL)
    assert laptop.post("/api/v1/auth/logout").status_code == 204
    assert_error(laptop.get("/api/v1/users/me"), 401)
    assert phone.get("/api/v1/users/me").status_code == 200


def test_sign_out_everywhere_ends_every_session(client_for: ClientMaker, user_id: uuid.UUID) -> None:
    laptop, phone, colleague = client_for(), client_for(), client_for()
    api_sign_in(laptop, email=EMAIL)
    api_sign_in(phone, email=EMAIL)
    api_sign_in(colleague, email="boss@acme.example")
    assert phone.get("/api/v1/users/me").status_code == 200
    assert laptop.post("/api/v1/auth/logout-everywhere").status_code == 204
    assert_error(phone.get("/api/v1/users/me"), 401)
    assert_error(laptop.get("/api/v1/users/me"), 401)
    assert colleague.get("/api/v1/users/me").status_code == 200


def test_staff_sign_out_everywhere(client_for: ClientMaker, database: Database) -> None:
    make_staff(database, role=StaffRole.support, email="sam@lawful.example")
    desk, home = client_for(), client_for()
    api_sign_in(desk, email="sam@lawful.example", staff=True)
    api_sign_in(home, email="sam@lawful.example", staff=True)
    assert home.get("/api/v1/tokens").status_code == 200
    assert desk.post("/api/v1/staff-auth/logout-everywhere").status_code == 204
    assert_error(home.get("/api/v1/tokens"), 401)


# --- password reset ---------------------------------------------------------------------------


def test_password_reset_answers_the_same_whoever_asks(client_for: ClientMaker, user_id: uuid.UUID) -> None:
    client = client_for()
    answers = [
        client.post("/api/v1/auth/password-reset", json={"email": email})
        for email in (EMAIL, "nobody@acme.example", "not an address")
    ]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert answers[0].json() == answers[1].json() == answers[2].json()


def test_a_reset_link_works_once(client_for: ClientMaker, user_id: uuid.UUID, database: Database) -> None:
    client, other = client_for(), client_for()
    api_sign_in(other, email=EMAIL)
    client.post("/api/v1/auth/password-reset", json={"email": EMAIL})
    token = mailed_token(database, to=EMAIL, kind="password_reset")
    new = "a new and better secret 9"
    weak = client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": "short"})
    assert_error(weak, 422)  # refused, and the link still works
    done = client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": new})
    assert done.status_code == 204
    assert_error(other.get("/api/v1/users/me"), 401)  # a reset ends every session
    assert_error(login(client), 401)
    assert login(client_for(), password=new).status_code == 200
    again = client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": new + "!"})
    assert assert_error(again, 410)["error"]["code"] == "gone"
    unknown = client.post("/api/v1/auth/password-reset/confirm", json={"token": "x" * 43, "password": new})
    assert_error(unknown, 404)


def test_a_reset_link_expires(client_for: ClientMaker, user_id: uuid.UUID, database: Database) -> None:
    client = client_for()
    client.post("/api/v1/auth/password-reset", json={"email": EMAIL})
    token = mailed_token(database, to=EMAIL, kind="password_reset")
    _expire_tokens(database, user_id)
    response = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": "a new and better secret 9"}
    )
    assert "expired" in assert_error(response, 410)["error"]["message"]
    assert login(client).status_code == 200  # the old password still works


def _expire_tokens(db: Database, principal_id: uuid.UUID) -> None:
    with db.unit_of_work("contract", SYSTEM) as session:
        tokens = session.scalars(select(OneTimeToken).where(OneTimeToken.principal_id == principal_id)).all()
        assert tokens
        for token in tokens:
            token.expires_at = utcnow() - timedelta(seconds=1)


# --- invitations ------------------------------------------------------------------------------


@pytest.fixture
def invitation(database: Database, user_id: uuid.UUID) -> tuple[uuid.UUID, str]:
    with database.unit_of_work("contract", SYSTEM) as session:
        boss = repository.by_email(session, PrincipalKind.user, "boss@acme.example")
        assert boss is not None
        invited, token = service.invite_user(
            session,
            customer_id=boss.customer_id,
            email="newbie@acme.example",
            name="Nel Newbie",
            role=UserRole.member,
            invited_by="Bo Boss",
            cfg=service.AuthConfig.from_settings(FAST),
        )
        session.flush()
        return invited.id, token


def test_an_invitation_is_accepted_once(client_for: ClientMaker, invitation: tuple[uuid.UUID, str]) -> None:
    invited_id, token = invitation
    client = client_for()
    password = "my very own secret 42"
    assert_error(login(client, "newbie@acme.example", password), 401)  # not active yet
    assert_error(client.post("/api/v1/auth/invitations/accept", json={"token": token, "password": "x"}), 422)
    accepted = client.post("/api/v1/auth/invitations/accept", json={"token": token, "password": password})
    assert accepted.status_code == 200
    assert accepted.json()["id"] == str(invited_id) and accepted.json()["status"] == "active"
    assert login(client_for(), "newbie@acme.example", password).status_code == 200
    again = client.post("/api/v1/auth/invitations/accept", json={"token": token, "password": password + "?"})
    assert_error(again, 410)


def test_an_invitation_expires(
    client_for: ClientMaker, invitation: tuple[uuid.UUID, str], database: Database
) -> None:
    invited_id, token = invitation
    _expire_tokens(database, invited_id)
    response = client_for().post(
        "/api/v1/auth/invitations/accept", json={"token": token, "password": "my very own secret 42"}
    )
    assert_error(response, 410)


# --- the second factor ------------------------------------------------------------------------


def _turn_on_totp(db: Database, email: str, kind: PrincipalKind) -> str:
    secret = pyotp.random_base32()
    with db.unit_of_work(service.purpose_of(kind), SYSTEM) as session:
        principal = repository.by_email(session, kind, email)
        assert principal is not None
        service.enable_totp(principal, secret=secret, code=pyotp.TOTP(secret).now())
    return secret


def test_a_second_factor_completes_the_sign_in(
    client_for: ClientMaker, user_id: uuid.UUID, database: Database
) -> None:
    secret = _turn_on_totp(database, EMAIL, PrincipalKind.user)
    client = client_for()
    first = login(client)
    assert first.status_code == 200 and first.json()["second_factor_required"] is True
    csrf = {"X-CSRF-Token": first.json()["csrf_token"]}
    assert_error(client.get("/api/v1/users/me"), 401)  # half signed in is not signed in
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 500_000) % 1_000_000:06d}"
    assert_error(client.post("/api/v1/auth/second-factor", json={"code": wrong}, headers=csrf), 401)
    ok = client.post("/api/v1/auth/second-factor", json={"code": pyotp.TOTP(secret).now()}, headers=csrf)
    assert ok.status_code == 200 and ok.json()["second_factor_required"] is False
    assert client.get("/api/v1/users/me").status_code == 200
    assert [o for o, _ in login_outcomes(database, user_id)] == ["success", "bad_second_factor"]


def test_the_second_factor_needs_a_started_sign_in(client_for: ClientMaker, user_id: uuid.UUID) -> None:
    response = client_for().post("/api/v1/auth/second-factor", json={"code": "123456"})
    assert_error(response, 401)


def test_staff_second_factor(client_for: ClientMaker, database: Database) -> None:
    make_staff(database, role=StaffRole.admin, email="ria@lawful.example")
    secret = _turn_on_totp(database, "ria@lawful.example", PrincipalKind.staff)
    client = client_for()
    csrf = api_sign_in(client, email="ria@lawful.example", staff=True)
    assert_error(client.get("/api/v1/tokens"), 401)
    ok = client.post(
        "/api/v1/staff-auth/second-factor",
        json={"code": pyotp.TOTP(secret).now()},
        headers={"X-CSRF-Token": csrf},
    )
    assert ok.status_code == 200
    assert client.get("/api/v1/tokens").status_code == 200
