"""The dashboard queries (rollups for past days, raw events for today, merged) and the stats API,
on both backends."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.factories import FAST, api_sign_in, make_site, make_staff
from tests.monitoring.test_rollups import TESTS, at, raw_ts, rollups, store
from tests.monitoring.test_sessions import TIMEOUT

from lawful.data.db import Database
from lawful.errors import Invalid
from lawful.monitoring import stats
from lawful.monitoring.models import Rollup, Site
from lawful.monitoring.rollups import roll_up
from lawful.monitoring.sessions import Figures, Hit, breakdown, figures, sessionize
from lawful.monitoring.stats import Range, Stats, date_range
from lawful.users.models import StaffRole
from lawful.web.app import create_app

TODAY = date(2026, 5, 20)
NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
MIN = 60_000
S = 1000


def traffic(day: date, *, visitors: int, base: int = 0, extra_path: str | None = None) -> list[Hit]:
    """A day's traffic: every visitor views /, half go on to /pricing, every third bounces off /docs
    from a search engine, and every fourth clicks "signup"."""
    hits: list[Hit] = []
    for i in range(visitors):
        v = base + i
        start = at(day, 8 * 60 + i * 7)
        referrer = "search.example" if i % 3 == 0 else None
        browser, os_, device = ("Firefox", "Linux", "desktop") if i % 2 else ("Safari", "iOS", "mobile")
        hits.append(Hit(v, start, "pageview", "/", None, referrer, browser, os_, device))
        if i % 2 == 0:
            hits.append(Hit(v, start + 30 * S, "pageview", "/pricing", None, None, browser, os_, device))
            hits.append(Hit(v, start + 90 * S, "engagement", "/pricing", 60 * S))
        else:
            hits.append(Hit(v, start + 5 * S, "engagement", "/", 5 * S))
        if i % 4 == 0:
            hits.append(Hit(v, start + 40 * S, "signup", "/pricing"))
        if extra_path:
            hits.append(Hit(v, start + 100 * S, "pageview", extra_path, None, None, browser, os_, device))
    hits.sort(key=lambda h: (h.visitor_id, h.ts))
    return hits


@pytest.fixture
def site(database: Database) -> uuid.UUID:
    return make_site(database)


@pytest.fixture
def history(database: Database, site: uuid.UUID) -> dict[date, list[Hit]]:
    """Two rolled-up days and today's raw events."""
    days = {
        TODAY - timedelta(days=2): traffic(TODAY - timedelta(days=2), visitors=6),
        TODAY - timedelta(days=1): traffic(TODAY - timedelta(days=1), visitors=9, base=100),
        TODAY: traffic(TODAY, visitors=4, base=200),
    }
    for hits in days.values():
        store(database, site, hits)
    assert roll_up(database, now=NOW) == [
        (site, TODAY - timedelta(days=2)),
        (site, TODAY - timedelta(days=1)),
    ]
    return days


def expected(days: dict[date, list[Hit]], *which: date) -> Figures:
    return sum((figures(sessionize(days[d], TIMEOUT)) for d in which), Figures())


def query(db: Database, site: uuid.UUID, start: date, end: date, *, now: datetime = NOW) -> Iterator[Stats]:
    with db.unit_of_work("monitoring", TESTS) as session:
        yield Stats(session, site, Range(start, end), now=now, timeout_ms=TIMEOUT)


def test_totals_merge_rollups_and_todays_raw_events(
    database: Database, site: uuid.UUID, history: dict[date, list[Hit]]
) -> None:
    all_days = sorted(history)
    for s in query(database, site, all_days[0], TODAY):
        assert s.live_days == [TODAY]
        totals = s.totals()
        assert totals == expected(history, *all_days)
        # by hand: 6 + 9 + 4 visitors, one visit each; / for all, /pricing for every other one
        assert (totals.visitors, totals.visits) == (19, 19)
        assert totals.pageviews == 19 + (3 + 5 + 2)
        assert totals.bounces == 3 + 4 + 2  # the odd ones: one page, 5 s
        series = s.series()
        assert [d.day for d in series] == all_days
        assert [d.figures for d in series] == [expected(history, d) for d in all_days]


def test_a_range_without_today_reads_only_rollups(
    database: Database, site: uuid.UUID, history: dict[date, list[Hit]]
) -> None:
    past = sorted(history)[:2]
    for s in query(database, site, past[0], past[1]):
        assert s.live_days == []
        assert s.totals() == expected(history, *past)
        assert s.live == {}


def test_a_past_day_not_yet_rolled_up_comes_from_raw_events(database: Database, site: uuid.UUID) -> None:
    yesterday = TODAY - timedelta(days=1)
    hits = traffic(yesterday, visitors=5)
    store(database, site, hits)
    early = datetime(2026, 5, 20, 0, 10, tzinfo=UTC)  # before the rollup job may take yesterday
    for s in query(database, site, yesterday, TODAY, now=early):
        assert s.live_days == [yesterday, TODAY]
        assert s.totals() == figures(sessionize(hits, TIMEOUT))
        assert s.series()[0].figures == figures(sessionize(hits, TIMEOUT))
    assert rollups(database, site) == {}


def test_top_lists_are_exact_when_today_overtakes_the_past(database: Database, site: uuid.UUID) -> None:
    yesterday = TODAY - timedelta(days=1)
    past = (
        [Hit(1 + i, at(yesterday, 60 + i), "pageview", "/a") for i in range(5)]
        + [Hit(10 + i, at(yesterday, 60 + i), "pageview", "/b") for i in range(4)]
        + [Hit(20 + i, at(yesterday, 60 + i), "pageview", "/c") for i in range(3)]
    )
    today = [Hit(30 + i, at(TODAY, 60 + i), "pageview", "/c") for i in range(3)]
    store(database, site, past + today)
    roll_up(database, now=NOW)
    for s in query(database, site, yesterday, TODAY):
        # /c: 3 yesterday, outside the past top 2, plus 3 today = 6, ahead of /a's 5
        assert [(i.value, i.figures.pageviews) for i in s.top("page", 1)] == [("/c", 6)]
        assert [(i.value, i.figures.pageviews) for i in s.top("page", 3)] == [("/c", 6), ("/a", 5), ("/b", 4)]
        assert [i.value for i in s.top("entry", 10)] == ["/c", "/a", "/b"]


def test_every_top_list_equals_the_breakdown_of_all_visits(
    database: Database, site: uuid.UUID, history: dict[date, list[Hit]]
) -> None:
    rows = breakdown(v for hits in history.values() for v in sessionize(hits, TIMEOUT))
    for s in query(database, site, min(history), TODAY):
        for dimension in stats.TOP_DIMENSIONS:
            merged: dict[str, Figures] = {}
            for (_, dim, value), f in rows.items():
                if dim == dimension:
                    merged[value] = merged.get(value, Figures()) + f
            assert {i.value: i.figures for i in s.top(dimension, 100)} == merged, dimension
    # spot checks by hand: /pricing was seen by visitors 0, 2, 4 (day 1), 0..8 even (day 2), 0, 2
    for s in query(database, site, min(history), TODAY):
        pages = {i.value: i.figures for i in s.top("page")}
        assert pages["/pricing"].pageviews == 3 + 5 + 2
        referrers = {i.value: i.figures.visits for i in s.top("referrer")}
        assert referrers == {"search.example": 2 + 3 + 2, "": 4 + 6 + 2}
        assert {i.value: i.figures.events for i in s.top("event")} == {"signup": 2 + 3 + 1}


def test_realtime_counts_distinct_visitors_of_the_last_five_minutes(
    database: Database, site: uuid.UUID
) -> None:
    now_ms = int(NOW.timestamp() * 1000)
    store(
        database,
        site,
        [
            Hit(1, now_ms - 4 * MIN, "pageview", "/"),
            Hit(1, now_ms - 1 * MIN, "engagement", "/", 3000),
            Hit(2, now_ms - 1 * MIN, "pageview", "/"),
            Hit(3, now_ms - 6 * MIN, "pageview", "/"),
        ],
    )
    with database.unit_of_work("monitoring", TESTS) as session:
        assert stats.realtime(session, site, now=NOW) == 2
        assert stats.realtime(session, site, now=NOW + timedelta(minutes=10)) == 0


def test_date_ranges() -> None:
    assert date_range(None, None, today=TODAY) == Range(TODAY - timedelta(days=29), TODAY)
    assert date_range(TODAY, TODAY, today=TODAY).days == 1
    assert date_range(None, date(2026, 1, 31), today=TODAY) == Range(date(2026, 1, 2), date(2026, 1, 31))
    assert date_range(date(2023, 5, 21), TODAY, today=TODAY).days == 365 + 366 + 365
    with pytest.raises(Invalid):
        date_range(TODAY, TODAY - timedelta(days=1), today=TODAY)
    with pytest.raises(Invalid):
        date_range(date(2023, 5, 20), TODAY, today=TODAY)  # one day over three years
    with pytest.raises(Invalid):
        date_range(date(1, 1, 1), date(1, 1, 2), today=TODAY)


# --- the API ----------------------------------------------------------------------------------


def client_as(db: Database, role: StaffRole) -> TestClient:
    make_staff(db, role=role, email=f"{role.value}@lawful.example")
    client = TestClient(create_app(FAST, db=db), raise_server_exceptions=False)
    api_sign_in(client, email=f"{role.value}@lawful.example", staff=True)
    return client


@pytest.fixture
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats, "now", lambda: NOW)


def error_code(response: object) -> str:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    return str(body["error"]["code"])


@pytest.mark.usefixtures("fixed_now")
def test_the_api_answers_the_same_figures(
    database: Database, site: uuid.UUID, history: dict[date, list[Hit]]
) -> None:
    first = min(history)
    span = {"from": first.isoformat(), "to": TODAY.isoformat()}
    total = expected(history, *sorted(history))
    with client_as(database, StaffRole.analyst) as analyst:
        summary = analyst.get(f"/api/v1/stats/{site}/summary", params=span)
        assert summary.status_code == 200, summary.text
        body = summary.json()
        assert (body["visitors"], body["visits"], body["pageviews"], body["bounces"]) == (
            total.visitors,
            total.visits,
            total.pageviews,
            total.bounces,
        )
        assert body["bounce_rate"] == pytest.approx(total.bounces / total.visits, abs=1e-4)
        assert body["average_visit_seconds"] == pytest.approx(
            total.duration_ms / total.visits / 1000, abs=0.05
        )
        assert (body["start"], body["end"]) == (span["from"], span["to"])

        series = analyst.get(f"/api/v1/stats/{site}/timeseries", params=span).json()
        assert [d["visits"] for d in series["days"]] == [expected(history, d).visits for d in sorted(history)]

        pages = analyst.get(f"/api/v1/stats/{site}/pages", params={**span, "limit": 1}).json()
        assert [(i["value"], i["pageviews"]) for i in pages["items"]] == [("/", total.visits)]
        devices = analyst.get(f"/api/v1/stats/{site}/devices", params=span).json()
        assert {i["value"]: i["visits"] for i in devices["items"]} == {
            "mobile": 3 + 5 + 2,
            "desktop": 3 + 4 + 2,
        }
        for path in ("entry-pages", "exit-pages", "referrers", "browsers", "os", "events"):
            assert analyst.get(f"/api/v1/stats/{site}/{path}", params=span).status_code == 200, path

        default = analyst.get(f"/api/v1/stats/{site}/summary").json()
        assert (default["start"], default["end"]) == (
            (TODAY - timedelta(days=29)).isoformat(),
            TODAY.isoformat(),
        )
        realtime = analyst.get(f"/api/v1/stats/{site}/realtime").json()
        assert (realtime["visitors"], realtime["minutes"]) == (0, 5)


@pytest.mark.usefixtures("fixed_now")
def test_the_api_refuses_bad_ranges_unknown_sites_and_other_roles(
    database: Database, site: uuid.UUID
) -> None:
    with client_as(database, StaffRole.analyst) as analyst:
        backwards = analyst.get(
            f"/api/v1/stats/{site}/summary", params={"from": "2026-05-10", "to": "2026-05-09"}
        )
        assert (backwards.status_code, error_code(backwards)) == (422, "invalid")
        long = analyst.get(f"/api/v1/stats/{site}/pages", params={"from": "2023-05-20", "to": "2026-05-20"})
        assert (long.status_code, error_code(long)) == (422, "invalid")
        garbage = analyst.get(f"/api/v1/stats/{site}/summary", params={"from": "yesterday"})
        assert garbage.status_code == 422
        unknown = analyst.get(f"/api/v1/stats/{uuid.uuid4()}/summary")
        assert (unknown.status_code, error_code(unknown)) == (404, "not_found")
        export = analyst.get(f"/api/v1/stats/{site}/export")
        assert (export.status_code, error_code(export)) == (403, "forbidden")
        assert "totals only" in export.json()["error"]["message"]
    with client_as(database, StaffRole.support) as support:
        refused = support.get(f"/api/v1/stats/{site}/summary")
        assert (refused.status_code, error_code(refused)) == (403, "forbidden")
        assert support.get("/api/v1/sites").status_code == 403


@pytest.mark.usefixtures("fixed_now")
def test_the_raw_export_streams_every_event_of_the_range(
    database: Database, site: uuid.UUID, history: dict[date, list[Hit]]
) -> None:
    first = min(history)
    with client_as(database, StaffRole.admin) as admin:
        response = admin.get(
            f"/api/v1/stats/{site}/export",
            params={"from": first.isoformat(), "to": TODAY.isoformat(), "format": "csv"},
        )
        assert response.headers["content-type"].startswith("text/csv")
        assert 'filename="shop.test-' in response.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(response.text)))
        every = sorted(h.ts for hits in history.values() for h in hits)
        assert [int(r["ts"]) for r in rows] == every
        assert "ip_prefix" not in rows[0]
        assert {r["path"] for r in rows} == {"/", "/pricing"}
        ndjson = admin.get(
            f"/api/v1/stats/{site}/export",
            params={"from": TODAY.isoformat(), "to": TODAY.isoformat(), "format": "ndjson"},
        )
        assert ndjson.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in ndjson.text.splitlines()]
        assert [e["ts"] for e in lines] == sorted(h.ts for h in history[TODAY])
        assert {e["visitor_id"] for e in lines} == {h.visitor_id for h in history[TODAY]}


def test_the_export_pages_through_many_rows(database: Database, site: uuid.UUID) -> None:
    hits = [Hit(i % 7, at(TODAY, 1) + i // 3, "pageview", f"/{i}") for i in range(25)]
    store(database, site, hits)
    with database.unit_of_work("monitoring", TESTS) as session:
        chunks = list(stats.raw_events(session, site, Range(TODAY, TODAY), chunk=4))
    assert [len(c) for c in chunks] == [4, 4, 4, 4, 4, 4, 1]
    assert sorted(row[4] for c in chunks for row in c) == sorted(h.path for h in hits)
    ts_id = [(row[1], row[0]) for c in chunks for row in c]
    assert ts_id == sorted(ts_id)


def test_sites_are_registered_listed_and_removed(database: Database) -> None:
    with client_as(database, StaffRole.analyst) as analyst:
        made = analyst.post("/api/v1/sites", json={"domain": " Docs.Example.COM. ", "name": "Docs"})
        assert made.status_code == 201, made.text
        assert made.json()["domain"] == "docs.example.com"
        site_id = made.json()["id"]
        again = analyst.post("/api/v1/sites", json={"domain": "docs.example.com", "name": "Twice"})
        assert (again.status_code, error_code(again)) == (409, "conflict")
        for bad in ("https://docs.example.com/", "docs example.com", "-docs.example.com", "192.0.2.1", ""):
            refused = analyst.post("/api/v1/sites", json={"domain": bad, "name": "Bad"})
            assert refused.status_code == 422, bad
        listed = analyst.get("/api/v1/sites").json()["items"]
        assert [(s["domain"], s["name"]) for s in listed] == [("docs.example.com", "Docs")]

        store(database, uuid.UUID(site_id), [Hit(1, at(TODAY, 5), "pageview", "/")])
        roll_up(database, now=NOW + timedelta(days=2))
        assert rollups(database, uuid.UUID(site_id)) != {}
        assert analyst.delete(f"/api/v1/sites/{site_id}").status_code == 204
        assert analyst.get("/api/v1/sites").json()["items"] == []
        assert raw_ts(database, uuid.UUID(site_id)) == []
        assert analyst.delete(f"/api/v1/sites/{site_id}").status_code == 404
    with database.unit_of_work("monitoring", TESTS) as session:
        assert session.scalar(select(func.count()).select_from(Rollup)) == 0
        assert session.scalar(select(func.count()).select_from(Site)) == 0


def test_long_ranges_read_whole_months_from_the_monthly_rollups(database: Database, site: uuid.UUID) -> None:
    """A range over whole and partial months gives the same top lists as the days summed."""
    from lawful.monitoring.models import MonthlyRollup

    days = [date(2026, 2, 26) + timedelta(days=n) for n in range(0, 80, 3)]  # late Feb to mid May
    history = {
        d: traffic(d, visitors=3 + n % 4, base=1000 * n, extra_path=f"/p{n % 5}") for n, d in enumerate(days)
    }
    for hits in history.values():
        store(database, site, hits)
    roll_up(database, now=NOW)
    with database.unit_of_work("monitoring", TESTS) as session:
        months = set(session.scalars(select(MonthlyRollup.month).where(MonthlyRollup.dimension == "total")))
        march_views = session.scalar(
            select(MonthlyRollup.pageviews).where(
                MonthlyRollup.month == date(2026, 3, 1), MonthlyRollup.dimension == "total"
            )
        )
    assert months == {date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1)}
    assert march_views == sum(expected(history, d).pageviews for d in history if d.month == 3)
    start, end = date(2026, 2, 27), date(2026, 5, 10)  # part of February, March, April, part of May
    inside = [d for d in history if start <= d <= end]
    rows = breakdown(v for d in inside for v in sessionize(history[d], TIMEOUT))
    for s in query(database, site, start, end):
        assert s.totals() == expected(history, *inside)
        for dimension in stats.TOP_DIMENSIONS:
            merged: dict[str, Figures] = {}
            for (_, dim, value), f in rows.items():
                if dim == dimension:
                    merged[value] = merged.get(value, Figures()) + f
            assert {i.value: i.figures for i in s.top(dimension, 100)} == merged, dimension


def test_todays_figures_follow_every_new_event(database: Database, site: uuid.UUID) -> None:
    def today() -> Figures:
        for s in query(database, site, TODAY, TODAY):
            return s.totals()
        raise AssertionError("no query")

    store(database, site, traffic(TODAY, visitors=3))
    first = today()
    assert today() == first  # unchanged data: the same figures
    store(database, site, traffic(TODAY, visitors=1, base=500))
    later = today()
    assert later.visits == first.visits + 1
    assert later.pageviews == first.pageviews + 2  # the new visitor (index 0) sees / and /pricing
