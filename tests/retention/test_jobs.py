"""The daily retention job the app keeps running: it catches up after start-up when no run finished
in the last day, then waits for its hour; a negative hour turns it off."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from tests.retention.timeline import count

from lawful.background import running
from lawful.data.db import Database
from lawful.retention import jobs, sweeper
from lawful.retention.models import RetentionRun

T = TypeVar("T")


def run_async(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main`` on an event loop of its own thread: the browser tests keep one running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(main())).result()


def test_seconds_until_the_hour() -> None:
    now = datetime(2026, 11, 29, 14, 30, tzinfo=UTC)
    assert jobs.seconds_until(15, now) == 30 * 60
    assert jobs.seconds_until(14, now) == timedelta(hours=23, minutes=30).total_seconds()
    assert jobs.seconds_until(3, datetime(2026, 11, 29, 3, tzinfo=UTC)) == 24 * 3600


def test_a_run_is_due_when_none_finished_in_the_last_day(sqlite_db: Database) -> None:
    now = datetime.now(UTC)
    assert jobs.due_now(sqlite_db, now)
    sweeper.run(sqlite_db, dry_run=True)
    assert jobs.due_now(sqlite_db, now)  # a dry run does not count
    sweeper.run(sqlite_db)
    assert not jobs.due_now(sqlite_db, now)
    assert jobs.due_now(sqlite_db, now + timedelta(days=1, minutes=1))


def test_the_job_catches_up_once_after_start_up(
    sqlite_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lawful.retention")

    async def main() -> None:
        async with running(jobs.every_day(sqlite_db, 3, first_after=0)):
            for _ in range(200):
                await asyncio.sleep(0.05)
                if count(sqlite_db, "accountability", RetentionRun, RetentionRun.finished_at.is_not(None)):
                    break
            await asyncio.sleep(0.2)

    run_async(main)
    assert count(sqlite_db, "accountability", RetentionRun) == 1
    assert any(r.getMessage().startswith("retention: retention run at") for r in caplog.records)


def test_scheduled_is_off_for_an_hour_outside_the_day(sqlite_db: Database) -> None:
    async def main() -> tuple[bool, bool]:
        async with jobs.scheduled(sqlite_db, -1) as off:
            pass
        async with jobs.scheduled(sqlite_db, 4) as on:
            pass
        return off is None, on is not None and on.cancelled()

    assert run_async(main) == (True, True)
