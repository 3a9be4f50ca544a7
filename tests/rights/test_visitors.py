"""A website visitor sees, downloads and erases the events their browser can still be linked to."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import make_site
from tests.monitoring.test_ingest import CHROME, IPHONE, send

from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.monitoring.models import PageEvent
from lawful.rights.models import RightsRequest, SubjectKind
from lawful.settings import Settings
from lawful.web.app import create_app

IP, OTHER_IP = "198.51.100.40", "203.0.113.9"


@pytest.fixture
def app(database: Database) -> object:
    return create_app(Settings(), db=database)


@pytest.fixture
def me(app: object) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, client=(IP, 50000)) as c:  # type: ignore[arg-type]
        yield c


@pytest.fixture
def neighbour(app: object) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, client=(OTHER_IP, 50000)) as c:  # type: ignore[arg-type]
        yield c


def stored(db: Database) -> list[PageEvent]:
    with db.unit_of_work("monitoring", Actor.system("tests")) as session:
        return list(session.scalars(select(PageEvent)))


def test_a_visitor_sees_downloads_and_erases_only_their_own_visits(
    database: Database, me: TestClient, neighbour: TestClient
) -> None:
    make_site(database)
    for path in ("/pricing", "/about"):
        assert (
            send(me, {"n": "pageview", "s": "shop.test", "u": f"https://shop.test{path}"}).status_code == 202
        )
    assert (
        send(neighbour, {"n": "pageview", "s": "shop.test", "u": "https://shop.test/jobs"}).status_code == 202
    )
    # the same address with another browser is someone else
    iphone = {"user-agent": IPHONE}
    assert (
        send(me, {"n": "pageview", "s": "shop.test", "u": "https://shop.test/careers"}, **iphone).status_code
        == 202
    )
    assert len(stored(database)) == 4

    page = me.get("/privacy/my-visits", headers={"user-agent": CHROME})
    assert page.status_code == 200
    assert "/pricing" in page.text and "/about" in page.text
    assert "/jobs" not in page.text and "/careers" not in page.text
    assert IP not in page.text  # only the shortened address is shown
    download = me.get("/privacy/my-visits.json", headers={"user-agent": CHROME})
    assert download.status_code == 200
    paths = sorted(e["path"] for e in download.json()["monitoring"]["linked_events"])
    assert paths == ["/about", "/pricing"]

    form = {"csrf_token": me.cookies.get("lawful_csrf") or ""}
    erased = me.post(
        "/privacy/my-visits/erase", data=form, headers={"user-agent": CHROME}, follow_redirects=False
    )
    assert erased.status_code == 303, erased.text
    assert sorted(e.path for e in stored(database)) == ["/careers", "/jobs"]
    assert "None: we hold no events" in me.get("/privacy/my-visits", headers={"user-agent": CHROME}).text
    with database.unit_of_work("accountability", Actor.system("tests")) as session:
        requests = session.scalars(
            select(RightsRequest).where(RightsRequest.subject_kind == SubjectKind.visitor)
        ).all()
    assert sorted(r.kind.value for r in requests) == ["access", "erasure"]
    assert all(r.subject_id is None and r.requester_email is None for r in requests)
    assert json.loads(next(r.outcome for r in requests if r.kind.value == "erasure") or "{}") == {
        "page_events_deleted": 2
    }


def test_erasing_without_the_form_token_is_refused(database: Database, me: TestClient) -> None:
    make_site(database)
    assert send(me, {"n": "pageview", "s": "shop.test", "u": "https://shop.test/pricing"}).status_code == 202
    me.get("/privacy/my-visits")
    answer = me.post("/privacy/my-visits/erase", data={"csrf_token": "forged"}, follow_redirects=False)
    assert answer.status_code == 403
    assert len(stored(database)) == 1
