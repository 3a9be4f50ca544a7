"""Operations on customers and their contact persons. Services never commit."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from lawful.customers.models import ContactPerson, Customer, CustomerKind, CustomerStatus
from lawful.data.base import utcnow


def create_customer(
    session: Session,
    *,
    kind: CustomerKind,
    legal_name: str,
    billing_email: str,
    kvk_number: str | None = None,
    vat_number: str | None = None,
    street: str = "",
    postal_code: str = "",
    city: str = "",
    country: str = "NL",
    contract_start: date | None = None,
    status: CustomerStatus = CustomerStatus.active,
) -> Customer:
    customer = Customer(
        kind=kind,
        legal_name=legal_name,
        billing_email=billing_email,
        kvk_number=kvk_number,
        vat_number=vat_number,
        street=street,
        postal_code=postal_code,
        city=city,
        country=country,
        contract_start=contract_start,
        status=status,
    )
    session.add(customer)
    return customer


def add_contact(
    session: Session,
    customer: Customer,
    *,
    name: str,
    email: str,
    phone: str = "",
    street: str = "",
    postal_code: str = "",
    city: str = "",
    country: str = "NL",
) -> ContactPerson:
    contact = ContactPerson(
        customer_id=customer.id,
        name=name,
        email=email,
        phone=phone,
        street=street,
        postal_code=postal_code,
        city=city,
        country=country,
        created_at=utcnow(),
    )
    session.add(contact)
    return contact
