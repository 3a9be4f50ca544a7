"""Rating a month of usage for 10,000 customers over 10M usage events, against a plain GROUP BY.

A generator writes straight to the store: 10,000 company customers (Netherlands, Germany with
valid VAT numbers for reverse charge, United States outside the scope of EU VAT), the catalogue
of the billing tests (metrics ``api_calls`` counting ``api.call`` events, ``storage_gb`` taking
the largest ``storage`` value, ``seats`` counting the distinct ``seat`` property of ``login``
events; a Starter plan with a standard price and included calls, a Business plan with graduated,
package and volume prices and a minimum commitment, a Scale plan with a volume price), one
subscription per customer (a few start in the middle of the month, change plan in the middle of
it or end in it, as the run prorates them), and 10M usage events in the month, in time order,
with the columns the usage API writes (a quarter of the customers make most of the usage).
Rows go in with ``executemany`` (SQLite) or ``COPY`` (PostgreSQL, then ``VACUUM ANALYZE``, as
autovacuum would have done during the month); the table's secondary indexes are dropped during
the load and created again afterwards (the same definitions), which is faster and ends in the
same schema.

Then, in the same run and on the same data, the sides taking turns round by round:

- the limit: the plain SQL ``SELECT customer_id, code, count(*), sum(value_micros),
  max(value_micros) FROM usage_events WHERE ts >= ? AND ts < ? GROUP BY customer_id, code``
  through the bare driver (``sqlite3`` / ``psycopg``), plus the plain SQL of the unique count
  the rating also has to run (``count(DISTINCT <the seat property>)`` of the ``login`` events);
- :func:`lawful.billing.run.rate_period` for the month in a unit of work under ``contract``
  (the billing job's purpose): aggregation and pricing of every customer, nothing written;
  the time inside :func:`lawful.billing.metrics.aggregate` is measured apart (the whole month's
  pass, and the passes over the partial months of prorated subscriptions);
- :func:`lawful.billing.service.run`: rating and writing the 10,000 draft invoices, then the same
  run again, when nothing changed;
- :func:`lawful.billing.service.finalise_drafts`: every draft, each in its own transaction
  (number, buyer and VAT as of the day, the e-mail queued);
- documents of about 20 finalised invoices: :func:`lawful.billing.pdf.render_pdf`,
  :func:`lawful.billing.pdf.render_facturx` and :func:`lawful.billing.ubl.to_ubl`, ms each.

Goal: rating at most 2x the limit.

    .venv/bin/python bench/billing.py                                     # 10M events, SQLite and PostgreSQL
    .venv/bin/python bench/billing.py --events 200000 --customers 2000 --backend sqlite
    .venv/bin/python bench/billing.py --events 1000000 --profile          # and a cProfile of the rating
"""

from __future__ import annotations

import argparse
import bisect
import cProfile
import io
import itertools
import os
import platform
import pstats
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy
from rich.console import Console
from sqlalchemy import func, insert, select

from common import libpq_url, postgres_unreachable, postgres_url, report, revision, sqlite_url
from lawful.billing import catalogue, invoices, pdf, run, service
from lawful.billing.catalogue import ChargeInput
from lawful.billing.models import Invoice, InvoiceLine, InvoiceStatus, Subscription
from lawful.billing.ubl import to_ubl
from lawful.customers.models import Customer, CustomerKind, CustomerStatus
from lawful.data.base import new_id
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.demo import vat_number
from lawful.monitoring import usage
from lawful.policy.loader import load_policy
from lawful.settings import Settings

GOAL = 2.0
PURPOSE = service.PURPOSE
SYSTEM = Actor.system("bench")
CHUNK = 100_000
BATCH = 5_000
MICROS = 1_000_000

# The month's customers: where they are, and what their subscriptions do in the month.
COUNTRIES = {"NL": 0.78, "DE": 0.14, "US": 0.08}
PLANS = {"starter": 0.55, "business": 0.35, "scale": 0.10}
MID_MONTH_START = 0.010  # subscribed during the month
PLAN_CHANGE = 0.010  # moved to another plan during the month
CANCELLED = 0.005  # ended during the month
WITHOUT_USAGE = 0.05  # subscribed, no usage at all
# The month's events.
CODES = {"api.call": 0.85, "login": 0.12, "storage": 0.03}
HEAVY_SHARE = 0.25  # a quarter of the customers with usage ...
HEAVY_WEIGHT = 0.75  # ... make three quarters of it

STEMS = [
    "Noordlicht", "Polderwind", "Deltaweg", "Kadewerk", "Duinroos", "Molenwiek", "Zeewind", "Lindehof",
    "Eikenhout", "Waterland", "Rheinblick", "Elbufer", "Harborview", "Lakeshore", "Summit", "Prairie",
]  # fmt: skip
TRADE = ["Software", "Logistics", "Data", "Media", "Hosting", "Analytics", "Design", "Engineering"]
PLACES = {
    "NL": [("Amsterdam", "1015 AA"), ("Utrecht", "3511 AB"), ("Rotterdam", "3011 CD"), ("Zwolle", "8011 EF")],
    "DE": [("Köln", "50667"), ("Berlin", "10115"), ("München", "80331"), ("Hamburg", "20095")],
    "US": [("Boston, MA", "02110"), ("Austin, TX", "78701"), ("Seattle, WA", "98101")],
}
FORMS = {"NL": "B.V.", "DE": "GmbH", "US": "Inc."}

out = Console() if sys.stdout.isatty() else Console(width=170)


def month_of(today: date) -> date:
    """The last full month before ``today``: the month the billing job rates on ``today``."""
    return run.month_start(run.month_start(today) - timedelta(days=1))


# --- the catalogue, the customers and their subscriptions ---------------------------------------


def make_catalogue(db: Database) -> dict[str, uuid.UUID]:
    """The billing tests' metrics and plans (through the catalogue service), and a Scale plan."""
    with db.unit_of_work(PURPOSE, SYSTEM) as session:
        catalogue.create_metric(
            session,
            code="api_calls",
            name="API calls",
            event_code="api.call",
            aggregation="count",
            unit="calls",
        )
        catalogue.create_metric(
            session, code="storage_gb", name="Storage", event_code="storage", aggregation="max", unit="GB"
        )
        catalogue.create_metric(
            session,
            code="seats",
            name="Active seats",
            event_code="login",
            aggregation="unique_count",
            distinct_property="seat",
            unit="seats",
        )
        plans = [
            catalogue.create_plan(
                session,
                code="starter",
                name="Starter",
                base_fee="19.00",
                charges=[ChargeInput("api_calls", "standard", {"unit_price": "0.002"}, included=1000)],
            ),
            catalogue.create_plan(
                session,
                code="business",
                name="Business",
                base_fee="99.00",
                minimum="150.00",
                charges=[
                    ChargeInput(
                        "api_calls",
                        "graduated",
                        {
                            "tiers": [
                                {"up_to": "10000", "unit_price": "0.002"},
                                {"up_to": None, "unit_price": "0.001"},
                            ]
                        },
                    ),
                    ChargeInput("storage_gb", "package", {"package_size": "10", "package_price": "5"}),
                    ChargeInput(
                        "seats",
                        "volume",
                        {"tiers": [{"up_to": "5", "unit_price": "8"}, {"up_to": None, "unit_price": "6"}]},
                    ),
                ],
            ),
            catalogue.create_plan(
                session,
                code="scale",
                name="Scale",
                base_fee="490.00",
                charges=[
                    ChargeInput(
                        "api_calls",
                        "volume",
                        {
                            "tiers": [
                                {"up_to": "100000", "unit_price": "0.0012"},
                                {"up_to": "1000000", "unit_price": "0.0008", "flat_fee": "25"},
                                {"up_to": None, "unit_price": "0.0005", "flat_fee": "100"},
                            ]
                        },
                        included=20000,
                    ),
                    ChargeInput("storage_gb", "standard", {"unit_price": "0.25"}, included=100),
                ],
            ),
        ]
        return {p.code: p.id for p in plans}


@dataclass
class Population:
    """The customers, subscriptions and usage weights of one run (the same for every backend)."""

    customers: list[dict[str, Any]]
    subscriptions: list[dict[str, Any]]
    weights: list[float]  # cumulative usage weight per customer (customers without usage add nothing)
    seats: list[int]  # distinct seats per customer
    partial: int  # subscriptions whose window covers part of the month
    countries: dict[str, int]


def population(rng: random.Random, count: int, month: date, plan_ids: dict[str, uuid.UUID]) -> Population:
    now = datetime.now(UTC)
    following = run.next_month(month)
    customers: list[dict[str, Any]] = []
    subscriptions: list[dict[str, Any]] = []
    weights: list[float] = []
    seats: list[int] = []
    partial = 0
    countries: dict[str, int] = dict.fromkeys(COUNTRIES, 0)
    plan_codes, plan_shares = list(PLANS), list(PLANS.values())
    codes, shares = list(COUNTRIES), list(COUNTRIES.values())
    for i in range(count):
        country = rng.choices(codes, shares)[0]
        countries[country] += 1
        city, postal = rng.choice(PLACES[country])
        customer_id = new_id()
        customers.append(
            {
                "id": customer_id,
                "kind": CustomerKind.company,
                "legal_name": f"{rng.choice(STEMS)} {rng.choice(TRADE)} {i} {FORMS[country]}",
                "kvk_number": f"{10_000_000 + i}" if country == "NL" else None,
                "vat_number": vat_number(rng, country),
                "billing_email": f"billing@customer{i}.example",
                "status": CustomerStatus.active,
                "contract_start": date(2024, 1, 1) + timedelta(days=rng.randint(0, 600)),
                "street": f"Street {rng.randint(1, 200)}",
                "postal_code": postal,
                "city": city,
                "country": country,
                "created_at": now,
                "updated_at": now,
            }
        )
        plan = rng.choices(plan_codes, plan_shares)[0]
        roll = rng.random()
        day = month + timedelta(days=rng.randint(1, run.days_in(month) - 2))
        earlier = month - timedelta(days=rng.randint(30, 600))
        rows: list[tuple[str, date, date | None]]
        if roll < MID_MONTH_START:
            rows = [(plan, day, None)]
        elif roll < MID_MONTH_START + PLAN_CHANGE:
            other = rng.choice([p for p in plan_codes if p != plan])
            rows = [(plan, earlier, day), (other, day, None)]
        elif roll < MID_MONTH_START + PLAN_CHANGE + CANCELLED:
            rows = [(plan, earlier, day)]
        else:
            rows = [(plan, earlier, None)]
        for code, starts, ends in rows:
            subscriptions.append(
                {
                    "id": new_id(),
                    "customer_id": customer_id,
                    "plan_id": plan_ids[code],
                    "starts_on": starts,
                    "ends_on": ends,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if starts > month or (ends is not None and ends < following):
                partial += 1
        if rng.random() < WITHOUT_USAGE:
            weights.append(0.0)
        else:
            heavy = rng.random() < HEAVY_SHARE
            share = HEAVY_WEIGHT / HEAVY_SHARE if heavy else (1 - HEAVY_WEIGHT) / (1 - HEAVY_SHARE)
            weights.append(share * rng.lognormvariate(0, 0.6))
        seats.append(rng.randint(1, 40))
    return Population(
        customers, subscriptions, list(itertools.accumulate(weights)), seats, partial, countries
    )


def write_population(db: Database, people: Population) -> None:
    """Customers and subscriptions with Core inserts in batches, each batch a unit of work."""
    for model, rows in ((Customer, people.customers), (Subscription, people.subscriptions)):
        for offset in range(0, len(rows), BATCH):
            with db.unit_of_work(PURPOSE, SYSTEM) as session:
                session.execute(insert(model), rows[offset : offset + BATCH])


def usage_service(db: Database) -> uuid.UUID:
    with db.unit_of_work(PURPOSE, SYSTEM) as session:
        made, _ = usage.create_service(session, name="bench")
        return made.id


# --- the usage events -----------------------------------------------------------------------------

EVENT_COLUMNS = (
    "service_id, idempotency_key, customer_id, user_id, code, ts, value_micros, properties, received_at"
)


def events(
    rng: random.Random, people: Population, total: int, month: date, service_id: Any, keys: list[Any]
) -> Iterator[list[tuple[Any, ...]]]:
    """``total`` events over the month in time order, in chunks of :data:`CHUNK` rows.

    ``keys`` are the customer ids as the driver takes them (hex on SQLite, UUID on PostgreSQL).
    """
    start_ms = run.to_ms(month)
    span = run.to_ms(run.next_month(month)) - start_ms
    weights = people.weights
    codes, code_weights = list(CODES), list(itertools.accumulate(CODES.values()))
    seats = people.seats
    made = 0
    chunks = max(1, -(-total // CHUNK))
    for c in range(chunks):
        n = min(CHUNK, total - made)
        low = start_ms + span * c // chunks
        width = start_ms + span * (c + 1) // chunks - low
        stamps = sorted(low + int(rng.random() * width) for _ in range(n))
        who = [bisect.bisect_right(weights, rng.random() * weights[-1]) for _ in range(n)]
        what = rng.choices(codes, cum_weights=code_weights, k=n)
        rows = []
        for j in range(n):
            customer, code, ts = who[j], what[j], stamps[j]
            if code == "api.call":
                value, props = MICROS, None
            elif code == "login":
                value, props = MICROS, f'{{"seat":"s{rng.randrange(seats[customer])}"}}'
            else:
                value, props = rng.randrange(1, 500) * MICROS + rng.randrange(MICROS), None
            rows.append(
                (service_id, f"b{made + j:09x}", keys[customer], None, code, ts, value, props, ts + 1500)
            )
        made += n
        yield rows


def secondary_indexes(conn: Any, postgres: bool) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the usage_events indexes that no constraint owns."""
    if postgres:
        found = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = 'usage_events' "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        ).fetchall()
    else:
        found = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage_events' "
            "AND sql IS NOT NULL"
        ).fetchall()
    return [(str(name), str(sql)) for name, sql in found]


def write_sqlite(path: str, chunks: Iterator[list[tuple[Any, ...]]], progress: Callable[[int], None]) -> int:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        indexes = secondary_indexes(conn, postgres=False)
        with conn:
            for name, _ in indexes:
                conn.execute(f'DROP INDEX "{name}"')
        written = 0
        statement = f"INSERT INTO usage_events ({EVENT_COLUMNS}) VALUES ({', '.join('?' * 9)})"
        for rows in chunks:
            with conn:
                conn.executemany(statement, rows)
            written += len(rows)
            progress(written)
        with conn:
            for _, sql in indexes:
                conn.execute(sql)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return written
    finally:
        conn.close()


def copy_text(rows: list[tuple[Any, ...]]) -> str:
    """Rows in COPY's text format (no value here holds a tab, a newline or a backslash)."""
    return "".join("\t".join("\\N" if v is None else str(v) for v in row) + "\n" for row in rows)


def write_postgres(url: str, chunks: Iterator[list[tuple[Any, ...]]], progress: Callable[[int], None]) -> int:
    with psycopg.connect(libpq_url(url)) as conn:
        indexes = secondary_indexes(conn, postgres=True)
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        written = 0
        with conn.cursor() as cursor:
            for rows in chunks:
                with cursor.copy(f"COPY usage_events ({EVENT_COLUMNS}) FROM STDIN") as copy:
                    copy.write(copy_text(rows))
                written += len(rows)
                progress(written)
        for _, sql in indexes:
            conn.execute(sql)
        conn.commit()
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return written


# --- databases ----------------------------------------------------------------------------------


def server_version(url: str) -> str:
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]).split()[0] if row else "?"


def table_bytes(url: str, postgres: bool) -> int:
    """Bytes of usage_events with its indexes."""
    if postgres:
        with psycopg.connect(libpq_url(url)) as conn:
            row = conn.execute("SELECT pg_total_relation_size('usage_events')").fetchone()
            return int(row[0]) if row else 0
    lite = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        names = [r[0] for r in lite.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'usage_events'")]
        row = lite.execute(
            f"SELECT sum(pgsize) FROM dbstat WHERE name IN ({', '.join('?' * len(names))})", names
        ).fetchone()
        return int(row[0] or 0)
    finally:
        lite.close()


# --- the limit: plain SQL through the bare driver --------------------------------------------------

GROUP_BY = (
    "SELECT customer_id, code, count(*), sum(value_micros), max(value_micros) FROM usage_events "
    "WHERE ts >= {p} AND ts < {p} GROUP BY customer_id, code"
)
UNIQUE = {
    "sqlite": "SELECT customer_id, count(DISTINCT json_extract(properties, '$.seat')) FROM usage_events "
    "WHERE ts >= ? AND ts < ? AND code = 'login' GROUP BY customer_id",
    "postgresql": "SELECT customer_id, count(DISTINCT properties::json ->> 'seat') FROM usage_events "
    "WHERE ts >= %s AND ts < %s AND code = 'login' GROUP BY customer_id",
}


class Plain:
    """One bare driver connection, running the plain SQL of the limit."""

    def __init__(self, url: str, postgres: bool) -> None:
        self.postgres = postgres
        self.conn: Any = (
            psycopg.connect(libpq_url(url), autocommit=True)
            if postgres
            else sqlite3.connect(url.removeprefix("sqlite:///"))
        )
        self.group_by = GROUP_BY.format(p="%s" if postgres else "?")
        self.unique = UNIQUE["postgresql" if postgres else "sqlite"]

    def query(self, sql: str, month: date) -> int:
        rows = self.conn.execute(sql, (run.to_ms(month), run.to_ms(run.next_month(month)))).fetchall()
        return len(rows)

    def plan(self, sql: str, month: date) -> str:
        """How the database runs a query, in one line."""
        bounds = (run.to_ms(month), run.to_ms(run.next_month(month)))
        if self.postgres:
            lines = [str(r[0]) for r in self.conn.execute("EXPLAIN " + sql, bounds).fetchall()]
            nodes = [line.strip().removeprefix("->").split("  (")[0].strip() for line in lines]
            return " < ".join(n for n in nodes if n and not n.startswith(("Filter", "Group Key", "Workers")))
        return "; ".join(str(r[-1]) for r in self.conn.execute("EXPLAIN QUERY PLAN " + sql, bounds))

    def close(self) -> None:
        self.conn.close()


# --- timing -------------------------------------------------------------------------------------


@dataclass
class Aggregates:
    """Time spent inside metrics.aggregate during one rating, for the whole month and for parts."""

    whole_s: float = 0.0
    partial_s: float = 0.0
    partial_calls: int = 0

    def reset(self) -> None:
        self.whole_s = self.partial_s = 0.0
        self.partial_calls = 0


@contextmanager
def timed_aggregates(spent: Aggregates) -> Iterator[None]:
    """Wrap the ``aggregate`` that the run module calls, to split the rating's time (bench only)."""
    name = "aggregate"  # run.py's own name for metrics.aggregate
    original = getattr(run, name)

    def wrapper(session: Any, specs: Any, start_ms: int, end_ms: int, customers: Any = None) -> Any:
        began = time.perf_counter()
        try:
            return original(session, specs, start_ms, end_ms, customers)
        finally:
            elapsed = time.perf_counter() - began
            if customers is None:
                spent.whole_s += elapsed
            else:
                spent.partial_s += elapsed
                spent.partial_calls += 1

    setattr(run, name, wrapper)
    try:
        yield
    finally:
        setattr(run, name, original)


@dataclass
class Row:
    label: str
    seconds: list[float]
    count: int = 0  # invoices or documents, for the time per item
    per: str = ""  # "invoice", "document"
    limit: bool = False  # part of the limit
    ratio: bool = False  # compared with the limit
    goal: bool = False  # the goal applies

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass
class Result:
    backend: str
    events: int
    customers: int
    subscriptions: int
    partial: int
    countries: dict[str, int]
    seconds_write: float
    table_bytes: int
    rows: list[Row] = field(default_factory=list)
    limit_s: float = 0.0
    group_by_s: float = 0.0
    drafts: int = 0
    lines: int = 0
    group_rows: int = 0
    rated_customers: int = 0
    profile: str = ""
    notes: list[str] = field(default_factory=list)


def rate(db: Database, month: date, settings: Settings) -> run.Rating:
    """What the billing run computes, without writing: the rating under the billing purpose."""
    with db.unit_of_work(PURPOSE, service.JOB) as session:
        return run.rate_period(
            session, month, vat_rate=settings.vat_rate, checker=service.checker_for(settings)
        )


def bench(backend: str, url: str, args: argparse.Namespace, today: date, settings: Settings) -> Result:
    postgres = backend == "PostgreSQL"
    month = month_of(today)
    db = Database(url, load_policy())
    try:
        rng = random.Random(args.seed)
        plan_ids = make_catalogue(db)
        people = population(rng, args.customers, month, plan_ids)
        write_population(db, people)
        service_id = usage_service(db)
        # as the drivers take them: COPY text on PostgreSQL, SQLAlchemy's hex form on SQLite
        keys = [str(c["id"]) if postgres else c["id"].hex for c in people.customers]
        sid = str(service_id) if postgres else service_id.hex
        started = time.perf_counter()
        with out.status(f"{backend}: writing {args.events:,} usage events") as status:

            def progress(done: int) -> None:
                status.update(f"{backend}: writing usage events, {done:,} of {args.events:,}")

            chunks = events(rng, people, args.events, month, sid, keys)
            if postgres:
                write_postgres(url, chunks, progress)
            else:
                write_sqlite(url.removeprefix("sqlite:///"), chunks, progress)
        written = time.perf_counter() - started
        result = Result(
            backend,
            args.events,
            args.customers,
            len(people.subscriptions),
            people.partial,
            people.countries,
            written,
            table_bytes(url, postgres),
        )
        plain = Plain(url, postgres)
        spent = Aggregates()
        try:
            group_by, unique, rating = [], [], []
            whole, partial = [], []
            with out.status(f"{backend}: the GROUP BY and the rating, {args.rounds} rounds"):
                result.notes.append(f"{backend}: the GROUP BY runs as {plain.plan(plain.group_by, month)}")
                result.group_rows = plain.query(plain.group_by, month)  # warm-up, untimed
                rate(db, month, settings)

                def rating_side() -> None:
                    spent.reset()
                    rating.append(clock(lambda: rate(db, month, settings)))
                    whole.append(spent.whole_s)
                    partial.append(spent.partial_s)

                sides: list[Callable[[], None]] = [
                    lambda: group_by.append(clock(lambda: plain.query(plain.group_by, month))),
                    lambda: unique.append(clock(lambda: plain.query(plain.unique, month))),
                    rating_side,
                ]
                with timed_aggregates(spent):
                    for round_no in range(args.rounds):
                        for side in sides if round_no % 2 == 0 else sides[::-1]:
                            side()
            rated = rate(db, month, settings)
            result.rated_customers = len(rated.drafts)
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                rate(db, month, settings)
                profiler.disable()
                buffer = io.StringIO()
                pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats(35)
                result.profile = buffer.getvalue()
        finally:
            plain.close()
        limit = [g + u for g, u in zip(group_by, unique, strict=True)]
        result.limit_s = statistics.median(limit)
        result.group_by_s = statistics.median(group_by)
        rest = [r - w - p for r, w, p in zip(rating, whole, partial, strict=True)]
        drafted = sum(1 for d in rated.drafts.values() if d.lines)
        result.rows += [
            Row("plain SQL: GROUP BY customer_id, code over the month (all codes)", group_by, limit=True),
            Row("plain SQL: count(DISTINCT seat) of the login events per customer", unique, limit=True),
            Row("the limit: both plain queries", limit, limit=True, ratio=True),
            Row(
                f"rate_period: aggregation and pricing of {drafted:,} customers (nothing written)",
                rating,
                drafted,
                "customer",
                ratio=True,
                goal=True,
            ),
            Row("  of which aggregate() over the whole month (ORM, 2 statements)", whole, ratio=True),
            Row(
                f"  of which aggregate() over partial months ({spent.partial_calls:,} prorated "
                "subscriptions)",
                partial,
                spent.partial_calls,
                "subscription",
            ),
            Row("  of which the rest (subscriptions, customers, pricing, lines)", rest, drafted, "customer"),
        ]
        with out.status(f"{backend}: service.run, writing the drafts"):
            first = clock(lambda: service.run(db, month, settings=settings))
            again = clock(lambda: service.run(db, month, settings=settings))
        with db.unit_of_work(PURPOSE, SYSTEM) as session:
            result.drafts = int(
                session.scalar(select(func.count()).select_from(Invoice).where(Invoice.period == month)) or 0
            )
            result.lines = int(session.scalar(select(func.count()).select_from(InvoiceLine)) or 0)
        result.rows += [
            Row(
                f"service.run: rating and writing {result.drafts:,} drafts ({result.lines:,} lines)",
                [first],
                result.drafts,
                "invoice",
                ratio=True,
            ),
            Row("service.run again, nothing changed", [again], result.drafts, "invoice", ratio=True),
        ]
        with out.status(f"{backend}: finalising {result.drafts:,} drafts"):
            finalising = run.next_month(month) + timedelta(days=1)
            began = time.perf_counter()
            done = service.finalise_drafts(db, today=finalising, settings=settings, period=month)
            final = time.perf_counter() - began
        if done.failed:
            raise SystemExit(f"{backend}: {len(done.failed)} drafts were not finalised: {done.failed[:3]}")
        result.rows.append(
            Row(
                f"service.finalise_drafts: {len(done.numbers):,} invoices, a transaction each",
                [final],
                len(done.numbers),
                "invoice",
            )
        )
        with out.status(f"{backend}: rendering documents"):
            result.rows += render(db, settings, args.documents, random.Random(args.seed + 1), result)
        return result
    finally:
        db.dispose()


def clock(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def render(db: Database, settings: Settings, count: int, rng: random.Random, result: Result) -> list[Row]:
    """Documents of ``count`` finalised invoices, a mix of countries, sizes and plans: ms each."""
    with db.unit_of_work(PURPOSE, SYSTEM) as session:
        found = list(
            session.execute(
                select(Invoice.id, Invoice.buyer_country).where(Invoice.status == InvoiceStatus.finalised)
            )
        )
        by_country: dict[str, list[uuid.UUID]] = {}
        for invoice_id, country in found:
            by_country.setdefault(country, []).append(invoice_id)
        picked: list[uuid.UUID] = []
        for ids in by_country.values():  # every country, then at random
            picked += rng.sample(ids, min(len(ids), max(1, count // 6)))
        rest = [i for i, _ in found if i not in set(picked)]
        picked += rng.sample(rest, max(0, min(len(rest), count - len(picked))))
        documents = []
        for invoice_id in picked[:count]:
            invoice = invoices.get_invoice(session, invoice_id)
            documents.append(invoices.document_of(session, invoice, policy=db.policy, settings=settings))
    if not documents:
        return []
    first = clock(lambda: pdf.render_facturx(documents[0]))  # fonts, templates: once per process
    result.notes.append(
        f"{result.backend}: the first Factur-X rendering of the process took {first * 1000:.0f} ms "
        "(fonts and templates loaded once), not counted below"
    )
    lines = statistics.median(len(d.lines) for d in documents)
    rows = []
    for label, call in (
        ("render_pdf", pdf.render_pdf),
        ("render_facturx (the PDF with the CII XML, XSD-checked)", pdf.render_facturx),
        ("to_ubl (UBL 2.1 XML)", to_ubl),
    ):
        times = [clock(lambda d=doc, f=call: f(d)) for doc in documents]  # type: ignore[misc]
        rows.append(
            Row(f"{label}, {len(documents)} documents ({lines:.0f} lines median)", times, 1, "document")
        )
    return rows


# --- output ------------------------------------------------------------------------------------

HEADER = ["database", "measured", "seconds (median)", "per item", "× the limit", f"goal ≤ {GOAL:.0f}×"]
DATA_HEADER = [
    "database",
    "usage events",
    "customers (NL / DE / US)",
    "subscriptions (partial month)",
    "GROUP BY rows",
    "bytes of usage_events",
    "written in",
]


def result_rows(results: list[Result]) -> list[list[str]]:
    rows = []
    for r in results:
        for row in r.rows:
            per = ""
            if row.count and row.per:
                each = row.median / row.count
                per = f"{each * 1000:.2f} ms per {row.per}" if each < 1 else f"{each:.2f} s per {row.per}"
            seconds = f"{row.median:.3f}" if row.median < 10 else f"{row.median:.1f}"
            ratio = f"{row.median / r.limit_s:.2f}" if row.ratio and r.limit_s else ""
            goal = ("met" if row.median <= GOAL * r.limit_s else "MISSED") if row.goal else ""
            rows.append([r.backend, row.label, seconds, per, ratio, goal])
    return rows


def data_rows(results: list[Result]) -> list[list[str]]:
    return [
        [
            r.backend,
            f"{r.events:,}",
            f"{r.customers:,} ({' / '.join(f'{n:,}' for n in r.countries.values())})",
            f"{r.subscriptions:,} ({r.partial:,})",
            f"{r.group_rows:,}",
            f"{r.table_bytes / 1e6:,.0f} MB",
            f"{r.seconds_write:.0f} s",
        ]
        for r in results
    ]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=10_000_000, help="usage events in the month")
    parser.add_argument("--customers", type=int, default=10_000, help="customers, one subscription each")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the GROUP BY and the rating")
    parser.add_argument("--documents", type=int, default=20, help="invoices whose documents are rendered")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one rating")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    if min(args.events, args.customers, args.rounds) < 1 or args.documents < 0:
        parser.error("--events, --customers and --rounds must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.perf_counter()
    loads = [os.getloadavg()[0]]
    today = datetime.now(UTC).date()
    settings = Settings()
    out.print(
        f"[bold]billing[/] — {args.customers:,} customers, {args.events:,} usage events in "
        f"{month_of(today):%B %Y}; Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {loads[0]:.2f}"
    )
    notes = [revision()]
    versions = [
        f"Python {platform.python_version()}",
        f"SQLAlchemy {sqlalchemy.__version__}",
        f"SQLite {sqlite3.sqlite_version}",
    ]
    backends: list[tuple[str, Callable[[], Any]]] = []
    with tempfile.TemporaryDirectory(prefix="lawful-billing-") as tmp:
        if args.backend in ("sqlite", "both"):
            backends.append(("SQLite", lambda: sqlite_url(Path(tmp), "billing")))
        if args.backend in ("postgresql", "both"):
            reason = postgres_unreachable()
            if reason:
                notes.append(f"PostgreSQL skipped: {reason}")
            else:
                backends.append(("PostgreSQL", postgres_url))
        results: list[Result] = []
        for label, make in backends:
            with make() as url:
                if label == "PostgreSQL":
                    versions.append(f"PostgreSQL {server_version(url)}")
                result = bench(label, url, args, today, settings)
            loads.append(os.getloadavg()[0])
            results.append(result)
            notes += result.notes
            notes.append(
                f"{label}: {result.rated_customers:,} customers rated, {result.drafts:,} drafts; "
                f"usage events written in {result.seconds_write:.0f} s"
            )
            if result.profile:
                out.print(f"[bold]profile: rate_period, {label}[/]\n{result.profile}")
    notes.append(
        f"{', '.join(versions)}; GROUP BY and rating interleaved, median of {args.rounds} rounds; "
        f"load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} CPUs; "
        f"{time.perf_counter() - began:.0f} s in all"
    )
    report(
        out,
        [
            ("The month's data", DATA_HEADER, data_rows(results), right_aligned),
            ("Billing a month", HEADER, result_rows(results), right_aligned),
        ],
        notes,
    )
    return 0


def right_aligned(i: int, name: str) -> bool:
    return 2 <= i <= 4 and name != "measured"


if __name__ == "__main__":
    sys.exit(main())
