"""Keyword-only factories for test data, written through the real services."""

from __future__ import annotations

from lawful.customers import service
from lawful.customers.models import ContactPerson, Customer, CustomerKind
from lawful.data.db import Database
from lawful.data.purpose import Actor

SYSTEM = Actor.system("tests")


def make_customer(
    db: Database,
    *,
    kind: CustomerKind = CustomerKind.company,
    legal_name: str = "Acme B.V.",
    billing_email: str = "billing@acme.example",
    contacts: int = 1,
) -> tuple[Customer, list[ContactPerson]]:
    with db.unit_of_work("contract", SYSTEM) as session:
        customer = service.create_customer(
            session,
            kind=kind,
            legal_name=legal_name,
            billing_email=billing_email,
            street="Kerkstraat 1",
            postal_code="1011 AA",
            city="Amsterdam",
        )
        session.flush()
        people = [
            service.add_contact(
                session,
                customer,
                name=f"Person {i}",
                email=f"person{i}@acme.example",
                phone=f"+31 6 1234 567{i}",
            )
            for i in range(contacts)
        ]
    return customer, people
