"""The monitoring maintenance job: destroy old salts, roll up finished days, delete expired raw events.

``run(db, now=...)`` does all of it and says what it did; ``lawful monitoring maintain`` runs it
by hand and the app runs it in the background every few minutes (``LAWFUL_MAINTENANCE_MINUTES``),
so retention happens without anyone remembering to schedule it. Every step is idempotent, so
several workers running it at once do no harm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import update

from lawful.background import running
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.monitoring import rollups
from lawful.monitoring.ingest import PURPOSE
from lawful.monitoring.models import UsageEvent
from lawful.monitoring.salts import rotate

log = logging.getLogger("lawful.monitoring")
JOB = Actor.system("monitoring-maintenance")
USER_LINK = "user.unique_id"


@dataclass(frozen=True, slots=True)
class Report:
    salts_destroyed: int
    days_rolled_up: int
    raw_events_deleted: int
    usage_users_unlinked: int

    def lines(self) -> list[str]:
        return [
            f"salts destroyed: {self.salts_destroyed}",
            f"days rolled up: {self.days_rolled_up}",
            f"raw events deleted: {self.raw_events_deleted}",
            f"usage events unlinked from their user: {self.usage_users_unlinked}",
        ]


def unlink_usage_users(db: Database, *, now: datetime) -> int:
    """Remove the user from usage events older than the policy keeps that link (they still count)."""
    declared = db.policy.purpose(PURPOSE).category(USER_LINK)
    if declared is None or declared.retention is None:
        return 0
    cutoff = now - declared.retention.delta
    with db.unit_of_work(PURPOSE, JOB) as session:
        result = session.execute(
            update(UsageEvent)
            .where(UsageEvent.user_id.is_not(None), UsageEvent.ts < int(cutoff.timestamp() * 1000))
            .values(user_id=None)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def run(db: Database, *, now: datetime | None = None) -> Report:
    now = now or datetime.now(UTC)
    measures = db.policy.monitoring
    with db.unit_of_work(PURPOSE, JOB) as session:
        destroyed = rotate(session, now=now, lifetime_hours=measures.salt_lifetime_hours)
    purged = rollups.purge_raw(db, now=now)  # rolls up every finished day first
    unlinked = unlink_usage_users(db, now=now)
    return Report(destroyed, len(purged.rolled), purged.total_deleted, unlinked)


async def every(db: Database, minutes: float, *, first_after: float = 60.0) -> None:
    """Run the job ``first_after`` seconds after start-up, then every ``minutes``, until cancelled."""
    await asyncio.sleep(first_after)
    while True:
        try:
            report = await asyncio.to_thread(run, db)
            log.info("monitoring maintenance: %s", "; ".join(report.lines()))
        except Exception:
            log.exception("monitoring maintenance failed; it runs again in %s minutes", minutes)
        await asyncio.sleep(minutes * 60)


def scheduled(
    db: Database, minutes: float
) -> contextlib.AbstractAsyncContextManager[asyncio.Task[None] | None]:
    """Keep the job running in the background for the lifetime of the app (0 minutes: never)."""
    return running(every(db, minutes) if minutes > 0 else None)
