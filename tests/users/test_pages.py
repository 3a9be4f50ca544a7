"""The portal's account pages: signing in and out, the second factor, invitations, password
reset, the profile and team management, on both backends."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select
from tests.factories import SYSTEM, csrf_token, make_customer, make_user, post_form

from lawful.data.db import Database
from lawful.mail.models import OutboundMail
from lawful.settings import Settings
from lawful.users.models import AccountStatus, LoginOutcome, LoginRecord, User, UserRole
from lawful.users.service import BAD_CREDENTIALS, THROTTLED
from lawful.web.app import create_app
from lawful.web.auth import CSRF_COOKIE, USER_COOKIE

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "violet tractor quantum 42"
HTML = {"accept": "text/html,application/xhtml+xml"}


def portal_client(db: Database, *, server: str = "http://testserver", **settings: Any) -> TestClient:
    app = create_app(Settings(argon2_time_cost=1, argon2_memory_kib=8192, **settings), db=db)
    client = TestClient(app, raise_server_exceptions=False, base_url=server, follow_redirects=False)
    client.headers.update(HTML)
    return client


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    with portal_client(database) as client:
        yield client


@pytest.fixture
def acme(database: Database) -> uuid.UUID:
    customer, _ = make_customer(database, contacts=0)
    return customer.id


@pytest.fixture
def admin(database: Database, acme: uuid.UUID) -> User:
    return make_user(
        database, customer_id=acme, email="ada@acme.example", name="Ada Jansen", role=UserRole.admin
    )


@pytest.fixture
def member(database: Database, acme: uuid.UUID, admin: User) -> User:
    return make_user(
        database, customer_id=acme, email="bram@acme.example", name="Bram Smit", role=UserRole.member
    )


def csrf(client: TestClient) -> str:
    return csrf_token(client, "/portal/forgot")


def post(client: TestClient, url: str, data: dict[str, str] | None = None, *, token: bool = True) -> Response:
    return post_form(client, url, data, page="/portal/forgot", token=token)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, **extra: str) -> Response:
    return post(client, "/portal/login", {"email": email, "password": password, **extra})


def signed_in(client: TestClient, email: str, password: str = PASSWORD) -> TestClient:
    response = sign_in(client, email, password)
    assert response.status_code == 303, response.text
    return client


def outbox(db: Database) -> list[OutboundMail]:
    with db.unit_of_work("contract", SYSTEM) as session:
        return list(session.scalars(select(OutboundMail).order_by(OutboundMail.created_at)))


def link(mail: OutboundMail, kind: str) -> str:
    found = re.search(rf"https?://[^/\s]+(/portal/{kind}/[\w-]+)", mail.body)
    assert found, mail.body
    return found.group(1)


def login_outcomes(db: Database, user_id: uuid.UUID) -> list[LoginOutcome]:
    with db.unit_of_work("contract", SYSTEM) as session:
        stmt = select(LoginRecord.outcome).where(LoginRecord.principal_id == user_id).order_by(LoginRecord.at)
        return list(session.scalars(stmt))


def load_user(db: Database, user_id: uuid.UUID) -> User:
    with db.unit_of_work("contract", SYSTEM) as session:
        user = session.get(User, user_id)
        assert user is not None
        return user


def wrong_code(secret: str) -> str:
    totp = pyotp.TOTP(secret)
    now = int(time.time())
    valid = {totp.at(now + drift) for drift in (-30, 0, 30)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in valid)


# --- signing in -------------------------------------------------------------------------------


def test_the_login_page_has_the_labelled_form(client: TestClient) -> None:
    page = client.get("/portal/login").text
    assert re.search(r'<label for="email">E-mail address', page)
    assert re.search(r'<label for="password">Password', page)
    assert ">Sign in</button>" in page
    assert f'name="csrf_token" value="{client.cookies[CSRF_COOKIE]}"' in page


def test_the_right_password_signs_in(client: TestClient, database: Database, admin: User) -> None:
    response = sign_in(client, admin.email)
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/"
    assert USER_COOKIE in client.cookies
    page = client.get("/portal/")
    assert page.status_code == 200
    assert "<h1>Welcome, Ada Jansen</h1>" in page.text
    assert login_outcomes(database, admin.id) == [LoginOutcome.success]
    assert load_user(database, admin.id).last_login_at is not None


def test_a_wrong_password_shows_the_message_and_is_recorded(
    client: TestClient, database: Database, admin: User
) -> None:
    response = sign_in(client, "ADA@acme.example", "not the password at all")
    assert response.status_code == 401
    assert BAD_CREDENTIALS in response.text
    assert 'role="alert"' in response.text
    assert 'value="ADA@acme.example"' in response.text  # the address is kept
    assert "not the password at all" not in response.text  # the password never is
    assert USER_COOKIE not in client.cookies
    assert login_outcomes(database, admin.id) == [LoginOutcome.bad_password]


def test_an_unknown_address_gets_the_same_message(client: TestClient, admin: User) -> None:
    response = sign_in(client, "nobody@acme.example", PASSWORD)
    assert response.status_code == 401
    assert BAD_CREDENTIALS in response.text


def test_repeated_failures_are_throttled(database: Database, admin: User) -> None:
    with portal_client(database, login_account_failures=2) as client:
        for _ in range(2):
            assert sign_in(client, admin.email, "wrong password here").status_code == 401
        response = sign_in(client, admin.email)  # even the right password is refused now
        assert response.status_code == 429
        assert THROTTLED in response.text
        assert USER_COOKIE not in client.cookies
    assert login_outcomes(database, admin.id)[-1] == LoginOutcome.account_locked


@pytest.mark.parametrize("base_url", ["http://testserver", "https://testserver"])
def test_the_session_cookie_flags(database: Database, admin: User, base_url: str) -> None:
    https = base_url.startswith("https")
    settings = {"base_url": "https://lawful.example"} if https else {}
    with portal_client(database, server=base_url, **settings) as client:
        response = sign_in(client, admin.email)
    assert response.status_code == 303
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(f"{USER_COOKIE}="))
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert ("secure" in flags) is https


def test_a_form_without_the_csrf_token_is_refused(client: TestClient, admin: User) -> None:
    response = post(client, "/portal/login", {"email": admin.email, "password": PASSWORD}, token=False)
    assert response.status_code == 403
    assert USER_COOKIE not in client.cookies
    signed_in(client, admin.email)
    data = {"action": "password", "current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert post(client, "/portal/profile", data, token=False).status_code == 403
    assert post(client, "/portal/profile", {**data, "csrf_token": "forged"}, token=False).status_code == 403
    assert sign_in(client, admin.email, PASSWORD).status_code == 303  # the password did not change


@pytest.mark.parametrize("path", ["/portal/", "/portal/profile", "/portal/team", "/portal/my-data"])
def test_signed_out_pages_redirect_to_the_login(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == f"/portal/login?next={path}"


def test_next_is_honoured_only_for_portal_paths(client: TestClient, admin: User) -> None:
    assert (
        client.get("/portal/login?next=/portal/my-data").text.count('name="next" value="/portal/my-data"')
        == 1
    )
    assert sign_in(client, admin.email, next="/portal/my-data").headers["location"] == "/portal/my-data"
    for bad in ("https://evil.example/", "//evil.example/portal/", "/console/customers", "/portal/../x\\y"):
        client.cookies.delete(USER_COOKIE)
        assert sign_in(client, admin.email, next=bad).headers["location"] == "/portal/"


def test_the_login_page_sends_a_signed_in_user_on(client: TestClient, admin: User) -> None:
    signed_in(client, admin.email)
    response = client.get("/portal/login")
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/"


# --- second factor ----------------------------------------------------------------------------


def turn_on_totp(client: TestClient) -> str:
    page = client.get("/portal/profile").text
    assert "Turn on two-step sign-in" in page
    assert "<svg" in page
    secret = re.search(r'name="secret" value="([A-Z2-7]+)"', page)
    assert secret, page
    response = post(
        client,
        "/portal/profile",
        {"action": "totp_on", "secret": secret[1], "code": pyotp.TOTP(secret[1]).now()},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/profile?ok=totp_on"
    return secret[1]


def test_two_step_sign_in(client: TestClient, database: Database, admin: User) -> None:
    signed_in(client, admin.email)
    secret = turn_on_totp(client)
    assert "Two-step sign-in is on" in client.get("/portal/profile?ok=totp_on").text
    assert post(client, "/portal/logout").status_code == 303

    response = sign_in(client, admin.email)
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/second-factor"
    assert client.get("/portal/").status_code == 303  # not signed in until the code is given
    form = client.get("/portal/second-factor")
    assert "Code from your authenticator app" in form.text
    assert ">Verify</button>" in form.text

    wrong = post(client, "/portal/second-factor", {"code": wrong_code(secret)})
    assert wrong.status_code == 401
    assert "that code is wrong" in wrong.text
    right = post(client, "/portal/second-factor", {"code": pyotp.TOTP(secret).now()})
    assert right.status_code == 303
    assert right.headers["location"] == "/portal/"
    assert client.get("/portal/").status_code == 200
    assert login_outcomes(database, admin.id) == [
        LoginOutcome.success,  # the first sign-in, before the second factor was on
        LoginOutcome.bad_second_factor,
        LoginOutcome.success,
    ]


def test_a_wrong_code_does_not_turn_on_two_step_sign_in(
    client: TestClient, database: Database, admin: User
) -> None:
    signed_in(client, admin.email)
    secret = re.search(r'name="secret" value="([A-Z2-7]+)"', client.get("/portal/profile").text)
    assert secret
    response = post(
        client, "/portal/profile", {"action": "totp_on", "secret": secret[1], "code": wrong_code(secret[1])}
    )
    assert response.status_code == 422
    assert f'value="{secret[1]}"' in response.text  # the same QR code stays on the page
    assert load_user(database, admin.id).totp_secret is None
    damaged = post(
        client, "/portal/profile", {"action": "totp_on", "secret": "not base32!", "code": "123456"}
    )
    assert damaged.status_code == 422


def test_turning_two_step_sign_in_off_asks_the_password(
    client: TestClient, database: Database, admin: User
) -> None:
    signed_in(client, admin.email)
    turn_on_totp(client)
    refused = post(client, "/portal/profile", {"action": "totp_off", "password": "wrong password"})
    assert refused.status_code == 422
    assert load_user(database, admin.id).totp_secret is not None
    done = post(client, "/portal/profile", {"action": "totp_off", "password": PASSWORD})
    assert done.status_code == 303
    assert load_user(database, admin.id).totp_secret is None


# --- signing out ------------------------------------------------------------------------------


def test_logout_ends_the_session(client: TestClient, admin: User) -> None:
    signed_in(client, admin.email)
    token = client.cookies[USER_COOKIE]
    response = post(client, "/portal/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/login?ok=signed_out"
    assert USER_COOKIE not in client.cookies
    client.cookies.set(USER_COOKIE, token)  # the old cookie no longer works
    assert client.get("/portal/").status_code == 303
    assert "You are signed out." in client.get("/portal/login?ok=signed_out").text


def test_logout_everywhere_ends_every_session(database: Database, admin: User) -> None:
    with portal_client(database) as laptop, portal_client(database) as phone:
        signed_in(laptop, admin.email)
        signed_in(phone, admin.email)
        assert "Sign out everywhere" in laptop.get("/portal/profile").text
        response = post(laptop, "/portal/logout-everywhere")
        assert response.status_code == 303
        assert USER_COOKIE not in laptop.cookies
        assert phone.get("/portal/").status_code == 303
        assert laptop.get("/portal/").status_code == 303


# --- invitation -------------------------------------------------------------------------------


def invite(client: TestClient, email: str, name: str = "Cor Visser", role: str = "member") -> Response:
    return post(client, "/portal/team/invite", {"name": name, "email": email, "role": role})


def test_an_invitation_is_accepted_once(database: Database, admin: User) -> None:
    with portal_client(database) as client:
        signed_in(client, admin.email)
        assert invite(client, "cor@acme.example").status_code == 303
    mail = next(m for m in outbox(database) if m.to_address == "cor@acme.example")
    assert mail.kind == "invitation"
    assert "Ada Jansen invited you" in mail.body
    url = link(mail, "invitation")

    with portal_client(database) as invitee:
        form = invitee.get(url)
        assert form.status_code == 200
        assert "Cor Visser" in form.text
        assert "Choose a password" in form.text and "Repeat the password" in form.text
        assert ">Activate my account</button>" in form.text
        differ = post(invitee, url, {"password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD + "x"})
        assert differ.status_code == 422
        weak = post(invitee, url, {"password": "short", "password_repeat": "short"})
        assert weak.status_code == 422
        assert "at least 12 characters" in weak.text
        response = post(invitee, url, {"password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD})
        assert response.status_code == 303
        assert response.headers["location"] == "/portal/"
        assert "<h1>Welcome, Cor Visser</h1>" in invitee.get("/portal/").text
        assert invitee.get(url).status_code == 410
        replay = post(invitee, url, {"password": PASSWORD, "password_repeat": PASSWORD})
        assert replay.status_code == 410
        assert invitee.get("/portal/invitation/no-such-token").status_code == 404
    with portal_client(database) as again:
        assert sign_in(again, "cor@acme.example", NEW_PASSWORD).status_code == 303


# --- password reset ---------------------------------------------------------------------------


def test_forgot_answers_the_same_for_an_unknown_address(
    client: TestClient, database: Database, admin: User
) -> None:
    known = post(client, "/portal/forgot", {"email": admin.email})
    unknown = post(client, "/portal/forgot", {"email": "nobody@acme.example"})
    assert known.status_code == unknown.status_code == 303
    assert known.headers["location"] == unknown.headers["location"]
    assert "we have sent it a link" in client.get(known.headers["location"]).text
    mails = [m for m in outbox(database) if m.kind == "password_reset"]
    assert [m.to_address for m in mails] == [admin.email]


def test_a_reset_link_sets_the_password_once_and_ends_sessions(database: Database, admin: User) -> None:
    with portal_client(database) as elsewhere, portal_client(database) as client:
        signed_in(elsewhere, admin.email)
        post(client, "/portal/forgot", {"email": admin.email})
        url = link(next(m for m in outbox(database) if m.kind == "password_reset"), "reset")
        form = client.get(url)
        assert form.status_code == 200
        assert "New password" in form.text and ">Set password</button>" in form.text
        assert post(client, url, {"password": NEW_PASSWORD, "password_repeat": "other"}).status_code == 422
        response = post(client, url, {"password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD})
        assert response.status_code == 303
        assert response.headers["location"] == "/portal/login?ok=password_set"
        assert elsewhere.get("/portal/").status_code == 303  # every session has ended
        assert client.get(url).status_code == 410
        assert post(client, url, {"password": PASSWORD, "password_repeat": PASSWORD}).status_code == 410
        assert sign_in(client, admin.email, PASSWORD).status_code == 401
        assert sign_in(client, admin.email, NEW_PASSWORD).status_code == 303
    with portal_client(database) as other:
        assert other.get("/portal/reset/no-such-token").status_code == 404


# --- profile ----------------------------------------------------------------------------------


def test_the_profile_changes_the_password(client: TestClient, admin: User) -> None:
    signed_in(client, admin.email)
    page = client.get("/portal/profile").text
    assert admin.email in page and "Ada Jansen" in page
    assert "Current password" in page and ">Change password</button>" in page
    wrong = post(
        client,
        "/portal/profile",
        {"action": "password", "current_password": "nope", "new_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 422
    assert "the current password is wrong" in wrong.text
    assert NEW_PASSWORD not in wrong.text
    done = post(
        client,
        "/portal/profile",
        {"action": "password", "current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert done.status_code == 303
    assert "Your password is changed." in client.get(done.headers["location"]).text
    post(client, "/portal/logout")
    assert sign_in(client, admin.email, NEW_PASSWORD).status_code == 303


# --- team -------------------------------------------------------------------------------------


def test_an_admin_sees_and_invites_the_team(client: TestClient, database: Database, member: User) -> None:
    signed_in(client, "ada@acme.example")
    page = client.get("/portal/team")
    assert page.status_code == 200
    assert "Bram Smit" in page.text and member.email in page.text
    response = invite(client, "Dirk@Acme.example", name="Dirk de Vries", role="admin")
    assert response.status_code == 303
    assert [m.to_address for m in outbox(database) if m.kind == "invitation"][-1] == "dirk@acme.example"
    page = client.get("/portal/team").text
    assert "Dirk de Vries" in page and "invited" in page
    duplicate = invite(client, member.email, name="Someone Else")
    assert duplicate.status_code == 409
    assert "a user with that e-mail address exists" in duplicate.text
    assert 'value="Someone Else"' in duplicate.text
    bad = invite(client, "not an address", name="X Y")
    assert bad.status_code == 422


def test_a_member_may_not_manage_the_team(
    client: TestClient, database: Database, admin: User, member: User
) -> None:
    signed_in(client, member.email)
    assert client.get("/portal/team").status_code == 403
    assert 'href="/portal/team"' not in client.get("/portal/").text
    assert invite(client, "eve@acme.example").status_code == 403
    assert post(client, f"/portal/team/{admin.id}/remove").status_code == 403
    assert post(client, f"/portal/team/{admin.id}/role", {"role": "member"}).status_code == 403
    assert load_user(database, admin.id).role == UserRole.admin
    assert all(m.to_address != "eve@acme.example" for m in outbox(database))


def test_the_last_admin_stays(client: TestClient, database: Database, admin: User, member: User) -> None:
    signed_in(client, admin.email)
    removed = post(client, f"/portal/team/{admin.id}/remove")
    assert removed.status_code == 409
    assert "at least one active admin" in removed.text
    demoted = post(client, f"/portal/team/{admin.id}/role", {"role": "member"})
    assert demoted.status_code == 409
    assert load_user(database, admin.id).role == UserRole.admin
    assert load_user(database, admin.id).status == AccountStatus.active


def test_an_admin_changes_roles_and_removes_users(database: Database, admin: User, member: User) -> None:
    with portal_client(database) as client, portal_client(database) as bram:
        signed_in(client, admin.email)
        signed_in(bram, member.email)
        promoted = post(client, f"/portal/team/{member.id}/role", {"role": "admin"})
        assert promoted.status_code == 303
        assert load_user(database, member.id).role == UserRole.admin
        assert post(client, f"/portal/team/{member.id}/role", {"role": "member"}).status_code == 303
        removed = post(client, f"/portal/team/{member.id}/remove")
        assert removed.status_code == 303
        assert load_user(database, member.id).status == AccountStatus.disabled
        assert bram.get("/portal/").status_code == 303  # signed out
        assert sign_in(bram, member.email).status_code == 401


def test_an_admin_cannot_touch_another_customers_user(
    client: TestClient, database: Database, admin: User
) -> None:
    other, _ = make_customer(
        database, legal_name="Globex B.V.", billing_email="billing@globex.example", contacts=0
    )
    stranger = make_user(database, customer_id=other.id, email="eve@globex.example", name="Eve Globex")
    signed_in(client, admin.email)
    assert "Eve Globex" not in client.get("/portal/team").text
    assert post(client, f"/portal/team/{stranger.id}/role", {"role": "admin"}).status_code == 404
    assert post(client, f"/portal/team/{stranger.id}/remove").status_code == 404
    assert post(client, f"/portal/team/{uuid.uuid4()}/remove").status_code == 404
    after = load_user(database, stranger.id)
    assert (after.role, after.status) == (UserRole.member, AccountStatus.active)


# --- objection to monitoring --------------------------------------------------------------------


def test_a_user_objects_to_monitoring_and_withdraws(
    client: TestClient, database: Database, member: User
) -> None:
    signed_in(client, member.email)
    assert "Object to this" in client.get("/portal/profile").text
    response = post(client, "/portal/profile", {"action": "object"})
    assert response.headers["location"] == "/portal/profile?ok=objection_recorded"
    with database.unit_of_work("contract", SYSTEM) as session:
        user = session.get(User, member.id)
        assert user is not None and user.monitoring_objection_at is not None
    page = client.get("/portal/profile").text
    assert "Withdraw my objection" in page
    assert "You objected to this on" in page
    post(client, "/portal/profile", {"action": "withdraw"})
    with database.unit_of_work("contract", SYSTEM) as session:
        user = session.get(User, member.id)
        assert user is not None and user.monitoring_objection_at is None
