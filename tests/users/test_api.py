"""The users API (teams, invitations, roles, disabling) and staff API tokens."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.factories import FAST, SYSTEM, api_sign_in, mailed_token, make_customer, make_staff, make_user

from lawful.customers.models import Customer
from lawful.data.db import Database
from lawful.users import repository
from lawful.users.models import AccountStatus, PrincipalKind, StaffRole, UserRole
from lawful.web.app import create_app

Clients = Callable[..., TestClient]
ADMIN, MEMBER, OTHER_ADMIN = "adam@acme.example", "mia@acme.example", "olga@other.example"
SUPPORT, STAFF_ADMIN = "sam@lawful.example", "ria@lawful.example"


@pytest.fixture
def customers(database: Database) -> tuple[Customer, Customer]:
    acme, _ = make_customer(database, contacts=0)
    other, _ = make_customer(database, legal_name="Other B.V.", billing_email="b@other.example", contacts=0)
    make_user(database, customer_id=acme.id, email=ADMIN, name="Adam Admin", role=UserRole.admin)
    make_user(database, customer_id=acme.id, email=MEMBER, name="Mia Member")
    make_user(database, customer_id=other.id, email=OTHER_ADMIN, name="Olga Other", role=UserRole.admin)
    make_staff(database, role=StaffRole.support, email=SUPPORT)
    make_staff(database, role=StaffRole.admin, email=STAFF_ADMIN, name="Ria Root")
    return acme, other


@pytest.fixture
def clients(database: Database, customers: tuple[Customer, Customer]) -> Iterator[Clients]:
    app = create_app(FAST, db=database)
    with ExitStack() as stack:

        def make(email: str | None = None, *, staff: bool = False) -> TestClient:
            client = stack.enter_context(TestClient(app, raise_server_exceptions=False))
            if email:
                api_sign_in(client, email=email, staff=staff)
            return client

        yield make


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status
    return body["error"]


def user_id(db: Database, email: str) -> uuid.UUID:
    with db.unit_of_work("contract", SYSTEM) as session:
        user = repository.by_email(session, PrincipalKind.user, email)
        assert user is not None
        return user.id


def emails(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(u["email"] for u in response.json()["items"])


# --- teams ------------------------------------------------------------------------------------


def test_an_admin_lists_their_own_team_only(clients: Clients, customers: tuple[Customer, Customer]) -> None:
    acme, other = customers
    admin = clients(ADMIN)
    assert emails(admin.get("/api/v1/users")) == [ADMIN, MEMBER]
    assert emails(admin.get("/api/v1/users", params={"q": "mia"})) == [MEMBER]
    assert emails(admin.get("/api/v1/users", params={"customer_id": str(acme.id)})) == [ADMIN, MEMBER]
    refused = admin.get("/api/v1/users", params={"customer_id": str(other.id)})
    assert error(refused, 404)["code"] == "not_found" and OTHER_ADMIN not in refused.text
    error(clients(MEMBER).get("/api/v1/users"), 403)


def test_staff_list_every_user(clients: Clients, customers: tuple[Customer, Customer]) -> None:
    _, other = customers
    support = clients(SUPPORT, staff=True)
    assert emails(support.get("/api/v1/users")) == [ADMIN, MEMBER, OTHER_ADMIN]
    assert emails(support.get("/api/v1/users", params={"customer_id": str(other.id)})) == [OTHER_ADMIN]
    page = support.get("/api/v1/users", params={"per_page": 1, "page": 3}).json()
    assert (page["total"], len(page["items"])) == (3, 1)


def test_an_admin_invites_a_teammate(clients: Clients, database: Database) -> None:
    admin = clients(ADMIN)
    response = admin.post("/api/v1/users", json={"email": "Nel@Acme.example", "name": " Nel Newbie "})
    assert response.status_code == 201, response.text
    nel = response.json()
    assert (nel["email"], nel["name"], nel["role"], nel["status"]) == (
        "nel@acme.example",
        "Nel Newbie",
        "member",
        "invited",
    )
    assert "token" not in response.text  # the link goes by mail only
    assert mailed_token(database, to="nel@acme.example", kind="invitation")
    conflict = admin.post("/api/v1/users", json={"email": "nel@acme.example", "name": "Nel Again"})
    assert error(conflict, 409)["code"] == "conflict"
    error(admin.post("/api/v1/users", json={"email": "not-an-address", "name": "Nobody"}), 422)
    error(admin.post("/api/v1/users", json={"email": "x@acme.example", "name": "  "}), 422)
    error(admin.post("/api/v1/users", json={"email": "x@acme.example", "name": "X", "role": "owner"}), 422)
    error(clients(MEMBER).post("/api/v1/users", json={"email": "y@acme.example", "name": "Y"}), 403)


def test_an_admin_cannot_invite_into_another_customer(
    clients: Clients, customers: tuple[Customer, Customer], database: Database
) -> None:
    _, other = customers
    response = clients(ADMIN).post(
        "/api/v1/users", json={"email": "mole@acme.example", "name": "Mo Mole", "customer_id": str(other.id)}
    )
    error(response, 404)
    with database.unit_of_work("contract", SYSTEM) as session:
        assert repository.by_email(session, PrincipalKind.user, "mole@acme.example") is None


def test_staff_invite_into_a_named_customer(clients: Clients, customers: tuple[Customer, Customer]) -> None:
    _, other = customers
    support = clients(SUPPORT, staff=True)
    unnamed = support.post("/api/v1/users", json={"email": "z@other.example", "name": "Zo"})
    assert error(unnamed, 422)["detail"] == {"field": "customer_id"}
    error(
        support.post(
            "/api/v1/users", json={"email": "z@other.example", "name": "Zo", "customer_id": str(uuid.uuid4())}
        ),
        404,
    )
    made = support.post(
        "/api/v1/users",
        json={"email": "z@other.example", "name": "Zo", "customer_id": str(other.id), "role": "admin"},
    )
    assert made.status_code == 201 and made.json()["customer_id"] == str(other.id)


def test_me(clients: Clients) -> None:
    member = clients(MEMBER)
    me = member.get("/api/v1/users/me").json()
    assert (me["email"], me["role"], me["status"]) == (MEMBER, "member", "active")
    assert "password_hash" not in me and "totp_secret" not in me
    renamed = member.patch("/api/v1/users/me", json={"name": "Mia Mulder"})
    assert renamed.json()["name"] == "Mia Mulder"
    assert member.patch("/api/v1/users/me", json={}).json()["name"] == "Mia Mulder"
    error(member.patch("/api/v1/users/me", json={"name": ""}), 422)
    error(
        member.patch("/api/v1/users/me", json={"email": "other@acme.example"}), 422
    )  # e-mail is not changeable
    error(clients(SUPPORT, staff=True).get("/api/v1/users/me"), 403)
    error(clients().get("/api/v1/users/me"), 401)


def test_who_sees_one_user(clients: Clients, database: Database) -> None:
    member_id, admin_id, olga_id = (user_id(database, e) for e in (MEMBER, ADMIN, OTHER_ADMIN))
    member = clients(MEMBER)
    assert member.get(f"/api/v1/users/{member_id}").json()["email"] == MEMBER  # themselves
    error(member.get(f"/api/v1/users/{admin_id}"), 403)  # a member does not look up teammates
    admin = clients(ADMIN)
    assert admin.get(f"/api/v1/users/{member_id}").json()["email"] == MEMBER
    refused = admin.get(f"/api/v1/users/{olga_id}")
    error(refused, 404)
    assert OTHER_ADMIN not in refused.text
    assert clients(SUPPORT, staff=True).get(f"/api/v1/users/{olga_id}").json()["email"] == OTHER_ADMIN


def test_roles_and_the_last_admin(clients: Clients, database: Database) -> None:
    member_id, admin_id, olga_id = (user_id(database, e) for e in (MEMBER, ADMIN, OTHER_ADMIN))
    admin = clients(ADMIN)
    last = admin.patch(f"/api/v1/users/{admin_id}", json={"role": "member"})
    assert error(last, 409)["message"] == "a customer needs at least one active admin"
    promoted = admin.patch(f"/api/v1/users/{member_id}", json={"role": "admin"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    assert admin.patch(f"/api/v1/users/{admin_id}", json={"role": "member"}).json()["role"] == "member"
    error(admin.patch(f"/api/v1/users/{olga_id}", json={"role": "member"}), 403)  # now a member
    mia = clients(MEMBER)
    error(mia.patch(f"/api/v1/users/{olga_id}", json={"role": "member"}), 404)
    error(mia.patch(f"/api/v1/users/{member_id}", json={"role": "owner"}), 422)
    error(mia.patch(f"/api/v1/users/{member_id}", json={}), 422)


def test_disabling_a_user_ends_their_sessions(clients: Clients, database: Database) -> None:
    member_id, admin_id = user_id(database, MEMBER), user_id(database, ADMIN)
    member, admin = clients(MEMBER), clients(ADMIN)
    error(member.delete(f"/api/v1/users/{admin_id}"), 403)
    error(admin.delete(f"/api/v1/users/{admin_id}"), 409)  # the last admin stays
    assert admin.delete(f"/api/v1/users/{member_id}").status_code == 204
    error(member.get("/api/v1/users/me"), 401)
    sign_in = clients().post(
        "/api/v1/auth/login", json={"email": MEMBER, "password": "correct horse battery staple"}
    )
    error(sign_in, 401)
    with database.unit_of_work("contract", SYSTEM) as session:
        user = repository.by_id(session, PrincipalKind.user, member_id)
        assert user is not None and user.status == AccountStatus.disabled


# --- API tokens -------------------------------------------------------------------------------


def test_a_token_is_shown_once_and_acts_with_its_owners_role(clients: Clients) -> None:
    console = clients(SUPPORT, staff=True)
    created = console.post("/api/v1/tokens", json={"label": "ERP sync", "days": 30})
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    assert token.startswith("lwf_") and created.json()["prefix"] == token[:12]
    listed = console.get("/api/v1/tokens").json()["items"]
    assert [t["label"] for t in listed] == ["ERP sync"] and token not in str(listed)
    robot = clients()
    bearer = {"Authorization": f"Bearer {token}"}
    assert robot.get("/api/v1/customers", headers=bearer).status_code == 200
    assert error(robot.get("/api/v1/processing-log", headers=bearer), 403)["code"] == "forbidden"
    error(robot.post("/api/v1/tokens", json={"label": "more"}, headers=bearer), 403)  # no token mints tokens
    assert robot.get("/api/v1/tokens", headers=bearer).json()["items"][0]["last_used_at"] is not None


def test_a_revoked_token_stops_working(clients: Clients) -> None:
    console = clients(SUPPORT, staff=True)
    created = console.post("/api/v1/tokens", json={"label": "cron"}).json()
    bearer = {"Authorization": f"Bearer {created['token']}"}
    robot = clients()
    assert robot.get("/api/v1/customers", headers=bearer).status_code == 200
    # another staff member cannot revoke it
    error(clients(STAFF_ADMIN, staff=True).delete(f"/api/v1/tokens/{created['id']}"), 404)
    assert console.delete(f"/api/v1/tokens/{created['id']}").status_code == 204
    assert console.get("/api/v1/tokens").json()["items"][0]["revoked_at"] is not None
    assert error(robot.get("/api/v1/customers", headers=bearer), 401)["code"] == "unauthorized"
    error(robot.get("/api/v1/customers", headers={"Authorization": "Bearer lwf_made-up"}), 401)


def test_a_token_needs_a_label(clients: Clients) -> None:
    console = clients(SUPPORT, staff=True)
    error(console.post("/api/v1/tokens", json={"label": "   "}), 422)
    error(console.post("/api/v1/tokens", json={"label": "x", "days": 1000}), 422)
    assert console.get("/api/v1/tokens").json()["items"] == []
    error(clients(ADMIN).get("/api/v1/tokens"), 403)
