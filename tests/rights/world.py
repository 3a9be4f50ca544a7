"""A customer world with every kind of personal data Lawful holds, made through the real services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text
from tests.billing.helpers import make_service, record_usage, standard_catalogue
from tests.factories import FAST, SYSTEM, make_staff, make_user

from lawful.billing import catalogue
from lawful.billing import invoices as invoicing
from lawful.billing import service as billing
from lawful.customers import service as customers
from lawful.customers.models import CustomerKind
from lawful.data.db import Database
from lawful.schema import metadata
from lawful.settings import Settings
from lawful.support import service as support
from lawful.support.models import Channel
from lawful.users import service as users
from lawful.users.models import PrincipalKind, StaffRole, User
from lawful.users.service import AuthConfig

SETTINGS = Settings()
OCT = date(2026, 10, 1)
ISSUED = date(2026, 11, 4)


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    identifiers: tuple[str, ...]  # e-mail, name, phone, address parts, IP: what must be gone


@dataclass(frozen=True)
class World:
    customer: Person  # a sole proprietor
    contact: Person
    user: Person
    other_user: Person  # a user of another customer, who must keep everything
    invoice_ids: list[uuid.UUID]


def _sign_in(db: Database, email: str, ip: str) -> None:
    cfg = AuthConfig.from_settings(FAST)
    with db.unit_of_work("contract", SYSTEM) as session:
        users.sign_in(
            session,
            kind=PrincipalKind.user,
            email=email,
            password="correct horse battery staple",
            ip=ip,
            cfg=cfg,
        )


def build(db: Database, *, tag: str = "", invoices: bool = True) -> World:
    """A sole proprietor with a contact person, a user, sign-ins, support conversations, usage,
    mail, a finalised invoice with its documents, and a second customer with its own user.

    ``invoices=False`` leaves out the billing run (its invoices, lines, PDF and UBL documents, the
    slow part): for tests that never look at invoices, their documents, sealed records or holds.
    The plans, subscriptions and usage are still made. A ``tag`` makes no billing at all."""
    plans = standard_catalogue(db) if not tag else None
    staff = make_staff(db, role=StaffRole.support, email=f"sam{tag}@lawful.example")
    with db.unit_of_work("contract", SYSTEM) as session:
        shop = customers.create_customer(
            session,
            kind=CustomerKind.sole_proprietor,
            legal_name=f"Jan de Vries Advies{tag}",
            billing_email=f"jan{tag}@devries.example",
            kvk_number="12345678",
            street=f"Prinsengracht {263 + len(tag)}",
            postal_code="1016 GV",
            city="Zaandam",
            contract_start=date(2026, 9, 1),
        )
        session.flush()
        contact = customers.add_contact(
            session,
            shop,
            name=f"Marieke Bakker{tag}",
            email=f"marieke{tag}@devries.example",
            phone="+31 6 5555 0101",
        )
        company = customers.create_customer(
            session,
            kind=CustomerKind.company,
            legal_name=f"Other B.V.{tag}",
            billing_email=f"ap{tag}@other.example",
        )
        session.flush()
        shop_id, contact_id, company_id = shop.id, contact.id, company.id
    user = make_user(db, customer_id=shop_id, email=f"jan.user{tag}@devries.example", name=f"Johan Smit{tag}")
    other_user = make_user(
        db, customer_id=company_id, email=f"olga{tag}@other.example", name=f"Olga Other{tag}"
    )
    _sign_in(db, user.email, "198.51.100.23")
    _sign_in(db, other_user.email, "203.0.113.77")
    with db.unit_of_work("contract", SYSTEM) as session:
        contacts: list[tuple[uuid.UUID, Channel, str, dict[str, uuid.UUID]]] = [
            (shop_id, Channel.phone, f"Johan Smit{tag} called about the invoice", {"user_id": user.id}),
            (
                shop_id,
                Channel.email,
                f"Marieke Bakker{tag} asked for a copy",
                {"contact_person_id": contact_id},
            ),
            (company_id, Channel.chat, f"Olga Other{tag} asked about seats", {"user_id": other_user.id}),
        ]
        for customer_id, channel, summary, about in contacts:
            support.log_contact(
                session, customer_id=customer_id, staff_id=staff.id, channel=channel, summary=summary, **about
            )
        cfg = AuthConfig.from_settings(FAST)
        users.request_password_reset(session, kind=PrincipalKind.user, email=user.email, cfg=cfg)
    invoice_ids: list[uuid.UUID] = []
    if plans is not None:
        api = make_service(db)
        with db.unit_of_work("contract", SYSTEM) as session:
            catalogue.subscribe(session, shop_id, plans["starter"].id, starts_on=date(2026, 9, 1))
            catalogue.subscribe(session, company_id, plans["starter"].id, starts_on=date(2026, 9, 1))
        record_usage(db, api, shop_id, code="api.call", day=date(2026, 10, 5), count=30)
    if plans is not None and invoices:
        billing.run(db, OCT, settings=SETTINGS, today=ISSUED)
        with db.unit_of_work("contract", SYSTEM) as session:
            invoice_ids = invoicing.drafts_of(session)
        for invoice_id in invoice_ids:
            with db.unit_of_work("contract", SYSTEM) as session:
                invoice = invoicing.finalise(
                    session, invoice_id, today=ISSUED, actor="tests", settings=SETTINGS
                )
                invoicing.documents(session, invoice, policy=db.policy, settings=SETTINGS)
    return World(
        customer=Person(
            shop_id,
            (
                f"jan{tag}@devries.example",
                f"Jan de Vries Advies{tag}",
                f"Prinsengracht {263 + len(tag)}",
                "1016 GV",
                "Zaandam",
            ),
        ),
        contact=Person(
            contact_id, (f"marieke{tag}@devries.example", f"Marieke Bakker{tag}", "+31 6 5555 0101")
        ),
        user=Person(user.id, (f"jan.user{tag}@devries.example", f"Johan Smit{tag}", "198.51.100.23")),
        other_user=Person(other_user.id, (f"olga{tag}@other.example", f"Olga Other{tag}", "203.0.113.77")),
        invoice_ids=invoice_ids,
    )


def dump(db: Database) -> dict[str, list[str]]:
    """Every table's every row as text (bytes decoded loosely, so PDFs and UBL are searched too)."""
    out: dict[str, list[str]] = {}
    with db.internal() as conn:
        for table in metadata.sorted_tables:
            rows = conn.execute(text(f'SELECT * FROM "{table.name}"')).all()
            out[table.name] = [
                " | ".join(
                    v.decode("latin-1")
                    if isinstance(v, bytes)
                    else bytes(v).decode("latin-1")
                    if isinstance(v, memoryview)
                    else str(v)
                    for v in row
                )
                for row in rows
            ]
    return out


def where_found(db: Database, needles: tuple[str, ...]) -> dict[str, set[str]]:
    """Per identifier, the tables whose rows contain it."""
    tables = dump(db)
    found: dict[str, set[str]] = {}
    for needle in needles:
        hits = {name for name, rows in tables.items() if any(needle.lower() in r.lower() for r in rows)}
        if hits:
            found[needle] = hits
    return found


def now() -> datetime:
    return datetime.now(UTC)


__all__ = ["Any", "Person", "User", "World", "build", "dump", "where_found"]
