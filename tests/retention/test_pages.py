"""The console's retention page and the retention API: what expires next and the runs, for the
administrator and the privacy officer only."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert
from tests.factories import SYSTEM, api_sign_in, make_site, make_staff
from tests.web.test_console import assert_accessible, console_client, sign_in

from lawful.data.db import Database
from lawful.monitoring.models import PageEvent
from lawful.retention import sweeper
from lawful.users.models import StaffRole

OFFICER = "privacy.officer@lawful.example"


@pytest.fixture
def db(sqlite_db: Database) -> Database:
    """Two raw events collected 40 days ago and one today, and a staff member of every role."""
    site = make_site(sqlite_db)
    now = datetime.now(UTC)
    stamps = [now - timedelta(days=40), now - timedelta(days=40), now]
    with sqlite_db.unit_of_work("monitoring", SYSTEM) as session:
        session.execute(
            insert(PageEvent),
            [
                {
                    "site_id": site,
                    "ts": int(t.timestamp() * 1000),
                    "visitor_id": i,
                    "name": "pageview",
                    "path": "/",
                }
                for i, t in enumerate(stamps)
            ],
        )
    for role in StaffRole:
        make_staff(sqlite_db, role=role, email=f"{role.value.replace('_', '.')}@lawful.example")
    return sqlite_db


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    with console_client(db) as client:
        yield client


def test_the_page_shows_what_expires_next_and_the_runs(client: TestClient, db: Database) -> None:
    assert sign_in(client, OFFICER).status_code == 303
    page = client.get("/console/retention")
    assert page.status_code == 200
    assert_accessible(page.text)
    today = datetime.now(UTC).date()
    row = re.search(
        r"<tr>\s*<td><time[^>]*>([\d-]+)</time>( <span class=\"badge\">due</span>)?</td>\s*<th scope=\"row\">page_events</th>.*?<td class=\"num\">(\d+)</td>",
        page.text,
        re.S,
    )
    assert row is not None, page.text
    assert row.group(1) == today.isoformat() and row.group(2) and row.group(3) == "2"  # overdue: due today
    assert "No retention run yet." in page.text

    report = sweeper.run(db, dry_run=True)
    report = sweeper.run(db)
    assert report.rows_of("page_events") == 2
    page = client.get("/console/retention")
    assert "No retention run yet." not in page.text
    assert page.text.count('<a href="/console/retention/runs/') == 2
    assert "dry run" in page.text
    # the next page events to expire are today's, in 30 days
    assert (
        f'{(today + timedelta(days=30)).isoformat()}</time></td>\n      <th scope="row">page_events'
        in page.text
    )

    detail = client.get(f"/console/retention/runs/{report.run_id}")
    assert detail.status_code == 200
    assert_accessible(detail.text)
    assert "30 days after it was collected" in detail.text
    assert re.search(r"page_events</th>.*?<td>delete</td>.*?<td class=\"num\">2</td>", detail.text, re.S)
    missing = client.get(f"/console/retention/runs/{uuid.uuid4()}")
    assert missing.status_code == 404 and "no retention run" in missing.text


@pytest.mark.parametrize("role", list(StaffRole))
def test_the_page_is_for_accountability(client: TestClient, role: StaffRole) -> None:
    assert sign_in(client, f"{role.value.replace('_', '.')}@lawful.example").status_code == 303
    allowed = role in (StaffRole.admin, StaffRole.privacy_officer)
    assert client.get("/console/retention").status_code == (200 if allowed else 403)
    nav = client.get("/console/profile").text
    assert ('href="/console/retention"' in nav) is allowed


def test_signed_out_the_page_sends_to_the_login(client: TestClient) -> None:
    response = client.get("/console/retention")
    assert response.status_code in (302, 303, 307)
    assert "/console/login" in response.headers["location"]


def test_the_api(db: Database) -> None:
    run = sweeper.run(db)
    with TestClient(console_client(db).app) as client:
        assert client.get("/api/v1/retention/next").status_code == 401
        api_sign_in(client, email=OFFICER, staff=True)
        upcoming = client.get("/api/v1/retention/next")
        assert upcoming.status_code == 200
        items = upcoming.json()["items"]
        raw = next(i for i in items if i["table"] == "page_events")
        assert raw["rows"] == 1 and raw["action"] == "delete"
        assert raw["on"] == (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
        assert "user.behavior.browsing_history" in raw["categories"]
        assert len(client.get("/api/v1/retention/next", params={"limit": 3}).json()["items"]) == 3
        runs = client.get("/api/v1/retention/runs").json()
        assert [r["id"] for r in runs["items"]] == [str(run.run_id)]
        actions = {a["table"]: a for a in runs["items"][0]["actions"]}
        assert (
            actions["page_events"]["rows"] == 2
            and actions["page_events"]["rule"] == "30 days after it was collected"
        )
        bad = client.get("/api/v1/retention/runs", params={"limit": 0})
        assert bad.status_code == 422 and "error" in bad.json()
    with TestClient(console_client(db).app) as client:
        api_sign_in(client, email="support@lawful.example", staff=True)
        refused = client.get("/api/v1/retention/runs")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
