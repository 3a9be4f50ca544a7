"""Every API route for every role, on both backends.

The table below names, per route, the principals that may call it. The test calls each route as
each principal with the real ids of customer A's objects (so customer B's admin is refused with
ids that exist, not guessed ones) and again with random ids. An allowed call succeeds; a refusal
is 401 for nobody signed in and 403 or 404 otherwise, always with the error body; nothing is ever
a 5xx; and a user of A never sees B's data (nor B's admin A's). A route the table lacks fails
the coverage test, so a new route cannot skip this.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select
from tests.factories import (
    FAST,
    PASSWORD,
    SYSTEM,
    api_sign_in,
    mailed_token,
    make_site,
    make_staff,
    make_user,
)

from lawful.customers import service as customers
from lawful.customers.models import CustomerKind
from lawful.data.db import Database
from lawful.schema import metadata
from lawful.support import service as support
from lawful.support.models import Channel
from lawful.users import service as users
from lawful.users.models import Staff, StaffRole, UserRole
from lawful.users.service import AuthConfig
from lawful.web.app import create_app

ANON = "anonymous"
MEMBER_A = "member of A"
ADMIN_A = "admin of A"
ADMIN_B = "admin of B"
SUPPORT = "support"
FINANCE = "finance"
ADMIN = "admin"
ANALYST = "analyst"
PRIVACY = "privacy_officer"
TOKEN = "support via API token"

USERS = frozenset({MEMBER_A, ADMIN_A, ADMIN_B})
STAFF_COOKIE = frozenset({SUPPORT, FINANCE, ADMIN, ANALYST, PRIVACY})
STAFF = STAFF_COOKIE | {TOKEN}
CONTRACT = frozenset({SUPPORT, FINANCE, ADMIN, TOKEN})
ACCOUNTABILITY = frozenset({ADMIN, PRIVACY})
MONITORING = frozenset({ADMIN, ANALYST})  # totals: aggregates-only roles too
MONITORING_ROWS = frozenset({ADMIN})  # per-event data
FEES = frozenset({FINANCE})  # contract and legal_obligation: invoices
EVERYONE = frozenset({ANON}) | USERS | STAFF
PRINCIPALS = [ANON, MEMBER_A, ADMIN_A, ADMIN_B, SUPPORT, FINANCE, ADMIN, ANALYST, PRIVACY, TOKEN]

A_NAME, B_NAME = "Alpha Trading B.V.", "Bravo Logistiek B.V."
A_SUMMARY, B_SUMMARY = "Alpha asked about the March invoice", "Bravo wants a second warehouse"
EMAILS = {
    MEMBER_A: "mia@alpha.example",
    ADMIN_A: "adam@alpha.example",
    ADMIN_B: "bea@bravo.example",
    **{role: f"{role}@lawful.example" for role in (SUPPORT, FINANCE, ADMIN, ANALYST, PRIVACY)},
}
LOGIN_USER, TOTP_USER, RESET_USER = "lina@alpha.example", "tara@alpha.example", "rita@alpha.example"
LOGIN_STAFF, TOTP_STAFF = "desk@lawful.example", "otto@lawful.example"
# What one side must never see of the other.
A_DATA = (
    A_NAME,
    "billing@alpha.example",
    "carla@alpha.example",
    EMAILS[MEMBER_A],
    EMAILS[ADMIN_A],
    A_SUMMARY,
)
B_DATA = (
    B_NAME,
    "billing@bravo.example",
    "boris@bravo.example",
    EMAILS[ADMIN_B],
    "ben@bravo.example",
    B_SUMMARY,
)


# --- the world: two customers, their users, every kind of staff --------------------------------


@dataclass
class World:
    db: Database
    app: FastAPI
    cfg: AuthConfig
    ids: dict[str, uuid.UUID]
    api_token: str = ""
    totp: dict[str, str] = field(default_factory=dict)
    counter: Iterator[int] = field(default_factory=itertools.count)

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{next(self.counter)}@alpha.example"

    # fresh objects, for calls that use them up
    def fresh_contact(self) -> uuid.UUID:
        with self.db.unit_of_work("contract", SYSTEM) as session:
            customer = customers.get_customer(session, self.ids["a"])
            contact = customers.add_contact(session, customer, name="Short Lived", email=self.unique("temp"))
            session.flush()
            return contact.id

    def fresh_user(self) -> uuid.UUID:
        return make_user(
            self.db, customer_id=self.ids["a"], email=self.unique("leaver"), name="Lee Leaver"
        ).id

    def fresh_admin_token(self) -> uuid.UUID:
        with self.db.unit_of_work("staff_access", SYSTEM) as session:
            staff = session.get(Staff, self.ids[ADMIN])
            assert staff is not None
            _, record = users.create_api_token(session, staff, label="to revoke")
            session.flush()
            return record.id

    def fresh_invitation(self) -> str:
        with self.db.unit_of_work("contract", SYSTEM) as session:
            _, token = users.invite_user(
                session,
                customer_id=self.ids["a"],
                email=self.unique("invitee"),
                name="Ivo Invitee",
                role=UserRole.member,
                invited_by="tests",
                cfg=self.cfg,
            )
        return token

    def fresh_reset(self) -> str:
        with self.db.unit_of_work("contract", SYSTEM) as session:
            users.request_password_reset(
                session, kind=users.PrincipalKind.user, email=RESET_USER, cfg=self.cfg
            )
        return mailed_token(self.db, to=RESET_USER, kind="password_reset")


def build_world(db: Database) -> World:
    cfg = AuthConfig.from_settings(FAST)
    world = World(db=db, app=create_app(FAST, db=db), cfg=cfg, ids={})
    ids = world.ids
    with db.unit_of_work("contract", SYSTEM) as session:
        a = customers.create_customer(
            session, kind=CustomerKind.company, legal_name=A_NAME, billing_email="billing@alpha.example"
        )
        b = customers.create_customer(
            session, kind=CustomerKind.company, legal_name=B_NAME, billing_email="billing@bravo.example"
        )
        session.flush()
        ids["a"], ids["b"] = a.id, b.id
        carla = customers.add_contact(session, a, name="Carla Contact", email="carla@alpha.example")
        customers.add_contact(session, b, name="Boris Contact", email="boris@bravo.example")
        session.flush()
        ids["a_contact"] = carla.id
    for who, customer, role in (
        (MEMBER_A, "a", UserRole.member),
        (ADMIN_A, "a", UserRole.admin),
        (ADMIN_B, "b", UserRole.admin),
    ):
        ids[who] = make_user(
            db, customer_id=ids[customer], email=EMAILS[who], name=f"User {who}", role=role
        ).id
    make_user(db, customer_id=ids["b"], email="ben@bravo.example", name="Ben Bravo")
    ids["victim"] = make_user(db, customer_id=ids["a"], email="vic@alpha.example", name="Vic Victim").id
    for email in (LOGIN_USER, TOTP_USER, RESET_USER):
        make_user(db, customer_id=ids["a"], email=email, name="Some One")
    for role in (SUPPORT, FINANCE, ADMIN, ANALYST, PRIVACY):
        ids[role] = make_staff(db, role=StaffRole(role), email=EMAILS[role], name=f"Staff {role}").id
    robot = make_staff(db, role=StaffRole.support, email="robot@lawful.example", name="Rob Robot")
    make_staff(db, role=StaffRole.support, email=LOGIN_STAFF, name="Desk Person")
    make_staff(db, role=StaffRole.support, email=TOTP_STAFF, name="Otto Person")
    with db.unit_of_work("staff_access", SYSTEM) as session:
        world.api_token, _ = users.create_api_token(session, robot, label="matrix robot")
        for email in (TOTP_STAFF,):
            staff = users.repo.by_email(session, users.PrincipalKind.staff, email)
            assert staff is not None
            world.totp[email] = secret = pyotp.random_base32()
            users.enable_totp(staff, secret=secret, code=pyotp.TOTP(secret).now())
    with db.unit_of_work("contract", SYSTEM) as session:
        user = users.repo.by_email(session, users.PrincipalKind.user, TOTP_USER)
        assert user is not None
        world.totp[TOTP_USER] = secret = pyotp.random_base32()
        users.enable_totp(user, secret=secret, code=pyotp.TOTP(secret).now())
        entry = support.log_contact(
            session, customer_id=ids["a"], staff_id=ids[SUPPORT], channel=Channel.phone, summary=A_SUMMARY
        )
        support.log_contact(
            session, customer_id=ids["b"], staff_id=ids[SUPPORT], channel=Channel.email, summary=B_SUMMARY
        )
        session.flush()
        ids["a_entry"] = entry.id
    return world


# --- clients per principal --------------------------------------------------------------------


class Clients:
    """A signed-in client per principal, and fresh ones for calls that end sessions."""

    def __init__(self, world: World, stack: ExitStack) -> None:
        self.world = world
        self.stack = stack
        self.shared: dict[str, TestClient] = {}

    def fresh(self, who: str) -> TestClient:
        client = TestClient(self.world.app, raise_server_exceptions=False)
        self.stack.callback(client.close)
        if who == TOKEN:
            client.headers["Authorization"] = f"Bearer {self.world.api_token}"
        elif who in USERS:
            api_sign_in(client, email=EMAILS[who])
        elif who in STAFF_COOKIE:
            api_sign_in(client, email=EMAILS[who], staff=True)
        return client

    def get(self, who: str) -> TestClient:
        if who not in self.shared:
            self.shared[who] = self.fresh(who)
        return self.shared[who]

    def reset(self, who: str) -> None:
        self.shared.pop(who, None)


# --- the table --------------------------------------------------------------------------------

Params = Callable[[World], dict[str, Any]]
Body = Callable[[World], Any]


def _nothing(world: World) -> dict[str, Any]:
    return {}


def a_customer(world: World) -> dict[str, Any]:
    return {"customer_id": world.ids["a"]}


def a_contact(world: World) -> dict[str, Any]:
    return {"customer_id": world.ids["a"], "contact_id": world.ids["a_contact"]}


def fresh_contact(world: World) -> dict[str, Any]:
    return {"customer_id": world.ids["a"], "contact_id": world.fresh_contact()}


def a_site(world: World) -> dict[str, Any]:
    if "site" not in world.ids:
        world.ids["site"] = make_site(world.db, domain="matrix.test", name="Matrix")
    return {"site_id": world.ids["site"]}


def fresh_site(world: World) -> dict[str, Any]:
    return {"site_id": make_site(world.db, domain=f"gone{next(world.counter)}.test", name="Gone")}


STATS = (
    "summary",
    "timeseries",
    "pages",
    "entry-pages",
    "exit-pages",
    "referrers",
    "browsers",
    "os",
    "devices",
    "events",
    "realtime",
)


def a_usage_service(world: World) -> dict[str, Any]:
    if "usage_service" not in world.ids:
        world.ids["usage_service"] = fresh_usage_service(world)["service_id"]
    return {"service_id": world.ids["usage_service"]}


def fresh_usage_service(world: World) -> dict[str, Any]:
    from lawful.monitoring import usage

    with world.db.unit_of_work("monitoring", SYSTEM) as session:
        service, _ = usage.create_service(session, name=f"Matrix service {next(world.counter)}")
        return {"service_id": service.id}


# billing: customer A subscribed to a plan since January 2025, with a finalised invoice and a draft


BILLING_START = date(2025, 1, 1)


def billing(world: World) -> dict[str, uuid.UUID]:
    """The plans and A's finalised invoice the billing routes are called with, made on first use."""
    if "a_invoice" in world.ids:
        return world.ids
    from lawful.billing import catalogue
    from lawful.billing import service as billing_service
    from lawful.billing.models import Invoice

    with world.db.unit_of_work("contract", SYSTEM) as session:
        catalogue.create_metric(
            session, code="matrix_calls", name="Matrix calls", event_code="matrix.call", aggregation="count"
        )
        plan = catalogue.create_plan(
            session,
            code="matrix",
            name="Matrix plan",
            base_fee="100.00",
            charges=[catalogue.ChargeInput("matrix_calls", "standard", {"unit_price": "0.01"})],
        )
        toggled = catalogue.create_plan(session, code="matrix-toggled", name="Matrix toggled")
        catalogue.subscribe(session, world.ids["a"], plan.id, starts_on=BILLING_START)
        world.ids["plan"], world.ids["toggled_plan"] = plan.id, toggled.id
    billing_service.run(world.db, BILLING_START, settings=FAST)
    done = billing_service.finalise_drafts(
        world.db, today=date(2025, 2, 1), settings=FAST, period=BILLING_START
    )
    assert len(done.numbers) == 1, done
    with world.db.unit_of_work("contract", SYSTEM) as session:
        world.ids["a_invoice"] = session.scalars(
            select(Invoice.id).where(Invoice.number == done.numbers[0])
        ).one()
    return world.ids


def a_plan(world: World) -> dict[str, Any]:
    return {"plan_id": billing(world)["plan"]}


def toggled_plan(world: World) -> dict[str, Any]:
    return {"plan_id": billing(world)["toggled_plan"]}


def a_invoice(world: World) -> dict[str, Any]:
    return {"invoice_id": billing(world)["a_invoice"]}


def a_draft(world: World) -> dict[str, Any]:
    """A draft invoice of A: the one there is, or the next month's, billed now."""
    from sqlalchemy import func

    from lawful.billing import service as billing_service
    from lawful.billing.models import Invoice, InvoiceStatus
    from lawful.billing.run import next_month

    billing(world)
    mine = Invoice.customer_id == world.ids["a"]
    with world.db.unit_of_work("contract", SYSTEM) as session:
        draft = session.scalar(select(Invoice.id).where(mine, Invoice.status == InvoiceStatus.draft).limit(1))
        latest = session.scalar(select(func.max(Invoice.period)).where(mine))
    if draft is None:
        assert latest is not None
        billing_service.run(world.db, next_month(latest), settings=FAST)
        return a_draft(world)
    return {"invoice_id": draft}


def new_plan(world: World) -> dict[str, Any]:
    billing(world)
    return {
        "code": f"matrix-{next(world.counter)}",
        "name": "Matrix extra",
        "base_fee": "25.00",
        "charges": [{"metric_code": "matrix_calls", "model": "standard", "pricing": {"unit_price": "0.02"}}],
    }


def plan_change(world: World) -> dict[str, Any]:
    """A's move to a plan of its own, from a day later than every earlier move."""
    from lawful.billing import catalogue

    billing(world)
    n = next(world.counter)
    with world.db.unit_of_work("contract", SYSTEM) as session:
        plan = catalogue.create_plan(session, code=f"matrix-move-{n}", name="Matrix move", base_fee="50.00")
        return {"plan_id": str(plan.id), "starts_on": (date(2030, 1, 1) + timedelta(days=n)).isoformat()}


def fresh_subscriber(world: World) -> dict[str, Any]:
    """A customer of its own, subscribed since January 2025 (cancelling uses it up)."""
    from lawful.billing import catalogue

    plan_id = billing(world)["plan"]
    with world.db.unit_of_work("contract", SYSTEM) as session:
        customer = customers.create_customer(
            session,
            kind=CustomerKind.company,
            legal_name="Leaving B.V.",
            billing_email="billing@leaving.example",
        )
        session.flush()
        catalogue.subscribe(session, customer.id, plan_id, starts_on=BILLING_START)
        return {"customer_id": customer.id}


def totp_user_pending(world: World, client: TestClient) -> None:
    api_sign_in(client, email=TOTP_USER)


def totp_staff_pending(world: World, client: TestClient) -> None:
    api_sign_in(client, email=TOTP_STAFF, staff=True)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    allowed: frozenset[str]
    params: Params = _nothing
    body: Body | None = None
    ok: int = 200
    fresh: bool = False  # needs a client of its own (it signs in or out)
    prepare: Callable[[World, TestClient], None] | None = None
    refused: frozenset[int] | None = None  # the refusal when it is not the usual 401 / 403-404

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path


ROUTES = [
    Route("GET", "/api/v1/", EVERYONE),
    Route("GET", "/api/v1/policy", EVERYONE),
    Route("GET", "/api/v1/policy/record", EVERYONE),
    Route("GET", "/api/v1/processing-log", ACCOUNTABILITY),
    # customers and contact persons
    Route("GET", "/api/v1/customers", CONTRACT),
    Route(
        "POST",
        "/api/v1/customers",
        CONTRACT,
        body=lambda w: {
            "kind": "company",
            "legal_name": "Charlie B.V.",
            "billing_email": "billing@charlie.example",
        },
        ok=201,
    ),
    Route("GET", "/api/v1/customers/{customer_id}", CONTRACT | {MEMBER_A, ADMIN_A}, params=a_customer),
    Route(
        "PATCH",
        "/api/v1/customers/{customer_id}",
        CONTRACT,
        params=a_customer,
        body=lambda w: {"city": "Utrecht"},
    ),
    Route("GET", "/api/v1/customers/{customer_id}/contacts", CONTRACT, params=a_customer),
    Route(
        "POST",
        "/api/v1/customers/{customer_id}/contacts",
        CONTRACT,
        params=a_customer,
        body=lambda w: {"name": "Nina New", "email": w.unique("contact")},
        ok=201,
    ),
    Route("GET", "/api/v1/customers/{customer_id}/contacts/{contact_id}", CONTRACT, params=a_contact),
    Route(
        "PATCH",
        "/api/v1/customers/{customer_id}/contacts/{contact_id}",
        CONTRACT,
        params=a_contact,
        body=lambda w: {"phone": "+31 20 555 0101"},
    ),
    Route(
        "DELETE",
        "/api/v1/customers/{customer_id}/contacts/{contact_id}",
        CONTRACT,
        params=fresh_contact,
        ok=204,
    ),
    # users
    Route("GET", "/api/v1/users", CONTRACT | {ADMIN_A, ADMIN_B}),
    Route(
        "POST",
        "/api/v1/users",
        CONTRACT | {ADMIN_A},
        body=lambda w: {"email": w.unique("invitee"), "name": "Ivo Invitee", "customer_id": str(w.ids["a"])},
        ok=201,
    ),
    Route("GET", "/api/v1/users/me", USERS),
    Route("PATCH", "/api/v1/users/me", USERS, body=lambda w: {"name": "Renamed Person"}),
    Route(
        "GET",
        "/api/v1/users/{user_id}",
        CONTRACT | {MEMBER_A, ADMIN_A},
        params=lambda w: {"user_id": w.ids[MEMBER_A]},
    ),
    Route(
        "PATCH",
        "/api/v1/users/{user_id}",
        CONTRACT | {ADMIN_A},
        params=lambda w: {"user_id": w.ids["victim"]},
        body=lambda w: {"role": "member"},
    ),
    Route(
        "DELETE",
        "/api/v1/users/{user_id}",
        CONTRACT | {ADMIN_A},
        params=lambda w: {"user_id": w.fresh_user()},
        ok=204,
    ),
    # authentication of users
    Route(
        "POST",
        "/api/v1/auth/login",
        EVERYONE,
        body=lambda w: {"email": LOGIN_USER, "password": PASSWORD},
        fresh=True,
    ),
    Route(
        "POST",
        "/api/v1/auth/second-factor",
        EVERYONE,
        body=lambda w: {"code": pyotp.TOTP(w.totp[TOTP_USER]).now()},
        fresh=True,
        prepare=totp_user_pending,
    ),
    Route("POST", "/api/v1/auth/logout", USERS, ok=204, fresh=True),
    Route("POST", "/api/v1/auth/logout-everywhere", USERS, ok=204, fresh=True),
    Route("POST", "/api/v1/auth/password-reset", EVERYONE, body=lambda w: {"email": RESET_USER}, ok=202),
    Route(
        "POST",
        "/api/v1/auth/password-reset/confirm",
        EVERYONE,
        body=lambda w: {"token": w.fresh_reset(), "password": "a brand new secret 2026"},
        ok=204,
    ),
    Route(
        "POST",
        "/api/v1/auth/invitations/accept",
        EVERYONE,
        body=lambda w: {"token": w.fresh_invitation(), "password": "my own fine secret 7"},
    ),
    # authentication of staff, and their API tokens
    Route(
        "POST",
        "/api/v1/staff-auth/login",
        EVERYONE,
        body=lambda w: {"email": LOGIN_STAFF, "password": PASSWORD},
        fresh=True,
    ),
    Route(
        "POST",
        "/api/v1/staff-auth/second-factor",
        EVERYONE,
        body=lambda w: {"code": pyotp.TOTP(w.totp[TOTP_STAFF]).now()},
        fresh=True,
        prepare=totp_staff_pending,
    ),
    Route("POST", "/api/v1/staff-auth/logout", STAFF_COOKIE, ok=204, fresh=True),
    Route("POST", "/api/v1/staff-auth/logout-everywhere", STAFF_COOKIE, ok=204, fresh=True),
    Route("GET", "/api/v1/tokens", STAFF),
    Route("POST", "/api/v1/tokens", STAFF_COOKIE, body=lambda w: {"label": "matrix"}, ok=201),
    Route(
        "DELETE",
        "/api/v1/tokens/{token_id}",
        frozenset({ADMIN}),
        params=lambda w: {"token_id": w.fresh_admin_token()},
        ok=204,
    ),
    # the support log
    Route("GET", "/api/v1/support-contacts", CONTRACT),
    Route(
        "POST",
        "/api/v1/support-contacts",
        CONTRACT,
        body=lambda w: {
            "customer_id": str(w.ids["a"]),
            "channel": "phone",
            "summary": "Called about the API",
        },
        ok=201,
    ),
    Route(
        "GET",
        "/api/v1/support-contacts/{entry_id}",
        CONTRACT,
        params=lambda w: {"entry_id": w.ids["a_entry"]},
    ),
    Route(
        "PATCH",
        "/api/v1/support-contacts/{entry_id}",
        CONTRACT,
        params=lambda w: {"entry_id": w.ids["a_entry"]},
        body=lambda w: {"follow_up_done": True},
    ),
    # analytics: sites, figures, raw export
    Route("GET", "/api/v1/sites", MONITORING),
    Route(
        "POST",
        "/api/v1/sites",
        MONITORING,
        body=lambda w: {"domain": f"site{next(w.counter)}.test", "name": "New site"},
        ok=201,
    ),
    Route("DELETE", "/api/v1/sites/{site_id}", MONITORING, params=fresh_site, ok=204),
    *(Route("GET", f"/api/v1/stats/{{site_id}}/{name}", MONITORING, params=a_site) for name in STATS),
    Route("GET", "/api/v1/stats/{site_id}/export", MONITORING_ROWS, params=a_site),
    # usage for fees (finance; a customer's admin their own), and the services that report it (admin)
    Route("GET", "/api/v1/usage/totals", frozenset({FINANCE})),
    Route("GET", "/api/v1/portal/usage", frozenset({ADMIN_A, ADMIN_B})),
    Route("GET", "/api/v1/usage-services", frozenset({ADMIN})),
    Route(
        "POST",
        "/api/v1/usage-services",
        frozenset({ADMIN}),
        body=lambda w: {"name": f"New service {next(w.counter)}"},
        ok=201,
    ),
    Route("POST", "/api/v1/usage-services/{service_id}/rotate", frozenset({ADMIN}), params=a_usage_service),
    Route(
        "DELETE",
        "/api/v1/usage-services/{service_id}",
        frozenset({ADMIN}),
        params=fresh_usage_service,
        ok=204,
    ),
    # services report usage with their own key (lwu_...), never with a person's session or token
    Route(
        "POST",
        "/api/v1/usage",
        frozenset(),
        body=lambda w: {"idempotency_key": "k", "customer_id": str(uuid.uuid4()), "code": "api.call"},
        refused=frozenset({401}),
    ),
    # billing: the catalogue is read under contract; what is invoiced needs contract and
    # legal_obligation (finance); a customer's admin sees their own company's billing
    Route("GET", "/api/v1/billing/metrics", CONTRACT),
    Route(
        "POST",
        "/api/v1/billing/metrics",
        FEES,
        body=lambda w: {
            "code": f"matrix_m{next(w.counter)}",
            "name": "Matrix metric",
            "event_code": "matrix.event",
            "aggregation": "count",
        },
        ok=201,
    ),
    Route("GET", "/api/v1/billing/plans", CONTRACT),
    Route("GET", "/api/v1/billing/plans/{plan_id}", CONTRACT, params=a_plan),
    Route("POST", "/api/v1/billing/plans", FEES, body=new_plan, ok=201),
    Route("POST", "/api/v1/billing/plans/{plan_id}/archive", FEES, params=toggled_plan),
    Route("POST", "/api/v1/billing/plans/{plan_id}/activate", FEES, params=toggled_plan),
    Route("GET", "/api/v1/billing/customers/{customer_id}/subscriptions", CONTRACT, params=a_customer),
    Route(
        "POST",
        "/api/v1/billing/customers/{customer_id}/subscriptions",
        FEES,
        params=a_customer,
        body=plan_change,
        ok=201,
    ),
    Route(
        "POST",
        "/api/v1/billing/customers/{customer_id}/subscriptions/cancel",
        FEES,
        params=fresh_subscriber,
        body=lambda w: {"on": "2025-06-01"},
    ),
    Route("POST", "/api/v1/billing/runs", FEES, body=lambda w: {"period": "2025-01"}, ok=201),
    Route("GET", "/api/v1/billing/runs", FEES),
    Route("POST", "/api/v1/billing/runs/{period}/finalise", FEES, params=lambda w: {"period": "2024-06"}),
    Route("GET", "/api/v1/billing/invoices", FEES),
    Route("GET", "/api/v1/billing/invoices/{invoice_id}", FEES, params=a_invoice),
    Route("POST", "/api/v1/billing/invoices/{invoice_id}/finalise", FEES, params=a_draft),
    Route(
        "POST",
        "/api/v1/billing/invoices/{invoice_id}/credit-notes",
        FEES,
        params=a_invoice,
        body=lambda w: {"reason": "Matrix correction", "amount": "1.00"},
        ok=201,
    ),
    Route("GET", "/api/v1/billing/invoices/{invoice_id}/pdf", FEES, params=a_invoice),
    Route("GET", "/api/v1/billing/invoices/{invoice_id}/ubl", FEES, params=a_invoice),
    Route("GET", "/api/v1/billing/revenue", FEES),
    Route("GET", "/api/v1/portal/billing", frozenset({ADMIN_A, ADMIN_B})),
    Route("GET", "/api/v1/portal/invoices", frozenset({ADMIN_A, ADMIN_B})),
    Route("GET", "/api/v1/portal/invoices/{invoice_id}/pdf", frozenset({ADMIN_A}), params=a_invoice),
    Route("GET", "/api/v1/portal/invoices/{invoice_id}/ubl", frozenset({ADMIN_A}), params=a_invoice),
    # data-subject requests (rights)
    # the officer's API is for roles acting under accountability; in the portal a user sees only
    # their own requests (another user's, even a colleague's, answers 404). The requests and the
    # restrictions come from the matrix_* helpers of tests/rights/test_api.py.
    *(
        lambda rights: [
            Route("GET", "/api/v1/rights/requests", ACCOUNTABILITY),
            Route(
                "POST",
                "/api/v1/rights/requests",
                ACCOUNTABILITY,
                body=lambda w: {"kind": "access", "channel": "letter", "email": w.unique("asker")},
                ok=201,
            ),
            Route(
                "GET", "/api/v1/rights/requests/{request_id}", ACCOUNTABILITY, params=rights.matrix_recorded
            ),
            Route(
                "POST",
                "/api/v1/rights/requests/{request_id}/extend",
                ACCOUNTABILITY,
                params=rights.matrix_open,
                body=lambda w: {"reason": "Many requests arrived in the same week"},
            ),
            Route(
                "POST",
                "/api/v1/rights/requests/{request_id}/refuse",
                ACCOUNTABILITY,
                params=rights.matrix_open,
                body=lambda w: {"reason": "Manifestly unfounded (GDPR art. 12(5))"},
            ),
            Route(
                "POST",
                "/api/v1/rights/requests/{request_id}/complete",
                ACCOUNTABILITY,
                params=rights.matrix_open,
                body=lambda w: {"note": "The name was corrected"},
            ),
            Route(
                "GET",
                "/api/v1/rights/requests/{request_id}/package",
                ACCOUNTABILITY,
                params=rights.matrix_access,
            ),
            Route("GET", "/api/v1/rights/restrictions", ACCOUNTABILITY),
            Route(
                "POST",
                "/api/v1/rights/restrictions/{restriction_id}/lift",
                ACCOUNTABILITY,
                params=rights.matrix_restriction,
            ),
            Route("GET", "/api/v1/portal/rights", USERS),
            Route(
                "POST",
                "/api/v1/portal/rights",
                USERS,
                body=lambda w: {"kind": "rectification", "details": "My name is misspelt"},
                ok=201,
            ),
            Route(
                "GET",
                "/api/v1/portal/rights/{request_id}",
                frozenset({MEMBER_A}),
                params=rights.matrix_access,
            ),
            Route(
                "GET",
                "/api/v1/portal/rights/{request_id}/package",
                frozenset({MEMBER_A}),
                params=rights.matrix_access,
            ),
        ]
    )(__import__("tests.rights.test_api", fromlist=["matrix_open"])),
    # disclosures to authorities: the privacy officer only (accountability and legal_obligation)
    Route("GET", "/api/v1/disclosures", frozenset({PRIVACY})),
    Route(
        "POST",
        "/api/v1/disclosures",
        frozenset({PRIVACY}),
        body=lambda w: {
            "authority": "regulatory authorities",
            "legal_ground": "GDPR art. 58(1)(a)",
            "disclosed_on": "2026-01-15",
            "categories": ["user.contact.email"],
            "subjects": [{"kind": "user", "id": str(w.ids["victim"])}],
        },
        ok=201,
    ),
    Route(
        "GET",
        "/api/v1/disclosures/{disclosure_id}",
        frozenset({PRIVACY}),
        params=lambda w: __import__("tests.authorities.matrix", fromlist=["_"]).a_disclosure(w),
    ),
    Route(
        "GET",
        "/api/v1/disclosures/{disclosure_id}/bundle",
        frozenset({PRIVACY}),
        params=lambda w: __import__("tests.authorities.matrix", fromlist=["_"]).a_disclosure(w),
    ),
    # retention
    Route("GET", "/api/v1/retention/next", ACCOUNTABILITY),
    Route("GET", "/api/v1/retention/runs", ACCOUNTABILITY),
    # agreements: published documents (public) -- rows of the public pages' API go here
    Route("GET", "/api/v1/documents", EVERYONE),
    # agreements: staff -- rows of the agreements API go here
    Route("GET", "/api/v1/customers/{customer_id}/agreements", CONTRACT, params=a_customer),
    Route(
        "POST",
        "/api/v1/customers/{customer_id}/agreements",
        FEES,
        params=lambda w: __import__("tests.agreements.matrix", fromlist=["_"]).fresh_prospect(w),
        body=lambda w: __import__("tests.agreements.matrix", fromlist=["_"]).conclusion(w),
        ok=201,
    ),
    Route("GET", "/api/v1/documents/{kind}/versions", CONTRACT, params=lambda w: {"kind": "statement"}),
    Route(
        "GET",
        "/api/v1/documents/{kind}/versions/{version_id}/diff",
        CONTRACT,
        params=lambda w: __import__("tests.agreements.matrix", fromlist=["_"]).a_terms_version(w),
    ),
]


def api_routes(app: FastAPI) -> dict[tuple[str, str], APIRoute]:
    """Every (method, path) of the app's JSON API, however the routers are included."""
    found: dict[tuple[str, str], APIRoute] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path or ""
        if isinstance(route, APIRoute) and path.startswith("/api/v1"):
            for method in route.methods:
                found[(method, path)] = route
    return found


def assert_error_body(response: Response) -> None:
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["status"] == response.status_code
    assert body["error"]["message"] and body["error"]["code"]


# --- the tests --------------------------------------------------------------------------------


def test_the_table_covers_every_api_route(sqlite_db: Database) -> None:
    app = create_app(FAST, db=sqlite_db)
    routes = api_routes(app)
    table = {route.key: route for route in ROUTES}
    assert len(table) == len(ROUTES), "a route is in the table twice"
    missing = sorted(set(routes) - set(table))
    stale = sorted(set(table) - set(routes))
    assert not missing, f"API routes without an entry in the access matrix: {missing}"
    assert not stale, f"entries for routes that do not exist: {stale}"
    for key, route in routes.items():
        if route.body_field is not None:
            assert table[key].body is not None, f"{key} takes a body: the table must send one"


@pytest.fixture
def world(database: Database) -> World:
    return build_world(database)


def call(client: TestClient, route: Route, params: dict[str, Any], body: Any) -> Response:
    path = route.path.format(**{k: str(v) for k, v in params.items()})
    if body is None:
        return client.request(route.method, path)
    return client.request(route.method, path, json=body)


def test_every_route_for_every_principal(world: World) -> None:
    problems: list[str] = []
    with ExitStack() as stack:
        clients = Clients(world, stack)
        for route in ROUTES:
            for who in PRINCIPALS:
                client = clients.fresh(who) if route.fresh else clients.get(who)
                if route.prepare is not None:
                    route.prepare(world, client)
                body = route.body(world) if route.body else None
                params = route.params(world)
                response = call(client, route, params, body)
                where = f"{route.method} {route.path} as {who}: {response.status_code} {response.text[:200]}"
                if who in route.allowed:
                    if response.status_code != route.ok:
                        problems.append(f"allowed, expected {route.ok}: {where}")
                else:
                    expected = set(route.refused) if route.refused else {401} if who == ANON else {403, 404}
                    if response.status_code not in expected:
                        problems.append(f"refused, expected {sorted(expected)}: {where}")
                    else:
                        assert_error_body(response)
                if who in (MEMBER_A, ADMIN_A):
                    problems += [f"{where} shows B's {s!r}" for s in B_DATA if s in response.text]
                if who == ADMIN_B:
                    problems += [f"{where} shows A's {s!r}" for s in A_DATA if s in response.text]
                if route.fresh:
                    clients.reset(who)  # signing out may have ended the shared client's session too
                # guessed ids: never anything but a refusal with the error body
                if params:
                    guessed = call(clients.get(who), route, {n: uuid.uuid4() for n in params}, body)
                    expected = {401} if who == ANON else {403, 404}
                    if guessed.status_code not in expected:
                        problems.append(
                            f"guessed ids, expected {sorted(expected)}: {route.method} {route.path} as {who}: "
                            f"{guessed.status_code} {guessed.text[:200]}"
                        )
                    else:
                        assert_error_body(guessed)
    assert not problems, "\n".join(problems)


def test_a_support_agent_cannot_reach_the_processing_log(world: World) -> None:
    with ExitStack() as stack:
        clients = Clients(world, stack)
        for who in (SUPPORT, TOKEN):
            response = clients.get(who).get("/api/v1/processing-log")
            assert response.status_code == 403
            assert_error_body(response)
            assert "accountability" in response.json()["error"]["message"]
        assert clients.get(PRIVACY).get("/api/v1/processing-log").status_code == 200


# --- minimisation: no input model takes a field it does not declare -----------------------------

VOLATILE = {"last_seen_at", "last_used_at"}


def snapshot(db: Database) -> dict[str, list[str]]:
    """Every stored row (but the processing log, which records reads, and touch timestamps)."""
    with db.internal() as conn:
        return {
            table.name: sorted(
                repr(row) for row in conn.execute(select(*[c for c in table.c if c.name not in VOLATILE]))
            )
            for table in metadata.sorted_tables
            if table.name != "processing_log"
        }


def _first_allowed(route: Route) -> str:
    return next(who for who in (ADMIN, ADMIN_A, SUPPORT, FINANCE, PRIVACY, ANON) if who in route.allowed)


@pytest.mark.parametrize(
    # (a route no principal may call, the services' usage endpoint, checks its fields per event:
    # tests/monitoring/test_usage_api.py)
    "route",
    [r for r in ROUTES if r.body is not None and r.allowed],
    ids=lambda r: f"{r.method} {r.path}",
)
def test_an_unknown_field_is_refused_and_nothing_is_stored(world: World, route: Route) -> None:
    assert route.body is not None
    with ExitStack() as stack:
        clients = Clients(world, stack)
        client = clients.fresh(_first_allowed(route))
        if route.prepare is not None:
            route.prepare(world, client)
        body = route.body(world)
        params = route.params(world)
        before = snapshot(world.db)
        response = call(client, route, params, {**body, "favourite_colour": "green"})
        assert response.status_code == 422, response.text
        assert_error_body(response)
        assert response.json()["error"]["detail"][0]["loc"][-1] == "favourite_colour"
        assert snapshot(world.db) == before
        # the same body without the extra field is accepted: the field was the only problem
        assert call(client, route, params, body).status_code == route.ok
