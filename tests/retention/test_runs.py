"""The retention run's rules come from the policy; a dry run changes nothing but is logged; the run
reports its progress, refuses a naive moment, keeps an invoice that a later credit note corrects,
and the monitoring maintenance applies its tables' retention through it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import insert, select
from tests.factories import SYSTEM, make_customer, make_site
from tests.retention.timeline import at, build_timeline, count
from tests.rights.world import SETTINGS, build, dump

from lawful.billing import invoices
from lawful.billing.models import Invoice, InvoiceLine, InvoiceType
from lawful.data.db import Database
from lawful.errors import Invalid
from lawful.monitoring import jobs
from lawful.monitoring.models import PageEvent
from lawful.policy.model import Policy
from lawful.retention import sweeper
from lawful.retention.models import RetentionAction, RetentionRun
from lawful.rights.erasure import erase
from lawful.rights.models import SubjectKind
from lawful.rights.subjects import Subject
from lawful.support import service as support
from lawful.support.models import Channel, SupportContact

LOGS = {"retention_runs", "retention_actions", "processing_log"}


def changed(policy: Policy, purpose: str, category: str, **retention: Any) -> Policy:
    """``policy`` with one category's retention under one purpose replaced."""
    data = policy.model_dump()
    for p in data["purposes"]:
        if p["key"] == purpose:
            for c in p["categories"]:
                if c["key"] == category:
                    c["retention"] = {**c["retention"], **retention}
    return Policy.model_validate(data)


@pytest.fixture
def nine_months(sqlite_db: Database, policy: Policy) -> Iterator[Database]:
    """The SQLite database under a policy that keeps support conversations nine months."""
    db = Database(sqlite_db.url, changed(policy, "contract", "user.content.private", period="P9M"))
    yield db
    db.dispose()


def test_the_rules_follow_the_policy(nine_months: Database) -> None:
    [rule] = [r for r in sweeper.rules(nine_months.policy) if r.table.name == "support_contacts"]
    assert (rule.kind, rule.action, rule.rule) == ("collection", "delete", "9 months after it was collected")
    customer, _ = make_customer(nine_months)
    collected = datetime.now(UTC)
    with nine_months.unit_of_work("contract", SYSTEM) as session:
        support.log_contact(
            session, customer_id=customer.id, staff_id=None, channel=Channel.phone, summary="asked about VAT"
        )
    day = collected.date() + relativedelta(months=9)
    sweeper.run(nine_months, now=at(day - timedelta(days=1), 23))
    assert count(nine_months, "contract", SupportContact) == 1
    report = sweeper.run(nine_months, now=at(day))
    assert count(nine_months, "contract", SupportContact) == 0
    [action] = [a for a in report.actions if a.table == "support_contacts"]
    assert (action.rows, action.rule) == (1, "9 months after it was collected")
    assert action.data.startswith("what you and our customer service representatives said")


def test_raw_events_never_outlive_the_monitoring_measure(sqlite_db: Database, policy: Policy) -> None:
    from lawful.policy.model import Monitoring

    tighter = policy.model_copy(update={"monitoring": Monitoring(raw_event_days=14)})
    [rule] = [r for r in sweeper.rules(tighter) if r.table.name == "page_events"]
    assert rule.retention.period == "P14D"
    [default] = [r for r in sweeper.rules(policy) if r.table.name == "page_events"]
    assert default.retention.period == "P30D"


def test_a_dry_run_changes_nothing_but_is_logged(sqlite_db: Database) -> None:
    tl = build_timeline(sqlite_db)
    before = {k: v for k, v in dump(sqlite_db).items() if k not in LOGS}
    report = sweeper.run(sqlite_db, now=at(tl.day0 + relativedelta(years=3)), dry_run=True)
    after = {k: v for k, v in dump(sqlite_db).items() if k not in LOGS}
    assert after == before
    expected = {"page_events": 3, "customers": 1, "users": 2, "contact_persons": 2, "support_contacts": 3}
    assert {t: report.rows_of(t) for t in expected} == expected
    assert report.dry_run and report.run_id is not None
    with sqlite_db.unit_of_work("accountability", SYSTEM) as session:
        run = session.get(RetentionRun, report.run_id)
        assert run is not None and run.dry_run and run.finished_at is not None
        assert run.rows == report.rows > 0
        logged = session.scalars(select(RetentionAction).where(RetentionAction.run_id == run.id)).all()
    assert {(a.table_name, a.action, a.rows) for a in logged} == {
        (a.table, a.action, a.rows) for a in report.actions
    }
    # and the real run at the same moment does what the dry run said
    real = sweeper.run(sqlite_db, now=at(tl.day0 + relativedelta(years=3)))
    assert {t: real.rows_of(t) for t in expected} == expected


def test_progress_and_a_naive_moment(sqlite_db: Database) -> None:
    seen: list[tuple[int, int]] = []
    sweeper.run(sqlite_db, progress=lambda done, total: seen.append((done, total)))
    assert seen[0][0] == 0 and seen[-1][0] == seen[-1][1] > 0
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    with pytest.raises(Invalid):
        sweeper.run(sqlite_db, now=datetime(2027, 1, 1))
    with pytest.raises(Invalid):
        sweeper.upcoming(sqlite_db, now=datetime(2027, 1, 1))


def test_upcoming_says_when_and_how_much(sqlite_db: Database) -> None:
    tl = build_timeline(sqlite_db)
    found = {(u.table, u.action): u for u in sweeper.upcoming(sqlite_db, now=at(tl.day0, 12))}
    raw = found[("page_events", "delete")]
    assert (raw.on, raw.rows) == (tl.day0 + timedelta(days=30), 3)
    link = found[("usage_events", "unlink")]
    assert (link.on, link.rows) == (tl.day0 + relativedelta(months=2), 1)
    shop = found[("customers", "erase")]
    assert (shop.on, shop.rows) == (tl.day0 + timedelta(days=100) + relativedelta(years=1), 1)
    people = found[("users", "erase")]
    assert people.on == shop.on and people.rows == 1  # the shop's user; the company's ends later
    assert found[("invoices", "delete")].on is None  # nobody erased: no hold can end
    # soonest first, rules with nothing to expire last
    days = [u.on for u in found.values() if u.on is not None]
    listed = [u.on for u in sweeper.upcoming(sqlite_db, now=at(tl.day0, 12))]
    assert listed[: len(days)] == sorted(days) and all(d is None for d in listed[len(days) :])
    assert len(sweeper.upcoming(sqlite_db, now=at(tl.day0, 12), limit=2)) == 2


def test_an_invoice_a_later_credit_note_corrects_stays_as_long_as_the_note(database: Database) -> None:
    world = build(database)
    shop = [i for i in world.invoice_ids if _customer(database, i) == world.customer.id]
    assert shop
    with database.unit_of_work("contract", SYSTEM) as session:
        note = invoices.credit(
            session,
            shop[0],
            invoices.CreditRequest("the first month was free"),
            today=date(2027, 1, 15),
            actor="tests",
            settings=SETTINGS,
        )
        note_id = note.id
    erase(
        database,
        Subject(SubjectKind.sole_proprietor, world.customer.id),
        actor=SYSTEM,
        now=datetime(2027, 2, 1, 9, tzinfo=UTC),
    )

    sweeper.run(database, now=at(date(2033, 12, 31)))
    with database.unit_of_work("legal_obligation", SYSTEM) as session:
        left = set(session.scalars(select(Invoice.id).where(Invoice.customer_id == world.customer.id)))
        lines = session.scalars(select(InvoiceLine.invoice_id).where(InvoiceLine.invoice_id == shop[0])).all()
    assert left == {
        shop[0],
        note_id,
    }  # the 2026 invoice's hold is over, but its 2027 credit note points at it
    assert lines  # and its lines stay with it

    report = sweeper.run(database, now=at(date(2034, 12, 31)))
    assert report.rows_of("invoices") == 2
    assert count(database, "legal_obligation", Invoice, Invoice.customer_id == world.customer.id) == 0
    assert (
        count(database, "legal_obligation", Invoice, Invoice.type == InvoiceType.invoice) >= 1
    )  # the company's


def _customer(db: Database, invoice_id: uuid.UUID) -> uuid.UUID | None:
    with db.unit_of_work("contract", SYSTEM) as session:
        return session.scalar(select(Invoice.customer_id).where(Invoice.id == invoice_id))


def test_the_monitoring_maintenance_applies_its_tables_through_the_retention_run(sqlite_db: Database) -> None:
    site = make_site(sqlite_db)
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    report = jobs.run(sqlite_db, now=now)
    assert report.raw_events_deleted == 0
    assert count(sqlite_db, "accountability", RetentionRun) == 0  # nothing done, nothing logged
    old = int((now - timedelta(days=40)).timestamp() * 1000)
    with sqlite_db.unit_of_work("monitoring", SYSTEM) as session:
        session.execute(
            insert(PageEvent),
            [{"site_id": site, "ts": old, "visitor_id": 1, "name": "pageview", "path": "/"}],
        )
    report = jobs.run(sqlite_db, now=now)
    assert (report.days_rolled_up, report.raw_events_deleted) == (1, 1)
    with sqlite_db.unit_of_work("accountability", SYSTEM) as session:
        [run] = session.scalars(select(RetentionRun)).all()
        actions = session.scalars(select(RetentionAction).where(RetentionAction.run_id == run.id)).all()
    assert run.actor == "system:monitoring-maintenance" and run.rows == 1
    assert [(a.table_name, a.action, a.rows) for a in actions] == [("page_events", "delete", 1)]


def test_the_register_of_disclosures_keeps_its_people_seven_years_after_the_fiscal_year(
    database: Database,
) -> None:
    from tests.authorities.helpers import disclose, make_officer

    from lawful.authorities.models import Disclosure, DisclosureSubject

    _, (contact,) = make_customer(database)
    disclose(
        database,
        make_officer(database),
        [Subject(SubjectKind.contact_person, contact.id)],
        disclosed_on=date(2026, 3, 2),
    )
    assert count(database, "legal_obligation", DisclosureSubject) == 1
    sweeper.run(database, now=at(date(2033, 12, 30)))
    assert count(database, "legal_obligation", DisclosureSubject) == 1
    report = sweeper.run(database, now=at(date(2033, 12, 31)))  # 7 years after the end of 2026
    assert count(database, "legal_obligation", DisclosureSubject) == 0
    assert report.rows_of("disclosure_subjects") == 1
    # the register's entry stays: what was disclosed, to whom and on what ground names nobody
    assert count(database, "legal_obligation", Disclosure) == 1
