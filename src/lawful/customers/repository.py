"""Queries over customers and contact persons."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from lawful.customers.models import ContactPerson, Customer


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Customer)) or 0


def get(session: Session, customer_id: uuid.UUID, *, with_contacts: bool = False) -> Customer | None:
    options = [selectinload(Customer.contacts)] if with_contacts else []
    return session.get(Customer, customer_id, options=options)


def contacts_of(session: Session, customer_id: uuid.UUID) -> list[ContactPerson]:
    stmt = select(ContactPerson).where(ContactPerson.customer_id == customer_id).order_by(ContactPerson.name)
    return list(session.scalars(stmt))
