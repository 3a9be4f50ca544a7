"""The demo traffic generator, on both backends: every generated event is stored or counted as
dropped, nothing identifying is kept, the salts of past days are gone afterwards, the same seed
gives the same events, and the demo customers' usage goes in through the usage pipeline."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.factories import SYSTEM, make_customer, make_user
from typer.testing import CliRunner

from lawful.cli import app
from lawful.customers.models import Customer, CustomerStatus
from lawful.data.db import Database
from lawful.monitoring import traffic
from lawful.monitoring.models import IngestCount, PageEvent, Salt, Site, UsageEvent
from lawful.policy.model import Policy
from lawful.schema import metadata

EVENTS = 1500
DAYS = 3


def every_stored_value(db: Database) -> str:
    """Every value of every table, the processing log included, as one text to search in."""
    parts: list[str] = []
    with db.internal() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(table.select()):
                parts.extend(repr(v) for v in row)
    return "\n".join(parts)


def count(db: Database, column: Any) -> int:
    with db.unit_of_work("monitoring", SYSTEM) as session:
        return int(session.scalar(select(column)) or 0)


def page_rows(db: Database) -> list[tuple[Any, ...]]:
    """The stored tracker events without their row id and visitor code (which the salts make random)."""
    with db.unit_of_work("monitoring", SYSTEM) as session:
        domains = dict(session.execute(select(Site.id, Site.domain)).all())
        rows = session.execute(
            select(
                PageEvent.site_id,
                PageEvent.ts,
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
                PageEvent.ip_prefix,
            )
        ).all()
    return sorted(((domains[r[0]], *r[1:]) for r in rows), key=repr)


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def test_every_generated_event_is_stored_or_counted_as_dropped(database: Database, now: datetime) -> None:
    reported: list[int] = []
    result = traffic.generate(
        database, days=DAYS, events=EVENTS, seed=11, now=now, progress=reported.append, with_usage=False
    )
    assert result.generated == EVENTS == sum(reported)
    assert result.stored + result.dropped == EVENTS
    assert result.dropped > 0 and result.stored > 0 and result.visits > 0
    assert count(database, func.count(PageEvent.id)) == result.stored
    assert count(database, func.sum(IngestCount.count)) == result.dropped
    with database.unit_of_work("monitoring", SYSTEM) as session:
        assert sorted(session.scalars(select(Site.domain))) == sorted(s.domain for s in traffic.SITES)
        names = Counter(session.scalars(select(PageEvent.name)))
        reasons = set(session.scalars(select(IngestCount.reason)))
        earliest, latest = session.execute(select(func.min(PageEvent.ts), func.max(PageEvent.ts))).one()
    # visits of several page views, engagement, outbound links and custom events
    assert names["pageview"] > 0 and names["engagement"] > 0 and names["outbound"] > 0
    assert set(names) - {"pageview", "engagement", "outbound"}, "custom events"
    assert names["pageview"] < names["pageview"] + names["engagement"] < EVENTS + 1
    # Which visitors the plan puts inside the window depends on the time of day it runs at: the
    # reasons are those of the planned events (objection is always among them at this size).
    planned = traffic.plan(days=DAYS, events=EVENTS, seed=11, now=now)
    expected = {"bot" for _, client, _ in planned.events if client.user_agent in traffic.BOTS}
    expected |= {"objection" for _, client, _ in planned.events if client.objected}
    assert reasons == expected and "objection" in reasons
    first_day = datetime.combine(now.date() - timedelta(days=DAYS - 1), datetime.min.time(), UTC)
    assert first_day.timestamp() * 1000 <= earliest <= latest <= now.timestamp() * 1000


def test_nothing_identifying_is_stored(database: Database, now: datetime) -> None:
    planned = traffic.plan(days=DAYS, events=EVENTS, seed=11, now=now)
    traffic.generate(database, days=DAYS, events=EVENTS, seed=11, now=now, with_usage=False)
    stored = every_stored_value(database)
    assert "www.lawful.demo" in stored  # the search itself works
    humans = {v.user_agent for v in planned.visitors if not v.bot}
    assert humans and not [ua for ua in humans if ua in stored]
    addresses = {client.ip for _, client, _ in planned.events}
    assert len(addresses) > 50 and not [ip for ip in addresses if ip in stored]
    for dropped in ("gclid=", "fbclid=", "li_fat_id="):  # query parameters other than utm_*
        assert any(dropped in data["u"] for data, _, _ in planned.events), dropped
        assert dropped not in stored
    assert "utm_campaign=" in stored
    with database.unit_of_work("monitoring", SYSTEM) as session:
        prefixes = set(session.scalars(select(PageEvent.ip_prefix)))
    assert prefixes and all(p is not None and p.endswith(("/24", "/48")) for p in prefixes)


def test_the_salts_of_past_days_are_gone_afterwards(
    database: Database, now: datetime, policy: Policy
) -> None:
    result = traffic.generate(database, days=DAYS, events=EVENTS, seed=11, now=now, with_usage=False)
    with database.unit_of_work("monitoring", SYSTEM) as session:
        days = set(session.scalars(select(Salt.day)))
    lifetime = timedelta(hours=policy.monitoring.salt_lifetime_hours)
    alive = {
        day
        for day in (now.date(), now.date() - timedelta(days=1))
        if datetime.combine(day, datetime.min.time(), UTC) + lifetime > now
    }
    assert days == alive
    assert result.salts_removed == DAYS - len(alive)


def test_the_same_seed_gives_the_same_events(
    database: Database, now: datetime, policy: Policy, tmp_path: Path, sqlite_template: Path
) -> None:
    first = traffic.plan(days=DAYS, events=600, seed=5, now=now)
    again = traffic.plan(days=DAYS, events=600, seed=5, now=now)
    other = traffic.plan(days=DAYS, events=600, seed=6, now=now)
    assert first.events == again.events and first.visits == again.visits
    assert first.events != other.events
    assert [e[2] for e in first.events] == sorted(e[2] for e in first.events)  # in time order
    # the same seed stored in two databases (SQLite, and this test's backend) gives the same rows
    path = tmp_path / "second.db"
    path.write_bytes(sqlite_template.read_bytes())
    second = Database(f"sqlite:///{path}", policy)
    try:
        traffic.generate(database, days=DAYS, events=600, seed=5, now=now, with_usage=False)
        traffic.generate(second, days=DAYS, events=600, seed=5, now=now, with_usage=False)
        rows = page_rows(database)
        assert rows and rows == page_rows(second)
    finally:
        second.dispose()


def test_the_demo_customers_usage_goes_through_the_usage_pipeline(database: Database, now: datetime) -> None:
    alpha, _ = make_customer(database, legal_name="Alpha B.V.", contacts=0)
    bravo, _ = make_customer(database, legal_name="Bravo B.V.", billing_email="b@bravo.example", contacts=0)
    resting, _ = make_customer(
        database, legal_name="Resting B.V.", billing_email="r@rest.example", contacts=0
    )
    with database.unit_of_work("contract", SYSTEM) as session:
        found = session.get(Customer, resting.id)
        assert found is not None
        found.status = CustomerStatus.suspended
    people = {
        make_user(database, customer_id=alpha.id, email="a1@alpha.example").id: alpha.id,
        make_user(database, customer_id=alpha.id, email="a2@alpha.example").id: alpha.id,
        make_user(database, customer_id=bravo.id, email="b1@bravo.example").id: bravo.id,
    }
    days = 5
    planned = traffic.usage_events(database, days=days, seed=3, now=now)
    outcomes = traffic.report_usage(database, planned, now=now)
    assert len(outcomes) == len(planned) > 0
    assert all(o.status == "accepted" for o in outcomes)
    with database.unit_of_work("monitoring", SYSTEM) as session:
        rows = session.execute(
            select(UsageEvent.customer_id, UsageEvent.code, UsageEvent.ts, UsageEvent.user_id)
        ).all()
    assert len(rows) == len(planned)
    assert {r.customer_id for r in rows} == {alpha.id, bravo.id}  # not the suspended one
    window_start = (now - timedelta(days=days)).timestamp() * 1000
    assert all(window_start <= r.ts <= now.timestamp() * 1000 for r in rows)
    per = Counter((r.customer_id, r.code) for r in rows)
    for customer in (alpha.id, bravo.id):
        assert per[(customer, "storage.gb")] <= days
        assert per[(customer, "api.call")] <= 4 * days
        assert per[(customer, "api.call")] > 0
    for r in rows:
        if r.code == "seat.active":
            assert r.user_id is not None and people[r.user_id] == r.customer_id
        else:
            assert r.user_id is None
    # sending the same usage again counts nothing twice
    again = traffic.report_usage(database, planned, now=now)
    assert all(o.status == "duplicate" for o in again)
    assert count(database, func.count(UsageEvent.id)) == len(planned)


def test_lawful_demo_generates_traffic_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAWFUL_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("LAWFUL_DATABASE_URL", raising=False)
    monkeypatch.delenv("LAWFUL_POLICY", raising=False)
    runner = CliRunner()
    result = runner.invoke(app, ["demo", "--customers", "4", "--traffic", "400", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "demo traffic: 400 events" in " ".join(result.output.split())
    again = runner.invoke(app, ["demo", "--customers", "4", "--traffic", "400", "--no-serve"])
    assert again.exit_code == 0, again.output
    assert "demo traffic: already generated" in again.output
    from lawful.policy.loader import load_policy

    db = Database(f"sqlite:///{tmp_path / 'var' / 'lawful.db'}", load_policy())
    try:
        stored = count(db, func.count(PageEvent.id))
        dropped = count(db, func.sum(IngestCount.count))
        assert stored + dropped == 400
        assert count(db, func.count(UsageEvent.id)) > 0
    finally:
        db.dispose()


def test_lawful_usage_service_prints_the_key_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAWFUL_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("LAWFUL_DATABASE_URL", raising=False)
    monkeypatch.delenv("LAWFUL_POLICY", raising=False)
    runner = CliRunner()
    created = runner.invoke(app, ["usage-service", "create", "Invoicing app"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("lwu_")
    listed = runner.invoke(app, ["usage-service", "list"])
    assert "Invoicing app" in listed.stdout and key[:12] in listed.stdout and key not in listed.stdout
    assert "active" in listed.stdout
    rotated = runner.invoke(app, ["usage-service", "rotate", "Invoicing app"])
    new_key = rotated.stdout.strip().splitlines()[-1]
    assert rotated.exit_code == 0 and new_key.startswith("lwu_") and new_key != key
    revoked = runner.invoke(app, ["usage-service", "revoke", "Invoicing app"])
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    assert "revoked" in runner.invoke(app, ["usage-service", "list"]).stdout
    missing = runner.invoke(app, ["usage-service", "revoke", "Nobody"])
    assert missing.exit_code == 1 and "no usage service" in missing.output
    twice = runner.invoke(app, ["usage-service", "create", "Invoicing app"])
    assert twice.exit_code == 1 and "exists already" in twice.output
