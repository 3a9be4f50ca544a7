"""Agreements: conclude, change plan, cancel; each a record of what was agreed. Services never commit.

Every change of a customer's subscription goes through here, so that each one leaves an
``agreements`` row with the plan and its prices at that moment and the versions of the terms and the
privacy statement in force (shown and accepted, for a sign-up; confirmed by the staff member, for
an agreement recorded in the console). Cancelling sets the customer's ``contract_end``, from which
the policy's retention clocks run.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lawful.agreements import documents
from lawful.agreements.models import (
    Agreement,
    AgreementAcceptance,
    AgreementEvent,
    Channel,
    DocumentKind,
    DocumentVersion,
)
from lawful.billing import catalogue, reports
from lawful.billing.models import Plan
from lawful.billing.rating import from_cents
from lawful.customers import service as customers
from lawful.customers.models import Customer, CustomerStatus
from lawful.data.base import utcnow
from lawful.errors import Conflict, Invalid, NotFound


@dataclass(frozen=True, slots=True)
class Acceptance:
    """Who agreed and how: a user on the website (with their IP address), or a staff member."""

    channel: Channel
    staff_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    ip_address: str | None = None
    accepted_at: datetime | None = None
    terms: DocumentVersion | None = None
    statement: DocumentVersion | None = None
    note: str = ""

    @classmethod
    def by_staff(cls, session: Session, staff_id: uuid.UUID, *, note: str = "") -> Acceptance:
        """A staff member records it: the versions in force now are the ones the customer agreed to."""
        return cls(
            Channel.console,
            staff_id=staff_id,
            accepted_at=utcnow(),
            terms=documents.current(session, DocumentKind.terms),
            statement=documents.current(session, DocumentKind.statement),
            note=note.strip()[:500],
        )


def prices_of(session: Session, plan: Plan) -> list[dict[str, Any]]:
    """The plan's charges as they are now: what the customer agrees to pay per metric."""
    return [
        {
            "metric": metric.code,
            "name": metric.name,
            "unit": metric.unit,
            "model": str(charge.model),
            "pricing": json.loads(charge.pricing),
            "included_micros": charge.included_micros,
        }
        for charge, metric in reports.charges_of(session, [plan.id])[plan.id]
    ]


def _record(
    session: Session,
    customer: Customer,
    event: AgreementEvent,
    plan: Plan | None,
    effective_on: date,
    how: Acceptance,
) -> Agreement:
    agreement = Agreement(
        customer_id=customer.id,
        event=event,
        channel=how.channel,
        staff_id=how.staff_id,
        plan_id=plan.id if plan else None,
        plan_code=plan.code if plan else "",
        plan_name=plan.name if plan else "",
        currency=plan.currency if plan else "EUR",
        base_fee_cents=plan.base_fee_cents if plan else 0,
        minimum_cents=plan.minimum_cents if plan else 0,
        prices=json.dumps(prices_of(session, plan) if plan else [], sort_keys=True),
        effective_on=effective_on,
        terms_version_id=how.terms.id if how.terms else None,
        statement_version_id=how.statement.id if how.statement else None,
        accepted_at=how.accepted_at,
        note=how.note,
        recorded_at=utcnow(),
    )
    session.add(agreement)
    session.flush()
    if how.user_id is not None:
        session.add(
            AgreementAcceptance(
                agreement_id=agreement.id,
                user_id=how.user_id,
                ip_address=how.ip_address,
                accepted_at=how.accepted_at or utcnow(),
            )
        )
    return agreement


def _customer(session: Session, customer_id: uuid.UUID) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("no such customer")
    if customer.erased_at is not None:
        raise Conflict("this customer's data was erased; an agreement needs a new customer")
    return customer


def conclude(
    session: Session, customer_id: uuid.UUID, plan_id: uuid.UUID, *, starts_on: date, how: Acceptance
) -> Agreement:
    """Conclude an agreement: the customer subscribes to ``plan_id`` from ``starts_on``."""
    customer = _customer(session, customer_id)
    if catalogue.current_subscription(session, customer.id, starts_on) is not None:
        raise Conflict(
            "the customer has an agreement on that day; change its plan instead", detail={"field": "plan_id"}
        )
    catalogue.subscribe(session, customer.id, plan_id, starts_on=starts_on)
    plan = catalogue.get_plan(session, plan_id)
    if customer.contract_end is not None or customer.contract_start is None:
        customer.contract_start = starts_on
    customer.contract_end = None
    customer.status = CustomerStatus.active
    return _record(session, customer, AgreementEvent.concluded, plan, starts_on, how)


def change_plan(
    session: Session, customer_id: uuid.UUID, plan_id: uuid.UUID, *, starts_on: date, how: Acceptance
) -> Agreement:
    """Move the customer to another plan from ``starts_on``: a new record of the agreement."""
    customer = _customer(session, customer_id)
    catalogue.subscribe(session, customer.id, plan_id, starts_on=starts_on)
    plan = catalogue.get_plan(session, plan_id)
    return _record(session, customer, AgreementEvent.plan_changed, plan, starts_on, how)


def subscribe(
    session: Session, customer_id: uuid.UUID, plan_id: uuid.UUID, *, starts_on: date, how: Acceptance
) -> Agreement:
    """Conclude an agreement, or change its plan when one runs on ``starts_on`` (or the day before)."""
    running = catalogue.current_subscription(session, customer_id, starts_on) or (
        catalogue.current_subscription(session, customer_id, starts_on - timedelta(days=1))
    )
    if running is None:
        return conclude(session, customer_id, plan_id, starts_on=starts_on, how=how)
    return change_plan(session, customer_id, plan_id, starts_on=starts_on, how=how)


def cancel(session: Session, customer_id: uuid.UUID, *, on: date, how: Acceptance) -> Agreement:
    """End the agreement on ``on`` (the last day billed is the day before): the contract ends then,
    and the policy's retention periods that run from the end of the contract start."""
    customer = _customer(session, customer_id)
    subscription = catalogue.cancel(session, customer.id, on=on)
    if customer.contract_start is not None and on < customer.contract_start:
        raise Invalid("the contract cannot end before it starts", detail={"field": "on"})
    customers.end_contract(customer, on=on)
    plan = catalogue.get_plan(session, subscription.plan_id)
    return _record(session, customer, AgreementEvent.cancelled, plan, on, how)


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgreementView:
    agreement: Agreement
    terms: DocumentVersion | None
    statement: DocumentVersion | None
    acceptance: AgreementAcceptance | None

    @property
    def base_fee(self) -> str:
        return f"{from_cents(self.agreement.base_fee_cents):.2f}"

    @property
    def minimum(self) -> str:
        return f"{from_cents(self.agreement.minimum_cents):.2f}"

    @property
    def prices(self) -> list[dict[str, Any]]:
        loaded: list[dict[str, Any]] = json.loads(self.agreement.prices)
        return loaded


def history(session: Session, customer_id: uuid.UUID) -> list[AgreementView]:
    """The customer's agreement records, newest first, with the versions and who accepted."""
    rows = list(
        session.scalars(
            select(Agreement)
            .where(Agreement.customer_id == customer_id)
            .order_by(Agreement.recorded_at.desc(), Agreement.id.desc())
        )
    )
    if not rows:
        return []
    ids = {r.terms_version_id for r in rows} | {r.statement_version_id for r in rows}
    versions = {
        v.id: v for v in session.scalars(select(DocumentVersion).where(DocumentVersion.id.in_(ids - {None})))
    }
    acceptances = {
        a.agreement_id: a
        for a in session.scalars(
            select(AgreementAcceptance).where(AgreementAcceptance.agreement_id.in_([r.id for r in rows]))
        )
    }
    return [
        AgreementView(
            r,
            versions.get(r.terms_version_id) if r.terms_version_id else None,
            versions.get(r.statement_version_id) if r.statement_version_id else None,
            acceptances.get(r.id),
        )
        for r in rows
    ]
