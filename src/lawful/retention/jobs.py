"""The daily retention run, kept going in the background for as long as the app runs.

``scheduled(db, hour)`` is the app's handle: an async context manager whose block the retention
run lives in. It runs once a day at ``hour`` (UTC), and shortly after start-up too when no run has
finished in the last day (a server that was down at that hour catches up). A failed run is logged
and tried again the next day; the run is idempotent, so nothing is lost in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from lawful.background import running
from lawful.data.base import table_of
from lawful.data.db import Database
from lawful.retention import sweeper
from lawful.retention.models import RetentionRun
from lawful.retention.rules import ACTOR

log = logging.getLogger("lawful.retention")
DAY = timedelta(days=1)


def seconds_until(hour: int, now: datetime) -> float:
    """Seconds from ``now`` to the next ``hour``:00 UTC."""
    target = now.astimezone(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    if target <= now:
        target += DAY
    return (target - now).total_seconds()


def last_run_at(db: Database) -> datetime | None:
    """When the last finished run (not a dry run, by anyone) really started."""
    runs = table_of(RetentionRun)
    with db.purposes(ACTOR, sweeper.LOG_PURPOSE) as work:
        found: datetime | None = work.execute(
            sweeper.LOG_PURPOSE,
            select(func.max(runs.c.started_at)).where(
                runs.c.finished_at.is_not(None), runs.c.dry_run.is_(False)
            ),
        ).scalar()
    return found


def due_now(db: Database, now: datetime) -> bool:
    """Whether no daily run has finished within the last day."""
    last = last_run_at(db)
    return last is None or now - last >= DAY


def run_once(db: Database) -> sweeper.RunReport:
    report = sweeper.run(db)
    log.info("retention: %s", "; ".join(report.lines()))
    return report


async def every_day(db: Database, hour: int, *, first_after: float = 120.0) -> None:
    """Catch up ``first_after`` seconds after start-up if a run is due, then run daily at ``hour``."""
    await asyncio.sleep(first_after)
    try:
        catch_up = await asyncio.to_thread(due_now, db, datetime.now(UTC))
        if catch_up:
            await asyncio.to_thread(run_once, db)
    except Exception:
        log.exception("the retention run failed; it runs again at %02d:00 UTC", hour)
    while True:
        await asyncio.sleep(seconds_until(hour, datetime.now(UTC)))
        try:
            await asyncio.to_thread(run_once, db)
        except Exception:
            log.exception("the retention run failed; it runs again tomorrow at %02d:00 UTC", hour)


def scheduled(db: Database, hour: int) -> contextlib.AbstractAsyncContextManager[asyncio.Task[None] | None]:
    """Keep the daily retention run going for the lifetime of the app, at ``hour`` (0-23, UTC).

    An hour outside 0-23 (say -1) turns it off.
    """
    return running(every_day(db, hour) if 0 <= hour <= 23 else None)
