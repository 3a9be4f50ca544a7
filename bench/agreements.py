"""Agreements: the portal's statement-notice check, a sign-up and its confirmation, against plain SQL.

Set-up per database (SQLite and PostgreSQL): a migrated database with three plans, ``--versions``
published versions of the privacy statement (each a changed sentence), and ``--customers``
customers, each with an admin user; half of the users have read the notice of the latest version.

Measured in one run, each Lawful operation beside its plain limit on the same data, taking turns
at going first:

1. **Notice check** (on every portal page): :func:`lawful.agreements.notices.notice_for` in a unit
   of work under ``contract`` (purpose check, processing log) against the same two look-ups (the
   version in force, the user's newest read notice) through plain SQLAlchemy Core.
2. **Sign-up**: :func:`lawful.agreements.signup.start` (every field checked, the VAT number with
   python-stdnum, the plan, the mail cap, whether the address has an account, the pending row and
   the confirmation mail) against inserting the same two rows with Core.
3. **Confirmation**: :func:`lawful.agreements.signup.confirm` (customer, admin user, subscription,
   agreement record with the price snapshot, acceptance) with argon2id at its cheapest (1 pass,
   8 MiB; a real confirmation adds one password hash, see bench/login.py) against inserting the
   same rows with Core and a password hash of the same cost.

    .venv/bin/python bench/agreements.py
    .venv/bin/python bench/agreements.py --customers 2000 --rounds 100 --db sqlite
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path

from argon2 import PasswordHasher
from rich.console import Console
from sqlalchemy import Engine, create_engine, insert, select
from sqlalchemy.engine import Connection

from common import postgres_unreachable, postgres_url, report, revision, sqlite_url
from lawful.agreements import documents, notices, signup
from lawful.agreements.models import (
    Agreement,
    AgreementAcceptance,
    DocumentKind,
    DocumentVersion,
    Signup,
    StatementNotice,
)
from lawful.billing import catalogue
from lawful.billing.catalogue import ChargeInput
from lawful.billing.models import Subscription
from lawful.customers.models import Customer, CustomerKind, CustomerStatus
from lawful.data.base import new_id, table_of
from lawful.data.db import Database, normalise_url
from lawful.data.purpose import Actor
from lawful.mail.models import OutboundMail
from lawful.settings import Settings
from lawful.users.models import AccountStatus, User, UserRole
from lawful.users.service import AuthConfig

out = Console()
SYSTEM = Actor.system("bench")
FAST = AuthConfig.from_settings(Settings(argon2_time_cost=1, argon2_memory_kib=8192))
CONFIG = signup.SignupConfig(
    ttl=timedelta(hours=24), mails_per_hour=3, base_url="http://bench.test", organisation="Example SaaS B.V."
)
PASSWORD = "a long enough passphrase 42"


def seed(
    db: Database, customers: int, versions: int
) -> tuple[list[uuid.UUID], DocumentVersion, DocumentVersion]:
    with db.unit_of_work("contract", SYSTEM) as session:
        catalogue.create_metric(
            session, code="api_calls", name="API calls", event_code="api.call", aggregation="count"
        )
        for code, fee in (("starter", "19.00"), ("business", "99.00"), ("scale", "499.00")):
            catalogue.create_plan(
                session,
                code=code,
                name=code.title(),
                base_fee=fee,
                charges=[ChargeInput("api_calls", "standard", {"unit_price": "0.002"}, included=1000)],
            )
        base = documents.statement_document(db.policy)
        start = datetime.now(UTC) - timedelta(days=versions + 1)
        for i in range(versions):
            text = base.text.replace("We limit ourselves", f"(Revision {i}.) We limit ourselves")
            documents.publish(
                session,
                documents.Document(DocumentKind.statement, f"{i:016x}", "", text),
                now=start + timedelta(days=i),
            )
        statement, _ = documents.publish(session, base)
        terms, _ = documents.publish(session, documents.terms_document(None))
        session.expunge_all()
    users: list[uuid.UUID] = []
    created = datetime.now(UTC) - timedelta(days=versions + 2)
    with db.internal() as conn:
        customer_rows, user_rows, notice_rows = [], [], []
        for i in range(customers):
            cid, uid = new_id(), new_id()
            customer_rows.append(
                {
                    "id": cid,
                    "kind": CustomerKind.company.value,
                    "legal_name": f"Customer {i} B.V.",
                    "billing_email": f"billing{i}@bench.example.com",
                    "status": CustomerStatus.active.value,
                    "street": "Street 1",
                    "postal_code": "1000 AA",
                    "city": "Amsterdam",
                    "country": "NL",
                    "created_at": created,
                    "updated_at": created,
                }
            )
            user_rows.append(
                {
                    "id": uid,
                    "customer_id": cid,
                    "name": f"User {i}",
                    "email": f"user{i}@bench.example.com",
                    "role": UserRole.admin.value,
                    "status": AccountStatus.active.value,
                    "created_at": created,
                    "updated_at": created,
                }
            )
            if i % 2:
                notice_rows.append(
                    {
                        "id": new_id(),
                        "user_id": uid,
                        "version_id": statement.id,
                        "shown_at": created,
                        "read_at": created,
                    }
                )
            users.append(uid)
        conn.execute(insert(table_of(Customer)), customer_rows)
        conn.execute(insert(table_of(User)), user_rows)
        conn.execute(insert(table_of(StatementNotice)), notice_rows)
        conn.commit()
    return users, terms, statement


# --- the plain sides ----------------------------------------------------------------------------


def plain_notice(conn: Connection, user_id: uuid.UUID) -> bool:
    versions, notice_rows = table_of(DocumentVersion), table_of(StatementNotice)
    current = conn.execute(
        select(versions.c.id, versions.c.digest)
        .where(versions.c.kind == "statement")
        .order_by(versions.c.published_at.desc(), versions.c.id.desc())
        .limit(1)
    ).one()
    seen = conn.execute(
        select(versions.c.id)
        .join(notice_rows, notice_rows.c.version_id == versions.c.id)
        .where(notice_rows.c.user_id == user_id, notice_rows.c.read_at.is_not(None))
        .order_by(versions.c.published_at.desc())
        .limit(1)
    ).scalar()
    return bool(seen != current.id)


def plain_signup(
    engine: Engine, n: int, plan_id: uuid.UUID, terms: DocumentVersion, statement: DocumentVersion
) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(table_of(Signup)),
            {
                "id": new_id(),
                "token_hash": uuid.uuid4().hex + uuid.uuid4().hex,
                "email": f"plain{n}@signup.example.com",
                "admin_name": "Anna Jansen",
                "kind": "sole_proprietor",
                "legal_name": "Jansen Advies",
                "kvk_number": "12345678",
                "vat_number": "NL004495445B01",
                "billing_email": "facturen@jansen.example.com",
                "street": "Dorpsstraat 1",
                "postal_code": "1234 AB",
                "city": "Utrecht",
                "country": "NL",
                "plan_id": plan_id,
                "starts_on": now.date(),
                "terms_version_id": terms.id,
                "statement_version_id": statement.id,
                "accepted_at": now,
                "ip_address": "203.0.113.7",
                "created_at": now,
                "expires_at": now + timedelta(hours=24),
            },
        )
        conn.execute(
            insert(table_of(OutboundMail)),
            {
                "id": new_id(),
                "to_address": f"plain{n}@signup.example.com",
                "subject_line": "Confirm your sign-up",
                "body": "link",
                "kind": "signup_confirmation",
                "status": "pending",
                "attempts": 0,
                "created_at": now,
            },
        )


def plain_confirm(engine: Engine, n: int, plan_id: uuid.UUID, hasher: PasswordHasher) -> None:
    now = datetime.now(UTC)
    cid, uid, aid = new_id(), new_id(), new_id()
    digest = hasher.hash(PASSWORD)
    with engine.begin() as conn:
        conn.execute(
            insert(table_of(Customer)),
            {
                "id": cid,
                "kind": "sole_proprietor",
                "legal_name": "Jansen Advies",
                "billing_email": "facturen@jansen.example.com",
                "kvk_number": "12345678",
                "vat_number": "NL004495445B01",
                "status": "active",
                "street": "Dorpsstraat 1",
                "postal_code": "1234 AB",
                "city": "Utrecht",
                "country": "NL",
                "contract_start": now.date(),
                "created_at": now,
                "updated_at": now,
            },
        )
        conn.execute(
            insert(table_of(User)),
            {
                "id": uid,
                "customer_id": cid,
                "name": "Anna Jansen",
                "email": f"plainuser{n}@signup.example.com",
                "role": "admin",
                "status": "active",
                "password_hash": digest,
                "created_at": now,
                "updated_at": now,
            },
        )
        conn.execute(
            insert(table_of(Subscription)),
            {
                "id": new_id(),
                "customer_id": cid,
                "plan_id": plan_id,
                "starts_on": now.date(),
                "created_at": now,
                "updated_at": now,
            },
        )
        conn.execute(
            insert(table_of(Agreement)),
            {
                "id": aid,
                "customer_id": cid,
                "event": "concluded",
                "channel": "self_service",
                "plan_id": plan_id,
                "plan_code": "starter",
                "plan_name": "Starter",
                "currency": "EUR",
                "base_fee_cents": 1900,
                "minimum_cents": 0,
                "prices": json.dumps([]),
                "effective_on": now.date(),
                "accepted_at": now,
                "note": "",
                "recorded_at": now,
            },
        )
        conn.execute(
            insert(table_of(AgreementAcceptance)),
            {
                "id": new_id(),
                "agreement_id": aid,
                "user_id": uid,
                "ip_address": "203.0.113.7",
                "accepted_at": now,
            },
        )


# --- measuring ----------------------------------------------------------------------------------


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def run(url: str, name: str, customers: int, versions: int, rounds: int) -> list[list[str]]:
    db = Database(url, Settings().loaded_policy)
    engine = create_engine(normalise_url(url))
    users, terms, statement = seed(db, customers, versions)
    with db.unit_of_work("contract", SYSTEM) as session:
        plan_id = catalogue.list_plans(session)[0].id
    hasher = FAST.hasher
    lawful: dict[str, list[float]] = {"notice": [], "signup": [], "confirm": []}
    plain: dict[str, list[float]] = {"notice": [], "signup": [], "confirm": []}
    tokens: list[str] = []
    today = date.today()

    def lawful_notice(user_id: uuid.UUID) -> None:
        with db.unit_of_work("contract", Actor.user(user_id)) as session:
            user = session.get(User, user_id)
            assert user is not None
            notices.notice_for(session, user)

    def plain_notice_side(user_id: uuid.UUID) -> None:
        with engine.connect() as conn:
            plain_notice(conn, user_id)

    def lawful_signup(n: int) -> None:
        form = signup.SignupForm(
            plan_id=str(plan_id),
            kind="sole_proprietor",
            legal_name="Jansen Advies",
            kvk_number="12345678",
            vat_number="NL004495445B01",
            street="Dorpsstraat 1",
            postal_code="1234 AB",
            city="Utrecht",
            country="NL",
            billing_email="facturen@jansen.example.com",
            admin_name="Anna Jansen",
            admin_email=f"lawful{n}@signup.example.com",
            starts_on=today.isoformat(),
            accept=True,
            terms_version=terms.digest,
            statement_version=statement.digest,
        )
        with db.unit_of_work("contract", Actor.system("signup")) as session:
            token = signup.start(
                session, form, ip="203.0.113.7", terms=terms, statement=statement, cfg=CONFIG
            )
        assert token is not None
        tokens.append(token)

    def lawful_confirm(token: str) -> None:
        with db.unit_of_work("contract", Actor.system("signup")) as session:
            signup.confirm(session, token, password=PASSWORD, auth=FAST)

    for i in range(rounds):
        user_id = users[(i * 7919) % len(users)]
        pairs = [
            ("notice", partial(lawful_notice, user_id), partial(plain_notice_side, user_id)),
            (
                "signup",
                partial(lawful_signup, i),
                partial(plain_signup, engine, i, plan_id, terms, statement),
            ),
        ]
        for key, ours, theirs in pairs:
            if i % 2:
                lawful[key].append(timed(ours))
                plain[key].append(timed(theirs))
            else:
                plain[key].append(timed(theirs))
                lawful[key].append(timed(ours))
    for i, token in enumerate(tokens):
        ours, theirs = partial(lawful_confirm, token), partial(plain_confirm, engine, i, plan_id, hasher)
        if i % 2:
            lawful["confirm"].append(timed(ours))
            plain["confirm"].append(timed(theirs))
        else:
            plain["confirm"].append(timed(theirs))
            lawful["confirm"].append(timed(ours))
    engine.dispose()
    db.dispose()
    labels = {
        "notice": "notice check (every portal page)",
        "signup": "sign-up (checks, pending row, mail)",
        "confirm": "confirmation (customer, admin, subscription, agreement)",
    }
    rows = []
    for key, label in labels.items():
        ours_median, ours_p95 = stats(lawful[key])
        theirs_median, theirs_p95 = stats(plain[key])
        rows.append(
            [
                name,
                label,
                f"{ours_median * 1000:.2f}",
                f"{ours_p95 * 1000:.2f}",
                f"{theirs_median * 1000:.2f}",
                f"{theirs_p95 * 1000:.2f}",
                f"{ours_median / theirs_median:.1f}×",
            ]
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    rows: list[list[str]] = []
    notes = [
        f"Lawful {revision()}, Python {platform.python_version()}, {platform.machine()}; "
        f"{args.customers:,} customers with an admin each, {args.versions + 1} statement versions, "
        f"{args.rounds} rounds (median and 95th percentile in ms)."
    ]
    with tempfile.TemporaryDirectory() as tmp:
        if args.db in ("sqlite", "both"):
            with sqlite_url(Path(tmp), "agreements") as url:
                rows += run(url, "SQLite", args.customers, args.versions, args.rounds)
        if args.db in ("postgresql", "both"):
            reason = postgres_unreachable()
            if reason:
                notes.append(f"PostgreSQL skipped: {reason}")
            else:
                with postgres_url() as url:
                    rows += run(url, "PostgreSQL", args.customers, args.versions, args.rounds)
    header = ["database", "operation", "Lawful median", "Lawful p95", "plain median", "plain p95", "ratio"]
    report(out, [("Agreements against plain SQLAlchemy Core", header, rows, lambda i, _: i >= 2)], notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
