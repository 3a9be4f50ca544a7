"""Operations on customers and their contact persons. Services never commit."""

from __future__ import annotations

import re
import uuid
from datetime import date

from sqlalchemy.orm import Session, object_session
from stdnum.eu import vat
from stdnum.exceptions import ValidationError as StdnumError

from lawful.customers import repository
from lawful.customers.models import ContactPerson, Customer, CustomerKind, CustomerStatus
from lawful.data.base import utcnow
from lawful.errors import Conflict, Invalid, NotFound
from lawful.users.service import refuse_if_restricted

KVK = re.compile(r"^\d{8}$")
EU_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)


def _unrestricted(row: Customer | ContactPerson) -> None:
    """Refuse to change a contact person or a sole proprietor whose processing is restricted (art. 18);
    a company's own data is not personal and is not restricted."""
    if isinstance(row, Customer) and row.kind is not CustomerKind.sole_proprietor:
        return
    session = object_session(row)
    if session is not None:
        refuse_if_restricted(session, row.id)


def clean_vat(number: str | None) -> str | None:
    """An EU VAT number in its compact form (``NL004495445B01``), checked with python-stdnum."""
    if number is None or not number.strip():
        return None
    try:
        return str(vat.validate(number))
    except StdnumError as exc:
        raise Invalid(
            f"{number!r} is not a valid EU VAT number ({exc})", detail={"field": "vat_number"}
        ) from None


def clean_kvk(number: str | None) -> str | None:
    """A Dutch chamber of commerce (KvK) number: eight digits."""
    if number is None or not number.strip():
        return None
    compact = re.sub(r"[\s.]", "", number)
    if not KVK.match(compact):
        raise Invalid(f"{number!r} is not a KvK number (eight digits)", detail={"field": "kvk_number"})
    return compact


def clean_country(code: str) -> str:
    code = code.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise Invalid(f"{code!r} is not a two-letter country code", detail={"field": "country"})
    return code


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
    if not legal_name.strip():
        raise Invalid("a legal name is needed", detail={"field": "legal_name"})
    customer = Customer(
        kind=kind,
        legal_name=legal_name.strip(),
        billing_email=billing_email.strip().lower(),
        kvk_number=clean_kvk(kvk_number),
        vat_number=clean_vat(vat_number),
        street=street.strip(),
        postal_code=postal_code.strip(),
        city=city.strip(),
        country=clean_country(country),
        contract_start=contract_start,
        status=status,
    )
    session.add(customer)
    return customer


UPDATABLE = frozenset(
    {
        "legal_name",
        "kvk_number",
        "vat_number",
        "billing_email",
        "street",
        "postal_code",
        "city",
        "country",
        "status",
        "contract_start",
        "contract_end",
    }
)


def update_customer(session: Session, customer: Customer, changes: dict[str, object]) -> Customer:
    """Apply a partial update; ending the contract sets the status and starts the retention clocks."""
    _unrestricted(customer)
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise Invalid(f"these fields cannot be changed: {', '.join(sorted(unknown))}")
    for field, value in changes.items():
        if field == "vat_number":
            value = clean_vat(value if isinstance(value, str) else None)
        elif field == "kvk_number":
            value = clean_kvk(value if isinstance(value, str) else None)
        elif field == "country" and isinstance(value, str):
            value = clean_country(value)
        elif field == "billing_email" and isinstance(value, str):
            value = value.strip().lower()
        setattr(customer, field, value)
    if customer.contract_end and customer.contract_start and customer.contract_end < customer.contract_start:
        raise Invalid("the contract cannot end before it starts", detail={"field": "contract_end"})
    if (
        "contract_end" in changes
        and customer.contract_end is not None
        and customer.contract_end <= date.today()
    ):
        customer.status = CustomerStatus.ended
    return customer


def end_contract(customer: Customer, *, on: date) -> None:
    _unrestricted(customer)
    if customer.contract_start and on < customer.contract_start:
        raise Invalid("the contract cannot end before it starts", detail={"field": "contract_end"})
    customer.contract_end = on
    if on <= date.today():
        customer.status = CustomerStatus.ended


def get_customer(session: Session, customer_id: uuid.UUID) -> Customer:
    customer = repository.get(session, customer_id)
    if customer is None:
        raise NotFound("no customer with that id")
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
    if not name.strip():
        raise Invalid("a contact person needs a name", detail={"field": "name"})
    email = email.strip().lower()
    if any(c.email == email for c in repository.contacts_of(session, customer.id)):
        raise Conflict("this customer already has a contact person with that e-mail address")
    contact = ContactPerson(
        customer_id=customer.id,
        name=name.strip(),
        email=email,
        phone=phone.strip(),
        street=street.strip(),
        postal_code=postal_code.strip(),
        city=city.strip(),
        country=clean_country(country),
        created_at=utcnow(),
    )
    session.add(contact)
    return contact


def get_contact(session: Session, customer_id: uuid.UUID, contact_id: uuid.UUID) -> ContactPerson:
    contact = session.get(ContactPerson, contact_id)
    if contact is None or contact.customer_id != customer_id:
        raise NotFound("no contact person with that id at this customer")
    return contact


def update_contact(contact: ContactPerson, changes: dict[str, object]) -> ContactPerson:
    _unrestricted(contact)
    allowed = {"name", "email", "phone", "street", "postal_code", "city", "country"}
    unknown = set(changes) - allowed
    if unknown:
        raise Invalid(f"these fields cannot be changed: {', '.join(sorted(unknown))}")
    for field, value in changes.items():
        if isinstance(value, str):
            value = value.strip()
            if field == "email":
                value = value.lower()
            if field == "country":
                value = clean_country(value)
        setattr(contact, field, value)
    return contact


def remove_contact(session: Session, contact: ContactPerson) -> None:
    refuse_if_restricted(session, contact.id)
    session.delete(contact)
