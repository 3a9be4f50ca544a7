"""The year view of the analytics dashboard with 1M and 10M page views, on SQLite and PostgreSQL.

A generator writes a site's year straight to the store: the daily rollup rows of the 364 past
days, shaped as :func:`lawful.monitoring.rollups.roll_up_day` writes them (one ``total`` row per
day; ``page``, ``entry``, ``exit``, ``referrer``, ``browser``, ``os``, ``device`` and ``event``
rows per value seen that day), and today's raw events (page views, the engagement event of
each page left, outbound links and custom events, visits of one to a dozen pages). Pages,
entry and exit pages and referrer hosts are drawn from long-tailed (Zipf) catalogues, so the
number of rollup rows per day grows with the traffic as it does on a real site. Daily traffic
grows over the year and dips at weekends; the page views of all 365 days add up to exactly
1M or 10M. Nothing of the 10M is a raw event except today's: sending 20M raw events through
the pipeline and rolling them up would take most of an hour and measure those, not the dashboard.

Where Lawful keeps monthly rollups, the rollup job's own ``rebuild_month`` builds them from the
generated daily rows (untimed).

Then the year view, :func:`lawful.monitoring.stats.dashboard` over the 365 days up to today
(totals, the daily series, the top 10 of the eight dimensions, realtime), is timed in a unit of
work under ``monitoring`` as an analyst, as the dashboard page runs it, with ``now`` at the end
of today (a full day of raw events, the most the live part reads): once with a new page view of
today stored (untimed) before each view, as on a busy site, and once with no new event in
between (what Lawful keeps of a live day stays valid). Also timed apart: the past days alone
(rollups only) and today alone (raw events only). The first run is reported apart from the
median of the others. Goal: <= 500 ms.

    .venv/bin/python bench/dashboard.py                     # 1M and 10M, SQLite and PostgreSQL
    .venv/bin/python bench/dashboard.py --quick             # 100k and 1M, fewer repeats
    .venv/bin/python bench/dashboard.py --views 10000000 --sqlite-only
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import math
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
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from sqlalchemy import func, insert, select, text

from common import libpq_url, postgres_unreachable, postgres_url, report, revision, sqlite_url
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.monitoring import models, rollups, stats
from lawful.monitoring.ingest import PURPOSE
from lawful.monitoring.models import Site
from lawful.monitoring.rollups import timeout_ms_of
from lawful.monitoring.sessions import DAY_MS, Figures, day_start_ms
from lawful.policy.loader import load_policy

GOAL_MS = 500.0
DAYS = 365
ANALYST = Actor.staff(uuid.UUID(int=1), "analyst")
SYSTEM = Actor.system("bench")
DOMAIN = "shop.example"

# Shape of a visit, and of the visits of a day.
VIEWS_PER_VISIT = 2.3
VISITORS_PER_VISIT = 0.82
BOUNCE_RATE = 0.45
EVENTS_PER_VISIT = 0.12
SECONDS_PER_VISIT = 95

BROWSERS = {
    "Chrome": 40,
    "Mobile Safari": 17,
    "Chrome Mobile": 14,
    "Safari": 8,
    "Firefox": 6,
    "Edge": 6,
    "Samsung Internet": 3,
    "Chrome Mobile iOS": 2,
    "Opera": 1.5,
    "Firefox Mobile": 1,
    "Brave": 0.6,
    "Yandex Browser": 0.3,
    "Vivaldi": 0.2,
    "DuckDuckGo Mobile": 0.2,
    "": 0.2,
}
SYSTEMS = {
    "Windows": 33,
    "Android": 25,
    "iOS": 21,
    "Mac OS X": 14,
    "Linux": 3,
    "Ubuntu": 1.5,
    "Chrome OS": 1,
    "Fedora": 0.3,
    "": 1.2,
}
DEVICES = {"desktop": 52, "mobile": 44, "tablet": 3.5, "other": 0.5}
EVENTS = {"outbound": 50, "signup": 12, "download": 15, "contact": 8, "newsletter": 9, "video-play": 6}
WORDS = [
    "privacy",
    "analytics",
    "invoice",
    "contract",
    "cookie",
    "consent",
    "retention",
    "export",
    "dashboard",
    "report",
    "pricing",
    "team",
    "security",
    "api",
    "webhook",
    "install",
    "guide",
    "release",
    "update",
    "customer",
    "billing",
    "support",
]

out = Console() if sys.stdout.isatty() else Console(width=160)


# --- the generator -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """How big the site is: its page views in the year and the sizes of its long-tailed catalogues."""

    views: int
    pages: int
    hosts: int

    @classmethod
    def of(cls, views: int) -> Shape:
        # A site with more traffic has more pages and more referrers, but not proportionally more.
        scale = math.sqrt(views / 1_000_000)
        return cls(views, max(200, round(2_000 * scale)), max(50, round(300 * scale)))


def catalogue_paths(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct page paths, most popular first."""
    paths = ["/", "/pricing", "/blog", "/docs", "/about", "/contact", "/signup", "/login"]
    sections = ["blog", "docs", "products", "help", "news", "changelog"]
    seen = set(paths)
    while len(paths) < count:
        slug = "-".join(rng.sample(WORDS, rng.randint(2, 4)))
        path = f"/{rng.choice(sections)}/{slug}-{rng.randint(1, 9999)}"
        if path not in seen:
            seen.add(path)
            paths.append(path)
    return paths


def catalogue_hosts(rng: random.Random, count: int) -> list[str]:
    """Referrer hosts, most frequent first; "" is a direct visit."""
    hosts = ["", "google.com", "bing.com", "duckduckgo.com", "linkedin.com", "t.co", "news.ycombinator.com"]
    while len(hosts) < count:
        host = (
            f"{rng.choice(WORDS)}{rng.randint(1, 99_999)}.example.{rng.choice(['org', 'net', 'com', 'nl'])}"
        )
        if host not in hosts:
            hosts.append(host)
    return hosts


def zipf(count: int, s: float = 1.0, head: float | None = None) -> list[float]:
    """Cumulative weights of a Zipf distribution (the first value may get a fixed share ``head``)."""
    weights = [1 / (i + 1) ** s for i in range(count)]
    if head is not None:
        rest = sum(weights[1:])
        weights = [head * rest / (1 - head), *weights[1:]]
    return list(itertools.accumulate(weights))


def daily_views(total: int, today: date, rng: random.Random) -> dict[date, int]:
    """Page views per day over the 365 days up to today: growing, lower at weekends, adding up to ``total``."""
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    # Today is never a weekend day here: its raw events are what the live part reads.
    weights = [
        (0.75 + 0.5 * i / (DAYS - 1))
        * (0.65 if d.weekday() >= 5 and d != today else 1.0)
        * rng.lognormvariate(0, 0.08)
        for i, d in enumerate(days)
    ]
    scale = total / sum(weights)
    views = {d: int(w * scale) for d, w in zip(days, weights, strict=True)}
    for d in rng.sample(days, total - sum(views.values())):  # the remainder, one view each
        views[d] += 1
    return views


def split(total: int, shares: Mapping[str, float], rng: random.Random) -> Counter[str]:
    """``total`` spread over a few values by their shares, with some noise; adds up to ``total``."""
    weights = {k: v * rng.lognormvariate(0, 0.05) for k, v in shares.items()}
    whole = sum(weights.values())
    counts = Counter({k: int(total * w / whole) for k, w in weights.items()})
    keys = list(shares)
    for k in rng.choices(keys, [weights[k] for k in keys], k=total - sum(counts.values())):
        counts[k] += 1
    return +counts


def draw(values: list[str], cumulative: list[float], k: int, rng: random.Random) -> Counter[str]:
    return Counter(rng.choices(values, cum_weights=cumulative, k=k))


RollupRow = tuple[Any, ...]


@dataclass
class Year:
    rollups: list[RollupRow] = field(default_factory=list)
    raw: list[tuple[Any, ...]] = field(default_factory=list)
    per_dimension: Counter[str] = field(default_factory=Counter)
    past_views: int = 0
    today_views: int = 0
    monthly_rows: int = 0  # built from the daily rows by the rollup job's function, where it has one


def visit_figures(visits: int, rng: random.Random) -> tuple[int, int, int, int, int, int]:
    """(visitors, visits, page views, events, bounces, duration ms) of ``visits`` visits sharing a value."""
    noise = rng.lognormvariate(0, 0.1)
    return (
        max(1, round(visits * min(1.0, VISITORS_PER_VISIT * noise))),
        visits,
        max(visits, round(visits * VIEWS_PER_VISIT * noise)),
        round(visits * EVENTS_PER_VISIT * noise),
        min(visits, round(visits * BOUNCE_RATE * noise)),
        round(visits * SECONDS_PER_VISIT * 1000 * noise),
    )


def past_day(
    day: Any, views: int, catalogues: dict[str, Any], rng: random.Random, year: Year, key: Any
) -> None:
    """The rollup rows of one past day with ``views`` page views (``day`` as the driver takes it)."""
    paths, path_weights, entry_weights, hosts, host_weights = (
        catalogues["paths"],
        catalogues["path_weights"],
        catalogues["entry_weights"],
        catalogues["hosts"],
        catalogues["host_weights"],
    )
    visits = max(1, round(views / VIEWS_PER_VISIT * rng.lognormvariate(0, 0.05)))
    visitors = round(visits * VISITORS_PER_VISIT)
    events = round(visits * EVENTS_PER_VISIT)
    bounces = round(visits * BOUNCE_RATE)
    duration = visits * SECONDS_PER_VISIT * 1000
    rows = year.rollups
    rows.append((key, day, "total", "", visitors, visits, views, events, bounces, duration))
    year.per_dimension["total"] += 1
    for path, count in draw(paths, path_weights, views, rng).items():
        page_visits = max(1, round(count * 0.85))
        rows.append((key, day, "page", path, max(1, round(page_visits * 0.9)), page_visits, count, 0, 0, 0))
        year.per_dimension["page"] += 1
    for dimension, counts in (
        ("entry", draw(paths, entry_weights, visits, rng)),
        ("exit", draw(paths, entry_weights, visits, rng)),
        ("referrer", draw(hosts, host_weights, visits, rng)),
        ("browser", split(visits, BROWSERS, rng)),
        ("os", split(visits, SYSTEMS, rng)),
        ("device", split(visits, DEVICES, rng)),
    ):
        for value, count in counts.items():
            rows.append((key, day, dimension, value, *visit_figures(count, rng)))
            year.per_dimension[dimension] += 1
    for name, count in split(events, EVENTS, rng).items():
        event_visits = max(1, round(count * 0.9))
        rows.append(
            (key, day, "event", name, max(1, round(event_visits * 0.95)), event_visits, 0, count, 0, 0)
        )
        year.per_dimension["event"] += 1
    year.past_views += views


def today_events(
    today: date, views: int, catalogues: dict[str, Any], rng: random.Random, year: Year, key: Any
) -> None:
    """Raw events of today: visits of 1 to a dozen page views until ``views`` page views are made."""
    paths, entry_weights, path_weights = (
        catalogues["paths"],
        catalogues["entry_weights"],
        catalogues["path_weights"],
    )
    hosts, host_weights = catalogues["hosts"], catalogues["host_weights"]
    midnight = day_start_ms(today)
    browsers, systems, devices = list(BROWSERS), list(SYSTEMS), list(DEVICES)
    left = views
    visitors: list[tuple[int, str, str, str, str]] = []
    while left > 0:
        if visitors and rng.random() > VISITORS_PER_VISIT:
            visitor, browser, version, os_name, device = rng.choice(visitors)  # a returning visitor
        else:
            visitor = rng.getrandbits(63) - (1 << 62)
            browser = rng.choices(browsers, list(BROWSERS.values()))[0]
            os_name = rng.choices(systems, list(SYSTEMS.values()))[0]
            device = rng.choices(devices, list(DEVICES.values()))[0]
            version = str(rng.randint(110, 131))
            visitors.append((visitor, browser, version, os_name, device))
        pages = 1 if rng.random() < BOUNCE_RATE else min(left, 2 + int(rng.expovariate(1 / 1.4)))
        pages = min(pages, left)
        left -= pages
        ts = midnight + rng.randrange(23 * 3_600_000)  # visits start before 23:00, end within the day
        referrer = rng.choices(hosts, cum_weights=host_weights)[0] or None
        for i in range(pages):
            path = rng.choices(paths, cum_weights=entry_weights if i == 0 else path_weights)[0]
            device_columns = (browser or None, version, os_name or None, device)
            year.raw.append(
                (
                    key,
                    ts,
                    visitor,
                    "pageview",
                    path,
                    None,
                    referrer if i == 0 else None,
                    None,
                    None,
                    *device_columns,
                )
            )
            engaged = int(rng.expovariate(1 / 30_000)) + 500
            ts += engaged
            year.raw.append(
                (key, ts, visitor, "engagement", path, None, None, None, engaged, *device_columns)
            )
            if rng.random() < EVENTS_PER_VISIT / VIEWS_PER_VISIT:
                name = rng.choices(list(EVENTS), list(EVENTS.values()))[0]
                target = "https://partner.example/" if name == "outbound" else None
                year.raw.append((key, ts, visitor, name, path, None, None, target, None, *device_columns))
            ts += rng.randint(1_000, 20_000)
    year.raw.sort(key=lambda row: row[1])  # ingestion stores events in the order they arrive
    year.today_views = views


def generate(shape: Shape, site_id: uuid.UUID, today: date, *, postgres: bool, seed: int) -> Year:
    rng = random.Random(seed)
    paths = catalogue_paths(rng, shape.pages)
    hosts = catalogue_hosts(rng, shape.hosts)
    catalogues = {
        "paths": paths,
        "path_weights": zipf(len(paths), 1.0),
        "entry_weights": zipf(len(paths), 1.15),
        "hosts": hosts,
        "host_weights": zipf(len(hosts), 1.2, head=0.45),
    }
    views = daily_views(shape.views, today, rng)
    key: Any = site_id if postgres else site_id.hex  # as SQLAlchemy stores a UUID on SQLite
    year = Year()
    for day, count in views.items():
        if day == today:
            today_events(today, count, catalogues, rng, year, key)
        else:
            past_day(day if postgres else day.isoformat(), count, catalogues, rng, year, key)
    return year


# --- the store ---------------------------------------------------------------------------------

ROLLUP_COLUMNS = "site_id, day, dimension, value, visitors, visits, pageviews, events, bounces, duration_ms"
EVENT_COLUMNS = (
    "site_id, ts, visitor_id, name, path, query, referrer_host, target, engaged_ms, "
    "browser, browser_version, os, device"
)


def write_sqlite(path: str, year: Year) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        with conn:
            conn.executemany(
                f"INSERT INTO monitoring_rollups ({ROLLUP_COLUMNS}) VALUES ({', '.join('?' * 10)})",
                year.rollups,
            )
            conn.executemany(
                f"INSERT INTO page_events ({EVENT_COLUMNS}) VALUES ({', '.join('?' * 13)})", year.raw
            )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def write_postgres(url: str, year: Year) -> None:
    with psycopg.connect(libpq_url(url)) as conn:
        with conn.cursor() as cursor:
            with cursor.copy(f"COPY monitoring_rollups ({ROLLUP_COLUMNS}) FROM STDIN") as copy:
                for row in year.rollups:
                    copy.write_row(row)
            with cursor.copy(f"COPY page_events ({EVENT_COLUMNS}) FROM STDIN") as copy:
                for row in year.raw:
                    copy.write_row(row)
        conn.commit()


def vacuum_postgres(url: str) -> None:
    """A year of daily inserts would have been vacuumed and analysed by autovacuum."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def build_months(db: Database, site_id: uuid.UUID, year: Year) -> int:
    """The monthly rollups, where the rollup job keeps them, built by the job's own function.

    Returns the number of monthly rows (0 where Lawful has no monthly rollups).
    """
    rebuild = getattr(rollups, "rebuild_month", None)
    monthly = getattr(models, "MonthlyRollup", None)
    if rebuild is None or monthly is None:
        return 0
    months = sorted({date.fromisoformat(str(row[1])).replace(day=1) for row in year.rollups})
    for month in months:
        with db.unit_of_work(PURPOSE, rollups.ROLLUP_ACTOR) as session:
            rebuild(session, site_id, month)
    with db.unit_of_work(PURPOSE, SYSTEM) as session:
        return int(session.scalar(select(func.count()).select_from(monthly)) or 0)


def register_site(db: Database) -> uuid.UUID:
    with db.unit_of_work(PURPOSE, SYSTEM) as session:
        site = Site(domain=DOMAIN, name="Shop")
        session.add(site)
        session.flush()
        return site.id


def store_bytes(db: Database, url: str) -> int:
    """Bytes of the rollups (daily and, where kept, monthly) and raw events with their indexes."""
    tables = ("monitoring_rollups", "monitoring_rollups_monthly", "page_events")
    if db.dialect == "postgresql":
        with db.internal() as conn:
            sizes = [
                conn.execute(
                    text("SELECT coalesce(pg_total_relation_size(to_regclass(:name)), 0)"), {"name": name}
                ).scalar_one()
                for name in tables
            ]
            return sum(int(size) for size in sizes)
    lite = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        names = [
            r[0]
            for r in lite.execute(
                f"SELECT name FROM sqlite_master WHERE tbl_name IN ({', '.join('?' * len(tables))})", tables
            )
        ]
        row = lite.execute(
            f"SELECT sum(pgsize) FROM dbstat WHERE name IN ({', '.join('?' * len(names))})", names
        ).fetchone()
        return int(row[0] or 0)
    finally:
        lite.close()


# --- timing ------------------------------------------------------------------------------------


@dataclass
class Timing:
    label: str
    first_ms: float
    samples_ms: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def max_ms(self) -> float:
        return max(self.samples_ms)


@dataclass
class Result:
    backend: str
    shape: Shape
    year: Year
    seconds_generate: float
    seconds_write: float
    seconds_months: float
    store_bytes: int
    timings: list[Timing]
    totals: Figures
    expected_views: int  # the generated page views and those that arrived before the first view
    profile: str = ""


def timed(run: Callable[[], Any], repeat: int, before: Callable[[], None]) -> tuple[float, list[float], Any]:
    """The first run and ``repeat`` more, each after ``before`` (untimed)."""
    before()
    start = time.perf_counter()
    value = run()
    first = (time.perf_counter() - start) * 1000
    samples = []
    for _ in range(repeat):
        before()
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    return first, samples, value


class Arrivals:
    """New page views of today, one before each view: a busy site's dashboard rarely sees the
    same raw events twice, so whatever Lawful keeps of a live day must be brought up to date."""

    def __init__(self, db: Database, site_id: uuid.UUID, today: date) -> None:
        self.db = db
        self.site_id = site_id
        self.next_ts = day_start_ms(today) + 23 * 3_600_000  # after the generated visits began
        self.count = 0

    def one(self) -> None:
        row = {
            "site_id": self.site_id,
            "ts": self.next_ts,
            "visitor_id": 1_000_000 + self.count,
            "name": "pageview",
            "path": "/pricing",
            "browser": "Firefox",
            "browser_version": "133",
            "os": "Linux",
            "device": "desktop",
        }
        with self.db.unit_of_work(PURPOSE, SYSTEM) as session:
            session.execute(insert(models.PageEvent), [row])
        self.next_ts += 1_000
        self.count += 1

    @staticmethod
    def none() -> None:
        return None


def year_view(db: Database, site_id: uuid.UUID, days: stats.Range, now: datetime) -> stats.Dashboard:
    """What the dashboard page runs for a range."""
    with db.unit_of_work(PURPOSE, ANALYST) as session:
        return stats.dashboard(
            session,
            site_id,
            days,
            now=now,
            timeout_ms=timeout_ms_of(db),
            live_within=db.policy.monitoring.raw_event_days,
        )


def bench(backend: str, url: str, shape: Shape, today: date, args: argparse.Namespace) -> Result:
    db = Database(url, load_policy())
    try:
        site_id = register_site(db)
        postgres = db.dialect == "postgresql"
        with out.status(f"{backend}, {shape.views:,} page views: generating"):
            start = time.perf_counter()
            year = generate(shape, site_id, today, postgres=postgres, seed=args.seed)
            generated = time.perf_counter() - start
        with out.status(
            f"{backend}, {shape.views:,} page views: writing {len(year.rollups):,} rollup rows "
            f"and {len(year.raw):,} raw events"
        ):
            start = time.perf_counter()
            if postgres:
                write_postgres(url, year)
            else:
                write_sqlite(url.removeprefix("sqlite:///"), year)
            written = time.perf_counter() - start
        with out.status(f"{backend}, {shape.views:,} page views: monthly rollups, if Lawful keeps them"):
            start = time.perf_counter()
            year.monthly_rows = build_months(db, site_id, year)
            if postgres:
                vacuum_postgres(url)
            built = time.perf_counter() - start
        size = store_bytes(db, url)
        # The end of today: a full day of raw events for the live part.
        now = datetime.combine(today, datetime.min.time(), UTC) + timedelta(milliseconds=DAY_MS - 1)
        whole = stats.Range(today - timedelta(days=DAYS - 1), today)
        arrivals = Arrivals(db, site_id, today)
        parts: list[tuple[str, stats.Range, Callable[[], None]]] = [
            (f"year view: {DAYS} days up to today, a new event before each", whole, arrivals.one),
            (f"year view: {DAYS} days up to today, no new event", whole, arrivals.none),
            (
                f"rollups only: the {DAYS - 1} past days",
                stats.Range(whole.start, today - timedelta(days=1)),
                arrivals.none,
            ),
            ("raw events only: today, a new event before each", stats.Range(today, today), arrivals.one),
        ]
        timings = []
        board: stats.Dashboard | None = None
        expected = 0
        with out.status(f"{backend}, {shape.views:,} page views: timing the year view"):
            for label, days, before in parts:
                first, samples, value = timed(
                    lambda d=days: year_view(db, site_id, d, now),  # type: ignore[misc]
                    args.repeat,
                    before,
                )
                timings.append(Timing(label, first, samples))
                if board is None:
                    board = value
                    expected = shape.views + 1  # the first view came after one new page view
        assert board is not None
        profile = ""
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            year_view(db, site_id, whole, now)
            profiler.disable()
            buffer = io.StringIO()
            pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats(30)
            profile = buffer.getvalue()
        return Result(
            backend, shape, year, generated, written, built, size, timings, board.totals, expected, profile
        )
    finally:
        db.dispose()


# --- output ------------------------------------------------------------------------------------

HEADER = [
    "database",
    "page views",
    "query",
    "first ms",
    "median ms",
    "max ms",
    "share of the year view",
    "goal ≤ 500 ms",
]
DATA_HEADER = [
    "page views",
    "rollup rows",
    "monthly rows",
    "page",
    "entry",
    "exit",
    "referrer",
    "other",
    "raw events today",
    "bytes (SQLite / PostgreSQL)",
]


def result_rows(results: list[Result]) -> list[list[str]]:
    rows = []
    for r in results:
        whole = r.timings[0].median_ms
        for i, t in enumerate(r.timings):
            rows.append(
                [
                    r.backend,
                    f"{r.shape.views:,}",
                    t.label,
                    f"{t.first_ms:.0f}",
                    f"{t.median_ms:.0f}",
                    f"{t.max_ms:.0f}",
                    f"{t.median_ms / whole:.0%}",
                    ("met" if t.median_ms <= GOAL_MS else "MISSED") if i in (0, 1) else "",
                ]
            )
    return rows


def data_rows(results: list[Result]) -> list[list[str]]:
    rows = []
    by_views: dict[int, list[Result]] = {}
    for r in results:
        by_views.setdefault(r.shape.views, []).append(r)
    for views, group in by_views.items():
        r = group[0]
        d = r.year.per_dimension
        other = sum(n for k, n in d.items() if k not in ("page", "entry", "exit", "referrer"))
        sizes = " / ".join(f"{g.store_bytes / 1e6:,.0f} MB" for g in group)
        rows.append(
            [
                f"{views:,}",
                f"{len(r.year.rollups):,}",
                f"{r.year.monthly_rows:,}",
                f"{d['page']:,}",
                f"{d['entry']:,}",
                f"{d['exit']:,}",
                f"{d['referrer']:,}",
                f"{other:,}",
                f"{len(r.year.raw):,} ({r.year.today_views:,} page views)",
                sizes,
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the year view of the dashboard with 1M and 10M page views")
    parser.add_argument("--views", default="1000000,10000000", help="page views in the year, comma-separated")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs after the first")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--quick", action="store_true", help="100k and 1M page views, 3 repeats")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one year view per run")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    if args.quick:
        args.views, args.repeat = "100000,1000000", 3
    sizes = [int(v) for v in args.views.split(",")]
    began = time.perf_counter()
    loads = [os.getloadavg()[0]]
    out.print(
        f"[bold]dashboard year view[/] — {', '.join(f'{v:,}' for v in sizes)} page views over {DAYS} days; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average {loads[0]:.2f}"
    )
    today = datetime.now(UTC).date()
    notes: list[str] = [revision()]
    reason = None if args.sqlite_only else postgres_unreachable()
    if reason:
        notes.append(f"PostgreSQL skipped: {reason}")
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="lawful-dashboard-") as tmp:
        for views in sizes:
            shape = Shape.of(views)
            backends: list[tuple[str, Any]] = [("SQLite", lambda v=views: sqlite_url(Path(tmp), f"year{v}"))]
            if not reason:
                backends.append(("PostgreSQL", postgres_url))
            for label, make in backends:
                with make() as url:
                    result = bench(label, url, shape, today, args)
                loads.append(os.getloadavg()[0])
                if result.totals.pageviews != result.expected_views:
                    raise SystemExit(
                        f"{label}: the year view counts {result.totals.pageviews:,} page views, "
                        f"expected {result.expected_views:,}"
                    )
                results.append(result)
                notes.append(
                    f"{label}, {views:,}: {shape.pages:,} pages, {shape.hosts:,} referrer hosts in the catalogues; "
                    f"generated in {result.seconds_generate:.0f} s, written in {result.seconds_write:.0f} s, "
                    f"monthly rollups {result.seconds_months:.0f} s; "
                    f"the year view counts {result.totals.pageviews:,} page views, {result.totals.visits:,} visits"
                )
                if result.profile:
                    out.print(f"[bold]profile: {label}, {views:,}[/]\n{result.profile}")
    versions = f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    notes.append(
        f"{versions}; {args.repeat} timed runs after the first; load average "
        f"{min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} CPUs; {time.perf_counter() - began:.0f} s in all"
    )
    report(
        out,
        [
            ("The stored year", DATA_HEADER, data_rows(results), None),
            ("The year view", HEADER, result_rows(results), None),
        ],
        notes,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
