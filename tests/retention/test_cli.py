"""``lawful retention run`` and ``lawful retention next`` on the embedded database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from tests.factories import SYSTEM, make_site
from tests.retention.timeline import count
from typer.testing import CliRunner

from lawful.cli import app as cli
from lawful.data.db import Database
from lawful.data.migrate import upgrade
from lawful.monitoring.models import PageEvent
from lawful.policy.model import Policy
from lawful.retention.cli import parse_moment
from lawful.retention.models import RetentionRun

COLLECTED = datetime(2027, 3, 1, 9, tzinfo=UTC)


@pytest.fixture
def data_dir(tmp_path: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An embedded database in ``tmp_path`` with two raw events of 2027-03-01."""
    monkeypatch.setenv("LAWFUL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LAWFUL_DATABASE_URL", raising=False)
    url = f"sqlite:///{(tmp_path / 'lawful.db').resolve()}"
    upgrade(url)
    db = Database(url, policy)
    site = make_site(db)
    ms = int(COLLECTED.timestamp() * 1000)
    with db.unit_of_work("monitoring", SYSTEM) as session:
        session.execute(
            insert(PageEvent),
            [
                {"site_id": site, "ts": ms + i, "visitor_id": i, "name": "pageview", "path": "/"}
                for i in range(2)
            ],
        )
    db.dispose()
    return tmp_path


def database_in(path: Path, policy: Policy) -> Database:
    return Database(f"sqlite:///{(path / 'lawful.db').resolve()}", policy)


def test_a_dry_run_then_a_run(data_dir: Path, policy: Policy) -> None:
    runner = CliRunner()
    due = (COLLECTED + timedelta(days=30)).date().isoformat()
    dry = runner.invoke(cli, ["retention", "run", "--dry-run", "--at", f"{due}T03:00"])
    assert dry.exit_code == 0, dry.output
    assert "page_events" in dry.stdout and "dry run" in dry.stdout
    assert "2 rows would be changed" in dry.stdout
    db = database_in(data_dir, policy)
    try:
        assert count(db, "monitoring", PageEvent) == 2
        done = runner.invoke(cli, ["retention", "run", "--at", f"{due}T03:00"])
        assert done.exit_code == 0, done.output
        assert "2 rows changed" in done.stdout
        assert count(db, "monitoring", PageEvent) == 0
        assert count(db, "accountability", RetentionRun) == 2
        assert count(db, "accountability", RetentionRun, RetentionRun.dry_run.is_(True)) == 1
    finally:
        db.dispose()


def test_what_expires_next(data_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["retention", "next", "--at", "2027-03-02T12:00:00+01:00"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if "page_events" in line)
    assert "2027-03-31" in line and " 2 " in line


@pytest.mark.parametrize(
    "args",
    [
        ["retention", "run", "--at", "yesterday"],
        ["retention", "run", "--dry-run", "--at", "2027-13-01"],
        ["retention", "next", "--at", "soon"],
        ["retention", "next", "--limit", "0"],
    ],
)
def test_bad_input_fails(data_dir: Path, args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output


def test_parse_moment() -> None:
    assert parse_moment(None) is None
    assert parse_moment("2027-06-01T03:00") == datetime(2027, 6, 1, 3, tzinfo=UTC)
    assert parse_moment("2027-06-01T05:00+02:00") == datetime(2027, 6, 1, 3, tzinfo=UTC)
