"""The daily salts: one random 32-byte key per UTC day, kept in the database, destroyed after 48 hours.

A salt is made by whichever process first needs it (``INSERT`` that ignores a conflict, then a
read, so that every worker uses the same key), and deleted by :func:`rotate` once the policy's
``salt_lifetime_hours`` have passed since its day began. Yesterday's salt is still used for a
while after midnight to continue visits that were live at midnight.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lawful.data.db import dialect_insert
from lawful.monitoring.models import Salt
from lawful.monitoring.sessions import day_of_ms, day_start_ms


def _insert_ignore(session: Session, day: date, value: bytes) -> None:
    values = {"day": day, "value": value, "created_at": datetime.now(UTC)}
    session.execute(
        dialect_insert(session, Salt).values(values).on_conflict_do_nothing(index_elements=["day"])
    )


class Salts:
    """Today's and yesterday's salts, read from the database once per day and cached."""

    def __init__(self, lifetime_hours: int) -> None:
        self.lifetime_ms = lifetime_hours * 3_600_000
        self._cache: dict[date, bytes | None] = {}

    def usable(self, day: date, now_ms: int) -> bool:
        """Whether the salt of ``day`` may still exist at ``now_ms`` (its lifetime has not run out)."""
        return now_ms < day_start_ms(day) + self.lifetime_ms

    def of_day(self, session: Session, day: date, *, create: bool) -> bytes | None:
        """The salt of ``day``, made now if ``create`` and missing."""
        if day in self._cache and (self._cache[day] is not None or not create):
            return self._cache[day]
        value = session.scalar(select(Salt.value).where(Salt.day == day))
        if value is None and create:
            _insert_ignore(session, day, secrets.token_bytes(32))
            value = session.scalar(select(Salt.value).where(Salt.day == day))
        if len(self._cache) > 4:
            self._cache = {d: v for d, v in self._cache.items() if d >= day - timedelta(days=1)}
        self._cache[day] = value
        return value

    def pair(self, session: Session, now_ms: int) -> tuple[date, bytes, bytes | None]:
        """(today, today's salt, yesterday's salt if it still lives) at ``now_ms``."""
        today = day_of_ms(now_ms)
        current = self.of_day(session, today, create=True)
        assert current is not None
        yesterday = today - timedelta(days=1)
        previous = self.of_day(session, yesterday, create=False) if self.usable(yesterday, now_ms) else None
        return today, current, previous

    def forget(self) -> None:
        self._cache.clear()


def rotate(session: Session, *, now: datetime, lifetime_hours: int) -> int:
    """Delete every salt whose lifetime (counted from the start of its day) is over; returns how many."""
    now_ms = int(now.timestamp() * 1000)
    lifetime_ms = lifetime_hours * 3_600_000
    doomed = [d for d in session.scalars(select(Salt.day)) if day_start_ms(d) + lifetime_ms <= now_ms]
    if doomed:
        session.execute(delete(Salt).where(Salt.day.in_(doomed)))
    return len(doomed)
