"""JSON API of customers and their contact persons (purpose ``contract``).

Staff whose role acts under ``contract`` reach every customer; a customer's user reads only
their own customer (another customer's id answers 404, exactly like an id that does not exist).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from lawful.customers import repository, service
from lawful.customers.models import ContactPerson, Customer, CustomerKind, CustomerStatus
from lawful.customers.schemas import (
    ContactIn,
    ContactList,
    ContactOut,
    ContactPatch,
    CustomerIn,
    CustomerOut,
    CustomerPage,
    CustomerPatch,
)
from lawful.data.db import Database
from lawful.errors import NotFound
from lawful.web.api import Caller, Page, SearchQuery, caller_api, errors, staff_api
from lawful.web.auth import CurrentStaff, csrf_protect
from lawful.web.deps import get_db
from lawful.web.errors import ERROR_RESPONSES

router = APIRouter(
    prefix="/api/v1", tags=["customers"], responses=ERROR_RESPONSES, dependencies=[Depends(csrf_protect)]
)

NO_SUCH_CUSTOMER = "no customer with that id"


def customer_out(customer: Customer) -> CustomerOut:
    return CustomerOut.model_validate(customer, from_attributes=True)


def contact_out(contact: ContactPerson) -> ContactOut:
    return ContactOut.model_validate(contact, from_attributes=True)


@router.get("/customers", summary="Search customers", response_model=CustomerPage)
def list_customers(
    caller: CurrentStaff = staff_api("contract"),
    db: Database = Depends(get_db),
    q: SearchQuery = "",
    status: CustomerStatus | None = None,
    kind: CustomerKind | None = None,
    page: Page = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CustomerPage:
    with db.unit_of_work("contract", caller.actor) as session:
        found = repository.search(session, query=q, status=status, kind=kind, page=page, per_page=per_page)
        items = [customer_out(c) for c in found.customers]
    return CustomerPage(items=items, total=found.total, page=page, per_page=per_page)


@router.post(
    "/customers",
    summary="Create a customer",
    status_code=201,
    response_model=CustomerOut,
)
def create_customer(
    body: CustomerIn, caller: CurrentStaff = staff_api("contract"), db: Database = Depends(get_db)
) -> CustomerOut:
    with db.unit_of_work("contract", caller.actor) as session:
        customer = service.create_customer(session, **body.model_dump())
        session.flush()
        out = customer_out(customer)
    return out


@router.get("/customers/{customer_id}", summary="One customer", response_model=CustomerOut)
def get_customer(
    customer_id: uuid.UUID, caller: Caller = caller_api("contract"), db: Database = Depends(get_db)
) -> CustomerOut:
    if caller.user is not None and caller.user.customer_id != customer_id:
        raise NotFound(NO_SUCH_CUSTOMER)
    with db.unit_of_work("contract", caller.actor) as session:
        out = customer_out(service.get_customer(session, customer_id))
    return out


@router.patch(
    "/customers/{customer_id}",
    summary="Change a customer; setting contract_end ends the contract",
    response_model=CustomerOut,
)
def update_customer(
    customer_id: uuid.UUID,
    body: CustomerPatch,
    caller: CurrentStaff = staff_api("contract"),
    db: Database = Depends(get_db),
) -> CustomerOut:
    with db.unit_of_work("contract", caller.actor) as session:
        customer = service.get_customer(session, customer_id)
        service.update_customer(session, customer, body.model_dump(exclude_unset=True))
        session.flush()
        out = customer_out(customer)
    return out


@router.get(
    "/customers/{customer_id}/contacts", summary="A customer's contact persons", response_model=ContactList
)
def list_contacts(
    customer_id: uuid.UUID, caller: CurrentStaff = staff_api("contract"), db: Database = Depends(get_db)
) -> ContactList:
    with db.unit_of_work("contract", caller.actor) as session:
        customer = service.get_customer(session, customer_id)
        items = [contact_out(c) for c in repository.contacts_of(session, customer.id)]
    return ContactList(items=items)


@router.post(
    "/customers/{customer_id}/contacts",
    summary="Add a contact person",
    status_code=201,
    response_model=ContactOut,
    responses=errors(409),
)
def add_contact(
    customer_id: uuid.UUID,
    body: ContactIn,
    caller: CurrentStaff = staff_api("contract"),
    db: Database = Depends(get_db),
) -> ContactOut:
    with db.unit_of_work("contract", caller.actor) as session:
        customer = service.get_customer(session, customer_id)
        contact = service.add_contact(session, customer, **body.model_dump())
        session.flush()
        out = contact_out(contact)
    return out


@router.get(
    "/customers/{customer_id}/contacts/{contact_id}", summary="One contact person", response_model=ContactOut
)
def get_contact(
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    caller: CurrentStaff = staff_api("contract"),
    db: Database = Depends(get_db),
) -> ContactOut:
    with db.unit_of_work("contract", caller.actor) as session:
        out = contact_out(service.get_contact(session, customer_id, contact_id))
    return out


@router.patch(
    "/customers/{customer_id}/contacts/{contact_id}",
    summary="Change a contact person",
    response_model=ContactOut,
)
def update_contact(
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    body: ContactPatch,
    caller: CurrentStaff = staff_api("contract"),
    db: Database = Depends(get_db),
) -> ContactOut:
    with db.unit_of_work("contract", caller.actor) as session:
        contact = service.get_contact(session, customer_id, contact_id)
        service.update_contact(contact, body.model_dump(exclude_unset=True))
        session.flush()
        out = contact_out(contact)
    return out


@router.delete(
    "/customers/{customer_id}/contacts/{contact_id}",
    summary="Remove a contact person",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "removed"}},
)
def remove_contact(
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    caller: CurrentStaff = staff_api("contract"),
    db: Database = Depends(get_db),
) -> Response:
    with db.unit_of_work("contract", caller.actor) as session:
        service.remove_contact(session, service.get_contact(session, customer_id, contact_id))
    return Response(status_code=204)
