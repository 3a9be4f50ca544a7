"""Data-subject rights at scale: one access package, one erasure and a retention run, against plain SQL.

A generator writes straight to the store, through the bare driver (``sqlite3`` / ``psycopg``):
``--customers`` customers (a third of them sole proprietors) with 1.5 contact persons each,
``--users`` users spread over the customers, and for the users what two months of use leave
behind: 10 sign-ins each (``login_records``), a one-time token each, a web session for one in
five, 2 mails each in the outbox, a support conversation for every other user (and one per
contact person), 10 usage events each and 10 processing-log entries each (by the user, by staff
and by jobs); 3 finalised invoices per customer with 3 lines each (and their mail), a rights
request for each measured person (and one for every 500th user), three disclosures to
authorities; and ``--events`` tracker events (``page_events``) over the 30 days before today
on 3 sites. The big tables come from ``INSERT ... SELECT`` over a recursive CTE (SQLite) or
``generate_series`` (PostgreSQL; the tracker events through two connections at once), in time
order with time-ordered ids as Lawful makes them, with the tables' secondary indexes dropped
during the load and created again (the same definitions); the people and invoices from Python
rows (``executemany``; ``COPY`` on PostgreSQL). PostgreSQL then gets ``VACUUM ANALYZE``, as
autovacuum would have done; SQLite gets no ``ANALYZE`` (Lawful runs none). The tracker events
are rolled up in the set-up with :func:`lawful.monitoring.rollups.roll_up`, as the maintenance
job would have done day by day, so that the retention run only has to expire them.

Measured, in the same run and on the same data:

1. **Access** (goal <= 500 ms): :func:`lawful.rights.access.package` for one user, with the
   processing-log entries and disclosures about them; beside it, the plain SQL lower bound: the
   same rows fetched with hand-written SQL through the bare driver, one SELECT per table and
   column the annotations link to the person (the same WHERE clauses). A different user each
   round, both sides on the same user, taking turns at going first.
2. **Erasure** (goal <= 1 s): :func:`lawful.rights.erasure.erase` of one user; beside it the
   same deletes and updates written by hand, in one transaction (a different user for each
   side and round; every erased user had the same amount of data). Afterwards both users are
   checked for rows left behind.
3. The same two again, when a plain statement's plan reads a big table whole (10,000 rows or
   more): with the index that would serve it created by hand in the benchmark database, then
   dropped (``--no-index-check`` skips this). Each plain statement's time and plan is listed.
4. **Retention** (goal <= 60 s): :func:`lawful.retention.sweeper.run` with the clock 31 days
   ahead, when every tracker event has expired: the whole run (every rule of the policy, the
   check that the days are rolled up, the deletes a site and a day at a time, the run's log);
   beside it a plain ``DELETE FROM page_events WHERE ts < ?`` in one statement. Each round
   makes two identical copies of the database (a file copy on SQLite, ``CREATE DATABASE ...
   TEMPLATE`` on PostgreSQL), one for each side, which take turns at going first.

Medians and 95th percentiles over ``--rounds`` access packages, ``--erasures`` erasures per
side and ``--retention-rounds`` retention runs.

    .venv/bin/python bench/rights.py                                  # full size, SQLite and PostgreSQL
    .venv/bin/python bench/rights.py --users 5000 --customers 500 --events 200000 --db sqlite
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache, partial
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy
from rich.console import Console
from sqlalchemy import create_engine, event, make_url, text

from common import PG_ADMIN_URL, libpq_url, postgres_unreachable, postgres_url, report, revision, sqlite_url
from lawful.data.annotations import table_subject
from lawful.data.base import new_id
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.monitoring import rollups
from lawful.policy.loader import load_policy
from lawful.rights import access, erasure
from lawful.rights.models import SubjectKind
from lawful.rights.subjects import SECTIONS, Subject, links, root_table, tables_with

GOAL_ACCESS = 0.5
GOAL_ERASURE = 1.0
GOAL_RETENTION = 60.0
ACTOR = Actor.system("rights:bench")

# What each user, customer and contact person has (see the module's docstring).
LOGINS_PER_USER = 10
MAILS_PER_USER = 2
USAGE_PER_USER = 10
LOG_PER_USER = 10
SESSION_EVERY = 5  # every fifth user is signed in
SUPPORT_EVERY = 2  # every other user had a support conversation
INVOICE_MONTHS = 3
LINES_PER_INVOICE = 3
SITES = 3
ACCOUNT_DAYS = 55  # sign-ins, mail, the log: the last 55 days
USAGE_DAYS = 25  # usage events: the last 25 days (their link to the user is kept 2 months)
EVENT_DAYS = 30  # tracker events: the 30 days before today
RETENTION_AHEAD = 31  # the retention run's clock: this many days after today
BATCH = 50_000
DAY_S = 86_400
DAY_MS = DAY_S * 1000

FIRST = ["Anna", "Bram", "Chloë", "Daan", "Eva", "Finn", "Greta", "Hugo", "Iris", "Jesse", "Kim", "Lars"]
LAST = ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "de Boer", "Dekker", "Peters"]
CITIES = [("Amsterdam", "1015 AA"), ("Utrecht", "3511 AB"), ("Rotterdam", "3011 CD"), ("Zwolle", "8011 EF")]
PATHS = ["/", "/pricing", "/docs", "/docs/api", "/docs/billing", "/blog", "/signup", "/login", "/contact"]

out = Console() if sys.stdout.isatty() else Console(width=180)


# --- the two databases' dialects ------------------------------------------------------------------


@dataclass(frozen=True)
class Flavour:
    """What differs between SQLite and PostgreSQL in the generator's SQL and the plain SQL."""

    postgres: bool

    def uuid_at(self, ms: str) -> str:
        """A time-ordered id (the time in its first 48 bits, as ``new_id`` makes them)."""
        if self.postgres:
            return f"(lpad(to_hex({ms}), 12, '0') || substr(md5(random()::text), 1, 20))::uuid"
        return f"printf('%012x', {ms}) || lower(hex(randomblob(10)))"

    @property
    def token(self) -> str:
        """64 random hex digits."""
        if self.postgres:
            return "md5(random()::text) || md5(random()::text)"
        return "lower(hex(randomblob(32)))"

    @property
    def key_type(self) -> str:
        return "uuid" if self.postgres else "CHAR(32)"

    @property
    def false(self) -> str:
        return "false" if self.postgres else "0"

    def stamp(self, seconds: str) -> str:
        """A UTC timestamp column's value from an epoch-seconds expression."""
        if self.postgres:
            return f"to_timestamp({seconds})"
        return f"strftime('%Y-%m-%d %H:%M:%S', {seconds}, 'unixepoch') || '.000000'"

    def sql(self, statement: str) -> str:
        """A statement written with ``?`` placeholders, as the driver takes it."""
        return statement.replace("%", "%%").replace("?", "%s") if self.postgres else statement

    def literal(self, value: uuid.UUID) -> str:
        """A Uuid column's value as an SQL literal."""
        return f"'{value}'::uuid" if self.postgres else f"'{value.hex}'"

    def key(self, value: uuid.UUID) -> Any:
        """A Uuid column's value as the bare driver takes it (SQLAlchemy stores hex on SQLite)."""
        return value if self.postgres else value.hex

    def value(self, value: Any) -> Any:
        """A Python value for ``sqlite3`` as SQLAlchemy would have stored it."""
        if self.postgres:
            return value
        if isinstance(value, uuid.UUID):
            return value.hex
        if isinstance(value, datetime):
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, bool):
            return int(value)
        return value


def connect(url: str, flavour: Flavour) -> Any:
    """A bare driver connection with Lawful's settings (WAL, foreign keys on SQLite)."""
    if flavour.postgres:
        return psycopg.connect(libpq_url(url))
    conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def begin(conn: Any, flavour: Flavour) -> None:
    if not flavour.postgres:
        conn.execute("BEGIN")


def insert_rows(conn: Any, flavour: Flavour, table: str, rows: list[dict[str, Any]]) -> None:
    """Python rows into ``table``: ``COPY`` on PostgreSQL, ``executemany`` in batches on SQLite."""
    if not rows:
        return
    columns = list(rows[0])
    names = ", ".join(columns)
    if flavour.postgres:
        with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
        conn.commit()
        return
    statement = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
    for offset in range(0, len(rows), BATCH):
        begin(conn, flavour)
        conn.executemany(
            statement, [[flavour.value(r[c]) for c in columns] for r in rows[offset : offset + BATCH]]
        )
        conn.execute("COMMIT")


def run_sql(conn: Any, flavour: Flavour, statement: str) -> None:
    """One generator statement (constants inline, no parameters), committed."""
    begin(conn, flavour)
    conn.execute(statement)
    conn.commit()


# --- the data -------------------------------------------------------------------------------------


@dataclass
class Person:
    index: int
    id: uuid.UUID
    email: str


@dataclass
class Loaded:
    """What the generator wrote, and the people the measurements are about."""

    rows: dict[str, int] = field(default_factory=dict)
    subjects: list[Person] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    bytes: int = 0


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def people_rows(
    rng: random.Random, args: argparse.Namespace, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    customers, contacts, users = [], [], []
    start = now - timedelta(days=400)
    for c in range(args.customers):
        sole = c % 3 == 0
        city, postal = CITIES[c % len(CITIES)]
        first, last = FIRST[c % len(FIRST)], LAST[c // len(FIRST) % len(LAST)]
        customers.append(
            {
                "id": new_id(),
                "kind": "sole_proprietor" if sole else "company",
                "legal_name": f"{first} {last} Advies {c}" if sole else f"Polderwind Software {c} B.V.",
                "kvk_number": f"{10_000_000 + c}",
                "vat_number": f"NL{100_000_000 + c:09d}B01",
                "billing_email": f"billing@customer{c}.example",
                "status": "active",
                "contract_start": (start + timedelta(days=c % 300)).date(),
                "contract_end": None,
                "erased_at": None,
                "street": f"Keizersgracht {c % 700 + 1}",
                "postal_code": postal,
                "city": city,
                "country": "NL",
                "created_at": start,
                "updated_at": start,
            }
        )
    for p in range(args.customers * 3 // 2):
        customer = customers[p % args.customers]
        city, postal = CITIES[p % len(CITIES)]
        contacts.append(
            {
                "id": new_id(),
                "customer_id": customer["id"],
                "name": f"{FIRST[p % len(FIRST)]} {LAST[p % len(LAST)]}",
                "email": f"contact{p}@customer{p % args.customers}.example",
                "phone": f"+31 6 {p % 10_000:04d} {p // 10_000 % 10_000:04d}",
                "street": f"Herengracht {p % 500 + 1}",
                "postal_code": postal,
                "city": city,
                "country": "NL",
                "created_at": start,
            }
        )
    for i in range(args.users):
        customer = customers[i % args.customers]
        created = start + timedelta(seconds=rng.randrange(300 * DAY_S))
        users.append(
            {
                "id": new_id(),
                "customer_id": customer["id"],
                "name": f"{FIRST[i % len(FIRST)]} {LAST[i // len(FIRST) % len(LAST)]}",
                "email": f"user{i}@customer{i % args.customers}.example",
                "role": "admin" if i < args.customers else "member",
                "status": "active",
                "password_hash": "$argon2id$v=19$m=65536,t=1,p=1$c2FsdHNhbHRzYWx0$" + "h" * 43,
                "totp_secret": None,
                "last_login_at": now - timedelta(seconds=i % (7 * DAY_S)),
                "monitoring_objection_at": None,
                "created_at": created,
                "updated_at": created,
            }
        )
    return customers, contacts, users


def account_sql(flavour: Flavour, now: datetime, staff_id: uuid.UUID, service_id: uuid.UUID) -> list[str]:
    """``INSERT ... SELECT`` statements for the users' sign-ins, tokens, sessions, mail, support
    conversations, usage and processing log (over ``bench_people`` and ``bench_n``). Rows go in
    in time order with time-ordered ids, as Lawful makes them (:func:`lawful.data.base.new_id`)."""
    f = flavour
    now_s = int(now.timestamp())
    staff = flavour.literal(staff_id)
    service = flavour.literal(service_id)
    uuid_at = f.uuid_at("q.t * 1000 + q.i % 1000")
    at = f.stamp("q.t")

    def people(times: int, span_s: int, where: str = "") -> str:
        """Each person ``times`` over (``q.k``), at a time ``q.t`` in the last ``span_s`` seconds."""
        return (
            "FROM (SELECT p.i, p.id, p.text_id, p.customer_id, p.email, p.name, n.i AS k, "
            f"CAST({now_s} AS BIGINT) - ((p.i * 7919 + n.i * 104729) % {span_s}) AS t "
            f"FROM bench_people p JOIN bench_n n ON n.i < {times} {where}) q ORDER BY q.t"
        )

    return [
        "INSERT INTO login_records (id, at, principal_kind, principal_id, ip_address, outcome) "
        f"SELECT {uuid_at}, {at}, 'user', q.id, '198.51.' || (q.i % 250) || '.' || (q.k + 1), "
        "CASE WHEN q.k = 0 THEN 'bad_password' ELSE 'success' END "
        + people(LOGINS_PER_USER, ACCOUNT_DAYS * DAY_S),
        "INSERT INTO one_time_tokens (token_hash, kind, principal_kind, principal_id, created_at, "
        f"expires_at, used_at) SELECT {f.token}, 'invitation', 'user', p.id, "
        f"{f.stamp(str(now_s - 300 * DAY_S))}, {f.stamp(str(now_s - 293 * DAY_S))}, "
        f"{f.stamp(str(now_s - 299 * DAY_S))} FROM bench_people p",
        "INSERT INTO web_sessions (token_hash, principal_kind, principal_id, csrf_token, "
        "second_factor_pending, created_at, last_seen_at, expires_at) "
        f"SELECT {f.token}, 'user', p.id, {f.token}, {f.false}, {f.stamp(str(now_s - 3600))}, "
        f"{f.stamp(str(now_s - 60))}, {f.stamp(str(now_s + 11 * 3600))} "
        f"FROM bench_people p WHERE p.i % {SESSION_EVERY} = 0",
        "INSERT INTO outbox (id, recipient_id, to_address, subject_line, body, kind, status, "
        "attachment, attempts, last_error, created_at, sent_at) "
        f"SELECT {uuid_at}, q.id, q.email, "
        "CASE WHEN q.k = 0 THEN 'You are invited' ELSE 'Reset your password' END, "
        "'Hello ' || q.name || ', follow this link within 7 days to set your password: "
        "https://lawful.example/t/' || q.i || '-' || q.k || '. If you did not ask for this, ignore this mail.', "
        f"CASE WHEN q.k = 0 THEN 'invitation' ELSE 'password_reset' END, 'sent', NULL, 1, NULL, {at}, {at} "
        + people(MAILS_PER_USER, ACCOUNT_DAYS * DAY_S),
        "INSERT INTO support_contacts (id, customer_id, contact_person_id, user_id, staff_id, channel, "
        "occurred_at, summary, follow_up_on, follow_up_done, created_at) "
        f"SELECT {uuid_at}, q.customer_id, NULL, q.id, {staff}, "
        "CASE q.i % 3 WHEN 0 THEN 'phone' WHEN 1 THEN 'email' ELSE 'chat' END, "
        f"{at}, q.name || ' asked about the seats on the last invoice and how to add a colleague; "
        f"explained both.', NULL, {f.false}, {at} "
        + people(1, 365 * DAY_S, f"WHERE p.i % {SUPPORT_EVERY} = 0"),
        "INSERT INTO usage_events (service_id, idempotency_key, customer_id, user_id, code, ts, "
        "value_micros, properties, received_at) "
        f"SELECT {service}, 'u' || q.i || '-' || q.k, q.customer_id, q.id, 'api.call', "
        "q.t * 1000 + q.i % 1000, 1000000, NULL, q.t * 1000 + q.i % 1000 + 1500 "
        + people(USAGE_PER_USER, USAGE_DAYS * DAY_S),
        "INSERT INTO processing_log (id, at, actor_kind, actor_id, purpose, operation, table_name, "
        f"categories, subject_table, subject_id, statements) SELECT {uuid_at}, {at}, "
        "CASE q.k % 3 WHEN 0 THEN 'user' WHEN 1 THEN 'staff' ELSE 'system' END, "
        f"CASE q.k % 3 WHEN 0 THEN q.text_id WHEN 1 THEN '{staff_id}' ELSE 'monitoring-maintenance' END, "
        "CASE q.k % 3 WHEN 2 THEN 'monitoring' ELSE 'contract' END, "
        "CASE q.k % 4 WHEN 3 THEN 'write' ELSE 'read' END, "
        "CASE q.k % 3 WHEN 0 THEN 'users' WHEN 1 THEN 'support_contacts' ELSE 'usage_events' END, "
        "'user.contact.email,user.name', "
        "CASE WHEN q.k % 5 = 4 THEN NULL ELSE 'users' END, "
        "CASE WHEN q.k % 5 = 4 THEN NULL ELSE q.text_id END, 1 " + people(LOG_PER_USER, ACCOUNT_DAYS * DAY_S),
    ]


#: The tables the bulk statements fill: their secondary indexes are built after the load.
BULK_TABLES = (
    "login_records",
    "one_time_tokens",
    "web_sessions",
    "outbox",
    "support_contacts",
    "usage_events",
    "processing_log",
    "invoices",
    "invoice_lines",
)


@contextmanager
def indexes_dropped(conn: Any, flavour: Flavour, tables: Sequence[str]) -> Iterator[None]:
    """The tables' secondary indexes dropped for a bulk load and created again afterwards, with the
    same definitions (faster than keeping them up to date row by row; the schema ends the same)."""
    found: list[tuple[str, str]] = []
    for table in tables:
        if flavour.postgres:
            rows = conn.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
                (table,),
            ).fetchall()
        else:
            rows = conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                (table,),
            ).fetchall()
        found += [(str(name), str(sql)) for name, sql in rows]
    conn.commit()
    for name, _ in found:
        run_sql(conn, flavour, f'DROP INDEX "{name}"')
    yield
    for _, sql in found:
        run_sql(conn, flavour, sql)


def page_event_sql(
    flavour: Flavour, sites: list[uuid.UUID], start_ms: int, count: int, lo: int, hi: int
) -> str:
    """Tracker events ``lo`` to ``hi - 1`` of ``count``, in time order from ``start_ms`` over
    :data:`EVENT_DAYS` days: visits of six events a few seconds apart on one site, a page view
    or an engagement, a few referrers, three browsers."""
    span = EVENT_DAYS * DAY_MS
    site = (
        "CASE (i / 6) % "
        + str(len(sites))
        + " "
        + " ".join(f"WHEN {k} THEN {flavour.literal(s)}" for k, s in enumerate(sites))
        + " END"
    )
    paths = (
        "CASE (i * 7) % "
        + str(len(PATHS))
        + " "
        + " ".join(f"WHEN {k} THEN '{p}'" for k, p in enumerate(PATHS))
        + " END"
    )
    select = (
        f"SELECT {site}, {start_ms} + i * {span} / {count}, ((i / 6) * 2654435761) % 1099511627776, "
        "CASE WHEN i % 6 = 5 THEN 'engagement' ELSE 'pageview' END, "
        f"CASE WHEN i % 13 = 0 THEN {paths} || '/' || (i % 997) ELSE {paths} END, "
        "CASE WHEN i % 17 = 0 THEN 'utm_source=newsletter' END, "
        "CASE WHEN i % 6 = 0 THEN CASE i % 4 WHEN 0 THEN 'www.google.com' WHEN 1 THEN 'duckduckgo.com' END END, "
        "NULL, CASE WHEN i % 6 = 5 THEN 5000 + (i * 7919) % 120000 END, "
        "CASE i % 3 WHEN 0 THEN 'Chrome' WHEN 1 THEN 'Firefox' ELSE 'Safari' END, "
        "CASE i % 3 WHEN 0 THEN '131' WHEN 1 THEN '133' ELSE '18' END, "
        "CASE i % 4 WHEN 0 THEN 'Windows' WHEN 1 THEN 'macOS' WHEN 2 THEN 'iOS' ELSE 'Android' END, "
        "CASE WHEN i % 4 >= 2 THEN 'mobile' ELSE 'desktop' END, "
        "'203.0.' || ((i / 6) % 256) || '.0/24'"
    )
    columns = (
        "site_id, ts, visitor_id, name, path, query, referrer_host, target, engaged_ms, browser, "
        "browser_version, os, device, ip_prefix"
    )
    if flavour.postgres:
        return f"INSERT INTO page_events ({columns}) {select} FROM generate_series({lo}::bigint, {hi - 1}) AS n(i)"
    return (
        f"WITH RECURSIVE n(i) AS (SELECT {lo} UNION ALL SELECT i + 1 FROM n WHERE i < {hi - 1}) "
        f"INSERT INTO page_events ({columns}) {select} FROM n"
    )


def write_page_events(url: str, flavour: Flavour, sites: list[uuid.UUID], start_ms: int, count: int) -> None:
    """SQLite: one statement. PostgreSQL: two connections writing halves at once (two cores)."""
    if count <= 0:
        return
    if not flavour.postgres:
        conn = connect(url, flavour)
        try:
            run_sql(conn, flavour, page_event_sql(flavour, sites, start_ms, count, 0, count))
        finally:
            conn.close()
        return
    errors: list[BaseException] = []

    def part(lo: int, hi: int) -> None:
        try:
            with psycopg.connect(libpq_url(url)) as own:
                own.execute(page_event_sql(flavour, sites, start_ms, count, lo, hi))
        except BaseException as exc:  # raised below, in the main thread
            errors.append(exc)

    half = count // 2
    threads = [threading.Thread(target=part, args=bounds) for bounds in ((0, half), (half, count))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def invoice_rows(
    customers: list[dict[str, Any]], now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    invoices, lines, mails = [], [], []
    this_month = date(now.year, now.month, 1)
    sequence = 0
    for m in range(INVOICE_MONTHS, 0, -1):
        period = this_month
        for _ in range(m):
            period = (period - timedelta(days=1)).replace(day=1)
        issued = (period + timedelta(days=35)).replace(day=2)
        at = midnight(issued) + timedelta(hours=6)
        for c, customer in enumerate(customers):
            sequence += 1
            invoice_id = new_id()
            net = 1900 + (c * 7919) % 40_000
            vat = net * 21 // 100
            invoices.append(
                {
                    "id": invoice_id,
                    "customer_id": customer["id"],
                    "type": "invoice",
                    "status": "finalised",
                    "period": period,
                    "period_key": f"{period:%Y-%m}",
                    "run_id": None,
                    "corrects_id": None,
                    "reason": "",
                    "series": f"{issued:%Y}",
                    "sequence": sequence,
                    "number": f"{issued:%Y}-{sequence:07d}",
                    "issue_date": issued,
                    "due_date": issued + timedelta(days=14),
                    "supply_date": issued,
                    "currency": "EUR",
                    "buyer_kind": customer["kind"],
                    "buyer_name": customer["legal_name"],
                    "buyer_street": customer["street"],
                    "buyer_postal_code": customer["postal_code"],
                    "buyer_city": customer["city"],
                    "buyer_country": customer["country"],
                    "buyer_vat": customer["vat_number"],
                    "buyer_kvk": customer["kvk_number"],
                    "vat_treatment": "standard",
                    "vat_check": "",
                    "net_cents": net,
                    "vat_cents": vat,
                    "total_cents": net + vat,
                    "fingerprint": "",
                    "finalised_at": at,
                    "finalised_by": "billing",
                    "sent_at": at,
                    "created_at": at,
                    "updated_at": at,
                }
            )
            last = (period + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            for position in range(1, LINES_PER_INVOICE + 1):
                lines.append(
                    {
                        "id": new_id(),
                        "invoice_id": invoice_id,
                        "customer_id": customer["id"],
                        "issue_date": issued,
                        "position": position,
                        "kind": "base_fee" if position == 1 else "usage",
                        "subscription_id": None,
                        "charge_id": None,
                        "service_start": period,
                        "service_end": last,
                        "description": "Business plan"
                        if position == 1
                        else f"API calls, tier {position - 1}",
                        "detail": "",
                        "unit": "C62",
                        "quantity_micros": 1_000_000 * position,
                        "unit_price_micros": 2_000 * position,
                        "amount_cents": net // LINES_PER_INVOICE,
                        "vat_rate_bp": 2100,
                    }
                )
            mails.append(
                {
                    "id": new_id(),
                    "recipient_id": None,
                    "to_address": customer["billing_email"],
                    "subject_line": "Your invoice",
                    "body": f"Dear customer, attached is invoice {issued:%Y}-{sequence:07d}.",
                    "kind": "invoice",
                    "status": "sent",
                    "attachment": f"invoice:{invoice_id}",
                    "attempts": 1,
                    "last_error": None,
                    "created_at": at,
                    "sent_at": at,
                }
            )
    return invoices, lines, mails


def rights_rows(
    subjects: list[Person], users: list[dict[str, Any]], now: datetime, staff_id: uuid.UUID
) -> list[dict[str, Any]]:
    rows = []
    asking = {p.index for p in subjects} | set(range(7, len(users), 500))
    for i in sorted(asking):
        user = users[i]
        received = now - timedelta(days=2 + i % 20)
        rows.append(
            {
                "id": new_id(),
                "kind": "access",
                "status": "completed",
                "channel": "portal",
                "subject_kind": "user",
                "subject_id": user["id"],
                "requester_name": user["name"],
                "requester_email": user["email"],
                "details": None,
                "received_at": received,
                "due_on": (received + timedelta(days=30)).date(),
                "extended_to": None,
                "extension_reason": None,
                "verify_token_hash": None,
                "verify_expires_at": None,
                "verified_at": received,
                "recorded_by": None if i % 2 else staff_id,
                "completed_at": received + timedelta(minutes=1),
                "withdrawn_at": None,
                "outcome": '{"tables": 9}',
                "refusal_reason": None,
            }
        )
    return rows


def disclosure_rows(
    rng: random.Random,
    subjects: list[Person],
    users: list[dict[str, Any]],
    now: datetime,
    staff_id: uuid.UUID,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    disclosures, about = [], []
    for k in range(3):
        disclosure_id = new_id()
        disclosures.append(
            {
                "id": disclosure_id,
                "authority": "Belastingdienst" if k != 1 else "Autoriteit Persoonsgegevens",
                "authority_kind": "authority" if k != 1 else "regulator",
                "legal_ground": "AWR art. 47",
                "order_reference": f"ORDER-{2026 + k}-{k:04d}",
                "disclosed_on": (now - timedelta(days=30 * (k + 1))).date(),
                "officer_id": staff_id,
                "categories": "user.name,user.contact.email",
                "description": "the users of one customer, as ordered",
                "confidential_until": (now + timedelta(days=90)).date() if k == 2 else None,
                "bundle_sha256": None,
                "created_at": now - timedelta(days=30 * (k + 1)),
            }
        )
        picked = [p.id for p in subjects[k::3]] + [u["id"] for u in rng.sample(users, min(20, len(users)))]
        for subject_id in dict.fromkeys(picked):
            about.append(
                {
                    "id": new_id(),
                    "disclosure_id": disclosure_id,
                    "subject_kind": "user",
                    "subject_id": subject_id,
                }
            )
    return disclosures, about


def fixed_rows(
    now: datetime, staff_id: uuid.UUID, service_id: uuid.UUID, sites: list[uuid.UUID]
) -> dict[str, list[dict[str, Any]]]:
    """Staff, the measured sites, the salts of today and yesterday, the usage service."""
    roles = ["support", "admin", "finance", "privacy_officer", "analyst"]
    return {
        "staff": [
            {
                "id": staff_id if k == 0 else new_id(),
                "name": f"Staff {k}",
                "email": f"staff{k}@lawful.example",
                "role": role,
                "status": "active",
                "password_hash": None,
                "totp_secret": None,
                "last_login_at": None,
                "created_at": now,
                "updated_at": now,
            }
            for k, role in enumerate(roles)
        ],
        "sites": [
            {
                "id": s,
                "domain": f"site{k}.example",
                "name": f"Site {k}",
                "active": True,
                "created_at": now,
                "updated_at": now,
            }
            for k, s in enumerate(sites)
        ],
        "monitoring_salts": [
            {"day": (now - timedelta(days=k)).date(), "value": os.urandom(32), "created_at": now}
            for k in (1, 0)
        ],
        "usage_services": [
            {
                "id": service_id,
                "name": "bench",
                "key_hash": "0" * 64,
                "key_prefix": "lk_bench",
                "last_used_at": None,
                "revoked_at": None,
                "created_at": now,
                "updated_at": now,
            }
        ],
    }


def contact_support_rows(
    contacts: list[dict[str, Any]], now: datetime, staff_id: uuid.UUID
) -> list[dict[str, Any]]:
    """A support conversation with every contact person."""
    return [
        {
            "id": new_id(),
            "customer_id": c["customer_id"],
            "contact_person_id": c["id"],
            "user_id": None,
            "staff_id": staff_id,
            "channel": "email",
            "occurred_at": now - timedelta(days=k % 300),
            "summary": f"{c['name']} asked for a copy of the contract.",
            "follow_up_on": None,
            "follow_up_done": False,
            "created_at": now - timedelta(days=k % 300),
        }
        for k, c in enumerate(contacts)
    ]


def helper_tables(conn: Any, flavour: Flavour, users: list[dict[str, Any]]) -> None:
    """``bench_people`` (the users, numbered) and ``bench_n`` (0-99), which the bulk statements read."""
    run_sql(
        conn,
        flavour,
        f"CREATE TABLE bench_people (i INTEGER PRIMARY KEY, id {flavour.key_type}, text_id TEXT, "
        f"customer_id {flavour.key_type}, email TEXT, name TEXT)",
    )
    run_sql(conn, flavour, "CREATE TABLE bench_n (i INTEGER PRIMARY KEY)")
    people = [
        {
            "i": i,
            "id": u["id"],
            "text_id": str(u["id"]),
            "customer_id": u["customer_id"],
            "email": u["email"],
            "name": u["name"],
        }
        for i, u in enumerate(users)
    ]
    insert_rows(conn, flavour, "bench_people", people)
    insert_rows(conn, flavour, "bench_n", [{"i": k} for k in range(100)])


def load(url: str, flavour: Flavour, args: argparse.Namespace, now: datetime, subjects_needed: int) -> Loaded:
    """Write the whole data set (see the module's docstring); roll up the tracker events."""
    rng = random.Random(args.seed)
    loaded = Loaded()
    began = time.perf_counter()
    customers, contacts, users = people_rows(rng, args, now)
    candidates = [i for i in range(len(users)) if i % (SESSION_EVERY * SUPPORT_EVERY) == 0]
    if len(candidates) < subjects_needed:
        raise SystemExit(
            f"--users {args.users} gives {len(candidates)} users to measure, {subjects_needed} needed"
        )
    picked = rng.sample(candidates, subjects_needed)
    loaded.subjects = [Person(i, users[i]["id"], users[i]["email"]) for i in picked]
    staff_id, service_id = new_id(), new_id()
    sites = [new_id() for _ in range(SITES)]
    conn = connect(url, flavour)
    try:
        for table, rows in fixed_rows(now, staff_id, service_id, sites).items():
            insert_rows(conn, flavour, table, rows)
        insert_rows(conn, flavour, "customers", customers)
        insert_rows(conn, flavour, "contact_persons", contacts)
        insert_rows(conn, flavour, "users", users)
        helper_tables(conn, flavour, users)
        loaded.seconds["people"] = time.perf_counter() - began
        step = time.perf_counter()
        with indexes_dropped(conn, flavour, BULK_TABLES):
            for statement in account_sql(flavour, now, staff_id, service_id):
                run_sql(conn, flavour, statement)
            insert_rows(conn, flavour, "support_contacts", contact_support_rows(contacts, now, staff_id))
            invoices, lines, mails = invoice_rows(customers, now)
            insert_rows(conn, flavour, "invoices", invoices)
            insert_rows(conn, flavour, "invoice_lines", lines)
            insert_rows(conn, flavour, "outbox", mails)
        insert_rows(conn, flavour, "rights_requests", rights_rows(loaded.subjects, users, now, staff_id))
        disclosures, about = disclosure_rows(rng, loaded.subjects, users, now, staff_id)
        insert_rows(conn, flavour, "disclosures", disclosures)
        insert_rows(conn, flavour, "disclosure_subjects", about)
        run_sql(conn, flavour, "DROP TABLE bench_people")
        run_sql(conn, flavour, "DROP TABLE bench_n")
        loaded.seconds["account data"] = time.perf_counter() - step
        step = time.perf_counter()
        with indexes_dropped(conn, flavour, ["page_events"]):
            events_start = midnight(now.date()) - timedelta(days=EVENT_DAYS)
            write_page_events(url, flavour, sites, int(events_start.timestamp()) * 1000, args.events)
        loaded.seconds["page events"] = time.perf_counter() - step
    finally:
        conn.close()
    if flavour.postgres:
        step = time.perf_counter()
        with psycopg.connect(libpq_url(url), autocommit=True) as own:
            own.execute("VACUUM ANALYZE")
        loaded.seconds["VACUUM ANALYZE"] = time.perf_counter() - step
    step = time.perf_counter()
    db = Database(url, load_policy())
    try:
        # every day up to yesterday is complete half an hour after midnight
        rollups.roll_up(db, now=max(now, midnight(now.date()) + timedelta(hours=1)))
    finally:
        db.dispose()
    loaded.seconds["roll-up of the page events"] = time.perf_counter() - step
    loaded.rows = count_rows(url, flavour)
    loaded.bytes = database_bytes(url, flavour)
    return loaded


COUNTED = (
    "users",
    "customers",
    "contact_persons",
    "login_records",
    "one_time_tokens",
    "web_sessions",
    "outbox",
    "support_contacts",
    "usage_events",
    "processing_log",
    "invoices",
    "invoice_lines",
    "rights_requests",
    "page_events",
    "monitoring_rollups",
)


def count_rows(url: str, flavour: Flavour) -> dict[str, int]:
    conn = connect(url, flavour)
    try:
        return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in COUNTED}
    finally:
        conn.close()


def database_bytes(url: str, flavour: Flavour) -> int:
    if flavour.postgres:
        with psycopg.connect(libpq_url(url)) as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
            return int(row[0]) if row else 0
    path = Path(url.removeprefix("sqlite:///"))
    return sum(Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists())


# --- the plain SQL --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """One hand-written statement: what it looks up, the SQL (``?`` placeholders), its parameters
    (``key``: the user's id as a Uuid column holds it; ``email``: their address as stored, in lower
    case; ``text``: their id as text, as the processing log holds it; ``today``: the date), and the
    indexes that would serve it (tried by hand when its plan scans a big table)."""

    table: str
    column: str
    sql: str
    params: tuple[str, ...]
    indexes: tuple[str, ...] = ()


def logged_tables() -> list[str]:
    """The tables whose rows' subjects the processing log names (where the access report looks)."""
    from lawful.schema import metadata

    return sorted(t.name for t in metadata.sorted_tables if (s := table_subject(t)) is not None and s.logged)


def access_sql() -> list[Statement]:
    """The access package's rows by hand: one SELECT per table and column linked to a user, the
    processing-log entries by and about them, the disclosures about them."""
    logged = ", ".join(f"'{t}'" for t in logged_tables())

    def by(table: str, column: str, param: str = "key") -> Statement:
        return Statement(
            table, column, f"SELECT * FROM {table} WHERE {column} = ?", (param,), (f"{table} ({column})",)
        )

    return [
        by("users", "id"),
        by("login_records", "principal_id"),
        by("one_time_tokens", "principal_id"),
        by("outbox", "recipient_id"),
        by("outbox", "to_address", "email"),
        by("sealed_records", "subject_id"),
        by("web_sessions", "principal_id"),
        by("rights_requests", "subject_id"),
        by("rights_requests", "requester_email", "email"),
        by("rights_restrictions", "subject_id"),
        by("support_contacts", "user_id"),
        by("usage_events", "user_id"),
        Statement(
            "processing_log",
            "subject_table, subject_id; actor_id",
            f"SELECT * FROM processing_log WHERE (subject_table IN ({logged}) AND subject_id = ?) "
            "OR actor_id = ? ORDER BY at DESC",
            ("text", "text"),
            ("processing_log (subject_id)", "processing_log (actor_id)"),
        ),
        Statement(
            "disclosure_subjects",
            "subject_id, with disclosures",
            "SELECT d.* FROM disclosures d JOIN disclosure_subjects s ON s.disclosure_id = d.id "
            "WHERE s.subject_id = ? AND (d.confidential_until IS NULL OR d.confidential_until <= ?) "
            "ORDER BY d.disclosed_on",
            ("key", "today"),
            ("disclosure_subjects (subject_id)",),
        ),
    ]


def erase_sql() -> list[Statement]:
    """What erasing a user does, by hand, in the order erase() does it: their row read; each linked
    table's rows deleted, anonymised, unlinked or counted; their row deleted; the log's entries
    about them counted."""
    logged = ", ".join(f"'{t}'" for t in logged_tables())

    def do(table: str, column: str, action: str, param: str = "key") -> Statement:
        return Statement(table, column, f"{action} WHERE {column} = ?", (param,), (f"{table} ({column})",))

    return [
        do("users", "id", "SELECT * FROM users"),
        do("login_records", "principal_id", "DELETE FROM login_records"),
        do("one_time_tokens", "principal_id", "DELETE FROM one_time_tokens"),
        do("outbox", "recipient_id", "DELETE FROM outbox"),
        do("outbox", "to_address", "DELETE FROM outbox", "email"),
        do("web_sessions", "principal_id", "DELETE FROM web_sessions"),
        do(
            "rights_requests",
            "subject_id",
            "UPDATE rights_requests SET requester_name = NULL, requester_email = NULL, details = NULL, "
            "recorded_by = NULL",
        ),
        do(
            "rights_requests",
            "requester_email",
            "UPDATE rights_requests SET subject_id = NULL, requester_name = NULL, details = NULL, "
            "recorded_by = NULL",
            "email",
        ),
        do("rights_restrictions", "subject_id", "SELECT count(*) FROM rights_restrictions"),
        do(
            "support_contacts",
            "user_id",
            "UPDATE support_contacts SET contact_person_id = NULL, user_id = NULL, summary = ''",
        ),
        do("usage_events", "user_id", "UPDATE usage_events SET user_id = NULL"),
        do("users", "id", "DELETE FROM users"),
        Statement(
            "processing_log",
            "subject_table, subject_id",
            f"SELECT count(*) FROM processing_log WHERE subject_table IN ({logged}) AND subject_id = ?",
            ("text",),
            ("processing_log (subject_id)",),
        ),
    ]


#: Rows that must be gone after an erasure (either side's).
LEFT_SQL = [
    "SELECT count(*) FROM users WHERE id = ?",
    "SELECT count(*) FROM login_records WHERE principal_id = ?",
    "SELECT count(*) FROM one_time_tokens WHERE principal_id = ?",
    "SELECT count(*) FROM outbox WHERE recipient_id = ?",
    "SELECT count(*) FROM web_sessions WHERE principal_id = ?",
    "SELECT count(*) FROM support_contacts WHERE user_id = ?",
    "SELECT count(*) FROM usage_events WHERE user_id = ?",
]
#: A full scan of a table with fewer rows than this is no missing index (PostgreSQL prefers it).
SMALL_TABLE = 10_000


@cache
def primary_key(table: str) -> tuple[str, ...]:
    from lawful.schema import metadata

    return tuple(c.name for c in metadata.tables[table].primary_key.columns)


def params(flavour: Flavour, person: Person, names: tuple[str, ...]) -> tuple[Any, ...]:
    values = {
        "key": flavour.key(person.id),
        "email": person.email.lower(),
        "text": str(person.id),
        "today": flavour.value(datetime.now(UTC).date()),
    }
    return tuple(values[n] for n in names)


@dataclass(frozen=True)
class Plan:
    text: str
    scans: tuple[str, ...]  # tables read whole (a table scan, or an index read from end to end)


def _pg_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _pg_nodes(child)


class Plain:
    """The hand-written SQL, through one bare driver connection."""

    def __init__(self, url: str, flavour: Flavour) -> None:
        self.flavour = flavour
        self.conn = connect(url, flavour)
        self.access_sql = access_sql()
        self.erase_sql = erase_sql()

    def access(self, person: Person, spent: dict[int, list[float]]) -> int:
        """Every row of the person; returns the rows of data found (each row once; without the
        processing log and the disclosures, which the package reports apart)."""
        f = self.flavour
        found: set[tuple[str, Any]] = set()
        begin(self.conn, f)
        for k, s in enumerate(self.access_sql):
            began = time.perf_counter()
            cursor = self.conn.execute(f.sql(s.sql), params(f, person, s.params))
            rows = cursor.fetchall()
            spent.setdefault(k, []).append(time.perf_counter() - began)
            if s.table not in SECTIONS:
                names = [d[0] for d in cursor.description]
                keys = [names.index(c) for c in primary_key(s.table)]
                found |= {(s.table, *(row[i] for i in keys)) for row in rows}
        self.conn.commit()
        return len(found)

    def erase(self, person: Person, spent: dict[int, list[float]]) -> None:
        f = self.flavour
        begin(self.conn, f)
        for k, s in enumerate(self.erase_sql):
            began = time.perf_counter()
            cursor = self.conn.execute(f.sql(s.sql), params(f, person, s.params))
            if s.sql.startswith("SELECT"):
                cursor.fetchall()
            spent.setdefault(k, []).append(time.perf_counter() - began)
        self.conn.commit()

    def left(self, person: Person) -> int:
        """Rows of the person still there after an erasure."""
        f = self.flavour
        found = 0
        for sql in LEFT_SQL:
            row = self.conn.execute(f.sql(sql), (f.key(person.id),)).fetchone()
            found += int(row[0]) if row else 0
        self.conn.commit()
        return found

    def plan(self, s: Statement, person: Person) -> Plan:
        """How the database runs a statement (without running it)."""
        f = self.flavour
        if f.postgres:
            row = self.conn.execute(
                f.sql("EXPLAIN (FORMAT JSON) " + s.sql), params(f, person, s.params)
            ).fetchone()
            self.conn.rollback()
            nodes = list(_pg_nodes(row[0][0]["Plan"])) if row else []
            parts, scans = [], []
            for n in nodes:
                kind = n["Node Type"]
                if kind in ("ModifyTable",):
                    kind = n.get("Operation", kind)
                index = f" using {n['Index Name']}" if "Index Name" in n else ""
                relation = (
                    f" on {n['Relation Name']}"
                    if "Relation Name" in n and kind != "Bitmap Index Scan"
                    else ""
                )
                parts.append(f"{kind}{index}{relation}")
                whole = kind == "Seq Scan" or (
                    kind in ("Index Scan", "Index Only Scan") and "Index Cond" not in n
                )
                if whole and "Relation Name" in n:
                    scans.append(str(n["Relation Name"]))
            return Plan(" < ".join(parts), tuple(scans))
        details = [
            str(r[-1]) for r in self.conn.execute("EXPLAIN QUERY PLAN " + s.sql, params(f, person, s.params))
        ]
        scans = [d.split()[1] for d in details if d.startswith("SCAN ")]
        return Plan("; ".join(details), tuple(scans))

    def count(self, table: str) -> int:
        row = self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        self.conn.commit()
        return int(row[0]) if row else 0

    def execute(self, sql: str) -> None:
        begin(self.conn, self.flavour)
        self.conn.execute(sql)
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


def check_coverage() -> list[str]:
    """Tables the annotations link to a user that the plain SQL does not read (a schema change)."""
    from lawful.schema import metadata

    linked = set(tables_with(links(metadata, root_table(metadata, SubjectKind.user))))
    missing = linked - {s.table for s in access_sql()}
    if not missing:
        return []
    return [f"the plain SQL reads no rows of {', '.join(sorted(missing))}: bench/rights.py needs updating"]


# --- measuring ------------------------------------------------------------------------------------


def clock(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def timed(into: list[float], call: Callable[[], object]) -> None:
    into.append(clock(call))


def take_turns(round_no: int, first: Callable[[], None], second: Callable[[], None]) -> None:
    """Both sides, the first going first in even rounds and second in odd ones."""
    for side in (first, second) if round_no % 2 == 0 else (second, first):
        side()


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[18]


@dataclass
class Row:
    label: str
    seconds: list[float]
    goal: float | None = None
    plain: list[float] | None = None  # the plain side it is compared with

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass
class Breakdown:
    """One plain statement: its median time and plan, before and after the indexes tried."""

    part: str
    statement: Statement
    before_s: float
    plan_before: Plan
    after_s: float | None = None
    plan_after: Plan | None = None


@dataclass
class Result:
    backend: str
    loaded: Loaded
    rows: list[Row] = field(default_factory=list)
    breakdown: list[Breakdown] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)  # rows of the tables the plain SQL reads


def package_of(db: Database, person: Person) -> dict[str, Any]:
    found = access.package(db, Subject(SubjectKind.user, person.id), actor=ACTOR)
    if found is None:
        raise SystemExit(f"no access package for user {person.id}")
    return found


def erase_one(db: Database, person: Person) -> None:
    if erasure.erase(db, Subject(SubjectKind.user, person.id), actor=ACTOR) is None:
        raise SystemExit(f"user {person.id} was not found to erase")


@contextmanager
def statements_counted(db: Database) -> Iterator[list[str]]:
    """The kinds of statement Lawful sends (around untimed calls only: a listener costs time)."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement.split()[0].upper())

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


def tally(kinds: list[str]) -> str:
    counted: dict[str, int] = {}
    for k in kinds:
        counted[k] = counted.get(k, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(counted.items()))


@dataclass
class Spent:
    """The plain statements' times of one pass, by their position in the list."""

    access: dict[int, list[float]] = field(default_factory=dict)
    erase: dict[int, list[float]] = field(default_factory=dict)

    def median(self, part: str, k: int) -> float:
        times = (self.access if part == "access" else self.erase).get(k)
        return statistics.median(times) if times else 0.0


def measure_rights(
    db: Database, plain: Plain, people: Iterator[Person], args: argparse.Namespace, result: Result, label: str
) -> Spent:
    """Access and erasure rounds, the sides taking turns at going first."""
    spent = Spent()
    suffix = f" ({label})" if label else ""
    # warm-up, untimed: the policy, the annotations' links, the statement caches, the pool
    warm = next(people)
    with statements_counted(db) as sent:
        package = package_of(db, warm)
    lawful_rows = sum(len(d["rows"]) for d in package["data"])
    plain_rows = plain.access(warm, {})
    if lawful_rows != plain_rows:
        result.notes.append(
            f"{result.backend}{suffix}: WARNING: the package holds {lawful_rows} rows of data, the plain SQL "
            f"found {plain_rows}: the two no longer read the same"
        )
    lawful_times: list[float] = []
    plain_times: list[float] = []
    for round_no in range(args.rounds):
        person = next(people)
        take_turns(
            round_no,
            partial(timed, lawful_times, partial(package_of, db, person)),
            partial(timed, plain_times, partial(plain.access, person, spent.access)),
        )
    result.rows.append(
        Row(
            f"plain SQL: the user's rows, {len(plain.access_sql)} SELECTs by the linked columns{suffix}",
            plain_times,
        )
    )
    result.rows.append(
        Row(
            f"access.package(user): {lawful_rows} rows of data in {len(package['data'])} tables, "
            f"{len(package['processing_log'])} log entries{suffix}",
            lawful_times,
            GOAL_ACCESS,
            plain_times,
        )
    )
    result.notes.append(
        f"{result.backend}{suffix}: the access package ran {len(sent)} statements ({tally(sent)}); the plain "
        f"SQL {len(plain.access_sql)} SELECTs"
        + (f", which found the same {plain_rows} rows of data" if plain_rows == lawful_rows else "")
    )
    warm_a, warm_b = next(people), next(people)
    with statements_counted(db) as sent:
        erase_one(db, warm_a)
    plain.erase(warm_b, {})
    erased = [warm_a, warm_b]
    lawful_times, plain_times = [], []
    for round_no in range(args.erasures):
        a, b = next(people), next(people)
        erased += [a, b]
        take_turns(
            round_no,
            partial(timed, lawful_times, partial(erase_one, db, a)),
            partial(timed, plain_times, partial(plain.erase, b, spent.erase)),
        )
    left = sum(plain.left(p) for p in erased)
    if left:
        raise SystemExit(f"{result.backend}: {left} rows of erased users left behind")
    result.rows.append(
        Row(
            f"plain SQL: the same {len(plain.erase_sql)} deletes/updates, one transaction{suffix}",
            plain_times,
        )
    )
    result.rows.append(
        Row(
            f"erasure.erase(user): {LOGINS_PER_USER} sign-ins, {MAILS_PER_USER} mails, {USAGE_PER_USER} usage "
            f"events, {LOG_PER_USER} log entries, a session, a token, a support conversation, a request{suffix}",
            lawful_times,
            GOAL_ERASURE,
            plain_times,
        )
    )
    result.notes.append(
        f"{result.backend}{suffix}: erase() ran {len(sent)} statements ({tally(sent)}), the plain SQL "
        f"{len(plain.erase_sql)}; afterwards no row of the {len(erased)} erased users was left"
    )
    return spent


def scanned(plan: Plan, sizes: dict[str, int]) -> list[str]:
    """The big tables a plan reads whole."""
    return [t for t in plan.scans if sizes.get(t, 0) >= SMALL_TABLE]


def missing_indexes(result: Result, sizes: dict[str, int]) -> list[str]:
    """The indexes that would serve the plain statements whose plans read a big table whole."""
    wanted: dict[str, None] = {}
    for b in result.breakdown:
        if scanned(b.plan_before, sizes):
            wanted.update(dict.fromkeys(b.statement.indexes))
    return list(wanted)


def index_check(
    db: Database,
    plain: Plain,
    people: Iterator[Person],
    args: argparse.Namespace,
    result: Result,
    wanted: list[str],
    probe: Person,
) -> None:
    """Create the indexes the plans lack by hand, measure again, drop them."""
    made = []
    began = time.perf_counter()
    for k, definition in enumerate(wanted):
        name = f"bench_ix_{k}"
        plain.execute(f"CREATE INDEX {name} ON {definition}")
        made.append(name)
    if plain.flavour.postgres:
        plain.execute("ANALYZE")
    built = time.perf_counter() - began
    try:
        spent = measure_rights(db, plain, people, args, result, "with the indexes tried")
        statements = {"access": plain.access_sql, "erasure": plain.erase_sql}
        for b in result.breakdown:
            k = statements[b.part].index(b.statement)
            b.after_s = spent.median(b.part, k)
            b.plan_after = plain.plan(b.statement, probe)
    finally:
        for name in made:
            plain.execute(f"DROP INDEX {name}")
    result.notes.append(
        f"{result.backend}: indexes tried by hand: {'; '.join(wanted)}; built in {built:.1f} s, dropped "
        "again before the retention run"
    )


# --- retention ------------------------------------------------------------------------------------


def sweeper_module() -> Any | None:
    try:
        return importlib.import_module("lawful.retention.sweeper")
    except ImportError:
        return None


@contextmanager
def copy_of(url: str, flavour: Flavour, workdir: Path, tag: str) -> Iterator[str]:
    """An identical copy of the database: the file on SQLite, a template copy on PostgreSQL."""
    if not flavour.postgres:
        path = Path(url.removeprefix("sqlite:///"))
        lite = sqlite3.connect(path)
        lite.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        lite.close()
        target = workdir / f"copy-{tag}.db"
        shutil.copyfile(path, target)
        try:
            yield f"sqlite:///{target}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
        return
    source = make_url(url).database
    name = f"{source}_{tag}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source}" STRATEGY FILE_COPY'))
        try:
            yield make_url(url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@dataclass
class Swept:
    """What the two sides of the retention runs did."""

    plain: list[float] = field(default_factory=list)
    sweeper: list[float] = field(default_factory=list)
    deleted: int = 0  # by the plain DELETE
    gone: dict[str, int] = field(default_factory=dict)  # rows the sweeper removed, per table
    added: dict[str, int] = field(default_factory=dict)  # and added (its log)
    report: Any = None


def plain_delete(url: str, flavour: Flavour, cutoff_ms: int, swept: Swept) -> None:
    conn = connect(url, flavour)
    try:
        begin(conn, flavour)
        began = time.perf_counter()
        swept.deleted = conn.execute(
            flavour.sql("DELETE FROM page_events WHERE ts < ?"), (cutoff_ms,)
        ).rowcount
        conn.commit()
        swept.plain.append(time.perf_counter() - began)
    finally:
        conn.close()


def sweep(url: str, flavour: Flavour, sweeper: Any, clock_at: datetime, swept: Swept) -> None:
    before = count_rows(url, flavour)
    db = Database(url, load_policy())
    try:
        began = time.perf_counter()
        swept.report = sweeper.run(db, now=clock_at, actor=Actor.system("retention:bench"))
        swept.sweeper.append(time.perf_counter() - began)
    finally:
        db.dispose()
    after = count_rows(url, flavour)
    swept.gone = {t: before[t] - after[t] for t in COUNTED if before[t] > after[t]}
    swept.added = {t: after[t] - before[t] for t in COUNTED if before[t] < after[t]}


def measure_retention(
    url: str, flavour: Flavour, workdir: Path, now: datetime, result: Result, rounds: int
) -> None:
    """Each round: two fresh copies of the database, the plain DELETE on one and the retention run
    on the other, taking turns at going first."""
    sweeper = sweeper_module()
    if sweeper is None:
        result.notes.append(
            f"{result.backend}: lawful.retention.sweeper does not exist; retention not measured"
        )
        return
    ahead = now + timedelta(days=RETENTION_AHEAD)
    cutoff_ms = int((ahead - timedelta(days=load_policy().monitoring.raw_event_days)).timestamp() * 1000)
    swept = Swept()
    for round_no in range(rounds):
        with (
            copy_of(url, flavour, workdir, "plain") as plain_copy,
            copy_of(url, flavour, workdir, "swept") as copy,
        ):
            take_turns(
                round_no,
                partial(plain_delete, plain_copy, flavour, cutoff_ms, swept),
                partial(sweep, copy, flavour, sweeper, ahead, swept),
            )
    result.rows.append(
        Row(
            f"plain SQL: DELETE FROM page_events WHERE ts < ?, one statement ({swept.deleted:,} rows)",
            swept.plain,
        )
    )
    result.rows.append(
        Row(
            f"sweeper.run(now = today + {RETENTION_AHEAD} days): the whole run, "
            f"{swept.gone.get('page_events', 0):,} page events expired (rolled up in the set-up)",
            swept.sweeper,
            GOAL_RETENTION,
            swept.plain,
        )
    )
    result.notes.append(
        f"{result.backend}: each retention run removed "
        + ", ".join(f"{n:,} {t}" for t, n in swept.gone.items())
        + (f" and added {', '.join(f'{n:,} {t}' for t, n in swept.added.items())}" if swept.added else "")
        + f"; its report: {_report_text(swept.report)}"
    )


def _report_text(report: Any) -> str:
    """The run's actions in one line."""
    actions = [a for a in getattr(report, "actions", []) if a.rows]
    done = ", ".join(f"{a.table} {a.action} {a.rows:,}" for a in actions) or "nothing"
    return f"{done}; {getattr(report, 'rolled_up', 0)} site-days rolled up during the run"


# --- one database ---------------------------------------------------------------------------------


def bench(label: str, url: str, args: argparse.Namespace, now: datetime, workdir: Path) -> Result:
    flavour = Flavour(postgres=label == "PostgreSQL")
    per_pass = 1 + args.rounds + 2 * (1 + args.erasures)
    needed = per_pass * (1 if args.no_index_check else 2) + 1  # and one for the plans
    with out.status(f"{label}: writing the data ({args.users:,} users, {args.events:,} page events)"):
        loaded = load(url, flavour, args, now, needed)
    result = Result(label, loaded)
    people = iter(loaded.subjects)
    probe = next(people)
    plain = Plain(url, flavour)
    db = Database(url, load_policy())
    try:
        with out.status(f"{label}: access packages and erasures"):
            spent = measure_rights(db, plain, people, args, result, "")
        for part, statements in (("access", plain.access_sql), ("erasure", plain.erase_sql)):
            for k, statement in enumerate(statements):
                result.breakdown.append(
                    Breakdown(part, statement, spent.median(part, k), plain.plan(statement, probe))
                )
        sizes = {t: plain.count(t) for t in {s.table for s in plain.access_sql + plain.erase_sql}}
        sizes["disclosures"] = plain.count("disclosures")
        wanted = missing_indexes(result, sizes)
        if args.no_index_check:
            pass
        elif not wanted:
            result.notes.append(
                f"{label}: every plain statement finds its rows through an index; none to try"
            )
        else:
            with out.status(f"{label}: again, with the indexes the plans lack"):
                index_check(db, plain, people, args, result, wanted, probe)
        result.sizes = sizes
    finally:
        plain.close()
        db.dispose()
    if not args.no_retention:
        with out.status(f"{label}: the retention run and the plain DELETE"):
            measure_retention(url, flavour, workdir, now, result, args.retention_rounds)
    return result


# --- output ---------------------------------------------------------------------------------------

HEADER = ["database", "measured", "median ms", "p95 ms", "rounds", "× plain SQL", "goal", "met"]
DATA_HEADER = ["database", "rows", "written in", "database size"]
BREAKDOWN_HEADER = [
    "database",
    "plain statement",
    "looked up by",
    "table rows",
    "ms (median)",
    "plan",
    "ms with the indexes tried",
    "plan with them",
]


def fmt_ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.2f}" if ms < 10 else f"{ms:.1f}" if ms < 1000 else f"{ms:,.0f}"


def result_rows(results: list[Result]) -> list[list[str]]:
    rows = []
    for r in results:
        for row in r.rows:
            ratio = f"{row.median / statistics.median(row.plain):.1f}" if row.plain else ""
            goal = f"≤ {row.goal * 1000:,.0f} ms" if row.goal else ""
            met = ("met" if row.median <= row.goal else "MISSED") if row.goal else ""
            rows.append(
                [
                    r.backend,
                    row.label,
                    fmt_ms(row.median),
                    fmt_ms(p95(row.seconds)),
                    str(len(row.seconds)),
                    ratio,
                    goal,
                    met,
                ]
            )
    return rows


def data_rows(results: list[Result]) -> list[list[str]]:
    rows = []
    for r in results:
        counts = ", ".join(f"{t} {n:,}" for t, n in r.loaded.rows.items())
        written = ", ".join(f"{k} {v:.0f} s" for k, v in r.loaded.seconds.items())
        rows.append([r.backend, counts, written, f"{r.loaded.bytes / 1e6:,.0f} MB"])
    return rows


#: A plain statement is listed in the breakdown when it takes this long, or reads a big table whole.
SHOWN_FROM_S = 0.001


def breakdown_rows(results: list[Result]) -> list[list[str]]:
    rows = []
    for r in results:
        quick = 0
        for b in r.breakdown:
            slow = b.before_s >= SHOWN_FROM_S or (b.after_s or 0) >= SHOWN_FROM_S
            if not slow and not scanned(b.plan_before, r.sizes):
                quick += 1
                continue
            rows.append(
                [
                    r.backend,
                    f"{b.part}: {b.statement.table}",
                    b.statement.column,
                    f"{r.sizes.get(b.statement.table, 0):,}",
                    fmt_ms(b.before_s),
                    b.plan_before.text,
                    "" if b.after_s is None else fmt_ms(b.after_s),
                    "" if b.plan_after is None else b.plan_after.text,
                ]
            )
        rows.append(
            [
                r.backend,
                f"the other {quick} statements",
                "",
                "",
                f"< {SHOWN_FROM_S * 1000:.0f} each",
                f"none reads a table of {SMALL_TABLE:,}+ rows whole",
                "",
                "",
            ]
        )
    return rows


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=100_000, help="customers' users")
    parser.add_argument("--customers", type=int, default=10_000, help="customers (a third sole proprietors)")
    parser.add_argument(
        "--events", type=int, default=10_000_000, help="tracker events (page_events) in the last 30 days"
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=15, help="access packages measured (a user each)")
    parser.add_argument("--erasures", type=int, default=9, help="erasures measured per side (a user each)")
    parser.add_argument(
        "--no-index-check", action="store_true", help="skip the run with the missing indexes made by hand"
    )
    parser.add_argument(
        "--retention-rounds",
        type=int,
        default=2,
        help="retention runs (and plain DELETEs), each on fresh copies",
    )
    parser.add_argument("--no-retention", action="store_true", help="skip the retention run")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    if (
        min(args.users, args.customers, args.rounds, args.erasures, args.retention_rounds) < 1
        or args.events < 0
    ):
        parser.error("--users, --customers, --rounds, --erasures and --retention-rounds must be at least 1")
    if args.users < args.customers:
        parser.error("--users must be at least --customers (every customer has a user)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.perf_counter()
    loads = [os.getloadavg()[0]]
    now = datetime.now(UTC)
    out.print(
        f"[bold]rights[/] — {args.users:,} users, {args.customers:,} customers, {args.events:,} page events; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average {loads[0]:.2f}"
    )
    notes = [revision(), *check_coverage()]
    versions = [
        f"Python {platform.python_version()}",
        f"SQLAlchemy {sqlalchemy.__version__}",
        f"SQLite {sqlite3.sqlite_version}",
    ]
    backends: list[tuple[str, Callable[[], Any]]] = []
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="lawful-rights-") as tmp:
        workdir = Path(tmp)
        if args.db in ("sqlite", "both"):
            backends.append(("SQLite", lambda: sqlite_url(workdir, "rights")))
        if args.db in ("postgresql", "both"):
            reason = postgres_unreachable()
            if reason:
                notes.append(f"PostgreSQL skipped: {reason}")
            else:
                backends.append(("PostgreSQL", postgres_url))
        for label, make in backends:
            with make() as url:
                if label == "PostgreSQL":
                    with psycopg.connect(libpq_url(url)) as conn:
                        row = conn.execute("SHOW server_version").fetchone()
                        versions.append(f"PostgreSQL {str(row[0]).split()[0] if row else '?'}")
                result = bench(label, url, args, now, workdir)
            loads.append(os.getloadavg()[0])
            results.append(result)
            notes += result.notes
    notes.append(
        f"{', '.join(versions)}; access median of {args.rounds} rounds, erasure of {args.erasures} per side, "
        f"sides taking turns at going first; load average {min(loads):.1f}-{max(loads):.1f} on "
        f"{os.cpu_count()} CPUs; {time.perf_counter() - began:.0f} s in all"
    )
    report(
        out,
        [
            ("The data", DATA_HEADER, data_rows(results), right_aligned),
            ("Data-subject rights and retention", HEADER, result_rows(results), right_aligned),
            ("Where the plain SQL spends its time", BREAKDOWN_HEADER, breakdown_rows(results), right_aligned),
        ],
        notes,
    )
    return 0


def right_aligned(i: int, name: str) -> bool:
    return "ms" in name or name in ("rounds", "× plain SQL")


if __name__ == "__main__":
    sys.exit(main())
