"""The console shell: signing in and out, the second factor, the role gate of every page, the
profile, the processing log, the statement, the record, the outbox and the users page, on both
backends."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pyotp
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select
from tests.factories import FAST, SYSTEM, csrf_token, make_customer, make_staff, make_user, post_form

from lawful.data.db import Database
from lawful.data.log import ProcessingRecord
from lawful.policy.model import Policy
from lawful.settings import Settings
from lawful.users import repository as users_repository
from lawful.users import service as users_service
from lawful.users.models import LoginOutcome, LoginRecord, Staff, StaffRole, UserRole, WebSession
from lawful.users.service import BAD_CREDENTIALS, THROTTLED, AuthConfig
from lawful.web.app import create_app
from lawful.web.auth import CSRF_COOKIE, STAFF_COOKIE, csrf_protect
from lawful.web.routes import routers

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "violet tractor quantum 42"
HTML = {"accept": "text/html,application/xhtml+xml"}

PAGES = [
    "/console/customers",
    "/console/support",
    "/console/users",
    "/console/outbox",
    "/console/processing-log",
    "/console/statement",
    "/console/record",
    "/console/profile",
]


class Structure(HTMLParser):
    """What a page is made of, for accessibility checks without a browser."""

    def __init__(self) -> None:
        super().__init__()
        self.h1 = 0
        self.label_for: set[str] = set()
        self.label_depth = 0
        self.fields: list[dict[str, str | None]] = []
        self.th: list[dict[str, str | None]] = []
        self.in_thead = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "h1":
            self.h1 += 1
        elif tag == "label":
            self.label_depth += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        elif tag in ("input", "select", "textarea"):
            if a.get("type") not in ("hidden", "submit", "button"):
                self.fields.append({**a, "wrapped": "yes" if self.label_depth else None})
        elif tag == "th":
            self.th.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.label_depth -= 1

    def unlabelled(self) -> list[str]:
        return [
            str(f.get("name"))
            for f in self.fields
            if not f["wrapped"] and f.get("id") not in self.label_for and not f.get("aria-label")
        ]


def structure(html: str) -> Structure:
    parser = Structure()
    parser.feed(html)
    return parser


def assert_accessible(html: str) -> None:
    page = structure(html)
    assert page.h1 == 1, "a page has exactly one h1"
    assert page.unlabelled() == [], "every input has a label"
    assert all(th.get("scope") in ("col", "row") for th in page.th), "every table header has a scope"


def console_client(db: Database, **settings: Any) -> TestClient:
    app = create_app(Settings(argon2_time_cost=1, argon2_memory_kib=8192, **settings), db=db)
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    client.headers.update(HTML)
    return client


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    with console_client(database) as client:
        yield client


def csrf(client: TestClient) -> str:
    return csrf_token(client, "/console/login")


def post(client: TestClient, url: str, data: dict[str, str] | None = None, *, token: bool = True) -> Response:
    return post_form(client, url, data, page="/console/login", token=token)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, **extra: str) -> Response:
    return post(client, "/console/login", {"email": email, "password": password, **extra})


def staff_member(db: Database, role: StaffRole) -> Staff:
    return make_staff(db, role=role, email=f"{role.value.replace('_', '.')}@lawful.example")


def signed_in_as(client: TestClient, db: Database, role: StaffRole) -> Staff:
    staff = staff_member(db, role)
    response = sign_in(client, staff.email)
    assert response.status_code == 303, response.text
    return staff


def login_outcomes(db: Database, staff_id: uuid.UUID) -> list[LoginOutcome]:
    with db.unit_of_work("staff_access", SYSTEM) as session:
        stmt = (
            select(LoginRecord.outcome).where(LoginRecord.principal_id == staff_id).order_by(LoginRecord.at)
        )
        return list(session.scalars(stmt))


def sessions_of(db: Database, staff_id: uuid.UUID) -> int:
    with db.unit_of_work("staff_access", SYSTEM) as session:
        stmt = select(func.count()).select_from(WebSession).where(WebSession.principal_id == staff_id)
        return session.scalar(stmt) or 0


def wrong_code(secret: str) -> str:
    totp = pyotp.TOTP(secret)
    now = int(time.time())
    valid = {totp.at(now + drift) for drift in (-30, 0, 30)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in valid)


# --- signing in and out -----------------------------------------------------------------------


def test_the_login_page_has_the_labelled_form(client: TestClient) -> None:
    page = client.get("/console/login").text
    assert re.search(r'<label for="([\w-]+)">E-mail address</label>\s*<input id="\1" name="email"', page)
    assert re.search(r'<label for="([\w-]+)">Password</label>\s*<input id="\1" name="password"', page)
    assert ">Sign in</button>" in page
    assert f'name="csrf_token" value="{client.cookies[CSRF_COOKIE]}"' in page
    assert_accessible(page)


@pytest.mark.parametrize(
    "path", [*PAGES, "/console/", "/console/customers/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"]
)
def test_signed_out_pages_redirect_to_the_login(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == f"/console/login?next={path}"


def test_sign_in_and_out(client: TestClient, database: Database) -> None:
    staff = staff_member(database, StaffRole.support)
    response = sign_in(client, "Support@Lawful.example")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/customers"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(f"{STAFF_COOKIE}="))
    assert {"httponly", "samesite=lax"} <= {part.strip().lower() for part in cookie.split(";")}
    page = client.get("/console/customers")
    assert page.status_code == 200
    assert "Sam Agent" in page.text  # who is signed in
    assert login_outcomes(database, staff.id) == [LoginOutcome.success]
    assert sessions_of(database, staff.id) == 1

    response = post(client, "/console/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"
    assert STAFF_COOKIE not in client.cookies
    assert sessions_of(database, staff.id) == 0
    assert client.get("/console/customers").status_code == 303


def test_a_wrong_password_shows_the_message_and_is_recorded(client: TestClient, database: Database) -> None:
    staff = staff_member(database, StaffRole.support)
    response = sign_in(client, staff.email, "not the password at all")
    assert response.status_code == 401
    assert BAD_CREDENTIALS in response.text
    assert 'role="alert"' in response.text
    assert f'value="{staff.email}"' in response.text  # the address is kept
    assert "not the password at all" not in response.text  # the password never is
    assert STAFF_COOKIE not in client.cookies
    assert login_outcomes(database, staff.id) == [LoginOutcome.bad_password]


def test_repeated_failures_are_throttled(database: Database) -> None:
    staff = staff_member(database, StaffRole.admin)
    with console_client(database, login_account_failures=2) as client:
        for _ in range(2):
            assert sign_in(client, staff.email, "wrong password here").status_code == 401
        response = sign_in(client, staff.email)  # even the right password is refused now
        assert response.status_code == 429
        assert THROTTLED in response.text
        assert STAFF_COOKIE not in client.cookies
    assert login_outcomes(database, staff.id)[-1] == LoginOutcome.account_locked


def test_next_is_honoured_only_for_console_paths(client: TestClient, database: Database) -> None:
    staff = staff_member(database, StaffRole.admin)
    response = sign_in(client, staff.email, next="https://evil.example/console/")
    assert response.headers["location"] == "/console/customers"
    post(client, "/console/logout")
    response = sign_in(client, staff.email, next="//evil.example/console/")
    assert response.headers["location"] == "/console/customers"
    post(client, "/console/logout")
    response = sign_in(client, staff.email, next="/console/outbox?status=pending")
    assert response.headers["location"] == "/console/outbox?status=pending"
    # signed in, the login page sends one on
    assert client.get("/console/login").headers["location"] == "/console/customers"


def test_the_login_page_keeps_next(client: TestClient) -> None:
    page = client.get("/console/login", params={"next": "/console/support"}).text
    assert 'name="next" value="/console/support"' in page
    assert 'name="next"' not in client.get("/console/login", params={"next": "https://x.example/"}).text


def test_a_form_without_the_csrf_token_is_refused(client: TestClient, database: Database) -> None:
    staff = staff_member(database, StaffRole.admin)
    assert post(
        client, "/console/login", {"email": staff.email, "password": PASSWORD}, token=False
    ).status_code == (403)
    assert STAFF_COOKIE not in client.cookies
    assert sign_in(client, staff.email).status_code == 303
    response = post(client, "/console/profile/tokens", {"label": "ERP sync"}, token=False)
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    forged = post(
        client, "/console/profile/tokens", {"label": "ERP sync", "csrf_token": "forged"}, token=False
    )
    assert forged.status_code == 403
    with database.unit_of_work("staff_access", SYSTEM) as session:
        assert users_repository.api_tokens_of(session, staff.id) == []


def test_two_step_sign_in(client: TestClient, database: Database) -> None:
    staff = signed_in_as(client, database, StaffRole.support)
    page = client.get("/console/profile", params={"setup": "totp"}).text
    assert "<svg" in page
    secret = re.search(r'name="secret" value="([A-Z2-7]+)"', page)
    assert secret
    bad = post(
        client, "/console/profile/totp", {"secret": secret.group(1), "code": wrong_code(secret.group(1))}
    )
    assert bad.status_code == 422
    assert "does not match" in bad.text
    on = post(
        client,
        "/console/profile/totp",
        {"secret": secret.group(1), "code": pyotp.TOTP(secret.group(1)).now()},
    )
    assert on.status_code == 303
    assert "Two-step sign-in is on" in client.get(on.headers["location"]).text
    post(client, "/console/logout")

    response = sign_in(client, staff.email, next="/console/support")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/second-factor?next=%2Fconsole%2Fsupport"
    assert client.get("/console/customers").status_code == 303  # not signed in yet
    form = client.get(response.headers["location"])
    assert "Code from your authenticator app" in form.text
    assert_accessible(form.text)
    wrong = post(
        client, "/console/second-factor", {"code": wrong_code(secret.group(1)), "next": "/console/support"}
    )
    assert wrong.status_code == 401
    assert "that code is wrong" in wrong.text
    right = post(
        client,
        "/console/second-factor",
        {"code": pyotp.TOTP(secret.group(1)).now(), "next": "/console/support"},
    )
    assert right.status_code == 303
    assert right.headers["location"] == "/console/support"
    assert client.get("/console/customers").status_code == 200
    assert login_outcomes(database, staff.id)[-2:] == [LoginOutcome.bad_second_factor, LoginOutcome.success]

    wrong_password = post(client, "/console/profile/totp/off", {"password": "not my password at all"})
    assert wrong_password.status_code == 422
    off = post(client, "/console/profile/totp/off", {"password": PASSWORD})
    assert off.status_code == 303
    post(client, "/console/logout")
    assert sign_in(client, staff.email).headers["location"] == "/console/customers"


def test_the_second_factor_page_needs_a_pending_sign_in(client: TestClient) -> None:
    assert client.get("/console/second-factor").headers["location"] == "/console/login"


def test_logout_everywhere_ends_every_session(database: Database) -> None:
    staff = staff_member(database, StaffRole.support)
    with console_client(database) as laptop, console_client(database) as phone:
        assert sign_in(laptop, staff.email).status_code == 303
        assert sign_in(phone, staff.email).status_code == 303
        assert sessions_of(database, staff.id) == 2
        response = post(laptop, "/console/logout-everywhere")
        assert response.status_code == 303
        assert sessions_of(database, staff.id) == 0
        assert phone.get("/console/customers").status_code == 303
        assert laptop.get("/console/customers").status_code == 303


# --- roles ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "home"),
    [
        (StaffRole.admin, "/console/customers"),
        (StaffRole.support, "/console/customers"),
        (StaffRole.finance, "/console/customers"),
        (StaffRole.privacy_officer, "/console/processing-log"),
        (StaffRole.analyst, "/console/analytics"),
    ],
)
def test_the_start_page_depends_on_the_role(
    client: TestClient, database: Database, role: StaffRole, home: str
) -> None:
    signed_in_as(client, database, role)
    assert client.get("/console/").headers["location"] == home
    assert client.get(home).status_code == 200


@pytest.mark.parametrize("role", list(StaffRole))
def test_every_page_is_open_exactly_to_the_roles_of_its_purpose(
    client: TestClient, database: Database, policy: Policy, role: StaffRole
) -> None:
    signed_in_as(client, database, role)
    purpose_of = {
        "/console/customers": "contract",
        "/console/support": "contract",
        "/console/users": "contract",
        "/console/outbox": "contract",
        "/console/processing-log": "accountability",
    }
    for path in PAGES:
        response = client.get(path)
        purpose = purpose_of.get(path)
        allowed = purpose is None or policy.role_may(role.value, purpose)
        assert response.status_code == (200 if allowed else 403), (role, path)
        assert response.headers["content-type"].startswith("text/html")
        if allowed:
            assert_accessible(response.text)
            nav = re.findall(r'<li><a href="(/console/[\w-]+)"', response.text)
            assert path in nav
            assert f'<a href="{path}" aria-current="page">' in response.text
        else:
            assert "forbidden" in response.text
            assert "does not act under the purpose" in response.text


def test_the_navigation_shows_only_what_the_role_may_open(client: TestClient, database: Database) -> None:
    signed_in_as(client, database, StaffRole.support)
    page = client.get("/console/profile").text
    assert ">Customers</a>" in page and ">Support log</a>" in page and ">Outbox</a>" in page
    assert ">Processing log</a>" not in page
    assert ">Statement</a>" in page and ">Record of processing</a>" in page


def test_a_privacy_officer_sees_no_customers_in_the_navigation(
    client: TestClient, database: Database
) -> None:
    signed_in_as(client, database, StaffRole.privacy_officer)
    page = client.get("/console/processing-log").text
    assert ">Processing log</a>" in page
    assert ">Customers</a>" not in page and ">Users</a>" not in page


# --- the processing log -----------------------------------------------------------------------


def test_the_processing_log_shows_who_opened_a_customer(database: Database) -> None:
    customer, _ = make_customer(database)
    agent = staff_member(database, StaffRole.support)
    with console_client(database) as support:
        assert sign_in(support, agent.email).status_code == 303
        assert support.get(f"/console/customers/{customer.id}").status_code == 200
    with console_client(database) as officer:
        signed_in_as(officer, database, StaffRole.privacy_officer)
        page = officer.get("/console/processing-log", params={"subject": str(customer.id)})
        assert page.status_code == 200
        assert f"staff:{agent.id}" in page.text
        assert f"customers <code>{customer.id}</code>" in page.text
        assert "contract" in page.text and "user.contact.organization" in page.text
        by_actor = officer.get("/console/processing-log", params={"actor": f"staff:{agent.id}"}).text
        assert f"staff:{agent.id}" in by_actor
        none = officer.get("/console/processing-log", params={"actor": f"staff:{uuid.uuid4()}"}).text
        assert "No entries match." in none
        other_purpose = officer.get(
            "/console/processing-log", params={"subject": str(customer.id), "purpose": "monitoring"}
        ).text
        assert "No entries match." in other_purpose


def test_the_processing_log_pages(database: Database) -> None:
    with database.unit_of_work("accountability", SYSTEM) as session:
        session.add_all(
            ProcessingRecord(
                actor_kind="system",
                actor_id="seed",
                purpose="contract",
                operation="read",
                table_name="customers",
                categories="user.contact.email",
                subject_table="customers",
                subject_id=f"subject-{i:03d}",
            )
            for i in range(60)
        )
    with console_client(database) as client:
        signed_in_as(client, database, StaffRole.admin)
        first = client.get("/console/processing-log", params={"actor": "system:seed"}).text
        assert first.count("<code>system:seed</code>") == 50
        assert 'href="/console/processing-log?actor=system%3Aseed&amp;page=2">Older</a>' in first
        second = client.get("/console/processing-log", params={"actor": "system:seed", "page": 2}).text
        assert second.count("<code>system:seed</code>") == 10
        assert ">Older</a>" not in second and ">Newer</a>" in second


# --- the statement and the record -------------------------------------------------------------


def test_the_statement_is_rendered_from_the_policy(
    client: TestClient, database: Database, policy: Policy
) -> None:
    signed_in_as(client, database, StaffRole.analyst)
    page = client.get("/console/statement").text
    assert_accessible(page)
    assert f"<h1>Privacy statement of {policy.organisation.name}</h1>" in page
    for purpose in policy.public_purposes:
        assert purpose.title in page
    assert page.count("<html") == 1


def test_the_record_is_rendered_from_the_policy(
    client: TestClient, database: Database, policy: Policy
) -> None:
    signed_in_as(client, database, StaffRole.privacy_officer)
    page = client.get("/console/record").text
    assert_accessible(page)
    assert "<h1>Record of processing activities</h1>" in page
    for purpose in policy.purposes:
        assert f'id="purpose-{purpose.key}"' in page
    assert '<th scope="col">Category of personal data (c)</th>' in page
    assert page.count("<html") == 1


# --- the outbox -------------------------------------------------------------------------------


def test_the_outbox_lists_a_queued_invitation_with_its_link(client: TestClient, database: Database) -> None:
    customer, _ = make_customer(database, contacts=0)
    with database.unit_of_work("contract", SYSTEM) as session:
        _, token = users_service.invite_user(
            session,
            customer_id=customer.id,
            email="new@acme.example",
            name="Nina Nieuw",
            role=UserRole.member,
            invited_by="Ada",
            cfg=AuthConfig.from_settings(FAST),
        )
    signed_in_as(client, database, StaffRole.support)
    page = client.get("/console/outbox")
    assert page.status_code == 200
    assert "new@acme.example" in page.text
    assert "invitation" in page.text and "pending" in page.text
    link = f"/portal/invitation/{token}"
    assert re.search(rf'<a href="https?://[^"]+{re.escape(link)}">', page.text)
    assert "new@acme.example" not in client.get("/console/outbox", params={"status": "sent"}).text


def test_the_outbox_hides_bodies_when_mail_is_delivered_by_smtp(database: Database) -> None:
    customer, _ = make_customer(database, contacts=0)
    with database.unit_of_work("contract", SYSTEM) as session:
        _, token = users_service.invite_user(
            session,
            customer_id=customer.id,
            email="new@acme.example",
            name="Nina Nieuw",
            role=UserRole.member,
            invited_by="Ada",
            cfg=AuthConfig.from_settings(FAST),
        )
    with console_client(database, smtp_host="127.0.0.1", smtp_port=9) as client:
        signed_in_as(client, database, StaffRole.admin)
        page = client.get("/console/outbox").text
    assert "new@acme.example" in page
    assert token not in page


# --- the profile ------------------------------------------------------------------------------


def test_the_profile_changes_the_password(client: TestClient, database: Database) -> None:
    staff = signed_in_as(client, database, StaffRole.finance)
    page = client.get("/console/profile").text
    assert staff.email in page and "finance" in page
    wrong = post(
        client,
        "/console/profile/password",
        {"current_password": "not my password", "new_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 422
    assert "the current password is wrong" in wrong.text
    weak = post(client, "/console/profile/password", {"current_password": PASSWORD, "new_password": "short"})
    assert weak.status_code == 422
    assert "at least 12 characters" in weak.text
    done = post(
        client, "/console/profile/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert done.status_code == 303
    assert "Your password was changed." in client.get(done.headers["location"]).text
    post(client, "/console/logout")
    assert sign_in(client, staff.email, PASSWORD).status_code == 401
    assert sign_in(client, staff.email, NEW_PASSWORD).status_code == 303


def test_an_api_token_is_shown_once_and_can_be_revoked(client: TestClient, database: Database) -> None:
    staff = signed_in_as(client, database, StaffRole.support)
    missing = post(client, "/console/profile/tokens", {"label": "  "})
    assert missing.status_code == 422
    created = post(client, "/console/profile/tokens", {"label": "ERP sync"})
    assert created.status_code == 201
    found = re.search(r'<code id="new-token">(lwf_[\w-]+)</code>', created.text)
    assert found
    token = found.group(1)
    assert token not in client.get("/console/profile").text  # shown once
    with console_client(database) as script:
        bearer = {"authorization": f"Bearer {token}"}
        assert script.get("/console/customers", headers=bearer).status_code == 200
        assert script.get("/console/processing-log", headers=bearer).status_code == 403  # the role's limits
        with database.unit_of_work("staff_access", SYSTEM) as session:
            (record,) = users_repository.api_tokens_of(session, staff.id)
        revoked = post(client, f"/console/profile/tokens/{record.id}/revoke")
        assert revoked.status_code == 303
        assert script.get("/console/customers", headers=bearer).status_code == 401
    assert post(client, f"/console/profile/tokens/{uuid.uuid4()}/revoke").status_code == 404


# --- users across customers -------------------------------------------------------------------


def test_the_users_page_searches_across_customers(client: TestClient, database: Database) -> None:
    acme, _ = make_customer(database, contacts=0)
    other, _ = make_customer(
        database, legal_name="Bakkerij Jansen", billing_email="info@bakkerij.example", contacts=0
    )
    make_user(database, customer_id=acme.id, email="ada@acme.example", name="Ada Jansen", role=UserRole.admin)
    make_user(database, customer_id=other.id, email="piet@bakkerij.example", name="Piet Bakker")
    signed_in_as(client, database, StaffRole.support)
    page = client.get("/console/users").text
    assert "Ada Jansen" in page and "Piet Bakker" in page
    assert f'href="/console/customers/{other.id}#users">Bakkerij Jansen</a>' in page
    found = client.get("/console/users", params={"q": "BAKKERIJ.example"}).text
    assert "Piet Bakker" in found and "Ada Jansen" not in found
    assert "1 user matching" in found


def test_every_console_form_checks_the_csrf_token() -> None:
    posts = [
        route
        for router in routers()
        for route in router.routes
        if isinstance(route, APIRoute) and route.path.startswith("/console") and "POST" in route.methods
    ]
    assert len(posts) >= 15
    for route in posts:
        assert any(d.call is csrf_protect for d in route.dependant.dependencies), route.path
