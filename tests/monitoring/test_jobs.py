"""The maintenance job: salts destroyed, finished days rolled up, expired raw events deleted, usage unlinked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from tests.factories import make_customer, make_site, make_user
from typer.testing import CliRunner

from lawful.cli import app as cli
from lawful.data.db import Database
from lawful.data.migrate import upgrade
from lawful.data.purpose import Actor
from lawful.monitoring import jobs, usage
from lawful.monitoring.ingest import Client, Tracker
from lawful.monitoring.models import PageEvent, Rollup, Salt, UsageEvent
from lawful.monitoring.sessions import day_start_ms
from lawful.policy.model import Policy

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
TESTS = Actor.system("tests")


def test_maintenance_applies_the_policy(database: Database) -> None:
    make_site(database)
    tracker = Tracker(database)
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    old_day = (now - timedelta(days=40)).date()
    young_day = (now - timedelta(days=3)).date()
    page = {"n": "pageview", "s": "shop.test", "u": "https://shop.test/"}
    tracker.ingest([(page, Client("192.0.2.1", CHROME), day_start_ms(old_day) + 3_600_000)])
    tracker.ingest([(page, Client("192.0.2.1", CHROME), day_start_ms(young_day) + 3_600_000)])
    customer, _ = make_customer(database)
    user = make_user(database, customer_id=customer.id)
    with database.unit_of_work("monitoring", TESTS) as session:
        service, _ = usage.create_service(session, name="api")
        for days_ago, key in ((70, "old"), (10, "young")):
            moment = now - timedelta(days=days_ago)
            event = {
                "idempotency_key": key,
                "customer_id": str(customer.id),
                "user_id": str(user.id),
                "code": "api.call",
                "timestamp": moment.isoformat(),
            }
            [outcome] = usage.record(session, service, [event], now=moment)
            assert outcome.status == "accepted"

    report = jobs.run(database, now=now)

    assert report.salts_destroyed == 2  # both days' salts are older than 48 hours
    assert report.days_rolled_up == 2
    assert report.raw_events_deleted == 1  # the 40-day-old event; the 3-day-old one stays
    assert report.usage_users_unlinked == 1  # older than the policy's two months
    with database.unit_of_work("monitoring", TESTS) as session:
        assert session.scalar(select(func.count()).select_from(Salt)) == 0
        assert [e.ts for e in session.scalars(select(PageEvent))] == [day_start_ms(young_day) + 3_600_000]
        totals = set(session.scalars(select(Rollup.day).where(Rollup.dimension == "total")))
        assert totals == {old_day, young_day}
        links = {
            row.idempotency_key: row.user_id
            for row in session.execute(select(UsageEvent.idempotency_key, UsageEvent.user_id))
        }
    assert links == {"old": None, "young": user.id}
    # A second run finds nothing left to do.
    again = jobs.run(database, now=now)
    assert (
        again.salts_destroyed,
        again.days_rolled_up,
        again.raw_events_deleted,
        again.usage_users_unlinked,
    ) == (0, 0, 0, 0)


def test_the_cli_runs_the_maintenance(tmp_path: Path, policy: Policy, monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("LAWFUL_DATA_DIR", str(tmp_path))
    url = f"sqlite:///{(tmp_path / 'lawful.db').resolve()}"
    upgrade(url)
    db = Database(url, policy)
    make_site(db)
    moment = datetime(2026, 10, 1, 9, tzinfo=UTC)
    Tracker(db).ingest(
        [
            (
                {"n": "pageview", "s": "shop.test", "u": "https://shop.test/"},
                Client("192.0.2.1", CHROME),
                int(moment.timestamp() * 1000),
            )
        ]
    )
    db.dispose()
    result = CliRunner().invoke(cli, ["monitoring", "maintain", "--now", "2026-11-29T12:00:00"])
    assert result.exit_code == 0, result.output
    assert "salts destroyed: 1" in result.output
    assert "days rolled up: 1" in result.output
    assert "raw events deleted: 1" in result.output
    bad = CliRunner().invoke(cli, ["monitoring", "maintain", "--now", "yesterday"])
    assert bad.exit_code != 0
