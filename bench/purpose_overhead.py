"""Purpose-bound access against plain SQLAlchemy, on the same table, in one run.

Both sides use the same ORM models (``ContactPerson`` rows under ``Customer`` parents), the same
table, the same data and the same batching:

- *plain*: an engine from :func:`lawful.data.db.make_engine` (no purpose check) and a plain
  :class:`sqlalchemy.orm.Session`, one transaction per batch;
- *purpose*: :class:`lawful.data.db.Database` and ``db.unit_of_work("contract", actor)``, one unit
  of work per batch. Every statement is checked against the purpose, and the processing is written
  to the processing log when the unit commits; that write is part of what is measured.

Operations: single-row reads by primary key (``session.get``, distinct ids within a unit, so each
is a real SELECT), scans of the whole table, and ORM inserts. Each operation is a list of steps
(one unit of work each); the sides take turns step by step (plain then purpose, then purpose then
plain, ...), every round repeats all steps, and a side's time is the sum over the steps of each
step's best time over the rounds. Between measurements, outside the timing, inserted rows and
processing-log rows are removed so that every round starts from the same tables.

    .venv/bin/python bench/purpose_overhead.py            # SQLite and PostgreSQL, defaults
    .venv/bin/python bench/purpose_overhead.py --sqlite-only --reads 20000 --rounds 2
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, create_engine, delete, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import lawful.data.log  # noqa: F401  (registers processing_log on the metadata)
from lawful.customers.models import ContactPerson, Customer, CustomerKind
from lawful.data.base import Base, new_id
from lawful.data.db import Database, make_engine
from lawful.data.log import ProcessingRecord
from lawful.data.purpose import Actor
from lawful.policy.loader import load_policy

GOAL = 0.10
PURPOSE = "contract"
ACTOR = Actor.system("bench")
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SEED_CUSTOMERS = 100
LOAD_AVERAGES: list[float] = []  # the 1-minute load average after each measurement

out = Console() if sys.stdout.isatty() else Console(width=150)
err = Console(stderr=True, soft_wrap=True)

Unit = Callable[[], AbstractContextManager[Session]]


# --------------------------------------------------------------------------------------------
# The two sides
# --------------------------------------------------------------------------------------------


@dataclass
class Sides:
    """The plain and the purpose-bound way to get a committing unit of work on one database."""

    url: str
    plain_engine: Engine
    db: Database

    @contextmanager
    def plain(self) -> Iterator[Session]:
        # Same settings as PurposeSession: expire_on_commit=False, commit on success.
        with Session(self.plain_engine, expire_on_commit=False) as session, session.begin():
            yield session

    def purpose(self) -> AbstractContextManager[Session]:
        return self.db.unit_of_work(PURPOSE, ACTOR)

    def unit(self, side: str) -> Unit:
        return self.plain if side == "plain" else self.purpose

    def dispose(self) -> None:
        self.plain_engine.dispose()
        self.db.dispose()


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


@dataclass
class Fixture:
    """The seeded data: contact-person ids to read, and the customer that receives the inserts."""

    contact_ids: list[uuid.UUID]
    insert_customer: uuid.UUID


def create_schema(url: str) -> None:
    engine = make_engine(url)
    try:
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()


def seed(engine: Engine, rows: int) -> Fixture:
    """``rows`` contact persons spread over a hundred customers, inserted without any check."""
    now = datetime.now(UTC)
    customer_ids = [new_id() for _ in range(SEED_CUSTOMERS + 1)]  # the last one receives the inserts
    contact_ids = [new_id() for _ in range(rows)]
    customers = [
        {
            "id": customer_ids[i],
            "kind": CustomerKind.company,
            "legal_name": f"Bench {i} B.V.",
            "billing_email": f"billing{i}@bench.example",
            "street": f"Benchstraat {i}",
            "postal_code": "1015 AA",
            "city": "Amsterdam",
            "country": "NL",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(SEED_CUSTOMERS + 1)
    ]
    contacts = [
        contact_row(i, customer_ids[i % SEED_CUSTOMERS], now) | {"id": contact_ids[i]} for i in range(rows)
    ]
    with engine.begin() as conn:
        conn.execute(insert(Customer), customers)
        for start in range(0, rows, 5000):
            conn.execute(insert(ContactPerson), contacts[start : start + 5000])
    return Fixture(contact_ids, customer_ids[-1])


def contact_row(i: int, customer_id: uuid.UUID, now: datetime) -> dict[str, object]:
    return {
        "customer_id": customer_id,
        "name": f"Contact Person {i}",
        "email": f"contact{i}@bench.example",
        "phone": f"+31 6 {i:08d}",
        "street": f"Contactweg {i}",
        "postal_code": "1000 AB",
        "city": "Utrecht",
        "country": "NL",
        "created_at": now,
    }


def reset(engine: Engine, fixture: Fixture) -> None:
    """Remove what a measurement added (inserted contacts, processing-log rows); not timed."""
    with engine.begin() as conn:
        conn.execute(delete(ContactPerson).where(ContactPerson.customer_id == fixture.insert_customer))
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE processing_log"))
        else:
            conn.execute(delete(ProcessingRecord))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE contact_persons"))


def log_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ProcessingRecord)).scalar_one())


# --------------------------------------------------------------------------------------------
# Operations, as steps: one step is one unit of work (one transaction), timed on its own
# --------------------------------------------------------------------------------------------

Step = Callable[[Unit], None]


def read_steps(ids: list[uuid.UUID], batch: int) -> list[Step]:
    """``session.get`` each id, a unit per ``batch`` ids; they are distinct, so every get is a SELECT."""

    def step(chunk: list[uuid.UUID]) -> Step:
        def run(unit: Unit) -> None:
            with unit() as session:
                for contact_id in chunk:
                    if session.get(ContactPerson, contact_id) is None:
                        raise RuntimeError(f"contact person {contact_id} is missing")

        return run

    return [step(ids[first : first + batch]) for first in range(0, len(ids), batch)]


def scan_steps(repetitions: int, expected: int) -> list[Step]:
    """Load every contact person as ORM objects, a unit per scan."""

    def run(unit: Unit) -> None:
        with unit() as session:
            found = session.scalars(select(ContactPerson)).all()
            if len(found) != expected:
                raise RuntimeError(f"scan found {len(found)} rows, expected {expected}")

    return [run] * repetitions


def insert_steps(customer_id: uuid.UUID, count: int, batch: int) -> list[Step]:
    """Add ``count`` new contact persons through the ORM, a unit (and commit) per ``batch``."""

    def step(first: int, last: int) -> Step:
        def run(unit: Unit) -> None:
            now = datetime.now(UTC)
            with unit() as session:
                session.add_all(ContactPerson(**contact_row(i, customer_id, now)) for i in range(first, last))

        return run

    return [step(first, min(count, first + batch)) for first in range(0, count, batch)]


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------

SIDES = ("plain", "purpose")


@dataclass
class Operation:
    key: str
    label: str
    unit: str  # what one "op" is, for ops/s
    count: int  # ops per measurement
    steps: list[Step]
    # per side, per round, the time of each step
    times: dict[str, list[list[float]]] = field(default_factory=lambda: {side: [] for side in SIDES})
    log_rows: int = 0  # processing-log rows the purpose side wrote in one measurement

    def best(self, side: str) -> float:
        """The sum over the steps of each step's best time over the rounds.

        A burst of noise (another process, a checkpoint) spoils a step, not a round.
        """
        return sum((min(times) for times in zip(*self.times[side], strict=True)), 0.0)


def read_order(fixture: Fixture, count: int, seed_value: int) -> list[uuid.UUID]:
    """``count`` ids cycling through the table in a shuffled order; any ``batch <= rows`` is distinct."""
    order = list(fixture.contact_ids)
    random.Random(seed_value).shuffle(order)
    return [order[i % len(order)] for i in range(count)]


def measure(op: Operation, sides: Sides, round_no: int) -> dict[str, list[float]]:
    """Run every step on both sides, alternating which side goes first; the step times per side.

    Interleaving step by step (rather than a whole side, then the other) spreads the noise of a
    busy machine (other processes, the database server's own work) evenly over both sides.
    """
    times: dict[str, list[float]] = {side: [] for side in SIDES}
    units = {side: sides.unit(side) for side in SIDES}
    gc.collect()
    for i, step in enumerate(op.steps):
        order = SIDES if (i + round_no) % 2 == 0 else SIDES[::-1]
        for side in order:
            start = time.perf_counter()
            step(units[side])
            times[side].append(time.perf_counter() - start)
    return times


def bench_database(label: str, url: str, args: argparse.Namespace) -> list[Operation]:
    err.print(f"[bold]{label}[/]: creating the schema and {args.rows:,} contact persons")
    create_schema(url)
    sides = Sides(url, make_engine(url), Database(url, load_policy()))
    try:
        fixture = seed(sides.plain_engine, args.rows)
        ids = read_order(fixture, args.reads, 1)
        read_batch = min(args.batch, args.rows)  # the ids read in one unit must be distinct
        operations = [
            Operation(
                "read",
                f"read by primary key ({args.reads:,} gets, a unit per {read_batch:,})",
                "reads",
                args.reads,
                read_steps(ids, read_batch),
            ),
            Operation(
                "scan",
                f"scan all {args.rows:,} rows ({args.scans} scans, a unit each)",
                "rows",
                args.scans * args.rows,
                scan_steps(args.scans, args.rows),
            ),
            Operation(
                "insert",
                f"insert ({args.inserts:,} rows, a unit per {args.batch:,})",
                "inserts",
                args.inserts,
                insert_steps(fixture.insert_customer, args.inserts, args.batch),
            ),
        ]
        # Warm-up: compile and cache every statement on both sides (and the purpose analysis).
        for side in SIDES:
            unit = sides.unit(side)
            for op in operations:
                op.steps[0](unit)
            reset(sides.plain_engine, fixture)

        for round_no in range(args.rounds):
            for op in operations:
                times = measure(op, sides, round_no)
                LOAD_AVERAGES.append(os.getloadavg()[0])
                op.log_rows = log_rows(sides.plain_engine)  # only the purpose side writes the log
                reset(sides.plain_engine, fixture)
                for side in SIDES:
                    op.times[side].append(times[side])
                totals = {side: sum(times[side]) for side in SIDES}
                err.print(
                    f"  round {round_no + 1}/{args.rounds} {op.key:<6}"
                    + "".join(
                        f"  {side} {totals[side]:7.3f} s ({op.count / totals[side]:>8,.0f} {op.unit}/s)"
                        for side in SIDES
                    )
                    + f"  {totals['purpose'] / totals['plain'] - 1:+.1%}"
                )
        return operations
    finally:
        sides.dispose()


def postgres_unreachable(admin_url: str) -> str | None:
    """None when the PostgreSQL server answers, else why it does not."""
    engine = create_engine(
        make_url(admin_url).set(drivername="postgresql+psycopg"), connect_args={"connect_timeout": 3}
    )
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        cause = getattr(exc, "orig", None) or exc
        lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
        return f"{type(cause).__name__}: {lines[-1] if lines else 'no answer'}"
    finally:
        engine.dispose()


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh database ``lawful_bench_<random>``, dropped afterwards."""
    name = f"lawful_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        make_url(admin_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def server_version(url: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0]
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

HEADERS = [
    "database",
    "operation",
    "plain (s)",
    "purpose (s)",
    "plain ops/s",
    "purpose ops/s",
    "log rows",
    "overhead",
    "goal ≤ 10%",
]


def report_rows(results: list[tuple[str, list[Operation]]]) -> list[list[str]]:
    rows = []
    for database, operations in results:
        for op in operations:
            plain, purpose = op.best("plain"), op.best("purpose")
            overhead = purpose / plain - 1
            rows.append(
                [
                    database,
                    op.label,
                    f"{plain:.3f}",
                    f"{purpose:.3f}",
                    f"{op.count / plain:,.0f} {op.unit}/s",
                    f"{op.count / purpose:,.0f} {op.unit}/s",
                    f"{op.log_rows:,}",
                    f"{overhead:+.1%}",
                    "met" if overhead <= GOAL else "MISSED",
                ]
            )
    return rows


def rich_table(rows: list[list[str]], caption: str) -> Table:
    table = Table(title="Purpose-bound access vs plain SQLAlchemy", caption=caption)
    for i, header in enumerate(HEADERS):
        table.add_column(header, justify="right" if 2 <= i <= 7 else "left", no_wrap=i != 1)
    for row in rows:
        style = "red" if row[-1] == "MISSED" else "green"
        table.add_row(*row[:-1], f"[{style}]{row[-1]}[/]")
    return table


def markdown_table(rows: list[list[str]]) -> str:
    lines = [
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---:" if 2 <= i <= 7 else "---" for i in range(len(HEADERS))) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--reads", type=int, default=100_000, help="single-row reads by primary key")
    parser.add_argument("--rows", type=int, default=10_000, help="rows in the table (scanned whole)")
    parser.add_argument("--inserts", type=int, default=10_000, help="rows inserted per measurement")
    parser.add_argument("--scans", type=int, default=5, help="scans per measurement")
    parser.add_argument(
        "--batch", type=int, default=1_000, help="reads or inserts per unit of work (reads: at most --rows)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds; each unit of work counts with its best time"
    )
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--postgres", default=PG_ADMIN_URL, help="admin URL of the PostgreSQL server")
    parser.add_argument(
        "--markdown",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also print the table as Markdown at the end (default: yes)",
    )
    args = parser.parse_args(argv)
    if min(args.reads, args.rows, args.inserts, args.scans, args.batch, args.rounds) < 1:
        parser.error("every count must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    results: list[tuple[str, list[Operation]]] = []
    versions = [
        f"Python {platform.python_version()}",
        f"SQLAlchemy {sqlalchemy.__version__}",
        f"SQLite {sqlite3.sqlite_version}",
    ]
    skipped = ""

    with tempfile.TemporaryDirectory(prefix="lawful-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        results.append(("SQLite (file, WAL)", bench_database("SQLite", url, args)))

    if args.sqlite_only:
        skipped = "PostgreSQL skipped (--sqlite-only)"
    elif reason := postgres_unreachable(args.postgres):
        skipped = (
            f"PostgreSQL skipped: {make_url(args.postgres).render_as_string()} is not reachable ({reason})"
        )
    else:
        with postgres_database(args.postgres) as url:
            versions.append(f"PostgreSQL {server_version(url)}")
            results.append(("PostgreSQL", bench_database("PostgreSQL", url, args)))
    if skipped:
        err.print(f"[yellow]{skipped}[/]")

    caption = (
        f"{', '.join(versions)}; sides interleaved unit by unit, best of {args.rounds} rounds per unit; "
        f"load average {min(LOAD_AVERAGES):.1f}-{max(LOAD_AVERAGES):.1f} on {os.cpu_count()} CPUs; "
        f"{time.perf_counter() - started:.0f} s in all"
    )
    rows = report_rows(results)
    out.print(rich_table(rows, caption))
    if skipped:
        out.print(skipped)
    if args.markdown:
        print()
        print(markdown_table(rows))
        print()
        print(f"_{caption}._" + (f" {skipped}." if skipped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
