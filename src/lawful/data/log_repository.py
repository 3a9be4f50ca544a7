"""Queries over the processing log (read under the ``accountability`` purpose)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lawful.data.log import ProcessingRecord


def search(
    session: Session,
    *,
    actor: str = "",
    purpose: str = "",
    subject: str = "",
    table: str = "",
    subject_table: str = "",
    limit: int = 50,
    offset: int = 0,
) -> list[ProcessingRecord]:
    """Entries newest first, filtered by actor (``kind:id`` or an id), purpose, subject id and table."""
    stmt = select(ProcessingRecord)
    actor = actor.strip()
    if actor:
        kind, _, ident = actor.partition(":")
        if ident and kind in ("staff", "user", "system"):
            stmt = stmt.where(ProcessingRecord.actor_kind == kind, ProcessingRecord.actor_id == ident)
        else:
            stmt = stmt.where(ProcessingRecord.actor_id == actor)
    if purpose.strip():
        stmt = stmt.where(ProcessingRecord.purpose == purpose.strip())
    if subject.strip():
        stmt = stmt.where(ProcessingRecord.subject_id == subject.strip())
    if table.strip():
        stmt = stmt.where(ProcessingRecord.table_name == table.strip())
    if subject_table.strip():
        stmt = stmt.where(ProcessingRecord.subject_table == subject_table.strip())
    stmt = stmt.order_by(ProcessingRecord.at.desc(), ProcessingRecord.id.desc()).offset(offset).limit(limit)
    return list(session.scalars(stmt))
