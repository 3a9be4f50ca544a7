"""Queries over customers and contact persons."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from lawful.customers.models import ContactPerson, Customer, CustomerKind, CustomerStatus


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Customer)) or 0


def get(session: Session, customer_id: uuid.UUID, *, with_contacts: bool = False) -> Customer | None:
    options = [selectinload(Customer.contacts)] if with_contacts else []
    return session.get(Customer, customer_id, options=options)


def contacts_of(session: Session, customer_id: uuid.UUID) -> list[ContactPerson]:
    stmt = select(ContactPerson).where(ContactPerson.customer_id == customer_id).order_by(ContactPerson.name)
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class Page:
    customers: list[Customer]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search(
    session: Session,
    *,
    query: str = "",
    status: CustomerStatus | None = None,
    kind: CustomerKind | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """Customers whose legal name, KvK or VAT number, billing e-mail or city matches ``query``."""
    stmt = select(Customer)
    if query.strip():
        like = f"%{query.strip().lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Customer.legal_name).like(like),
                func.lower(Customer.billing_email).like(like),
                func.lower(Customer.city).like(like),
                Customer.kvk_number.like(like),
                func.lower(Customer.vat_number).like(like),
            )
        )
    if status is not None:
        stmt = stmt.where(Customer.status == status)
    if kind is not None:
        stmt = stmt.where(Customer.kind == kind)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Customer.legal_name, Customer.id).offset((page - 1) * per_page).limit(per_page)
    )
    return Page(list(rows), total, page, per_page)
