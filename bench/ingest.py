"""Tracker ingestion: the pipeline in process against a raw insert, and POST /api/event over HTTP.

**In process, batched, one core** (SQLite, and PostgreSQL when it answers). ``--events`` tracker
events of realistic variety (a few hundred user-agent strings, a few percent bots and
objections, thousands of paths, utm and other query parameters, referrers, IPv4 and IPv6
addresses, page views, engagement, outbound links and custom events) go through
:class:`lawful.monitoring.ingest.Tracker` in batches of 1,000, and in the same run the rows it
prepares go into the same ``page_events`` table with a plain ``executemany`` (``sqlite3`` /
``psycopg``, a commit per 1,000 rows), the limit. The sides take turns batch by batch, so each
sees the table at the same size. Measured:

- ``Tracker.ingest``: parse the body, ``prepare`` every event and ``store`` the rows and the
  counts of dropped events, one unit of work per 1,000 events (the demo's path);
- the HTTP path's shape: ``prepare`` per event in its own purpose session, as ``POST /api/event``
  does (opened only when ``prepare`` needs the database, where the endpoint does that), and
  ``store_batch``, the write-behind's group commit, per 1,000 events;
- the parts: ``prepare`` alone (no write) and ``store_batch`` alone (the prepared rows);
- raw ``executemany`` of the same prepared rows.

Also the storage: bytes per raw event and per rollup row (100,000 synthetic rollup rows), table
and indexes, after ``VACUUM``.

**HTTP**: Lawful (``create_app`` on a migrated database in a temporary folder, one site
registered) on one uvicorn worker in a subprocess (log level warning, no access log, the
maintenance job off), and a bare ASGI app answering 202 served the same way (the ceiling).
``wrk`` drives both on loopback with a Lua script that POSTs tracker bodies (text/plain JSON,
page views of varied paths, utm parameters and referrers) with a desktop Chrome user agent:
the highest rate (16 connections, 10 s) with p50/p99. Then an open-loop load generator written
here (asyncio, keep-alive connections; Debian has no ``wrk2``) sends 500 requests a second and
measures each latency from the request's scheduled send time. After each run the stored rows
are counted against the 2xx answers.

    .venv/bin/python bench/ingest.py                    # 200,000 events; SQLite and PostgreSQL; HTTP
    .venv/bin/python bench/ingest.py --quick            # a smaller run of everything
    .venv/bin/python bench/ingest.py --sqlite-only --no-http --events 50000
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import random
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from sqlalchemy import func, select, text
from starlette.types import Receive, Scope, Send

from common import Justify, libpq_url, postgres_unreachable, postgres_url, report, revision
from lawful.data.db import Database
from lawful.data.migrate import upgrade
from lawful.data.purpose import Actor
from lawful.monitoring import api as tracker_api
from lawful.monitoring.ingest import INGEST, PURPOSE, Client, Row, Tracker, parse_body, store_batch
from lawful.monitoring.models import PageEvent, Site
from lawful.monitoring.sessions import day_start_ms
from lawful.policy.loader import load_policy

BATCH = 1_000
GOAL_EVENTS = 20_000
GOAL_SHARE = 0.50
GOAL_RPS = 2_000
GOAL_P99_MS = 25.0
FIXED_RATE = 500
DOMAIN = "shop.example"
BENCH = Actor.system("bench")
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
COLUMNS = (
    "site_id",
    "ts",
    "visitor_id",
    "name",
    "path",
    "query",
    "referrer_host",
    "target",
    "engaged_ms",
    "browser",
    "browser_version",
    "os",
    "device",
    "ip_prefix",
)
ROLLUP_COLUMNS = (
    "site_id",
    "day",
    "dimension",
    "value",
    "visitors",
    "visits",
    "pageviews",
    "events",
    "bounces",
    "duration_ms",
)

out = Console() if sys.stdout.isatty() else Console(width=160)


# --- realistic traffic ---------------------------------------------------------------------------


def user_agents(rng: random.Random) -> list[str]:
    """About three hundred browser user-agent strings, desktop and mobile, of the last few years."""
    windows = ["Windows NT 10.0; Win64; x64", "Windows NT 10.0; WOW64", "Windows NT 6.1; Win64; x64"]
    macs = [f"Macintosh; Intel Mac OS X 10_15_{i}" for i in range(1, 8)]
    linux = ["X11; Linux x86_64", "X11; Ubuntu; Linux x86_64", "X11; Fedora; Linux x86_64"]
    androids = [
        f"Linux; Android {v}; {m}"
        for v in (10, 11, 12, 13, 14)
        for m in ("K", "SM-S918B", "Pixel 7", "SM-A536B", "M2101K6G")
    ]
    webkit = "AppleWebKit/537.36 (KHTML, like Gecko)"
    agents: set[str] = set()
    for major in range(112, 132):
        build = f"{major}.0.{rng.randint(5000, 6800)}.{rng.randint(50, 200)}"
        for system in (*windows, *macs[:3], *linux[:1]):
            agents.add(f"Mozilla/5.0 ({system}) {webkit} Chrome/{major}.0.0.0 Safari/537.36")
        agents.add(f"Mozilla/5.0 ({rng.choice(androids)}) {webkit} Chrome/{build} Mobile Safari/537.36")
        agents.add(
            f"Mozilla/5.0 ({rng.choice(windows)}) {webkit} Chrome/{major}.0.0.0 Safari/537.36 Edg/{major}.0.0.0"
        )
    for major in range(115, 134):
        for system in (windows[0], macs[rng.randrange(7)].replace("_", "."), *linux):
            agents.add(f"Mozilla/5.0 ({system}; rv:{major}.0) Gecko/20100101 Firefox/{major}.0")
        agents.add(f"Mozilla/5.0 (Android 14; Mobile; rv:{major}.0) Gecko/{major}.0 Firefox/{major}.0")
    for major, minor in [(15, 6), (16, 0), (16, 6), (17, 0), (17, 4), (17, 6), (18, 0), (18, 1), (18, 2)]:
        for mac in macs:
            agents.add(
                f"Mozilla/5.0 ({mac}) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                f"Version/{major}.{minor} Safari/605.1.15"
            )
        for device in ("iPhone", "iPad"):
            osv = f"{major}_{minor}"
            agents.add(
                f"Mozilla/5.0 ({device}; CPU {'iPhone ' if device == 'iPhone' else ''}OS {osv} like Mac OS X) "
                f"AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{major}.{minor} Mobile/15E148 Safari/604.1"
            )
    for version in ("22.0", "23.0", "24.0", "25.0", "26.0"):
        agents.add(
            f"Mozilla/5.0 (Linux; Android 13; SM-S911B) {webkit} SamsungBrowser/{version} "
            "Chrome/115.0.0.0 Mobile Safari/537.36"
        )
    for major in range(100, 116, 3):
        agents.add(
            f"Mozilla/5.0 ({windows[0]}) {webkit} Chrome/{major + 14}.0.0.0 Safari/537.36 OPR/{major}.0.0.0"
        )
    return sorted(agents)


BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
    "python-requests/2.32.3",
    "curl/8.5.0",
]

SECTIONS = {
    "blog": 900,
    "docs": 700,
    "products": 1200,
    "help": 300,
    "news": 400,
    "careers": 40,
    "events": 120,
}
WORD_TEXT = (
    "privacy analytics invoice contract cookie consent retention export dashboard report pricing "
    "team security api webhook install guide release update customer billing support tracker "
    "session visitor browser mobile server cloud backup storage network account settings"
)
WORDS = WORD_TEXT.split()
REFERRERS = [
    "https://www.google.com/",
    "https://www.google.nl/",
    "https://www.bing.com/",
    "https://duckduckgo.com/",
    "https://t.co/abc",
    "https://www.linkedin.com/",
    "https://news.ycombinator.com/",
    "https://www.reddit.com/r/privacy/",
    "https://github.com/",
    "android-app://com.google.android.gm/",
    *[f"https://{w}.example.org/{w}/page" for w in WORDS],
    *[f"https://blog{i}.example.net/post/{i}" for i in range(60)],
]
OUTBOUND = [f"https://{w}.example.com/{w}?ref=shop" for w in WORDS] + ["mailto:sales@shop.example"]
CUSTOM = ["signup", "download", "contact", "newsletter", "trial", "video-play"]


def page_paths(rng: random.Random) -> list[str]:
    """A site's pages, most popular first: a few top pages, then sections of slugs."""
    paths = ["/", "/pricing", "/about", "/contact", "/login", "/signup", "/blog", "/docs", "/products"]
    for section, count in SECTIONS.items():
        for i in range(count):
            slug = "-".join(rng.sample(WORDS, rng.randint(2, 5)))
            paths.append(f"/{section}/{slug}" if section != "products" else f"/products/{i}/{slug}")
    return list(dict.fromkeys(paths))


def query_string(rng: random.Random) -> str:
    roll = rng.random()
    utm = (
        f"utm_source={rng.choice(['newsletter', 'google', 'linkedin', 'twitter', 'partner'])}"
        f"&utm_medium={rng.choice(['email', 'cpc', 'social', 'referral'])}"
        f"&utm_campaign={rng.choice(WORDS)}-{rng.randint(2024, 2026)}"
    )
    other = rng.choice(
        [
            f"gclid={uuid.UUID(int=rng.getrandbits(128)).hex}",
            f"fbclid={uuid.UUID(int=rng.getrandbits(128)).hex}",
            f"page={rng.randint(2, 9)}",
            f"q={rng.choice(WORDS)}+{rng.choice(WORDS)}",
            f"email=someone{rng.randint(1, 999)}%40mail.example",
        ]
    )
    if roll < 0.12:
        return "?" + utm
    if roll < 0.17:
        return "?" + other
    if roll < 0.20:
        return f"?{utm}&{other}"
    return ""


def ip_address(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return f"2a02:{rng.randrange(0x10000):x}:{rng.randrange(0x10000):x}::{rng.randrange(0x10000):x}"
    return f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


Event = tuple[bytes, Client, int]


def traffic(n: int, rng: random.Random, start_ms: int, end_ms: int) -> list[Event]:
    """``n`` tracker events (body, client, time) of about n / 7 visitors, in time order."""
    agents = user_agents(rng)
    paths = page_paths(rng)
    weights = [1 / (i + 1) for i in range(len(paths))]  # Zipf: a few pages get most views
    visitors = []
    for _ in range(max(1, n // 7)):
        roll = rng.random()
        agent = rng.choice(BOTS) if roll < 0.02 else rng.choice(agents)
        visitors.append(Client(ip_address(rng), agent, objected=0.02 <= roll < 0.05))
    chosen_paths = rng.choices(paths, weights, k=n)
    step = (end_ms - start_ms) / max(1, n)
    events: list[Event] = []
    for i in range(n):
        client = rng.choice(visitors)
        url = f"https://{DOMAIN}{chosen_paths[i]}{query_string(rng)}"
        roll = rng.random()
        body: dict[str, Any]
        if roll < 0.55:
            body = {"n": "pageview", "s": DOMAIN, "u": url}
            referrer = rng.random()
            if referrer < 0.30:
                body["r"] = f"https://{DOMAIN}{rng.choice(paths[:200])}"
            elif referrer < 0.65:
                body["r"] = rng.choice(REFERRERS)
        elif roll < 0.93:
            body = {"n": "engagement", "s": DOMAIN, "u": url, "e": int(rng.expovariate(1 / 40_000))}
        elif roll < 0.97:
            body = {"n": "outbound", "s": DOMAIN, "u": url, "t": rng.choice(OUTBOUND)}
        else:
            body = {"n": rng.choice(CUSTOM), "s": DOMAIN, "u": url}
        events.append((json.dumps(body, separators=(",", ":")).encode(), client, start_ms + int(i * step)))
    return events


def event_times(now: datetime, timeout_minutes: int) -> tuple[int, int]:
    """An hour of today (UTC) at least a session timeout after midnight, ending near now."""
    today = now.date()
    midnight = day_start_ms(today)
    lo = max(int(now.timestamp() * 1000) - 3_600_000, midnight + (timeout_minutes + 1) * 60_000)
    hi = min(lo + 3_600_000, midnight + 86_400_000 - 1)
    return lo, hi


# --- databases -----------------------------------------------------------------------------------


@dataclass
class Backend:
    label: str
    url: str  # SQLAlchemy URL
    db: Database

    @property
    def postgres(self) -> bool:
        return self.db.dialect == "postgresql"


@contextmanager
def sqlite_backend(workdir: Path) -> Iterator[Backend]:
    url = f"sqlite:///{workdir / 'ingest.db'}"
    upgrade(url)
    db = Database(url, load_policy())
    try:
        yield Backend("SQLite (file, WAL)", url, db)
    finally:
        db.dispose()


@contextmanager
def postgres_backend() -> Iterator[Backend]:
    with postgres_url() as url:
        db = Database(url, load_policy())
        try:
            yield Backend("PostgreSQL", url, db)
        finally:
            db.dispose()


def register_site(db: Database, domain: str = DOMAIN) -> uuid.UUID:
    with db.unit_of_work(PURPOSE, BENCH) as session:
        site = Site(domain=domain, name="Shop")
        session.add(site)
        session.flush()
        return site.id


def count_rows(db: Database) -> int:
    with db.unit_of_work(PURPOSE, BENCH) as session:
        return int(session.scalar(select(func.count()).select_from(PageEvent)) or 0)


def server_version(backend: Backend) -> str:
    if backend.postgres:
        with backend.db.internal() as conn:
            version = str(conn.execute(text("SHOW server_version")).scalar())
        return f"PostgreSQL {version.split()[0]}"
    return f"SQLite {sqlite3.sqlite_version}"


# --- the raw limit ---------------------------------------------------------------------------------


class RawInsert:
    """A plain DB-API connection inserting prepared rows with ``executemany``, a commit per call."""

    def __init__(self, backend: Backend) -> None:
        names = ", ".join(COLUMNS)
        self.postgres = backend.postgres
        if backend.postgres:
            self.pg = psycopg.connect(libpq_url(backend.url))
            self.sql = f"INSERT INTO page_events ({names}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
        else:
            path = backend.url.removeprefix("sqlite:///")
            self.lite = sqlite3.connect(path)
            # The pragmas Lawful's engine sets on every connection.
            self.lite.execute("PRAGMA journal_mode=WAL")
            self.lite.execute("PRAGMA synchronous=NORMAL")
            self.lite.execute("PRAGMA foreign_keys=ON")
            self.sql = f"INSERT INTO page_events ({names}) VALUES ({', '.join(['?'] * len(COLUMNS))})"

    def tuples(self, rows: Sequence[Row]) -> list[tuple[Any, ...]]:
        """The rows as the driver takes them (SQLAlchemy keeps a UUID as 32 hex digits on SQLite)."""
        convert: Callable[[uuid.UUID], Any] = (lambda u: u) if self.postgres else (lambda u: u.hex)
        return [(convert(r["site_id"]), *(r[c] for c in COLUMNS[1:])) for r in rows]

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        if self.postgres:
            with self.pg.cursor() as cursor:
                cursor.executemany(self.sql, rows)
            self.pg.commit()
        else:
            self.lite.executemany(self.sql, rows)
            self.lite.commit()

    def close(self) -> None:
        if self.postgres:
            self.pg.close()
        else:
            self.lite.close()


# --- the pipeline, in process -------------------------------------------------------------------

SIDES = (
    "Tracker.ingest (parse, prepare, store; a unit of work per 1,000)",
    "HTTP path's shape: prepare per event as the endpoint does, store_batch per 1,000",
    "part: parse + prepare only (no write)",
    "part: store_batch of the prepared rows only",
    "raw executemany of the prepared rows (the limit)",
)
INGEST_SIDE, HTTP_SIDE, PREPARE_SIDE, STORE_SIDE, RAW_SIDE = SIDES


@dataclass
class PipelineResult:
    backend: str
    version: str
    events: int
    stored: int
    dropped: int
    seconds: dict[str, float]
    rows_in_table: int
    raw_bytes: float = 0.0
    raw_table_bytes: float = 0.0
    rollup_bytes: float = 0.0
    rollup_table_bytes: float = 0.0
    rollup_rows: int = 0

    def rate(self, side: str) -> float:
        return self.events / self.seconds[side]


def http_shaped(tracker: Tracker, chunk: Sequence[Event]) -> None:
    """What POST /api/event does per request (a session for prepare), then one group commit.

    Where the endpoint opens its session only when ``prepare`` needs the database
    (``lawful.monitoring.api.SessionOnDemand``), so does this.
    """
    on_demand = getattr(tracker_api, "SessionOnDemand", None)
    rows: list[Row] = []
    dropped: list[tuple[uuid.UUID, int, str]] = []
    for body, client, at in chunk:
        data = parse_body(body)
        session: Any = on_demand(tracker.db) if on_demand is not None else tracker.db.session(PURPOSE, INGEST)
        try:
            result = tracker.prepare(session, data, client, at=at)
            if isinstance(result, str):
                site = tracker.site_id(session, str(data["s"]))
            session.commit()
        finally:
            session.close()
        if isinstance(result, str):
            dropped.append((site, at, result))
        else:
            rows.append(result)
    store_batch(tracker, rows, dropped)


def prepare_only(tracker: Tracker, chunk: Sequence[Event]) -> None:
    with tracker.db.session(PURPOSE, INGEST) as session:
        for body, client, at in chunk:
            tracker.prepare(session, parse_body(body), client, at=at)
        session.commit()


def prepared(tracker: Tracker, chunk: Sequence[Event]) -> tuple[list[Row], list[tuple[uuid.UUID, int, str]]]:
    rows: list[Row] = []
    dropped: list[tuple[uuid.UUID, int, str]] = []
    with tracker.db.session(PURPOSE, INGEST) as session:
        for body, client, at in chunk:
            data = parse_body(body)
            result = tracker.prepare(session, data, client, at=at)
            if isinstance(result, str):
                dropped.append((tracker.site_id(session, str(data["s"])), at, result))
            else:
                rows.append(result)
        session.commit()
    return rows, dropped


def run_pipeline(backend: Backend, events: list[Event]) -> PipelineResult:
    db = backend.db
    tracker = Tracker(db)
    first_at = events[0][2]
    with db.unit_of_work(PURPOSE, BENCH) as session:
        # A server in its steady state has today's salt and yesterday's (kept 48 hours), so every
        # event computes two visitor codes; make both exist.
        tracker.salts.of_day(session, datetime.fromtimestamp(first_at / 1000, UTC).date(), create=True)
        tracker.salts.of_day(
            session, datetime.fromtimestamp(first_at / 1000, UTC).date() - timedelta(days=1), create=True
        )
    tracker.salts.forget()
    chunks = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
    # Prepare every chunk once, untimed: the rows the raw side inserts (this also fills the
    # caches of user agents, sites and salts, as in a running server).
    with out.status(f"{backend.label}: preparing {len(events):,} events for the raw side"):
        ready = [prepared(tracker, chunk) for chunk in chunks]
    raw = RawInsert(backend)
    raw_rows = [raw.tuples(rows) for rows, _ in ready]
    stored = sum(len(rows) for rows, _ in ready)
    dropped = sum(len(d) for _, d in ready)

    def ingest(i: int) -> None:
        tracker.ingest((parse_body(body), client, at) for body, client, at in chunks[i])

    actions: dict[str, Callable[[int], None]] = {
        INGEST_SIDE: ingest,
        HTTP_SIDE: lambda i: http_shaped(tracker, chunks[i]),
        PREPARE_SIDE: lambda i: prepare_only(tracker, chunks[i]),
        STORE_SIDE: lambda i: store_batch(tracker, *ready[i]),
        RAW_SIDE: lambda i: raw.insert(raw_rows[i]),
    }
    seconds = dict.fromkeys(SIDES, 0.0)
    order = list(SIDES)
    with out.status(f"{backend.label}: {len(chunks)} batches, the sides taking turns") as status:
        for i in range(len(chunks)):
            order = order[1:] + order[:1]  # each side goes first in turn
            for side in order:
                start = time.perf_counter()
                actions[side](i)
                seconds[side] += time.perf_counter() - start
            if i % 20 == 0:
                status.update(f"{backend.label}: batch {i + 1} of {len(chunks)}")
    raw.close()
    rows_in_table = count_rows(db)
    writers = 4  # Tracker.ingest, HTTP shape, store_batch, raw
    if rows_in_table != writers * stored:
        raise SystemExit(
            f"{backend.label}: {rows_in_table:,} rows in page_events, expected {writers} × {stored:,}: "
            "a side lost rows, or the raw rows are not read back as the same site"
        )
    return PipelineResult(
        backend.label, server_version(backend), len(events), stored, dropped, seconds, rows_in_table
    )


# --- storage ---------------------------------------------------------------------------------------


def rollup_rows(
    site_id: uuid.UUID, count: int, rng: random.Random, *, postgres: bool
) -> list[tuple[Any, ...]]:
    """``count`` daily rollup rows shaped like a busy site's: mostly pages, entry and exit pages."""
    paths = page_paths(rng)
    browsers = [
        "Chrome",
        "Firefox",
        "Safari",
        "Edge",
        "Mobile Safari",
        "Chrome Mobile",
        "Samsung Internet",
        "Opera",
    ]
    systems = ["Windows", "Mac OS X", "Linux", "Android", "iOS", "Ubuntu", "Chrome OS"]
    hosts = list(dict.fromkeys(["", *(r.split("/")[2].removeprefix("www.") for r in REFERRERS)]))
    per_day: list[tuple[str, list[str]]] = [
        ("total", [""]),
        ("page", paths[:1500]),
        ("entry", paths[:600]),
        ("exit", paths[:600]),
        ("referrer", hosts),
        ("browser", browsers),
        ("os", systems),
        ("device", ["desktop", "mobile", "tablet", "other"]),
        ("event", ["outbound", *CUSTOM]),
    ]
    site = site_id if postgres else site_id.hex
    rows: list[tuple[Any, ...]] = []
    day = date.today() - timedelta(days=1)
    while len(rows) < count:
        for dimension, values in per_day:
            for value in values:
                visits = int(rng.paretovariate(1.2)) * 3
                rows.append(
                    (
                        site,
                        day if postgres else day.isoformat(),
                        dimension,
                        value,
                        max(1, visits - visits // 8),
                        visits,
                        visits * 2 if dimension != "event" else 0,
                        visits // 4 if dimension in ("event", "total") else 0,
                        visits // 2 if dimension not in ("page", "event") else 0,
                        visits * rng.randint(10_000, 200_000) if dimension not in ("page", "event") else 0,
                    )
                )
        day -= timedelta(days=1)
    return rows[:count]


def sqlite_sizes(path: str, table: str) -> tuple[int, int, int]:
    """(rows, bytes of the table, bytes of the table and its indexes) after VACUUM (dbstat)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("VACUUM")
        rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        indexes = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = ?", (table,))]
        sizes = dict(
            conn.execute(
                f"SELECT name, sum(pgsize) FROM dbstat WHERE name IN ({', '.join('?' * len(indexes))}) GROUP BY name",
                indexes,
            ).fetchall()
        )
        return rows, sizes.get(table, 0), sum(sizes.values())
    finally:
        conn.close()


def postgres_sizes(url: str, table: str) -> tuple[int, int, int]:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(f"VACUUM ANALYZE {table}")
        row = conn.execute(
            f"SELECT count(*), pg_table_size('{table}'), pg_total_relation_size('{table}') FROM {table}"
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1]), int(row[2])


def measure_storage(backend: Backend, result: PipelineResult, rollups: int, rng: random.Random) -> None:
    sizes = postgres_sizes if backend.postgres else sqlite_sizes
    where = backend.url if backend.postgres else backend.url.removeprefix("sqlite:///")
    rows, table_bytes, total_bytes = sizes(where, "page_events")
    result.raw_bytes, result.raw_table_bytes = total_bytes / rows, table_bytes / rows
    with backend.db.unit_of_work(PURPOSE, BENCH) as session:
        site_id = session.scalar(select(Site.id).where(Site.domain == DOMAIN))
    assert site_id is not None
    synthetic = rollup_rows(site_id, rollups, rng, postgres=backend.postgres)
    names = ", ".join(ROLLUP_COLUMNS)
    if backend.postgres:
        with psycopg.connect(libpq_url(backend.url)) as conn, conn.cursor() as cursor:
            with cursor.copy(f"COPY monitoring_rollups ({names}) FROM STDIN") as copy:
                for row in synthetic:
                    copy.write_row(row)
            conn.commit()
    else:
        lite = sqlite3.connect(where)
        with lite:
            lite.executemany(
                f"INSERT INTO monitoring_rollups ({names}) VALUES ({', '.join('?' * len(ROLLUP_COLUMNS))})",
                synthetic,
            )
        lite.close()
    rows, table_bytes, total_bytes = sizes(where, "monitoring_rollups")
    result.rollup_rows = rows
    result.rollup_bytes, result.rollup_table_bytes = total_bytes / rows, table_bytes / rows


# --- HTTP ------------------------------------------------------------------------------------------


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ceiling: read the request body, answer 202 with a small JSON body, like the endpoint."""
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    body = b'{"status":"accepted"}'
    await send(
        {
            "type": "http.response.start",
            "status": 202,
            "headers": [
                (b"content-type", b"application/json"),
                (b"cache-control", b"no-store"),
                (b"access-control-allow-origin", b"*"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def serve(kind: str, port: int, data_dir: str, database_url: str | None) -> None:
    """The server subprocess: Lawful or the bare app on one uvicorn worker."""
    import uvicorn

    from lawful.settings import Settings
    from lawful.web.app import create_app

    app: Any = bare_app
    if kind == "lawful":
        settings = Settings(
            data_dir=Path(data_dir), database_url=database_url, log_level="warning", maintenance_minutes=0
        )
        app = create_app(settings)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, workers=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    def __init__(self, kind: str, data_dir: Path, database_url: str | None = None) -> None:
        self.kind = kind
        self.port = free_port()
        command = [
            sys.executable,
            __file__,
            "--serve",
            kind,
            "--port",
            str(self.port),
            "--data-dir",
            str(data_dir),
        ]
        if database_url:
            command += ["--database-url", database_url]
        self.log = open(data_dir / f"{kind}-server.log", "w+b")  # noqa: SIM115
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the {kind} server did not start:\n{self.errors()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise SystemExit(f"the {kind} server did not start within 60 s")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/event"

    def errors(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()


def http_bodies(rng: random.Random, count: int = 200) -> list[bytes]:
    """Page-view bodies as the tracker script sends them, of varied pages, utm tags and referrers."""
    paths = page_paths(rng)[:400]
    bodies = []
    for _ in range(count):
        body = {"n": "pageview", "s": DOMAIN, "u": f"https://{DOMAIN}{rng.choice(paths)}{query_string(rng)}"}
        if rng.random() < 0.7:
            body["r"] = rng.choice(["https://www.google.com/", *REFERRERS[:12]])
        bodies.append(json.dumps(body, separators=(",", ":")).encode())
    return bodies


def lua_script(bodies: list[bytes]) -> str:
    quoted = ",\n".join("  " + json.dumps(b.decode()) for b in bodies)  # JSON strings are Lua strings here
    return f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain;charset=UTF-8"
wrk.headers["User-Agent"] = "{CHROME}"
wrk.headers["Origin"] = "https://{DOMAIN}"
local bodies = {{
{quoted}
}}
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[(n % #bodies) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%d duration_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d p50=%d p99=%d max=%d\\n",
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass
class Load:
    label: str
    tool: str
    requests: int  # answered in the measured window
    ok: int  # 2xx of the whole run (warm-up included), to compare with stored rows
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    rows: int | None = None  # rows the run added to page_events
    in_flight: int = 0  # requests that may have been stored without their answer being counted
    median_rate: float | None = None  # of several runs
    spread: str = ""  # the lowest and highest rate of several runs
    checks: list[str] = field(default_factory=list)  # the stored-rows check of each run

    @property
    def rate(self) -> float:
        return self.median_rate if self.median_rate is not None else self.requests / self.seconds

    @property
    def rows_check(self) -> str:
        if self.rows is None:
            return ""
        if self.checks:
            bad = [c for c in self.checks if "MISMATCH" in c]
            extra = self.rows - self.ok
            if bad:
                return "; ".join(bad)
            return "equal" if extra == 0 else f"{self.rows:,} (+{extra} in flight at the stops)"
        if self.in_flight == 0:
            return "equal" if self.rows == self.ok else f"MISMATCH ({self.rows:,} rows)"
        extra = self.rows - self.ok
        return (
            f"{self.rows:,} rows (+{extra} in flight at the stop)"
            if 0 <= extra <= self.in_flight
            else f"MISMATCH ({self.rows:,} rows)"
        )


def run_wrk(label: str, url: str, script: Path, *, seconds: int, connections: int, threads: int) -> Load:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "5s",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    found = re.search(r"RESULT (.*)", done.stdout)
    if not found:
        raise SystemExit(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    values = {k: int(v) for k, v in (pair.split("=") for pair in found.group(1).split())}
    errors = values["non2xx"] + values["connect"] + values["read"] + values["write"] + values["timeout"]
    return Load(
        label,
        f"wrk, {connections} connections, {threads} thread{'s' if threads > 1 else ''}, {seconds} s",
        values["requests"],
        values["requests"] - values["non2xx"],
        errors,
        values["duration_us"] / 1e6,
        values["p50"] / 1000,
        values["p99"] / 1000,
        values["max"] / 1000,
        in_flight=connections,
    )


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    found = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    if found is None:
        raise RuntimeError(f"no content-length in the answer: {head!r}")
    await reader.readexactly(int(found.group(1)))
    return status


async def _open_loop(
    port: int, bodies: list[bytes], rate: float, seconds: float, warmup: float, connections: int
) -> tuple[list[float], Counter[int], Counter[int], float]:
    requests = [
        (
            f"POST /api/event HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {CHROME}\r\n"
            f"Content-Type: text/plain;charset=UTF-8\r\nOrigin: https://{DOMAIN}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
        for body in bodies
    ]
    queue: asyncio.Queue[tuple[float, int] | None] = asyncio.Queue()
    latencies: list[float] = []
    measured: Counter[int] = Counter()
    everything: Counter[int] = Counter()
    begin = time.perf_counter() + 0.2
    measure_from = begin + warmup

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while (item := await queue.get()) is not None:
                scheduled, i = item
                writer.write(requests[i % len(requests)])
                try:
                    status = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError, RuntimeError):
                    status = 0
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                finished = time.perf_counter()
                everything[status] += 1
                if scheduled >= measure_from:
                    measured[status] += 1
                    latencies.append(finished - scheduled)
        finally:
            writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    total = int(rate * (warmup + seconds))
    for i in range(total):
        when = begin + i / rate
        delay = when - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((when, i))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return latencies, measured, everything, time.perf_counter() - measure_from


def fixed_rate(
    label: str, port: int, bodies: list[bytes], *, rate: float, seconds: float, warmup: float
) -> Load:
    """Open loop: request i is due at start + i / rate whatever happened before; latency from then."""
    connections = 32
    latencies, measured, everything, _ = asyncio.run(
        _open_loop(port, bodies, rate, seconds, warmup, connections)
    )
    latencies.sort()
    ok = sum(n for status, n in everything.items() if 200 <= status < 300)
    errors = sum(n for status, n in measured.items() if not 200 <= status < 300)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, max(0, round(p / 100 * len(latencies)) - 1))] * 1000

    return Load(
        label,
        f"open-loop asyncio generator, {rate:.0f} req/s, {seconds:.0f} s, up to {connections} connections",
        len(latencies),
        ok,
        errors,
        seconds,
        statistics.median(latencies) * 1000,
        pct(99),
        latencies[-1] * 1000,
    )


def summarise(runs: list[Load]) -> Load:
    """One row of rounds: the median of the rates and latencies, the sums of the counts."""
    first = runs[0]
    rates = [r.rate for r in runs]
    rows = [r.rows for r in runs]
    summary = Load(
        first.label,
        first.tool + (f", median of {len(runs)} runs" if len(runs) > 1 else ""),
        sum(r.requests for r in runs),
        sum(r.ok for r in runs),
        sum(r.errors for r in runs),
        sum(r.seconds for r in runs),
        statistics.median(r.p50_ms for r in runs),
        statistics.median(r.p99_ms for r in runs),
        max(r.max_ms for r in runs),
        None if any(n is None for n in rows) else sum(n for n in rows if n is not None),
        sum(r.in_flight for r in runs),
    )
    summary.median_rate = statistics.median(rates)
    summary.spread = f"{min(rates):,.0f}-{max(rates):,.0f}" if len(runs) > 1 else ""
    summary.checks = [r.rows_check for r in runs]
    return summary


@dataclass
class Target:
    label: str
    server: Server
    db: Database | None  # where Lawful stores, to count its rows


def run_http(args: argparse.Namespace, workdir: Path, backends: list[str]) -> tuple[list[Load], list[str]]:
    """Every server up at once (idle ones cost nothing); the runs go round the servers, round by round."""
    rng = random.Random(args.seed + 1)
    bodies = http_bodies(rng)
    script = workdir / "event.lua"
    script.write_text(lua_script(bodies))
    notes: list[str] = []
    seconds, fixed_seconds = (3, 5.0) if args.quick else (args.duration, args.fixed_seconds)
    rounds = 1 if args.quick else args.rounds
    wrk_args = {"seconds": seconds, "connections": args.connections, "threads": args.wrk_threads}
    with ExitStack() as stack:
        targets = [Target("ceiling: bare ASGI app, 202", stack.enter_context(running("bare", workdir)), None)]
        for kind in backends:
            label, data_dir, url = stack.enter_context(http_backend(kind, workdir))
            db = Database(url or f"sqlite:///{data_dir / 'lawful.db'}", load_policy())
            stack.callback(db.dispose)
            register_site(db)
            targets.append(
                Target(
                    f"Lawful POST /api/event, {label}",
                    stack.enter_context(running("lawful", data_dir, url)),
                    db,
                )
            )
        with out.status("HTTP: warming up"):
            for target in targets:
                run_wrk("warm-up", target.server.url, script, seconds=2, connections=4, threads=1)
        maximum: dict[str, list[Load]] = {t.label: [] for t in targets}
        fixed: dict[str, list[Load]] = {t.label: [] for t in targets}
        for round_no in range(rounds):
            for target in targets:
                with out.status(f"HTTP round {round_no + 1} of {rounds}: wrk, {target.label}"):
                    before = count_rows(target.db) if target.db else 0
                    load = run_wrk(target.label, target.server.url, script, **wrk_args)
                    if target.db:
                        time.sleep(1.0)  # requests in flight when wrk stopped finish their commit
                        load.rows = count_rows(target.db) - before
                    maximum[target.label].append(load)
            for target in targets:
                with out.status(f"HTTP round {round_no + 1} of {rounds}: {FIXED_RATE} req/s, {target.label}"):
                    before = count_rows(target.db) if target.db else 0
                    load = fixed_rate(
                        target.label,
                        target.server.port,
                        bodies,
                        rate=FIXED_RATE,
                        seconds=fixed_seconds,
                        warmup=1.0,
                    )
                    if target.db:
                        load.rows = count_rows(target.db) - before
                    fixed[target.label].append(load)
        for target in targets:
            logged = target.server.errors().strip()
            if logged:
                notes.append(f"{target.label}: the server logged: {logged[-500:]}")
    results = []
    for target in targets:
        results += [summarise(maximum[target.label]), summarise(fixed[target.label])]
    return results, notes


@contextmanager
def running(kind: str, data_dir: Path, database_url: str | None = None) -> Iterator[Server]:
    server = Server(kind, data_dir, database_url)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def http_backend(kind: str, workdir: Path) -> Iterator[tuple[str, Path, str | None]]:
    """(label, data folder, database URL or None for the folder's SQLite file) of one HTTP backend."""
    data_dir = workdir / f"http-{kind}"
    data_dir.mkdir()
    if kind == "sqlite":
        upgrade(f"sqlite:///{data_dir / 'lawful.db'}")
        yield "SQLite", data_dir, None
    else:
        with postgres_url() as url:
            yield "PostgreSQL", data_dir, url


# --- output ----------------------------------------------------------------------------------------


def pipeline_rows(results: list[PipelineResult]) -> list[list[str]]:
    rows = []
    for r in results:
        raw = r.seconds[RAW_SIDE]
        for side in SIDES:
            goal = ""
            if side in (INGEST_SIDE, HTTP_SIDE):
                fast = r.rate(side) >= GOAL_EVENTS
                share = raw / r.seconds[side] >= GOAL_SHARE
                goal = f"{'met' if fast else 'MISSED'} / {'met' if share else 'MISSED'}"
            rows.append(
                [
                    r.backend,
                    side,
                    f"{r.seconds[side]:.2f}",
                    f"{r.rate(side):,.0f}",
                    f"{raw / r.seconds[side]:.0%}",
                    f"{r.seconds[side] / r.events * 1e6:.1f}",
                    goal,
                ]
            )
    return rows


PIPELINE_HEADER = [
    "database",
    "side",
    "seconds",
    "events/s",
    "share of raw",
    "µs/event",
    "goal ≥ 20k/s / ≥ 50% of raw",
]
STORAGE_HEADER = ["database", "table", "rows", "bytes/row, table", "bytes/row, with indexes"]
HTTP_HEADER = [
    "server",
    "load",
    "req/s",
    "req/s of the runs",
    "vs the ceiling",
    "p50 ms",
    "p99 ms",
    "max ms",
    "errors",
    "2xx",
    "stored rows",
    "goal",
]


def storage_rows(results: list[PipelineResult]) -> list[list[str]]:
    rows = []
    for r in results:
        rows.append(
            [
                r.backend,
                "page_events",
                f"{r.rows_in_table:,}",
                f"{r.raw_table_bytes:.0f}",
                f"{r.raw_bytes:.0f}",
            ]
        )
        rows.append(
            [
                r.backend,
                "monitoring_rollups",
                f"{r.rollup_rows:,}",
                f"{r.rollup_table_bytes:.0f}",
                f"{r.rollup_bytes:.0f}",
            ]
        )
    return rows


def versus(load: Load, ceiling: Load | None) -> str:
    """The rate as a share of the ceiling's (maximum load), or the p99 as a multiple of its (fixed rate)."""
    if ceiling is None or ceiling is load:
        return ""
    if load.tool.startswith("wrk"):
        return f"{load.rate / ceiling.rate:.0%} of req/s"
    return f"p99 × {load.p99_ms / ceiling.p99_ms:.1f}"


def http_rows(results: list[Load]) -> list[list[str]]:
    rows = []
    ceilings = {load.tool: load for load in results if load.label.startswith("ceiling")}
    for load in results:
        ceiling = load.label.startswith("ceiling")
        if ceiling:
            goal = ""
        elif load.tool.startswith("wrk"):
            goal = "met" if load.rate >= GOAL_RPS else "MISSED"
        else:
            goal = "met" if load.p99_ms <= GOAL_P99_MS and load.errors == 0 else "MISSED"
        rows.append(
            [
                load.label,
                load.tool,
                f"{load.rate:,.0f}",
                load.spread,
                versus(load, ceilings.get(load.tool)),
                f"{load.p50_ms:.2f}",
                f"{load.p99_ms:.2f}",
                f"{load.max_ms:.1f}",
                f"{load.errors:,}",
                f"{load.ok:,}",
                load.rows_check,
                goal,
            ]
        )
    return rows


# --- main ------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="tracker ingestion: in process and over HTTP")
    parser.add_argument("--events", type=int, default=200_000, help="events through the pipeline")
    parser.add_argument("--rollups", type=int, default=100_000, help="synthetic rollup rows for the storage")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP part")
    parser.add_argument("--no-pipeline", action="store_true", help="skip the in-process part")
    parser.add_argument("--http-postgres", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--duration", type=int, default=10, help="seconds of each wrk run")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="HTTP runs per server and load (median)")
    parser.add_argument("--fixed-seconds", type=float, default=20.0, help="seconds of the 500 req/s run")
    parser.add_argument("--quick", action="store_true", help="20,000 events, 10,000 rollup rows, short runs")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--serve", choices=["lawful", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.rollups = min(args.events, 20_000), min(args.rollups, 10_000)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        serve(args.serve, args.port, args.data_dir, args.database_url)
        return 0
    began = time.perf_counter()
    loads = [os.getloadavg()[0]]
    out.print(
        f"[bold]tracker ingestion[/] — {args.events:,} events in batches of {BATCH:,}; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average {loads[0]:.2f}"
    )
    pg_reason = None if args.sqlite_only else postgres_unreachable()
    notes: list[str] = [revision()]
    if pg_reason:
        notes.append(f"PostgreSQL skipped: {pg_reason}")
    pipeline: list[PipelineResult] = []
    loads_http: list[Load] = []
    with tempfile.TemporaryDirectory(prefix="lawful-ingest-") as tmp:
        workdir = Path(tmp)
        if not args.no_pipeline:
            rng = random.Random(args.seed)
            policy = load_policy()
            lo, hi = event_times(datetime.now(UTC), policy.monitoring.session_timeout_minutes)
            with out.status(f"generating {args.events:,} events"):
                events = traffic(args.events, rng, lo, hi)
            makers: list[Callable[[], Any]] = [lambda: sqlite_backend(workdir)]
            if not args.sqlite_only and not pg_reason:
                makers.append(postgres_backend)
            for make in makers:
                with make() as backend:
                    register_site(backend.db)
                    result = run_pipeline(backend, events)
                    with out.status(f"{backend.label}: storage"):
                        measure_storage(backend, result, args.rollups, random.Random(args.seed))
                    pipeline.append(result)
                    loads.append(os.getloadavg()[0])
            first = pipeline[0]
            notes.append(
                f"{first.events:,} events: {first.stored:,} stored, {first.dropped:,} dropped "
                f"(bots and objections, counted in monitoring_ingest_counts); "
                + "; ".join(f"{r.backend}: {r.version}" for r in pipeline)
            )
        if not args.no_http:
            if shutil.which("wrk") is None:
                notes.append("HTTP skipped: wrk is not installed (apt-get install -y wrk)")
            else:
                kinds = ["sqlite"] + (
                    ["postgresql"] if args.http_postgres and not pg_reason and not args.sqlite_only else []
                )
                loads_http, http_notes = run_http(args, workdir, kinds)
                notes += http_notes
                loads.append(os.getloadavg()[0])
    tables = []
    if pipeline:
        tables.append(("Tracker pipeline in process, one core", PIPELINE_HEADER, pipeline_rows(pipeline), 2))
        tables.append(("Storage after VACUUM", STORAGE_HEADER, storage_rows(pipeline), 2))
    if loads_http:
        tables.append(
            ("POST /api/event over HTTP, one uvicorn worker", HTTP_HEADER, http_rows(loads_http), 2)
        )
    import uvicorn

    notes.append(
        f"Python {platform.python_version()}, uvicorn {uvicorn.__version__} "
        f"(loop {_loop_name()}, HTTP parser {_http_name()}); load average "
        f"{min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} CPUs; {time.perf_counter() - began:.0f} s in all"
    )
    report(out, [(title, header, rows, numeric_from(n, header)) for title, header, rows, n in tables], notes)
    return 0


def numeric_from(first: int, header: list[str]) -> Justify:
    """Right-align the columns from ``first`` up to the last (the verdict)."""
    return lambda i, _: first <= i < len(header) - 1


def _loop_name() -> str:
    return "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"


def _http_name() -> str:
    return "httptools" if importlib.util.find_spec("httptools") else "h11"


if __name__ == "__main__":
    sys.exit(main())
