"""Queries over the customer-service contact log."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lawful.support.models import SupportContact


def search(
    session: Session,
    *,
    customer_id: uuid.UUID | None = None,
    query: str = "",
    follow_up_due: date | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[SupportContact]:
    stmt = select(SupportContact)
    if customer_id is not None:
        stmt = stmt.where(SupportContact.customer_id == customer_id)
    if query.strip():
        stmt = stmt.where(func.lower(SupportContact.summary).like(f"%{query.strip().lower()}%"))
    if follow_up_due is not None:
        stmt = stmt.where(
            SupportContact.follow_up_on <= follow_up_due, SupportContact.follow_up_done.is_(False)
        )
    stmt = stmt.order_by(SupportContact.occurred_at.desc(), SupportContact.id).offset(offset).limit(limit)
    return list(session.scalars(stmt))
