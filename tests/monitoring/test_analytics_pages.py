"""The console's analytics pages: the sites, a site's dashboard, who may open what, on both backends."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from tests.factories import make_site
from tests.monitoring.test_rollups import TESTS, store
from tests.monitoring.test_sessions import TIMEOUT
from tests.monitoring.test_stats import NOW, TODAY, traffic
from tests.web.test_console import assert_accessible, console_client, post, signed_in_as

from lawful.data.db import Database
from lawful.monitoring import stats
from lawful.monitoring.models import Site
from lawful.monitoring.pages import chart, duration, percent
from lawful.monitoring.rollups import roll_up
from lawful.monitoring.sessions import Figures, figures, sessionize
from lawful.users.models import StaffRole


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats, "now", lambda: NOW)


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    with console_client(database) as client:
        yield client


@pytest.fixture
def site(database: Database) -> uuid.UUID:
    """A site with a rolled-up day yesterday and raw events today."""
    site_id = make_site(database)
    store(database, site_id, traffic(TODAY - timedelta(days=1), visitors=9, base=100))
    store(database, site_id, traffic(TODAY, visitors=4, base=200))
    roll_up(database, now=NOW)
    return site_id


def figure(page: str, key: str) -> str:
    found = re.search(rf'<dd id="fig-{key}">([^<]*)</dd>', page)
    assert found, key
    return found.group(1)


def test_an_analyst_sees_the_dashboard_with_the_right_numbers(
    client: TestClient, database: Database, site: uuid.UUID
) -> None:
    signed_in_as(client, database, StaffRole.analyst)
    yesterday = TODAY - timedelta(days=1)
    response = client.get(
        f"/console/analytics/{site}", params={"from": yesterday.isoformat(), "to": TODAY.isoformat()}
    )
    assert response.status_code == 200, response.text
    page = response.text
    assert_accessible(page)
    hits = traffic(yesterday, visitors=9, base=100) + traffic(TODAY, visitors=4, base=200)
    hits.sort(key=lambda h: (h.visitor_id, h.ts))
    total = figures(sessionize(hits, TIMEOUT))
    # by hand: 13 visitors, one visit each, 13 + 5 + 2 page views; the odd ones (4 + 2) bounce
    assert (total.visitors, total.visits, total.pageviews, total.bounces) == (13, 13, 20, 6)
    assert figure(page, "visitors") == "13"
    assert figure(page, "visits") == "13"
    assert figure(page, "pageviews") == "20"
    assert figure(page, "views-per-visit") == f"{20 / 13:.2f}"
    assert figure(page, "bounce-rate") == percent(6 / 13)
    assert figure(page, "visit-length") == duration(total.average_visit_ms)
    # the chart, the top lists, the realtime count, the tag, the note on counting
    assert '<svg class="chart"' in page and page.count('<rect class="bar"') == 2
    assert '<th scope="row">/pricing</th>' in page
    assert 'hx-get="/console/analytics/' in page and 'hx-trigger="every 10s"' in page
    tag = '<script defer data-site="shop.test" src="http://127.0.0.1:8000/js/lawful.js"></script>'
    assert f"<code>{escape(tag)}</code>" in page
    assert "sum of the daily visitors" in page
    # totals only: no export link, and the export itself is refused
    assert "/export" not in page
    export = client.get(f"/api/v1/stats/{site}/export")
    assert export.status_code == 403
    # the navigation offers the analyst the analytics
    assert '<a href="/console/analytics" aria-current="page">Analytics</a>' in page


def test_the_presets_and_a_bad_range(client: TestClient, database: Database, site: uuid.UUID) -> None:
    signed_in_as(client, database, StaffRole.analyst)
    page = client.get(f"/console/analytics/{site}").text
    for label, first in (
        ("Today", TODAY),
        ("7 days", TODAY - timedelta(days=6)),
        ("30 days", TODAY - timedelta(days=29)),
        ("12 months", date(2025, 5, 21)),
    ):
        assert f'from={first.isoformat()}&amp;to={TODAY.isoformat()}"' in page, label
    assert page.count('<rect class="bar"') == 30  # the default: the last 30 days
    today_only = client.get(
        f"/console/analytics/{site}", params={"from": TODAY.isoformat(), "to": TODAY.isoformat()}
    )
    assert figure(today_only.text, "visits") == "4"
    bad = client.get(f"/console/analytics/{site}", params={"from": "2026-05-10", "to": "2026-05-01"})
    assert bad.status_code == 422
    assert "from is after to" in bad.text
    assert client.get(f"/console/analytics/{uuid.uuid4()}").status_code == 404


def test_the_realtime_fragment(client: TestClient, database: Database, site: uuid.UUID) -> None:
    now_ms = int(NOW.timestamp() * 1000)
    from lawful.monitoring.sessions import Hit

    store(
        database,
        site,
        [Hit(900, now_ms - 60_000, "pageview", "/"), Hit(901, now_ms - 30_000, "pageview", "/")],
    )
    signed_in_as(client, database, StaffRole.analyst)
    fragment = client.get(f"/console/analytics/{site}/realtime", headers={"HX-Request": "true"}).text
    assert fragment.lstrip().startswith('<p class="realtime" id="realtime"')
    assert "<strong>2</strong> visitors in the last 5 minutes" in fragment
    assert "<html" not in fragment


def test_a_support_agent_may_not_open_the_analytics(
    client: TestClient, database: Database, site: uuid.UUID
) -> None:
    signed_in_as(client, database, StaffRole.support)
    for path in ("/console/analytics", f"/console/analytics/{site}", f"/console/analytics/{site}/realtime"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "does not act under the purpose" in response.text
    assert ">Analytics</a>" not in client.get("/console/profile").text


def test_an_admin_gets_the_export_link(client: TestClient, database: Database, site: uuid.UUID) -> None:
    signed_in_as(client, database, StaffRole.admin)
    page = client.get(f"/console/analytics/{site}").text
    link = re.search(r'href="(/api/v1/stats/[^"]+/export\?[^"]*format=csv)"', page)
    assert link
    export = client.get(link.group(1).replace("&amp;", "&"))
    assert export.status_code == 200
    assert export.text.splitlines()[0].startswith("id,ts,visitor_id,name,path")
    assert len(export.text.splitlines()) == 1 + len(traffic(TODAY - timedelta(days=1), visitors=9)) + len(
        traffic(TODAY, visitors=4)
    )


def test_registering_and_removing_a_site_in_the_console(client: TestClient, database: Database) -> None:
    signed_in_as(client, database, StaffRole.analyst)
    listing = client.get("/console/analytics")
    assert listing.status_code == 200
    assert_accessible(listing.text)
    assert "No sites are registered yet." in listing.text
    assert (
        post(
            client, "/console/analytics", {"domain": "News.Example", "name": "News"}, token=False
        ).status_code
        == 403
    )
    made = post(client, "/console/analytics", {"domain": "News.Example", "name": "News"})
    assert made.status_code == 303
    location = made.headers["location"]
    assert re.fullmatch(r"/console/analytics/[0-9a-f-]{36}\?done=registered", location)
    page = client.get(location).text
    assert "The site was registered." in page and "news.example" in page
    bad = post(client, "/console/analytics", {"domain": "not a host", "name": "Bad"})
    assert bad.status_code == 422
    assert "is not a host name" in bad.text and 'value="not a host"' in bad.text
    twice = post(client, "/console/analytics", {"domain": "news.example", "name": "Again"})
    assert twice.status_code == 409
    site_id = location.split("/")[-1].split("?")[0]
    removed = post(client, f"/console/analytics/{site_id}/remove")
    assert (removed.status_code, removed.headers["location"]) == (303, "/console/analytics?done=removed")
    with database.unit_of_work("monitoring", TESTS) as session:
        assert session.get(Site, uuid.UUID(site_id)) is None


def test_the_chart_draws_one_bar_per_day_scaled_to_a_round_number() -> None:
    days = [
        stats.Day(TODAY - timedelta(days=2 - i), Figures(visitors=v, pageviews=2 * v))
        for i, v in enumerate((3, 0, 7))
    ]
    svg = str(chart(days))
    assert svg.count('<rect class="bar"') == 3
    assert "scale 0 to 20" in svg  # 14 page views at most: the next round number is 20
    assert f"{TODAY.isoformat()}: 7 visitors, 0 visits, 14 page views" in svg
    assert svg.count("<polyline") == 1
    assert "<svg" in str(chart([])) and '<rect class="bar"' not in str(chart([]))
