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
    """Customers whose legal name, KvK or VAT number, billing e-mail or city matches ``query``.

    Without a query the page is read in the order of the legal-name index and counted apart;
    with one, a single scan both filters and counts (a window count), and the ordering does not
    walk the index (``legal_name || ''``), which would visit every row in index order when few match.
    Billing e-mail addresses are stored lower-case and VAT numbers upper-case, so only the legal
    name and the city need folding.
    """
    conditions = []
    text = query.strip().lower()
    if text:
        like = f"%{text}%"
        conditions.append(
            or_(
                func.lower(Customer.legal_name).like(like),
                Customer.billing_email.like(like),
                func.lower(Customer.city).like(like),
                Customer.kvk_number.like(like),
                Customer.vat_number.like(like.upper()),
            )
        )
    if status is not None:
        conditions.append(Customer.status == status)
    if kind is not None:
        conditions.append(Customer.kind == kind)
    offset = (page - 1) * per_page
    if not text:
        total = session.scalar(select(func.count()).select_from(Customer).where(*conditions)) or 0
        stmt = select(Customer).where(*conditions).order_by(Customer.legal_name, Customer.id)
        return Page(list(session.scalars(stmt.offset(offset).limit(per_page))), total, page, per_page)
    windowed = (
        select(Customer, func.count().over())
        .where(*conditions)
        .order_by(Customer.legal_name + "", Customer.id)
        .offset(offset)
        .limit(per_page)
    )
    rows = session.execute(windowed).all()
    if rows:
        total = int(rows[0][1])
    elif page > 1:  # past the last page: count apart
        total = session.scalar(select(func.count()).select_from(Customer).where(*conditions)) or 0
    else:
        total = 0
    return Page([row[0] for row in rows], total, page, per_page)


def legal_names(session: Session, customer_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not customer_ids:
        return {}
    rows = session.execute(select(Customer.id, Customer.legal_name).where(Customer.id.in_(customer_ids)))
    return dict(rows.all())


def contact_names(session: Session, contact_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not contact_ids:
        return {}
    rows = session.execute(
        select(ContactPerson.id, ContactPerson.name).where(ContactPerson.id.in_(contact_ids))
    )
    return dict(rows.all())
