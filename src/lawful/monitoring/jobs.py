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

from lawful.background import running
from lawful.data.base import table_of
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.monitoring import rollups
from lawful.monitoring.ingest import PURPOSE
from lawful.monitoring.models import PageEvent, UsageEvent
from lawful.monitoring.salts import rotate
from lawful.retention import sweeper

log = logging.getLogger("lawful.monitoring")
JOB = Actor.system("monitoring-maintenance")


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


def run(db: Database, *, now: datetime | None = None) -> Report:
    """Destroy old salts, roll up finished days, and apply the retention of the monitoring tables.

    The retention itself (raw events deleted, usage events unlinked from their user) is the
    retention run's, limited to the tables kept under monitoring
    (:func:`lawful.retention.sweeper.run_tables`): one place applies the policy, and what it
    deletes is in the retention log.
    """
    now = now or datetime.now(UTC)
    measures = db.policy.monitoring
    with db.unit_of_work(PURPOSE, JOB) as session:
        destroyed = rotate(session, now=now, lifetime_hours=measures.salt_lifetime_hours)
    rolled = rollups.roll_up(db, now=now)  # dashboards need finished days whatever expires
    tables = {r.table.name for r in sweeper.rules(db.policy) if r.purpose == PURPOSE}
    swept = sweeper.run_tables(db, tables, now=now, actor=JOB)
    return Report(
        destroyed,
        len(rolled) + swept.rolled_up,
        swept.rows_of(table_of(PageEvent).name),
        swept.rows_of(table_of(UsageEvent).name),
    )


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
