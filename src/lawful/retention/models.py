"""The log of retention runs: per run, per rule, what expired and what was done with it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from lawful.data.annotations import not_personal
from lawful.data.base import Base, IdMixin, UTCDateTime, utcnow


class RetentionRun(IdMixin, Base):
    __tablename__ = "retention_runs"

    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clock: Mapped[datetime] = mapped_column(UTCDateTime)  # the time the rules were applied at
    dry_run: Mapped[bool] = mapped_column(default=False)
    actor: Mapped[str] = mapped_column(String(80))
    rows: Mapped[int] = mapped_column(Integer, default=0)


class RetentionAction(IdMixin, Base):
    __tablename__ = "retention_actions"

    run_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("retention_runs.id", ondelete="CASCADE"), index=True
    )
    table_name: Mapped[str] = mapped_column(String(64), info=not_personal("the name of a database table"))
    data: Mapped[str] = mapped_column(String(300))  # the kind of data, in words
    category: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(200))  # e.g. "30 days after it was collected"
    action: Mapped[str] = mapped_column(String(20))  # delete, anonymise, unlink
    cutoff: Mapped[str] = mapped_column(String(40))
    rows: Mapped[int] = mapped_column(Integer, default=0)
