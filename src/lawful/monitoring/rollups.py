"""Daily rollups of the raw tracker events, and the retention of raw events.

``roll_up_day`` turns one site's raw events of one UTC day into anonymous daily totals (the
``monitoring_rollups`` rows of that site and day, rewritten as a whole so that it can run again).
``roll_up`` does that for every complete day that has raw events and no rollup yet, and
``purge_raw`` deletes raw events older than the policy's ``raw_event_days`` days, never before
their day is rolled up. Both are jobs: they run under the purpose ``monitoring`` as a system actor.

A visit belongs to the day of its first event. Rolling up a day therefore reads the last
``timeout`` minutes of the day before (to see which early events continue a visit that started
the day before: those visits belong to that day and are skipped) and the events after midnight
of visits still open then (so that a visit crossing midnight is complete). A day is complete
once ``timeout`` minutes of the next day have passed.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Date, delete, func, insert, literal, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.monitoring.models import MonthlyRollup, PageEvent, Rollup, Site
from lawful.monitoring.sessions import (
    DAY_MS,
    DEFAULT_TIMEOUT_MS,
    MINUTE_MS,
    TOTAL,
    Figures,
    Hit,
    Visit,
    breakdown,
    day_of_ms,
    day_start_ms,
    split_visits,
    to_ms,
)

PURPOSE = "monitoring"
ROLLUP_ACTOR = Actor.system("monitoring-rollup")
RETENTION_ACTOR = Actor.system("retention")
IN_CHUNK = 500

HIT_COLUMNS = (
    PageEvent.visitor_id,
    PageEvent.ts,
    PageEvent.name,
    PageEvent.path,
    PageEvent.engaged_ms,
    PageEvent.referrer_host,
    PageEvent.browser,
    PageEvent.os,
    PageEvent.device,
)


def timeout_ms_of(db: Database) -> int:
    return db.policy.monitoring.session_timeout_minutes * MINUTE_MS


# --- reading visits ---------------------------------------------------------------------------


def _hits(
    session: Session, site_id: uuid.UUID, start: int, end: int, visitors: Sequence[int] = ()
) -> list[Hit]:
    stmt = (
        select(*HIT_COLUMNS)
        .where(PageEvent.site_id == site_id, PageEvent.ts >= start, PageEvent.ts < end)
        .order_by(PageEvent.visitor_id, PageEvent.ts, PageEvent.id)
    )
    if visitors:
        stmt = stmt.where(PageEvent.visitor_id.in_(visitors))
    return [Hit(*row) for row in session.execute(stmt)]


def visits_starting(
    session: Session, site_id: uuid.UUID, start: int, end: int, *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> list[Visit]:
    """The visits of a site whose first event lies in ``[start, end)`` (milliseconds), complete.

    Events up to ``timeout_ms`` before ``start`` are read to recognise visits that began earlier;
    visits still open at the end of what was read are followed until they end.
    """
    read_end = end + timeout_ms
    by_visitor: dict[int, list[Hit]] = defaultdict(list)
    for hit in _hits(session, site_id, start - timeout_ms, read_end):
        by_visitor[hit.visitor_id].append(hit)
    open_ = _open(by_visitor, end=end, read_end=read_end, timeout_ms=timeout_ms)
    while open_:
        later = read_end + timeout_ms
        found = False
        for i in range(0, len(open_), IN_CHUNK):
            for hit in _hits(session, site_id, read_end, later, open_[i : i + IN_CHUNK]):
                by_visitor[hit.visitor_id].append(hit)
                found = True
        read_end = later
        open_ = _open(by_visitor, end=end, read_end=read_end, timeout_ms=timeout_ms) if found else []
    return [
        v for hits in by_visitor.values() for v in split_visits(hits, timeout_ms) if start <= v.start < end
    ]


def _open(by_visitor: dict[int, list[Hit]], *, end: int, read_end: int, timeout_ms: int) -> list[int]:
    """Visitors whose last group began before ``end`` and may go on after ``read_end``."""
    found = []
    for visitor, hits in by_visitor.items():
        if read_end - hits[-1].ts > timeout_ms:
            continue
        first = len(hits) - 1
        while first > 0 and hits[first].ts - hits[first - 1].ts <= timeout_ms:
            first -= 1
        if hits[first].ts < end:
            found.append(visitor)
    return sorted(found)


# --- rolling up -------------------------------------------------------------------------------


def roll_up_day(
    session: Session, site_id: uuid.UUID, day: date, *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> Figures:
    """(Re)write the rollups of ``site_id`` for the UTC ``day``; returns the day's totals.

    Idempotent: the day's rows are deleted and inserted again. A day with raw events but no
    visit still gets a ``total`` row (of zeros), which marks it rolled up.
    """
    start = day_start_ms(day)
    visits = visits_starting(session, site_id, start, start + DAY_MS, timeout_ms=timeout_ms)
    rows = breakdown(visits)
    total = rows.get((day, TOTAL, ""), Figures())
    rows[(day, TOTAL, "")] = total
    session.execute(delete(Rollup).where(Rollup.site_id == site_id, Rollup.day == day))
    session.execute(
        insert(Rollup),
        [
            {
                "site_id": site_id,
                "day": d,
                "dimension": dimension,
                "value": value,
                "visitors": f.visitors,
                "visits": f.visits,
                "pageviews": f.pageviews,
                "events": f.events,
                "bounces": f.bounces,
                "duration_ms": f.duration_ms,
            }
            for (d, dimension, value), f in rows.items()
        ],
    )
    rebuild_month(session, site_id, day)
    return total


def month_bounds(day: date) -> tuple[date, date]:
    """The first and the last day of the month of ``day``."""
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


METRICS = ("visitors", "visits", "pageviews", "events", "bounces", "duration_ms")


def rebuild_month(session: Session, site_id: uuid.UUID, day: date) -> None:
    """(Re)write the monthly rollups of the month of ``day`` from its daily rollups, in SQL."""
    first, last = month_bounds(day)
    session.execute(
        delete(MonthlyRollup).where(MonthlyRollup.site_id == site_id, MonthlyRollup.month == first)
    )
    sums = select(
        Rollup.site_id,
        literal(first, Date).label("month"),
        Rollup.dimension,
        Rollup.value,
        *(func.sum(getattr(Rollup, m)).label(m) for m in METRICS),
    ).where(Rollup.site_id == site_id, Rollup.day >= first, Rollup.day <= last)
    session.execute(
        insert(MonthlyRollup).from_select(
            ["site_id", "month", "dimension", "value", *METRICS],
            sums.group_by(Rollup.site_id, Rollup.dimension, Rollup.value),
        )
    )


def last_complete_day(now_ms: int, timeout_ms: int) -> date:
    """The newest day whose end lies at least ``timeout_ms`` in the past."""
    return day_of_ms(now_ms - timeout_ms) - timedelta(days=1)


def days_with_events(
    session: Session, site_id: uuid.UUID, *, before: int, since: int | None = None
) -> list[date]:
    """The UTC days on which a site has raw events in ``[since, before)`` (ms), oldest first.

    One index seek per day found: the next event at or after the end of the last day found.
    """
    days: list[date] = []
    cursor = since
    while True:
        stmt = select(func.min(PageEvent.ts)).where(PageEvent.site_id == site_id, PageEvent.ts < before)
        if cursor is not None:
            stmt = stmt.where(PageEvent.ts >= cursor)
        ts = session.scalar(stmt)
        if ts is None:
            return days
        day = day_of_ms(int(ts))
        days.append(day)
        cursor = day_start_ms(day) + DAY_MS


def rolled_days(session: Session, site_id: uuid.UUID, *, since: date) -> set[date]:
    stmt = select(Rollup.day).where(Rollup.site_id == site_id, Rollup.dimension == TOTAL, Rollup.day >= since)
    return set(session.scalars(stmt))


def site_ids(session: Session) -> list[uuid.UUID]:
    return sorted(session.scalars(select(Site.id)))


def pending_days(session: Session, *, now_ms: int, timeout_ms: int) -> list[tuple[uuid.UUID, date]]:
    """Every (site, complete day) with raw events and no rollup yet."""
    last = last_complete_day(now_ms, timeout_ms)
    before = day_start_ms(last) + DAY_MS
    pending = []
    for site_id in site_ids(session):
        days = days_with_events(session, site_id, before=before)
        done = rolled_days(session, site_id, since=days[0]) if days else set()
        pending += [(site_id, d) for d in days if d not in done]
    return pending


def roll_up(db: Database, *, now: datetime) -> list[tuple[uuid.UUID, date]]:
    """Roll up every complete day that has raw events and no rollup yet; returns what was rolled.

    Each (site, day) commits on its own, so an interrupted run keeps what it finished.
    """
    timeout_ms = timeout_ms_of(db)
    with db.unit_of_work(PURPOSE, ROLLUP_ACTOR) as session:
        pending = pending_days(session, now_ms=to_ms(now), timeout_ms=timeout_ms)
    for site_id, day in pending:
        with db.unit_of_work(PURPOSE, ROLLUP_ACTOR) as session:
            roll_up_day(session, site_id, day, timeout_ms=timeout_ms)
    return pending


# --- retention --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Purged:
    """What a retention run did: the days it rolled up first, and the raw events it deleted."""

    rolled: list[tuple[uuid.UUID, date]] = field(default_factory=list)
    deleted: dict[uuid.UUID, int] = field(default_factory=dict)

    @property
    def total_deleted(self) -> int:
        return sum(self.deleted.values())


def purge_raw(db: Database, *, now: datetime) -> Purged:
    """Delete raw events older than the policy's ``raw_event_days`` days.

    Complete days are rolled up first; the events of a day that is not rolled up (and the
    ``timeout`` minutes before it, which its rollup reads) are kept whatever their age.
    """
    rolled = roll_up(db, now=now)
    timeout_ms = timeout_ms_of(db)
    cutoff = to_ms(now) - db.policy.monitoring.raw_event_days * DAY_MS
    deleted: dict[uuid.UUID, int] = {}
    with db.unit_of_work(PURPOSE, RETENTION_ACTOR) as session:
        for site_id in site_ids(session):
            days = days_with_events(session, site_id, before=cutoff + timeout_ms)
            if not days:
                continue
            bound = cutoff
            done = rolled_days(session, site_id, since=days[0])
            unrolled = [d for d in days if d not in done]
            if unrolled:
                bound = min(bound, day_start_ms(unrolled[0]) - timeout_ms)
            result = session.execute(
                delete(PageEvent)
                .where(PageEvent.site_id == site_id, PageEvent.ts < bound)
                .execution_options(synchronize_session=False)
            )
            deleted[site_id] = cast(CursorResult[Any], result).rowcount
    return Purged(rolled=rolled, deleted=deleted)
