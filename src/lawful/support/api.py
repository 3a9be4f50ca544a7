"""JSON API of the customer-service contact log (purpose ``contract``, staff only)."""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, Depends

from lawful.customers import service as customers
from lawful.data.db import Database
from lawful.support import repository, service
from lawful.support.models import SupportContact
from lawful.support.schemas import (
    SupportContactIn,
    SupportContactList,
    SupportContactOut,
    SupportContactPatch,
)
from lawful.web.api import Limit, Offset, SearchQuery, staff_api
from lawful.web.auth import CurrentStaff, csrf_protect
from lawful.web.deps import get_db
from lawful.web.errors import ERROR_RESPONSES

router = APIRouter(
    prefix="/api/v1", tags=["support"], responses=ERROR_RESPONSES, dependencies=[Depends(csrf_protect)]
)


def entry_out(entry: SupportContact) -> SupportContactOut:
    return SupportContactOut.model_validate(entry, from_attributes=True)


@router.get("/support-contacts", summary="The support log, newest first")
def list_support_contacts(
    caller: CurrentStaff = staff_api("contract"),
    db: Database = Depends(get_db),
    q: SearchQuery = "",
    customer_id: uuid.UUID | None = None,
    follow_up_due: date | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> SupportContactList:
    with db.unit_of_work("contract", caller.actor) as session:
        rows = repository.search(
            session, customer_id=customer_id, query=q, follow_up_due=follow_up_due, limit=limit, offset=offset
        )
        items = [entry_out(e) for e in rows]
    return SupportContactList(items=items, limit=limit, offset=offset)


@router.post("/support-contacts", summary="Log a conversation with a customer", status_code=201)
def log_support_contact(
    body: SupportContactIn, caller: CurrentStaff = staff_api("contract"), db: Database = Depends(get_db)
) -> SupportContactOut:
    with db.unit_of_work("contract", caller.actor) as session:
        customers.get_customer(session, body.customer_id)
        entry = service.log_contact(session, staff_id=caller.staff.id, **body.model_dump())
        session.flush()
        out = entry_out(entry)
    return out


@router.get("/support-contacts/{entry_id}", summary="One logged conversation")
def get_support_contact(
    entry_id: uuid.UUID, caller: CurrentStaff = staff_api("contract"), db: Database = Depends(get_db)
) -> SupportContactOut:
    with db.unit_of_work("contract", caller.actor) as session:
        out = entry_out(service.get_entry(session, entry_id))
    return out


@router.patch("/support-contacts/{entry_id}", summary="Follow up, or correct the summary")
def update_support_contact(
    entry_id: uuid.UUID,
    body: SupportContactPatch,
    caller: CurrentStaff = staff_api("contract"),
    db: Database = Depends(get_db),
) -> SupportContactOut:
    with db.unit_of_work("contract", caller.actor) as session:
        entry = service.get_entry(session, entry_id)
        service.update_entry(entry, body.model_dump(exclude_unset=True))
        session.flush()
        out = entry_out(entry)
    return out
