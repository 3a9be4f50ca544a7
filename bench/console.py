"""Latency of the console's customer pages with 10k customers and 50k users, in process.

The data (10,000 customers, a third of them sole proprietors; 15,000 contact persons; 50,000
users; 30,000 support contacts) is written with plain Core inserts in big batches through a
``Database`` session under the ``contract`` purpose, so the purpose check and the processing log
see it like any other write. A support staff member signs in through
:func:`lawful.users.service.sign_in`; their ``lawful_console`` cookie rides on every request.

Requests go in process to the ASGI app (``httpx2.AsyncClient`` over ``httpx2.ASGITransport``),
one at a time, and each kind is measured ``--requests`` times after a warm-up:

- ``GET /console/customers``: the list, first page;
- ``GET /console/customers?q=...``: a search (the full page, and the htmx partial);
- ``GET /console/customers/{id}``: a customer's record, a different customer each time;
- the ceiling: a bare ASGI app answering 200 with a small HTML body, through the same client.

SQLite and, when it answers on 127.0.0.1:5432, PostgreSQL (a database created and dropped by the
run), in one run. The goal is p99 <= 50 ms.

    .venv/bin/python bench/console.py                  # both backends, 300 requests a kind
    .venv/bin/python bench/console.py --sqlite-only --requests 100
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url
from starlette.types import Receive, Scope, Send

from lawful.customers.models import ContactPerson, Customer, CustomerKind, CustomerStatus
from lawful.data.base import new_id
from lawful.data.db import Database
from lawful.data.migrate import upgrade
from lawful.data.purpose import Actor
from lawful.demo import CITIES, FIRST, LAST, STEMS, STREETS, SUMMARIES, TRADE
from lawful.policy.loader import load_policy
from lawful.settings import Settings
from lawful.support.models import Channel, SupportContact
from lawful.users import service
from lawful.users.models import AccountStatus, PrincipalKind, Staff, StaffRole, User, UserRole

CUSTOMERS = 10_000
USERS = 50_000
CONTACTS = 15_000
SUPPORT = 30_000
BATCH = 5_000
GOAL_P99 = 0.050
SEARCH = "noordlicht"
PASSWORD = "bench-password-2026"
PG_ADMIN_URL = os.environ.get("LAWFUL_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
ACTOR = Actor.system("bench")
AUTH = Actor.system("authentication")
SETTINGS = Settings(argon2_time_cost=1, argon2_memory_kib=8192, base_url="http://testserver")

out = Console()


# --- data -------------------------------------------------------------------------------------


def rows(rng: random.Random) -> dict[type[Any], list[dict[str, Any]]]:
    """Plain rows for each table; ids are made here so that pages can be asked for by id."""
    now = datetime.now(UTC)
    customers = []
    for i in range(CUSTOMERS):
        sole = rng.random() < 0.33
        person = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        trade = rng.choice(TRADE)
        city, postal = rng.choice(CITIES)
        customers.append(
            {
                "id": new_id(),
                "kind": CustomerKind.sole_proprietor if sole else CustomerKind.company,
                "legal_name": f"{person} {trade}" if sole else f"{rng.choice(STEMS)} {trade} B.V.",
                "kvk_number": f"{10_000_000 + i}",
                "vat_number": None,
                "billing_email": f"administratie@customer{i}.example",
                "status": CustomerStatus.active,
                "contract_start": date(2024, 1, 1) + timedelta(days=rng.randint(0, 900)),
                "street": f"{rng.choice(STREETS)} {rng.randint(1, 200)}",
                "postal_code": f"{postal}{rng.randint(10, 99)} AB",
                "city": city,
                "country": "NL",
                "created_at": now,
                "updated_at": now,
            }
        )
    ids = [c["id"] for c in customers]
    contacts = [
        {
            "id": new_id(),
            "customer_id": ids[i % CUSTOMERS],
            "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            "email": f"contact{i}@customer{i % CUSTOMERS}.example",
            "phone": f"+31 6 {rng.randint(10_000_000, 99_999_999)}",
            "street": "",
            "postal_code": "",
            "city": "",
            "country": "NL",
            "created_at": now,
        }
        for i in range(CONTACTS)
    ]
    users = [
        {
            "id": new_id(),
            "customer_id": ids[i % CUSTOMERS],
            "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            "email": f"user{i}@customer{i % CUSTOMERS}.example",
            "role": UserRole.admin if i < CUSTOMERS else UserRole.member,
            "status": AccountStatus.active,
            "password_hash": None,
            "totp_secret": None,
            "last_login_at": None,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(USERS)
    ]
    support = [
        {
            "id": new_id(),
            "customer_id": ids[i % CUSTOMERS],
            "contact_person_id": None,
            "user_id": None,
            "staff_id": None,
            "channel": rng.choice(list(Channel)),
            "occurred_at": now - timedelta(minutes=rng.randint(0, 525_600)),
            "summary": rng.choice(SUMMARIES),
            "follow_up_on": None,
            "follow_up_done": False,
            "created_at": now,
        }
        for i in range(SUPPORT)
    ]
    return {Customer: customers, ContactPerson: contacts, User: users, SupportContact: support}


def load(db: Database, data: dict[type[Any], list[dict[str, Any]]]) -> float:
    """Write every row with Core inserts in batches, each batch a unit of work; return seconds."""
    start = time.perf_counter()
    for model, table_rows in data.items():
        for offset in range(0, len(table_rows), BATCH):
            with db.unit_of_work("contract", ACTOR) as session:
                session.execute(insert(model), table_rows[offset : offset + BATCH])
    return time.perf_counter() - start


def staff_cookie(db: Database) -> str:
    """Create a support agent and sign them in; the console cookie's value."""
    cfg = service.AuthConfig.from_settings(SETTINGS)
    email = "support@lawful.bench"
    with db.unit_of_work("staff_access", ACTOR) as session:
        session.add(
            Staff(
                email=email,
                name="Joost Verhoeven",
                role=StaffRole.support,
                password_hash=cfg.hasher.hash(PASSWORD),
            )
        )
    with db.unit_of_work("staff_access", AUTH) as session:
        signed = service.sign_in(
            session, kind=PrincipalKind.staff, email=email, password=PASSWORD, ip="127.0.0.1", cfg=cfg
        )
    return signed.token


# --- measuring --------------------------------------------------------------------------------


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ceiling: an ASGI app that answers every request with 200 and a small page."""
    body = b"<!doctype html><title>ok</title><h1>ok</h1>"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


@dataclass(frozen=True)
class Result:
    backend: str
    request: str
    samples: list[float]

    def pct(self, p: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p99(self) -> float:
        return self.pct(99)


async def timed(
    client: httpx2.AsyncClient, paths: Callable[[int], str], n: int, warmup: int, headers: dict[str, str]
) -> list[float]:
    for i in range(warmup):
        response = await client.get(paths(i), headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"GET {paths(i)} answered {response.status_code}: {response.text[:300]}")
    samples = []
    for i in range(n):
        start = time.perf_counter()
        response = await client.get(paths(warmup + i), headers=headers)
        samples.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise SystemExit(f"GET {paths(warmup + i)} answered {response.status_code}")
    return samples


async def measure(backend: str, db: Database, cookie: str, ids: list[uuid.UUID], n: int) -> list[Result]:
    from lawful.web.app import create_app
    from lawful.web.auth import STAFF_COOKIE

    app = create_app(SETTINGS, db=db)
    warmup = max(10, n // 10)
    results = []
    bare = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=bare_app), base_url="http://testserver")
    lawful = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://testserver", cookies={STAFF_COOKIE: cookie}
    )
    async with bare, lawful:
        results.append(
            Result(backend, "ceiling: bare ASGI app, 200", await timed(bare, lambda i: "/", n, warmup, {}))
        )
        kinds: list[tuple[str, Callable[[int], str], dict[str, str]]] = [
            ("GET /console/customers (first page)", lambda i: "/console/customers", {}),
            (f"GET /console/customers?q={SEARCH}", lambda i: f"/console/customers?q={SEARCH}", {}),
            (
                f"GET /console/customers?q={SEARCH} (htmx partial)",
                lambda i: f"/console/customers?q={SEARCH}",
                {"HX-Request": "true"},
            ),
            ("GET /console/customers/{id} (detail)", lambda i: f"/console/customers/{ids[i % len(ids)]}", {}),
        ]
        for label, paths, headers in kinds:
            results.append(Result(backend, label, await timed(lawful, paths, n, warmup, headers)))
    return results


# --- backends ---------------------------------------------------------------------------------


@contextmanager
def sqlite_database(workdir: Path) -> Iterator[Database]:
    url = f"sqlite:///{workdir / 'console.db'}"
    upgrade(url)
    db = Database(url, load_policy())
    try:
        yield db
    finally:
        db.dispose()


def postgres_reachable() -> str | None:
    engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        return f"PostgreSQL is not reachable ({type(exc).__name__})"
    finally:
        engine.dispose()


@contextmanager
def postgres_database() -> Iterator[Database]:
    name = f"lawful_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    db: Database | None = None
    try:
        upgrade(url)
        db = Database(url, load_policy())
        yield db
    finally:
        if db is not None:
            db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_backend(backend: str, db: Database, n: int, seed: int) -> tuple[list[Result], float]:
    rng = random.Random(seed)
    data = rows(rng)
    with out.status(f"{backend}: writing {sum(len(r) for r in data.values()):,} rows"):
        seconds = load(db, data)
        if db.dialect == "postgresql":
            with db.internal() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
    ids = [c["id"] for c in data[Customer]]
    rng.shuffle(ids)
    cookie = staff_cookie(db)
    with out.status(f"{backend}: measuring"):
        results = asyncio.run(measure(backend, db, cookie, ids, n))
    return results, seconds


# --- output -----------------------------------------------------------------------------------

HEADER = ["backend", "request", "p50 ms", "p99 ms", "p50 × ceiling", "p99 <= 50 ms"]


def table_rows(results: list[Result]) -> list[list[str]]:
    ceilings = {r.backend: r.p50 for r in results if r.request.startswith("ceiling")}
    return [
        [
            r.backend,
            r.request,
            f"{r.p50 * 1000:.2f}",
            f"{r.p99 * 1000:.2f}",
            "1.0" if r.request.startswith("ceiling") else f"{r.p50 / ceilings[r.backend]:.0f}",
            "" if r.request.startswith("ceiling") else ("yes" if r.p99 <= GOAL_P99 else "NO"),
        ]
        for r in results
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="p50/p99 of the console's customer pages")
    parser.add_argument("--requests", type=int, default=300, help="measured requests per kind")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    out.print(
        f"[bold]console pages[/] — {CUSTOMERS:,} customers, {USERS:,} users, {CONTACTS:,} contact persons, "
        f"{SUPPORT:,} support contacts; {args.requests} requests a kind, one at a time, in process; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    results: list[Result] = []
    notes = []
    with tempfile.TemporaryDirectory() as tmp, sqlite_database(Path(tmp)) as db:
        found, seconds = run_backend("SQLite", db, args.requests, args.seed)
        results += found
        notes.append(f"SQLite: the rows were written in {seconds:.1f} s")
    if not args.sqlite_only:
        reason = postgres_reachable()
        if reason:
            notes.append(f"PostgreSQL skipped: {reason}")
        else:
            with postgres_database() as db:
                found, seconds = run_backend("PostgreSQL", db, args.requests, args.seed)
                results += found
                notes.append(f"PostgreSQL: the rows were written in {seconds:.1f} s")

    table = Table(title="Console pages, in process (ASGI)", title_justify="left")
    for i, name in enumerate(HEADER):
        table.add_column(name, justify="right" if i >= 2 else "left")
    for row in table_rows(results):
        table.add_row(*row, style="red" if row[-1] == "NO" else None)
    out.print(table)
    for note in notes:
        out.print(note)
    print("\nMarkdown:\n")
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "|".join("---" for _ in HEADER) + "|")
    for row in table_rows(results):
        print("| " + " | ".join(row) + " |")
    print()
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
