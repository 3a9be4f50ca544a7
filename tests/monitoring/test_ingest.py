"""The tracker endpoint and the ingestion pipeline: errors, objection, bots, pseudonymisation, salts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from tests.factories import make_customer, make_site

from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.monitoring.ingest import INGEST, PURPOSE, Client, Tracker
from lawful.monitoring.models import IngestCount, PageEvent, Salt
from lawful.monitoring.salts import rotate
from lawful.monitoring.sessions import day_start_ms
from lawful.schema import metadata
from lawful.settings import Settings
from lawful.web.app import create_app

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.86 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
IP = "203.0.113.77"
SECRET_QUERY = "email=jane.doe%40example.com&token=s3cr3t"
URL = f"https://shop.test/checkout/pay?{SECRET_QUERY}&utm_source=newsletter&utm_medium=mail"


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    app = create_app(Settings(), db=database)
    with TestClient(app, raise_server_exceptions=False, client=(IP, 50000)) as c:
        yield c


def send(client: TestClient, body: Any, **headers: str) -> Any:
    content = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(
        "/api/event", content=content, headers={"content-type": "text/plain", "user-agent": CHROME, **headers}
    )


def events(db: Database) -> list[PageEvent]:
    with db.unit_of_work(PURPOSE, Actor.system("tests")) as session:
        return list(session.scalars(select(PageEvent).order_by(PageEvent.id)))


def every_stored_value(db: Database) -> str:
    """Every value of every table (the processing log included), as one text to search in."""
    parts: list[str] = []
    with db.internal() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(table.select()):
                parts.extend(repr(v) for v in row)
    return "\n".join(parts)


def test_a_page_view_is_stored_pseudonymised(database: Database, client: TestClient) -> None:
    site = make_site(database)
    answer = send(
        client, {"n": "pageview", "s": "shop.test", "u": URL, "r": "https://www.google.com/search?q=lawful"}
    )
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"status": "accepted"}
    assert "set-cookie" not in answer.headers
    [event] = events(database)
    assert event.site_id == site
    assert event.name == "pageview"
    assert event.path == "/checkout/pay"
    assert event.query == "utm_source=newsletter&utm_medium=mail"
    assert event.referrer_host == "google.com"
    assert (event.browser, event.browser_version, event.os, event.device) == (
        "Chrome",
        "131",
        "Windows",
        "desktop",
    )
    assert event.ip_prefix == "203.0.113.0/24"
    assert event.visitor_id != 0


def test_privacy_no_full_ip_user_agent_or_query_string_anywhere(
    database: Database, client: TestClient
) -> None:
    make_site(database)
    for name in ("pageview", "signup", "outbound"):
        body = {"n": name, "s": "shop.test", "u": URL, "r": f"https://referrer.example/path?{SECRET_QUERY}"}
        if name == "outbound":
            body["t"] = f"https://partner.example/offer?{SECRET_QUERY}"
        assert send(client, body).status_code == 202
    assert send(client, {"n": "engagement", "s": "shop.test", "u": URL, "e": 12_000}).status_code == 202
    assert len(events(database)) == 4
    stored = every_stored_value(database)
    assert "shop.test" in stored  # the search itself works
    for secret in (IP, CHROME, "131.0.6778.86", SECRET_QUERY, "jane.doe", "s3cr3t", "/path", "/offer?"):
        assert secret not in stored, secret
    assert "https://partner.example/offer" in stored  # an outbound link keeps its address without query


def test_ipv6_is_shortened_to_48_bits(database: Database) -> None:
    make_site(database)
    tracker = Tracker(database)
    at = int(datetime.now(UTC).timestamp() * 1000)
    tracker.ingest(
        [
            (
                {"n": "pageview", "s": "shop.test", "u": "https://shop.test/"},
                Client("2001:db8:abcd:12:1::7", CHROME),
                at,
            )
        ]
    )
    [event] = events(database)
    assert event.ip_prefix == "2001:db8:abcd::/48"


def test_no_ip_is_stored_when_the_policy_says_not_to(database: Database) -> None:
    make_site(database)
    policy = database.policy.model_copy(
        update={"monitoring": database.policy.monitoring.model_copy(update={"store_truncated_ip": False})}
    )
    tracker = Tracker(database, policy)
    at = int(datetime.now(UTC).timestamp() * 1000)
    tracker.ingest([({"n": "pageview", "s": "shop.test", "u": "https://shop.test/"}, Client(IP, CHROME), at)])
    [event] = events(database)
    assert event.ip_prefix is None
    assert "203.0.113" not in every_stored_value(database)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"sec-gpc": "1"}, "objection"),
        ({"dnt": "1"}, "objection"),
        ({"user-agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"}, "bot"),
        ({"user-agent": CHROME.replace("Chrome/", "HeadlessChrome/")}, "bot"),
        ({"user-agent": "curl/8.5.0"}, "bot"),
    ],
)
def test_objection_and_bots_are_not_recorded(
    database: Database, client: TestClient, headers: dict[str, str], reason: str
) -> None:
    make_site(database)
    answer = send(client, {"n": "pageview", "s": "shop.test", "u": URL}, **headers)
    assert answer.status_code == 202
    assert answer.json() == {"status": "dropped", "reason": reason}
    assert events(database) == []
    with database.unit_of_work(PURPOSE, Actor.system("tests")) as session:
        counts = {c.reason: c.count for c in session.scalars(select(IngestCount))}
    assert counts == {reason: 1}


def test_a_signed_in_user_who_objected_is_not_recorded(database: Database, client: TestClient) -> None:
    from tests.factories import PASSWORD, api_sign_in, make_user

    make_site(database)
    customer, _ = make_customer(database)
    user = make_user(database, customer_id=customer.id, email="member@acme.example", password=PASSWORD)
    api_sign_in(client, email="member@acme.example", password=PASSWORD)
    assert send(client, {"n": "pageview", "s": "shop.test", "u": URL}).json()["status"] == "accepted"
    from lawful.users.models import User

    with database.unit_of_work("contract", Actor.system("tests")) as session:
        found = session.get(User, user.id)
        assert found is not None
        found.monitoring_objection_at = datetime.now(UTC)
    assert send(client, {"n": "pageview", "s": "shop.test", "u": URL}).json() == {
        "status": "dropped",
        "reason": "objection",
    }
    assert len(events(database)) == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "bad_event"),
        ("[1, 2]", 400, "bad_event"),
        ({"s": "shop.test", "u": URL}, 400, "bad_event"),
        ({"n": "pageview", "s": "shop.test", "u": "javascript:alert(1)"}, 400, "bad_event"),
        ({"n": "engagement", "s": "shop.test", "u": URL}, 400, "bad_event"),
        ({"n": "engagement", "s": "shop.test", "u": URL, "e": -5}, 400, "bad_event"),
        ({"n": "x" * 65, "s": "shop.test", "u": URL}, 400, "bad_event"),
        ({"n": "pageview", "s": "unknown.test", "u": URL}, 404, "unknown_site"),
        ({"n": "pageview", "s": "shop.test", "u": URL, "r": "x" * 5000}, 413, "too_large"),
    ],
)
def test_bad_events_get_the_error_body_and_store_nothing(
    database: Database, client: TestClient, body: Any, status: int, code: str
) -> None:
    make_site(database)
    answer = send(client, body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["status"] == status
    assert error["code"] == code
    assert error["message"]
    assert events(database) == []


def test_only_post_is_accepted_and_the_preflight_is_answered(client: TestClient) -> None:
    assert client.get("/api/event").status_code == 405
    preflight = client.options("/api/event")
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"


def test_an_inactive_site_is_unknown(database: Database, client: TestClient) -> None:
    from lawful.monitoring.models import Site

    site = make_site(database)
    with database.unit_of_work(PURPOSE, Actor.system("tests")) as session:
        found = session.get(Site, site)
        assert found is not None
        found.active = False
    assert send(client, {"n": "pageview", "s": "shop.test", "u": URL}).status_code == 404


# --- salts and linkability -------------------------------------------------------------------------


def at_time(day: datetime, hours: float) -> int:
    return day_start_ms(day.date()) + int(hours * 3_600_000)


def test_after_two_salt_rotations_nothing_links_one_visitors_days(database: Database) -> None:
    make_site(database)
    tracker = Tracker(database)
    page = {"n": "pageview", "s": "shop.test", "u": "https://shop.test/"}
    day1 = datetime(2026, 11, 1, tzinfo=UTC)
    day2 = day1 + timedelta(days=1)
    same = Client(IP, CHROME)
    tracker.ingest([(page, same, at_time(day1, 10)), (page, same, at_time(day1, 10.1))])
    tracker.ingest([(page, same, at_time(day2, 10))])
    stored = events(database)
    assert stored[0].visitor_id == stored[1].visitor_id  # one visitor within a day
    assert stored[2].visitor_id != stored[0].visitor_id  # not linkable across days
    with database.unit_of_work(PURPOSE, INGEST) as session:
        assert set(session.scalars(select(Salt.day))) == {day1.date(), day2.date()}
        # Two rotations later (48 hours after day 2 began) both salts are gone.
        assert rotate(session, now=day2 + timedelta(hours=47), lifetime_hours=48) == 1  # day 1's
        assert rotate(session, now=day2 + timedelta(hours=48), lifetime_hours=48) == 1  # day 2's
        assert session.scalar(select(func.count()).select_from(Salt)) == 0
    # Recomputing the code from the IP and browser now gives a new, unrelated code.
    tracker.salts.forget()
    tracker.ingest([(page, same, at_time(day2, 11))])
    assert events(database)[-1].visitor_id not in {e.visitor_id for e in stored}


def test_midnight_does_not_split_a_live_visit(database: Database) -> None:
    make_site(database)
    tracker = Tracker(database)
    page = {"n": "pageview", "s": "shop.test", "u": "https://shop.test/"}
    day1 = datetime(2026, 11, 1, tzinfo=UTC)
    day2 = day1 + timedelta(days=1)
    live, left = Client(IP, CHROME), Client("198.51.100.9", IPHONE)
    tracker.ingest([(page, live, at_time(day1, 23.9)), (page, left, at_time(day1, 22))])
    # After midnight: the live visitor keeps yesterday's code while the visit goes on (also
    # after the first 30 minutes); the visitor whose visit ended long ago gets today's code.
    after = [at_time(day2, 0.1), at_time(day2, 0.4), at_time(day2, 0.8)]
    for ms in after:
        tracker.ingest([(page, live, ms)])
    tracker.ingest([(page, left, at_time(day2, 0.2))])
    stored = events(database)
    first, other = stored[0].visitor_id, stored[1].visitor_id
    assert [e.visitor_id for e in stored[2:5]] == [first, first, first]
    assert stored[5].visitor_id != other
    # A fresh process (a restart) continues the live visit too, from the database.
    restarted = Tracker(database)
    restarted.ingest([(page, live, at_time(day2, 0.9))])
    assert events(database)[-1].visitor_id == first
    # Once the visit has ended (30 minutes without an event), today's code is used.
    restarted.ingest([(page, live, at_time(day2, 2))])
    assert events(database)[-1].visitor_id != first


def test_the_processing_log_records_batches_not_visitors(database: Database) -> None:
    make_site(database)
    tracker = Tracker(database)
    at = int(datetime.now(UTC).timestamp() * 1000)
    page = {"n": "pageview", "s": "shop.test", "u": "https://shop.test/"}
    tracker.ingest([(page, Client(f"192.0.2.{i}", CHROME), at) for i in range(50)])
    from lawful.data.log import ProcessingRecord

    with database.unit_of_work("accountability", Actor.system("tests")) as session:
        rows = list(
            session.scalars(select(ProcessingRecord).where(ProcessingRecord.table_name == "page_events"))
        )
    assert len(rows) == 1
    assert rows[0].purpose == "monitoring"
    assert rows[0].subject_id is None


def test_page_events_cannot_be_read_under_another_purpose(database: Database) -> None:
    from lawful.errors import PurposeViolation

    with database.unit_of_work("contract", Actor.system("tests")) as session, pytest.raises(PurposeViolation):
        session.execute(select(PageEvent.path))
    with database.internal() as conn:
        assert conn.execute(text("SELECT count(*) FROM page_events")).scalar() == 0


def test_the_endpoint_logs_its_writes_summed(database: Database) -> None:
    from lawful.data.log import ProcessingRecord
    from lawful.monitoring.ingest import store_batch

    make_site(database)
    tracker = Tracker(database)
    at = int(datetime.now(UTC).timestamp() * 1000)
    page = {"n": "pageview", "s": "shop.test", "u": "https://shop.test/"}
    for i in range(3):
        with database.unit_of_work(PURPOSE, INGEST) as session:
            row = tracker.prepare(session, page, Client(f"192.0.2.{i}", CHROME), at=at)
        assert isinstance(row, dict)
        store_batch(tracker, [row, row], [])

    def logged() -> list[ProcessingRecord]:
        with database.unit_of_work("accountability", Actor.system("tests")) as session:
            query = select(ProcessingRecord).where(ProcessingRecord.table_name == "page_events")
            return list(session.scalars(query))

    assert logged() == []  # summed, not one row per commit
    with database.unit_of_work(PURPOSE, INGEST, record=False) as session:
        tracker.tally.flush(session)
    [record] = logged()
    assert (record.purpose, record.operation, record.statements) == ("monitoring", "write", 6)
    assert "user.unique_id.pseudonymous" in record.categories
    assert len(events(database)) == 6


def test_no_ip_is_stored_when_monitoring_does_not_declare_it(database: Database) -> None:
    make_site(database)
    purposes = [
        p.model_copy(update={"categories": [c for c in p.categories if c.key != "user.device.ip_address"]})
        if p.key == "monitoring"
        else p
        for p in database.policy.purposes
    ]
    policy = database.policy.model_copy(update={"purposes": purposes})
    strict = Database(database.url, policy)
    try:
        at = int(datetime.now(UTC).timestamp() * 1000)
        Tracker(strict).ingest(
            [({"n": "pageview", "s": "shop.test", "u": "https://shop.test/"}, Client(IP, CHROME), at)]
        )
        [event] = events(strict)
        assert event.ip_prefix is None
        assert event.path == "/"
    finally:
        strict.dispose()
