"""Queries over the customer-service contact log."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from lawful.customers.models import Customer
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


def naming_user(session: Session, user_id: uuid.UUID, *, limit: int = 100) -> list[SupportContact]:
    """The newest support contacts that name one user as whom was spoken with."""
    stmt = (
        select(SupportContact)
        .where(SupportContact.user_id == user_id)
        .order_by(SupportContact.occurred_at.desc(), SupportContact.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def search_with_customers(
    session: Session,
    *,
    query: str = "",
    customer_id: uuid.UUID | None = None,
    follow_up_due: date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[tuple[SupportContact, str]]:
    """Contacts across customers with each customer's legal name, newest first; ``query``
    matches the summary or the legal name."""
    stmt = select(SupportContact, Customer.legal_name).join(
        Customer, Customer.id == SupportContact.customer_id
    )
    if customer_id is not None:
        stmt = stmt.where(SupportContact.customer_id == customer_id)
    if query.strip():
        like = f"%{query.strip().lower()}%"
        stmt = stmt.where(
            or_(func.lower(SupportContact.summary).like(like), func.lower(Customer.legal_name).like(like))
        )
    if follow_up_due is not None:
        stmt = stmt.where(
            SupportContact.follow_up_on <= follow_up_due, SupportContact.follow_up_done.is_(False)
        )
    stmt = stmt.order_by(SupportContact.occurred_at.desc(), SupportContact.id).offset(offset).limit(limit)
    return [(entry, name) for entry, name in session.execute(stmt)]
