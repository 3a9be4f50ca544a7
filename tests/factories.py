"""Keyword-only factories for test data, written through the real services."""

from __future__ import annotations

import re
import uuid
from typing import Any

from lawful.customers import service
from lawful.customers.models import ContactPerson, Customer, CustomerKind
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.settings import Settings
from lawful.users import service as users_service
from lawful.users.models import Staff, StaffRole, User, UserRole
from lawful.users.service import AuthConfig
from lawful.web.auth import CSRF_COOKIE

SYSTEM = Actor.system("tests")


def make_customer(
    db: Database,
    *,
    kind: CustomerKind = CustomerKind.company,
    legal_name: str = "Acme B.V.",
    billing_email: str = "billing@acme.example",
    contacts: int = 1,
) -> tuple[Customer, list[ContactPerson]]:
    with db.unit_of_work("contract", SYSTEM) as session:
        customer = service.create_customer(
            session,
            kind=kind,
            legal_name=legal_name,
            billing_email=billing_email,
            street="Kerkstraat 1",
            postal_code="1011 AA",
            city="Amsterdam",
        )
        session.flush()
        people = [
            service.add_contact(
                session,
                customer,
                name=f"Person {i}",
                email=f"person{i}@acme.example",
                phone=f"+31 6 1234 567{i}",
            )
            for i in range(contacts)
        ]
    return customer, people


FAST = Settings(argon2_time_cost=1, argon2_memory_kib=8192)
"""Settings whose argon2 parameters keep the tests fast (never use them in production)."""


def make_user(
    db: Database,
    *,
    customer_id: uuid.UUID,
    email: str = "ada@acme.example",
    name: str = "Ada Jansen",
    role: UserRole = UserRole.member,
    password: str = "correct horse battery staple",
) -> User:
    """An active user of ``customer_id``: invited and accepted through the real services."""
    cfg = AuthConfig.from_settings(FAST)
    with db.unit_of_work("contract", SYSTEM) as session:
        _, token = users_service.invite_user(
            session, customer_id=customer_id, email=email, name=name, role=role, invited_by="tests", cfg=cfg
        )
    with db.unit_of_work("contract", SYSTEM) as session:
        user = users_service.accept_invitation(session, token=token, password=password, cfg=cfg)
    return user


def make_staff(
    db: Database,
    *,
    role: StaffRole,
    email: str = "agent@lawful.example",
    name: str = "Sam Agent",
    password: str = "correct horse battery staple",
) -> Staff:
    """An active staff member with ``role``, created through the real service."""
    cfg = AuthConfig.from_settings(FAST)
    with db.unit_of_work("staff_access", SYSTEM) as session:
        return users_service.create_staff(
            session, email=email, name=name, role=role, password=password, cfg=cfg
        )


PASSWORD = "correct horse battery staple"


def api_sign_in(client: Any, *, email: str, password: str = PASSWORD, staff: bool = False) -> str:
    """Sign in through the JSON API (``client`` is a TestClient); later unsafe requests of the
    client carry the CSRF header. Returns the CSRF token."""
    path = "/api/v1/staff-auth/login" if staff else "/api/v1/auth/login"
    response = client.post(path, json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["csrf_token"]
    client.headers["X-CSRF-Token"] = token
    return token


def csrf_token(client: Any, page: str) -> str:
    """The CSRF token of a browser-like client (a TestClient), from its cookie; a GET of ``page``
    sets the cookie when the client has none yet."""
    if CSRF_COOKIE not in client.cookies:
        client.get(page)
    return str(client.cookies[CSRF_COOKIE])


def post_form(
    client: Any, url: str, data: dict[str, str] | None = None, *, page: str, token: bool = True
) -> Any:
    """Post a form as a browser does: with the CSRF token (``token=False``: without it), taken from
    the cookie that a GET of ``page`` sets."""
    form = dict(data or {})
    if token:
        form["csrf_token"] = csrf_token(client, page)
    return client.post(url, data=form)


def mailed_token(db: Database, *, to: str, kind: str) -> str:
    """The token in the link of the newest mail of ``kind`` (invitation, password_reset) to ``to``."""
    from sqlalchemy import select

    from lawful.mail.models import OutboundMail

    with db.unit_of_work("contract", SYSTEM) as session:
        mail = session.scalars(
            select(OutboundMail)
            .where(OutboundMail.to_address == to, OutboundMail.kind == kind)
            .order_by(OutboundMail.created_at.desc())
            .limit(1)
        ).one()
        body = mail.body
    found = re.search(r"/(?:invitation|reset|confirm)/([A-Za-z0-9_-]+)", body)
    assert found, body
    return found.group(1)


def make_site(db: Database, *, domain: str = "shop.test", name: str = "Shop") -> uuid.UUID:
    """Register a measured site (no personal data) and return its id."""
    from lawful.monitoring.models import Site

    with db.unit_of_work("monitoring", SYSTEM) as session:
        site = Site(domain=domain, name=name)
        session.add(site)
        session.flush()
        return site.id
