"""What the customers API accepts and shows. Input models refuse unknown fields."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, Field

from lawful.customers.models import CustomerKind, CustomerStatus
from lawful.web.api import Input, Text, omittable


def _email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid e-mail address: {exc}") from None


Email = Annotated[Text, Field(max_length=254), AfterValidator(_email)]
Country = Annotated[Text, Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2, e.g. NL")]


class CustomerOut(BaseModel):
    id: uuid.UUID
    kind: CustomerKind
    legal_name: str
    kvk_number: str | None
    vat_number: str | None
    billing_email: str
    street: str
    postal_code: str
    city: str
    country: str
    status: CustomerStatus
    contract_start: date | None
    contract_end: date | None
    created_at: datetime


class CustomerPage(BaseModel):
    items: list[CustomerOut]
    total: int
    page: int
    per_page: int


class CustomerIn(Input):
    kind: CustomerKind
    legal_name: Text = Field(min_length=1, max_length=200)
    billing_email: Email
    kvk_number: Text | None = Field(default=None, max_length=20, description="eight digits")
    vat_number: Text | None = Field(default=None, max_length=40, description="an EU VAT number")
    street: Text = Field(default="", max_length=200)
    postal_code: Text = Field(default="", max_length=20)
    city: Text = Field(default="", max_length=100)
    country: Country = "NL"
    contract_start: date | None = None
    status: CustomerStatus = CustomerStatus.active


class CustomerPatch(Input):
    """A partial update: only the fields sent change. Setting ``contract_end`` ends the contract."""

    legal_name: Text = omittable(min_length=1, max_length=200)
    billing_email: Email = omittable()
    kvk_number: Text | None = Field(default=None, max_length=20)
    vat_number: Text | None = Field(default=None, max_length=40)
    street: Text = omittable(max_length=200)
    postal_code: Text = omittable(max_length=20)
    city: Text = omittable(max_length=100)
    country: Country = omittable()
    status: CustomerStatus = omittable()
    contract_start: date | None = None
    contract_end: date | None = None


class ContactOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    name: str
    email: str
    phone: str
    street: str
    postal_code: str
    city: str
    country: str
    created_at: datetime


class ContactList(BaseModel):
    items: list[ContactOut]


class ContactIn(Input):
    name: Text = Field(min_length=1, max_length=200)
    email: Email
    phone: Text = Field(default="", max_length=40)
    street: Text = Field(default="", max_length=200)
    postal_code: Text = Field(default="", max_length=20)
    city: Text = Field(default="", max_length=100)
    country: Country = "NL"


class ContactPatch(Input):
    name: Text = omittable(min_length=1, max_length=200)
    email: Email = omittable()
    phone: Text = omittable(max_length=40)
    street: Text = omittable(max_length=200)
    postal_code: Text = omittable(max_length=20)
    city: Text = omittable(max_length=100)
    country: Country = omittable()
