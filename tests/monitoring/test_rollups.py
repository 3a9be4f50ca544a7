"""Daily rollups and the retention of raw events, on both backends."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, insert, select
from tests.factories import make_site
from tests.monitoring.test_sessions import SEQUENCE, TIMEOUT

from lawful.data.db import Database
from lawful.data.log import ProcessingRecord
from lawful.data.purpose import Actor
from lawful.monitoring.models import PageEvent, Rollup
from lawful.monitoring.rollups import purge_raw, roll_up, roll_up_day
from lawful.monitoring.sessions import (
    DAY_MS,
    Figures,
    Hit,
    breakdown,
    day_of_ms,
    day_start_ms,
    figures,
    sessionize,
)
from lawful.policy.model import Monitoring

TESTS = Actor.system("tests")
MIN = 60_000
DAY = day_of_ms(SEQUENCE[0].ts)


def store(db: Database, site_id: uuid.UUID, hits: Iterable[Hit]) -> None:
    rows = [{"site_id": site_id, **h._asdict()} for h in hits]
    with db.unit_of_work("monitoring", TESTS) as session:
        session.execute(insert(PageEvent), rows)


def rollups(
    db: Database, site_id: uuid.UUID, day: date | None = None
) -> dict[tuple[date, str, str], Figures]:
    with db.unit_of_work("monitoring", TESTS) as session:
        stmt = select(Rollup).where(Rollup.site_id == site_id)
        if day is not None:
            stmt = stmt.where(Rollup.day == day)
        return {
            (r.day, r.dimension, r.value): Figures(
                r.visitors, r.visits, r.pageviews, r.events, r.bounces, r.duration_ms
            )
            for r in session.scalars(stmt)
        }


def raw_ts(db: Database, site_id: uuid.UUID) -> list[int]:
    with db.unit_of_work("monitoring", TESTS) as session:
        return sorted(session.scalars(select(PageEvent.ts).where(PageEvent.site_id == site_id)))


def at(day: date, minutes: float) -> int:
    return day_start_ms(day) + int(minutes * MIN)


def moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def test_the_rollup_of_a_day_equals_the_figures_of_its_visits(database: Database) -> None:
    site = make_site(database)
    other = make_site(database, domain="other.test", name="Other")
    store(database, site, SEQUENCE)
    store(database, other, [SEQUENCE[0]])  # another site's event counts only for that site
    with database.unit_of_work("monitoring", TESTS) as session:
        total = roll_up_day(session, site, DAY, timeout_ms=TIMEOUT)
    expected = breakdown(sessionize(SEQUENCE, TIMEOUT))
    assert total == figures(sessionize(SEQUENCE, TIMEOUT))
    assert rollups(database, site) == expected
    assert rollups(database, site)[(DAY, "total", "")] == Figures(
        visitors=3, visits=4, pageviews=6, events=1, bounces=2, duration_ms=(33 * 60 + 9 + 12) * 1000
    )
    assert rollups(database, other) == {}


def test_rolling_up_again_changes_nothing(database: Database) -> None:
    site = make_site(database)
    store(database, site, SEQUENCE)
    with database.unit_of_work("monitoring", TESTS) as session:
        roll_up_day(session, site, DAY, timeout_ms=TIMEOUT)
    first = rollups(database, site)
    with database.unit_of_work("monitoring", TESTS) as session:
        roll_up_day(session, site, DAY, timeout_ms=TIMEOUT)
    assert rollups(database, site) == first
    with database.unit_of_work("monitoring", TESTS) as session:
        assert session.scalar(select(func.count()).select_from(Rollup)) == len(first)


def test_a_visit_crossing_midnight_belongs_to_its_first_day_complete(database: Database) -> None:
    site = make_site(database)
    d1 = DAY + timedelta(days=1)
    x, y = 7, 8
    crossing = [
        Hit(x, at(DAY, 23 * 60 + 50), "pageview", "/late"),
        Hit(x, at(d1, 15), "pageview", "/a"),
        Hit(x, at(d1, 40), "pageview", "/b"),  # beyond the first 30 minutes of the next day
        Hit(x, at(d1, 65), "pageview", "/c"),
    ]
    early = [Hit(y, at(d1, 10), "pageview", "/"), Hit(y, at(d1, 11), "engagement", "/", 60_000)]
    store(database, site, crossing + early)
    with database.unit_of_work("monitoring", TESTS) as session:
        first = roll_up_day(session, site, DAY, timeout_ms=TIMEOUT)
        second = roll_up_day(session, site, d1, timeout_ms=TIMEOUT)
    # 23:50 to 01:05 the next day: 75 minutes, four pages, exit /c
    assert first == Figures(visitors=1, visits=1, pageviews=4, duration_ms=75 * MIN)
    assert rollups(database, site, DAY)[(DAY, "exit", "/c")].visits == 1
    # the next day counts only y's visit, not the rest of x's
    assert second == Figures(visitors=1, visits=1, pageviews=1, duration_ms=1 * MIN)
    assert {v for (_, dim, v) in rollups(database, site, d1) if dim == "page"} == {"/"}


def test_roll_up_takes_each_complete_day_once(database: Database) -> None:
    site = make_site(database)
    d1 = DAY + timedelta(days=1)
    store(database, site, [*SEQUENCE, Hit(9, at(d1, 60), "pageview", "/")])
    not_yet = moment(day_start_ms(d1) + TIMEOUT - 1)  # 00:29:59.999 of the next day
    assert roll_up(database, now=not_yet) == []
    assert rollups(database, site) == {}
    complete = moment(day_start_ms(d1) + TIMEOUT)
    assert roll_up(database, now=complete) == [(site, DAY)]
    assert {day for (day, _, _) in rollups(database, site)} == {DAY}
    assert roll_up(database, now=complete + timedelta(hours=5)) == []
    later = moment(day_start_ms(d1) + DAY_MS + TIMEOUT)
    assert roll_up(database, now=later) == [(site, d1)]
    assert rollups(database, site, DAY) == breakdown(sessionize(SEQUENCE, TIMEOUT))


def test_a_day_of_engagements_only_is_marked_rolled_up_with_zeros(database: Database) -> None:
    site = make_site(database)
    store(database, site, [Hit(5, at(DAY, 600), "engagement", "/", 1000)])
    assert roll_up(database, now=moment(at(DAY, 2 * 24 * 60))) == [(site, DAY)]
    assert rollups(database, site) == {(DAY, "total", ""): Figures()}
    assert roll_up(database, now=moment(at(DAY, 3 * 24 * 60))) == []


def test_purge_keeps_young_events_and_removes_old_ones_after_rolling_them_up(database: Database) -> None:
    site = make_site(database)
    now = moment(at(DAY, 12 * 60))
    old_day = DAY - timedelta(days=40)
    young_day = DAY - timedelta(days=29)
    old = [Hit(1, at(old_day, 600), "pageview", "/old"), Hit(1, at(old_day, 601), "pageview", "/older")]
    young = [Hit(2, at(young_day, 600), "pageview", "/young")]
    store(database, site, old + young)

    purged = purge_raw(database, now=now)

    assert sorted(purged.rolled) == [(site, old_day), (site, young_day)]
    assert purged.deleted == {site: 2}
    assert purged.total_deleted == 2
    assert raw_ts(database, site) == [young[0].ts]
    # what was deleted survives as anonymous totals
    assert rollups(database, site, old_day)[(old_day, "total", "")] == Figures(
        visitors=1, visits=1, pageviews=2, duration_ms=MIN
    )
    assert rollups(database, site, old_day)[(old_day, "page", "/older")].pageviews == 1
    again = purge_raw(database, now=now)
    assert (again.rolled, again.total_deleted) == ([], 0)
    # the deletion is in the processing log, under the retention job
    with database.unit_of_work("accountability", TESTS) as session:
        logged = session.scalars(
            select(ProcessingRecord.operation).where(
                ProcessingRecord.actor_id == "retention", ProcessingRecord.table_name == "page_events"
            )
        ).all()
    assert "delete" in logged


def test_purge_never_removes_a_day_that_is_not_rolled_up(database: Database) -> None:
    # With one day of raw events, 00:10 is too early to roll up yesterday (it ends at 00:30):
    # yesterday's events and the half hour before it, which its rollup reads, stay.
    policy = database.policy.model_copy(update={"monitoring": Monitoring(raw_event_days=1)})
    db = Database(database.url, policy)
    try:
        site = make_site(db)
        yesterday = DAY - timedelta(days=1)
        before = DAY - timedelta(days=2)
        gone = Hit(1, at(before, 12 * 60), "pageview", "/gone")
        margin = Hit(2, at(before, 23 * 60 + 45), "pageview", "/margin")
        kept = Hit(2, at(yesterday, 5), "pageview", "/kept")
        store(db, site, [gone, margin, kept])
        now = moment(at(DAY, 10))

        purged = purge_raw(db, now=now)

        assert purged.rolled == [(site, before)]
        assert raw_ts(db, site) == [margin.ts, kept.ts]
        # the visit of 23:45 went on at 00:05: two pages, 20 minutes, on the day it began
        assert rollups(db, site, before)[(before, "total", "")] == Figures(
            visitors=2, visits=2, pageviews=3, bounces=1, duration_ms=20 * MIN
        )
        later = purge_raw(db, now=moment(at(DAY, 30)))
        assert later.rolled == [(site, yesterday)]
        assert later.deleted == {site: 2}
        assert raw_ts(db, site) == []
        # yesterday's rollup saw that 00:05 continues the visit of 23:45: no visit of its own
        assert rollups(db, site, yesterday) == {(yesterday, "total", ""): Figures()}
    finally:
        db.dispose()
