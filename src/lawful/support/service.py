"""Logging conversations with customers. Services never commit."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy.orm import Session

from lawful.customers.models import ContactPerson
from lawful.data.base import utcnow
from lawful.errors import Invalid, NotFound
from lawful.support.models import Channel, SupportContact
from lawful.users.models import User


def log_contact(
    session: Session,
    *,
    customer_id: uuid.UUID,
    staff_id: uuid.UUID | None,
    channel: Channel,
    summary: str,
    contact_person_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
    follow_up_on: date | None = None,
) -> SupportContact:
    """Record a conversation; who at the customer must belong to that customer."""
    if not summary.strip():
        raise Invalid("a summary of the conversation is needed", detail={"field": "summary"})
    if contact_person_id is not None:
        person = session.get(ContactPerson, contact_person_id)
        if person is None or person.customer_id != customer_id:
            raise NotFound("no contact person with that id at this customer")
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None or user.customer_id != customer_id:
            raise NotFound("no user with that id at this customer")
    entry = SupportContact(
        customer_id=customer_id,
        staff_id=staff_id,
        channel=channel,
        summary=summary.strip(),
        contact_person_id=contact_person_id,
        user_id=user_id,
        occurred_at=occurred_at or utcnow(),
        follow_up_on=follow_up_on,
        created_at=utcnow(),
    )
    session.add(entry)
    return entry


def get_entry(session: Session, entry_id: uuid.UUID) -> SupportContact:
    entry = session.get(SupportContact, entry_id)
    if entry is None:
        raise NotFound("no support contact with that id")
    return entry


def mark_followed_up(entry: SupportContact) -> None:
    entry.follow_up_done = True


def update_entry(entry: SupportContact, changes: dict[str, object]) -> SupportContact:
    """Correct the summary, move or clear the follow-up date, or mark it done."""
    unknown = set(changes) - {"summary", "follow_up_on", "follow_up_done"}
    if unknown:
        raise Invalid(f"these fields cannot be changed: {', '.join(sorted(unknown))}")
    if "summary" in changes:
        summary = str(changes["summary"]).strip()
        if not summary:
            raise Invalid("a summary of the conversation is needed", detail={"field": "summary"})
        entry.summary = summary
    if "follow_up_on" in changes:
        value = changes["follow_up_on"]
        entry.follow_up_on = value if isinstance(value, date) else None
    if "follow_up_done" in changes:
        entry.follow_up_done = bool(changes["follow_up_done"])
    return entry
