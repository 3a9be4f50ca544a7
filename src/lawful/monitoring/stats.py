"""The analytics of a site: the queries behind the dashboards and ``/api/v1/stats``, and the
registered sites.

Past days come from the daily rollups, aggregated in SQL (``GROUP BY value``, ``SUM``, ``LIMIT``),
so a year costs one index range per dimension whatever the traffic. Today comes from the raw
events, split into visits in Python exactly as a rollup would (``lawful.monitoring.sessions``);
so does a recent day the rollup job has not reached yet. Both are merged: the figures of a range
are the same whether a day was rolled up or not.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import and_, delete, distinct, func, or_, select, tuple_, union_all
from sqlalchemy.orm import Session

from lawful.errors import Conflict, Invalid, NotFound
from lawful.monitoring.models import IngestCount, MonthlyRollup, PageEvent, Rollup, Site
from lawful.monitoring.rollups import METRICS, days_with_events, month_bounds, visits_starting
from lawful.monitoring.sessions import (
    DAY_MS,
    DEFAULT_TIMEOUT_MS,
    EVENT,
    MINUTE_MS,
    PAGE,
    TOTAL,
    Figures,
    Key,
    breakdown,
    day_start_ms,
    to_ms,
    utc_day,
)

REALTIME_MINUTES = 5
DEFAULT_DAYS = 30
MAX_YEARS = 3
EARLIEST = date(1970, 1, 1)
LATEST = date(9000, 12, 31)
TOP = 10

# The visits of live days, per (database, site, day, day complete?, timeout): valid while the
# (count, highest id) of the events from that day on is unchanged. Oldest entries go first.
LIVE_CACHE = 64
_LIVE: dict[tuple[str, uuid.UUID, date, bool, int], tuple[tuple[int, int | None], dict[Key, Figures]]] = {}

# What a top list is ranked by (then by value): page views of a page, events of an event name,
# visits of everything else.
RANKED_BY = {PAGE: "pageviews", EVENT: "events"}


def now() -> datetime:
    """The present moment (UTC); the web layer asks here, so that tests can fix it."""
    return datetime.now(UTC)


# --- ranges -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Range:
    """A range of UTC days, both ends included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __iter__(self) -> Iterator[date]:
        return (self.start + timedelta(days=i) for i in range(self.days))

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def date_range(
    start: date | None, end: date | None, *, today: date, default_days: int = DEFAULT_DAYS
) -> Range:
    """The range asked for; by default the last ``default_days`` days up to today.

    Raises Invalid when ``start`` is after ``end``, when the range is longer than three years,
    or when a date is outside the years 1970 to 9000.
    """
    end = end or (today if start is None or start <= today else start)
    start = start or end - timedelta(days=default_days - 1)
    for name, value in (("from", start), ("to", end)):
        if not EARLIEST <= value <= LATEST:
            raise Invalid(f"{name}: {value.isoformat()} is out of range", detail={"field": name})
    if start > end:
        raise Invalid("from is after to", detail={"from": start.isoformat(), "to": end.isoformat()})
    if end >= start + relativedelta(years=MAX_YEARS):
        raise Invalid(f"a range may span at most {MAX_YEARS} years", detail={"days": (end - start).days + 1})
    return Range(start, end)


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    """One row of a top list: a page, a referrer host, a browser… and its figures."""

    value: str
    figures: Figures


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    figures: Figures


@dataclass(frozen=True)
class Dashboard:
    site: Site
    range: Range
    totals: Figures
    series: list[Day]
    tops: dict[str, list[Item]]
    realtime: int
    live_days: list[date] = field(default_factory=list)


def _figures(row: Sequence[Any]) -> Figures:
    """Figures from SUM columns (PostgreSQL sums bigints as numeric: make them ints)."""
    return Figures(*(int(v or 0) for v in row))


_SUMS = (
    func.sum(Rollup.visitors),
    func.sum(Rollup.visits),
    func.sum(Rollup.pageviews),
    func.sum(Rollup.events),
    func.sum(Rollup.bounces),
    func.sum(Rollup.duration_ms),
)


# --- the query --------------------------------------------------------------------------------


class Stats:
    """The figures of one site over a range of days, as of ``now``.

    Rollups are read for the past days of the range; raw events for today and for the past days
    of the raw-event period that have no rollup yet (``live_within`` days back).
    """

    def __init__(
        self,
        session: Session,
        site_id: uuid.UUID,
        days: Range,
        *,
        now: datetime,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        live_within: int = 30,
    ) -> None:
        self.session = session
        self.site_id = site_id
        self.range = days
        self.now = now
        self.timeout_ms = timeout_ms
        self.today = utc_day(now)
        self.live_within = live_within
        past_end = min(days.end, self.today - timedelta(days=1))
        self.past = Range(days.start, past_end) if days.start <= past_end else None

    # which days come from raw events
    @cached_property
    def live_days(self) -> list[date]:
        days = [self.today] if self.today in self.range else []
        if self.past is None:
            return days
        first = max(self.past.start, self.today - timedelta(days=self.live_within + 1))
        if first > self.past.end:
            return days
        window = Range(first, self.past.end)
        rolled = set(
            self.session.scalars(
                select(Rollup.day).where(
                    Rollup.site_id == self.site_id,
                    Rollup.dimension == TOTAL,
                    Rollup.day >= window.start,
                    Rollup.day <= window.end,
                )
            )
        )
        missing = [d for d in window if d not in rolled]
        if missing:
            with_events = days_with_events(
                self.session,
                self.site_id,
                since=day_start_ms(missing[0]),
                before=day_start_ms(missing[-1]) + DAY_MS,
            )
            days = [d for d in with_events if d in set(missing)] + days
        return days

    @cached_property
    def live(self) -> dict[Key, Figures]:
        """The rollup rows of the live days, computed from raw events."""
        rows: dict[Key, Figures] = {}
        for day in self.live_days:
            start = day_start_ms(day)
            end = min(start + DAY_MS, to_ms(self.now) + 1)
            # Splitting a busy day into visits takes a while; its result is kept until an event
            # of that day (or after it) arrives, which the count and the highest id tell.
            count, highest = self.session.execute(
                select(func.count(), func.max(PageEvent.id)).where(
                    PageEvent.site_id == self.site_id, PageEvent.ts >= start - self.timeout_ms
                )
            ).one()
            key = (
                str(self.session.get_bind().engine.url),
                self.site_id,
                day,
                end >= start + DAY_MS,
                self.timeout_ms,
            )
            cached = _LIVE.get(key)
            if cached is not None and cached[0] == (count, highest):
                rows.update(cached[1])
                continue
            visits = visits_starting(self.session, self.site_id, start, end, timeout_ms=self.timeout_ms)
            day_rows = breakdown(visits)
            _LIVE[key] = ((count, highest), day_rows)
            while len(_LIVE) > LIVE_CACHE:
                _LIVE.pop(next(iter(_LIVE)))
            rows.update(day_rows)
        return rows

    @property
    def _by_value(self) -> Any:
        """Values in code-point order on every backend (as Python sorts them)."""
        bind = self.session.get_bind()
        return Rollup.value.collate("C") if bind.dialect.name == "postgresql" else Rollup.value

    def _rolled(self, *where: Any) -> Any:
        assert self.past is not None
        return (
            Rollup.site_id == self.site_id,
            Rollup.day >= self.past.start,
            Rollup.day <= self.past.end,
            *where,
        )

    def totals(self) -> Figures:
        result = Figures()
        if self.past is not None:
            row = self.session.execute(select(*_SUMS).where(*self._rolled(Rollup.dimension == TOTAL))).one()
            result = _figures(row)
        for (_, dimension, _), f in self.live.items():
            if dimension == TOTAL:
                result = result + f
        return result

    def series(self) -> list[Day]:
        """Figures per day of the range (zeros for days without visits)."""
        per_day: dict[date, Figures] = {}
        if self.past is not None:
            stmt = select(
                Rollup.day,
                Rollup.visitors,
                Rollup.visits,
                Rollup.pageviews,
                Rollup.events,
                Rollup.bounces,
                Rollup.duration_ms,
            ).where(*self._rolled(Rollup.dimension == TOTAL))
            for row in self.session.execute(stmt):
                per_day[row[0]] = _figures(row[1:])
        for (day, dimension, _), f in self.live.items():
            if dimension == TOTAL and day in self.range:
                per_day[day] = per_day.get(day, Figures()) + f
        return [Day(day, per_day.get(day, Figures())) for day in self.range]

    def _past_rows(self, dimension: str) -> Any:
        """The rollup rows of ``dimension`` covering the past days of the range: whole months
        from the monthly rollups, the days of partly covered months from the daily ones."""
        assert self.past is not None
        months: list[date] = []
        edges: list[tuple[date, date]] = []
        first = self.past.start.replace(day=1)
        while first <= self.past.end:
            first, last = month_bounds(first)
            if first >= self.past.start and last <= self.past.end:
                months.append(first)
            else:
                edges.append((max(first, self.past.start), min(last, self.past.end)))
            first = last + timedelta(days=1)
        parts: list[Any] = []
        if months:
            parts.append(
                select(MonthlyRollup.value, *(getattr(MonthlyRollup, m) for m in METRICS)).where(
                    MonthlyRollup.site_id == self.site_id,
                    MonthlyRollup.dimension == dimension,
                    MonthlyRollup.month.in_(months),
                )
            )
        if edges:
            parts.append(
                select(Rollup.value, *(getattr(Rollup, m) for m in METRICS)).where(
                    Rollup.site_id == self.site_id,
                    Rollup.dimension == dimension,
                    or_(*(and_(Rollup.day >= a, Rollup.day <= b) for a, b in edges)),
                )
            )
        if len(parts) == 1:
            return parts[0].subquery()
        combined: Any = union_all(*parts)
        return combined.subquery()

    def top(self, dimension: str, limit: int = TOP) -> list[Item]:
        """The top ``limit`` values of a dimension over the range, rollups and live days merged.

        Past days are read from the monthly rollups for whole months and the daily rollups for
        the rest, summed per value in SQL. Exact: when live days add values, every past value
        is read (one row per value), so that no value can be missed by the merge.
        """
        live = {value: f for (_, dim, value), f in self.live.items() if dim == dimension}
        merged: dict[str, Figures] = {}
        if self.past is not None:
            past = self._past_rows(dimension)
            value = past.c.value
            stmt = (
                select(value, *(func.sum(past.c[m]) for m in METRICS))
                .group_by(value)
                .order_by(
                    func.sum(past.c[RANKED_BY.get(dimension, "visits")]).desc(),
                    value.collate("C") if self.session.get_bind().dialect.name == "postgresql" else value,
                )
            )
            if not live:
                stmt = stmt.limit(limit)
            for row in self.session.execute(stmt):
                merged[row[0]] = _figures(row[1:])
        # live values of several days: add them up
        for (_, dim, value), f in self.live.items():
            if dim == dimension:
                merged[value] = merged.get(value, Figures()) + f
        key = RANKED_BY.get(dimension, "visits")
        ranked = sorted(merged.items(), key=lambda kv: (-getattr(kv[1], key), kv[0]))
        return [Item(value, f) for value, f in ranked[:limit]]

    def realtime(self) -> int:
        return realtime(self.session, self.site_id, now=self.now)


def realtime(session: Session, site_id: uuid.UUID, *, now: datetime, minutes: int = REALTIME_MINUTES) -> int:
    """Distinct visitor codes with an event in the last ``minutes`` minutes."""
    now_ms = to_ms(now)
    stmt = select(func.count(distinct(PageEvent.visitor_id))).where(
        PageEvent.site_id == site_id, PageEvent.ts > now_ms - minutes * MINUTE_MS, PageEvent.ts <= now_ms
    )
    return int(session.scalar(stmt) or 0)


TOP_DIMENSIONS = ("page", "entry", "exit", "referrer", "browser", "os", "device", "event")


def dashboard(
    session: Session,
    site_id: uuid.UUID,
    days: Range,
    *,
    now: datetime,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    live_within: int = 30,
    limit: int = TOP,
) -> Dashboard:
    """Everything the dashboard page shows, with the raw events of live days read once."""
    site = get_site(session, site_id)
    stats = Stats(session, site_id, days, now=now, timeout_ms=timeout_ms, live_within=live_within)
    return Dashboard(
        site=site,
        range=days,
        totals=stats.totals(),
        series=stats.series(),
        tops={d: stats.top(d, limit) for d in TOP_DIMENSIONS},
        realtime=stats.realtime(),
        live_days=stats.live_days,
    )


# --- raw export -------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    PageEvent.id,
    PageEvent.ts,
    PageEvent.visitor_id,
    PageEvent.name,
    PageEvent.path,
    PageEvent.query,
    PageEvent.referrer_host,
    PageEvent.target,
    PageEvent.engaged_ms,
    PageEvent.browser,
    PageEvent.browser_version,
    PageEvent.os,
    PageEvent.device,
)
EXPORT_FIELDS = tuple(c.key for c in EXPORT_COLUMNS)


def raw_events(
    session: Session, site_id: uuid.UUID, days: Range, *, chunk: int = 5000
) -> Iterator[list[tuple[Any, ...]]]:
    """The raw events of a site in a range, oldest first, in chunks (keyset pagination on ts, id).

    The shortened IP address is left out: nothing a site's owner analyses needs it.
    """
    start = day_start_ms(days.start)
    end = day_start_ms(days.end) + DAY_MS
    after: tuple[int, int] | None = None
    while True:
        stmt = (
            select(*EXPORT_COLUMNS)
            .where(PageEvent.site_id == site_id, PageEvent.ts >= start, PageEvent.ts < end)
            .order_by(PageEvent.ts, PageEvent.id)
            .limit(chunk)
        )
        if after is not None:
            stmt = stmt.where(tuple_(PageEvent.ts, PageEvent.id) > tuple_(*after))
        rows = [tuple(row) for row in session.execute(stmt)]
        if not rows:
            return
        yield rows
        if len(rows) < chunk:
            return
        after = (rows[-1][1], rows[-1][0])


# --- sites ------------------------------------------------------------------------------------

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def clean_domain(value: str) -> str:
    """A host name as the tracker tag names it: lower case, no scheme, port, path or final dot."""
    domain = value.strip().lower().removesuffix(".")
    labels = domain.split(".")
    if not domain or len(domain) > 253 or not all(_LABEL.match(label) for label in labels):
        raise Invalid(
            f"{value.strip()[:80]!r} is not a host name such as example.com (letters, digits, hyphens and dots)",
            detail={"field": "domain"},
        )
    if labels[-1].isdigit():
        raise Invalid("give the site's host name, not an IP address", detail={"field": "domain"})
    return domain


def list_sites(session: Session) -> list[Site]:
    return list(session.scalars(select(Site).order_by(Site.name, Site.domain)))


def get_site(session: Session, site_id: uuid.UUID) -> Site:
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound("no site with that id")
    return site


def register_site(session: Session, *, domain: str, name: str) -> Site:
    """Register a site to measure; its domain is what the tracker tag's ``data-site`` says."""
    domain = clean_domain(domain)
    name = name.strip()
    if not name:
        raise Invalid("a site needs a name", detail={"field": "name"})
    if len(name) > 200:
        raise Invalid("a site's name has at most 200 characters", detail={"field": "name"})
    if session.scalar(select(Site.id).where(Site.domain == domain)) is not None:
        raise Conflict(f"{domain} is already registered", detail={"field": "domain"})
    site = Site(domain=domain, name=name)
    session.add(site)
    session.flush()
    return site


def remove_site(session: Session, site_id: uuid.UUID) -> None:
    """Remove a site with its raw events, rollups and ingestion counts."""
    site = get_site(session, site_id)
    for model in (PageEvent, Rollup, MonthlyRollup, IngestCount):
        session.execute(
            delete(model).where(model.site_id == site_id).execution_options(synchronize_session=False)
        )
    session.delete(site)
    session.flush()
