"""Queries over the outbox."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lawful.mail.models import MailStatus, OutboundMail


def recent(
    session: Session, *, status: MailStatus | None = None, limit: int = 50, offset: int = 0
) -> list[OutboundMail]:
    """Mail newest first, optionally of one status."""
    stmt = select(OutboundMail)
    if status is not None:
        stmt = stmt.where(OutboundMail.status == status)
    stmt = stmt.order_by(OutboundMail.created_at.desc(), OutboundMail.id.desc()).offset(offset).limit(limit)
    return list(session.scalars(stmt))
