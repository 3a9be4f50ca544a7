"""Agreement records at the service level, on both databases: cancelling ends the contract and
starts the retention clocks from that day; erasing the user who accepted deletes the acceptance
and keeps the record with its versions; erasing a sole proprietor keeps the records."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from tests.agreements.helpers import publish
from tests.billing.helpers import standard_catalogue
from tests.factories import SYSTEM, make_customer, make_staff, make_user

from lawful.agreements import service
from lawful.agreements.models import (
    Agreement,
    AgreementAcceptance,
    AgreementEvent,
    Channel,
    DocumentVersion,
)
from lawful.billing import catalogue
from lawful.customers.models import Customer, CustomerKind, CustomerStatus
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.retention import sweeper
from lawful.rights.erasure import erase
from lawful.rights.models import SubjectKind
from lawful.rights.subjects import Subject
from lawful.users.models import StaffRole, UserRole

ACTOR = Actor.system("tests:agreements")
IP = "203.0.113.9"


def at(day: date, hour: int = 3) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def count(db: Database, model: type[object]) -> int:
    with db.unit_of_work("contract", SYSTEM) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def online(db: Database, user_id: uuid.UUID) -> service.Acceptance:
    """The acceptance of a sign-up on the website by ``user_id``, of the versions in force."""
    from lawful.agreements import documents
    from lawful.agreements.models import DocumentKind

    with db.unit_of_work("contract", SYSTEM) as session:
        how = service.Acceptance(
            Channel.self_service,
            user_id=user_id,
            ip_address=IP,
            accepted_at=datetime.now(UTC),
            terms=documents.current(session, DocumentKind.terms),
            statement=documents.current(session, DocumentKind.statement),
        )
        session.expunge_all()
    return how


def test_cancelling_ends_the_contract_and_the_retention_runs_from_that_day(database: Database) -> None:
    plans = standard_catalogue(database)
    publish(database)
    staff = make_staff(database, role=StaffRole.finance, email="fin@lawful.example", name="Fien Financ")
    customer, _ = make_customer(database, contacts=1)
    make_user(database, customer_id=customer.id, email="ada@acme.example")
    starts, ends = date.today() - timedelta(days=90), date.today() - timedelta(days=10)
    with database.unit_of_work("contract", SYSTEM) as session:
        how = service.Acceptance.by_staff(session, staff.id, note="signed order form")
        service.conclude(session, customer.id, plans["starter"].id, starts_on=starts, how=how)
    with database.unit_of_work("contract", SYSTEM) as session:
        stored = session.get(Customer, customer.id)
        assert stored is not None
        assert (stored.contract_start, stored.contract_end, stored.status) == (
            starts,
            None,
            CustomerStatus.active,
        )
    with database.unit_of_work("contract", SYSTEM) as session:
        how = service.Acceptance.by_staff(session, staff.id, note="notice of termination")
        record = service.cancel(session, customer.id, on=ends, how=how)
        assert (record.event, record.effective_on, record.plan_code) == (
            AgreementEvent.cancelled,
            ends,
            "starter",
        )
    with database.unit_of_work("contract", SYSTEM) as session:
        stored = session.get(Customer, customer.id)
        assert stored is not None
        assert (stored.contract_end, stored.status) == (ends, CustomerStatus.ended)
        [subscription] = catalogue.subscriptions_of(session, customer.id)
        assert subscription.ends_on == ends
    # the people of the customer are due one year after the contract ended, not before
    due = ends + relativedelta(years=1)
    found = {(u.table, u.action): u for u in sweeper.upcoming(database, now=at(date.today()))}
    assert found[("users", "erase")].on == due
    assert found[("contact_persons", "erase")].on == due
    before = sweeper.run(database, now=at(due - timedelta(days=1)), dry_run=True)
    assert before.rows_of("users") == 0 and before.rows_of("contact_persons") == 0
    after = sweeper.run(database, now=at(due + timedelta(days=1)), dry_run=True)
    assert after.rows_of("users") == 1 and after.rows_of("contact_persons") == 1


def test_erasing_the_user_who_accepted_keeps_the_record_and_its_versions(database: Database) -> None:
    plans = standard_catalogue(database)
    terms, statement = publish(database)
    customer, _ = make_customer(database, contacts=0)
    admin = make_user(database, customer_id=customer.id, email="adam@acme.example", role=UserRole.admin)
    make_user(database, customer_id=customer.id, email="other@acme.example", role=UserRole.admin)
    with database.unit_of_work("contract", SYSTEM) as session:
        service.conclude(
            session,
            customer.id,
            plans["starter"].id,
            starts_on=date.today(),
            how=online(database, admin.id),
        )
    assert count(database, AgreementAcceptance) == 1
    assert erase(database, Subject(SubjectKind.user, admin.id), actor=ACTOR) is not None
    assert count(database, AgreementAcceptance) == 0
    with database.unit_of_work("contract", SYSTEM) as session:
        [view] = service.history(session, customer.id)
        assert view.acceptance is None
        assert view.agreement.channel is Channel.self_service and view.agreement.accepted_at is not None
        assert view.terms is not None and view.terms.digest == terms.digest
        assert view.statement is not None and view.statement.digest == statement.digest
        assert (view.agreement.plan_code, view.base_fee) == ("starter", "19.00")
    assert count(database, DocumentVersion) == 2


def test_erasing_a_sole_proprietor_keeps_the_agreement_records(database: Database) -> None:
    plans = standard_catalogue(database)
    terms, statement = publish(database)
    staff = make_staff(database, role=StaffRole.finance, email="fin@lawful.example")
    customer, _ = make_customer(
        database,
        kind=CustomerKind.sole_proprietor,
        legal_name="Jansen Advies",
        billing_email="anna@jansen.example",
        contacts=0,
    )
    anna = make_user(database, customer_id=customer.id, email="anna@jansen.example", role=UserRole.admin)
    start = date.today() - timedelta(days=60)
    with database.unit_of_work("contract", SYSTEM) as session:
        service.conclude(
            session, customer.id, plans["starter"].id, starts_on=start, how=online(database, anna.id)
        )
    with database.unit_of_work("contract", SYSTEM) as session:
        how = service.Acceptance.by_staff(session, staff.id, note="asked by e-mail")
        service.change_plan(
            session, customer.id, plans["business"].id, starts_on=start + timedelta(days=30), how=how
        )
    with database.unit_of_work("contract", SYSTEM) as session:
        before = [
            (a.event, a.channel, a.plan_code, a.base_fee_cents, a.prices, a.terms_version_id)
            for a in session.scalars(select(Agreement).order_by(Agreement.recorded_at))
        ]
    assert len(before) == 2
    assert erase(database, Subject(SubjectKind.sole_proprietor, customer.id), actor=ACTOR) is not None
    with database.unit_of_work("contract", SYSTEM) as session:
        after = [
            (a.event, a.channel, a.plan_code, a.base_fee_cents, a.prices, a.terms_version_id)
            for a in session.scalars(select(Agreement).order_by(Agreement.recorded_at))
        ]
        versions = {v.id for v in session.scalars(select(DocumentVersion))}
    assert after == before
    assert {terms.id, statement.id} <= versions
    assert count(database, AgreementAcceptance) == 0  # the proprietor's user went with the account
