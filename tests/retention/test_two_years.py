"""Retention over two simulated years (and on to the end of the invoices' hold), on both databases.

The world is built on day 0; the runs act at moments after it. Each kind of data must still be
there on the evening before its day and gone in the first run on its day: raw events after 30
days (rolled up first), the user behind a usage event after two months, sign-ins after six
months, an account's people one year after their agreement ended, support conversations, mail
and processing-log entries after two years, the person behind a request after two years and the
request's words after three. Invoices stay, sealed, until their seven years after the fiscal year
are over, and go in the first run on that day.
"""

from __future__ import annotations

from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from tests.retention.timeline import COMPANY_ENDS, SHOP_ENDS, at, build_timeline, count
from tests.rights.world import where_found

from lawful.billing.models import Invoice, InvoiceDocumentFile, InvoiceLine
from lawful.customers.models import ContactPerson, Customer
from lawful.data.db import Database
from lawful.data.log import ProcessingRecord
from lawful.mail.models import OutboundMail
from lawful.monitoring.models import PageEvent, Rollup, UsageEvent
from lawful.retention import sweeper
from lawful.retention.models import RetentionAction, RetentionRun
from lawful.rights.models import Restriction, RightsRequest, SealedRecord
from lawful.support.models import SupportContact
from lawful.users.models import LoginRecord, OneTimeToken, User, WebSession

HOLD_ENDS = date(2033, 12, 31)  # an invoice of 2026: seven years after 2026-12-31


class Clock:
    """Runs the sweeper at moments that only move forward."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.last: date | None = None

    def evening_before(self, day: date) -> sweeper.RunReport:
        return self._run(day - timedelta(days=1), 23)

    def on(self, day: date) -> sweeper.RunReport:
        return self._run(day, 3)

    def _run(self, day: date, hour: int) -> sweeper.RunReport:
        assert self.last is None or day >= self.last, "the clock only moves forward"
        self.last = day
        return sweeper.run(self.db, now=at(day, hour))


def linked_usage(db: Database) -> list[object]:
    with db.unit_of_work("monitoring", sweeper.ACTOR) as session:
        return list(session.scalars(select(UsageEvent.user_id).where(UsageEvent.idempotency_key == "linked")))


def test_each_kind_of_data_goes_on_its_day(database: Database) -> None:
    tl = build_timeline(database)
    w = tl.world
    d0, d1 = tl.day0, tl.last_day
    clock = Clock(database)
    assert count(database, "contract", WebSession) > 0
    assert count(database, "contract", OneTimeToken) > 0

    # raw tracker events: 30 days, rolled up into anonymous totals first
    clock.evening_before(d1 + timedelta(days=30))
    assert count(database, "monitoring", PageEvent) == 3
    # dead credentials went in the first run after they expired
    assert count(database, "contract", WebSession) == 0
    assert count(database, "contract", OneTimeToken, OneTimeToken.expires_at.is_not(None)) == 0
    report = clock.on(d1 + timedelta(days=30))
    assert report.rows_of("page_events") == 3
    assert count(database, "monitoring", PageEvent) == 0
    assert count(database, "monitoring", Rollup, Rollup.site_id == tl.site, Rollup.dimension == "total") >= 1

    # the user behind a usage event: two months; the event still counts for the account
    clock.evening_before(d1 + relativedelta(months=2))
    assert linked_usage(database) == [w.other_user.id]
    report = clock.on(d1 + relativedelta(months=2))
    assert linked_usage(database) == [None]
    assert [a.action for a in report.actions if a.table == "usage_events" and a.rows] == ["unlink"]

    # sign-ins (their IP address): six months
    signed_in = count(database, "contract", LoginRecord)
    assert signed_in >= 2
    clock.evening_before(d1 + relativedelta(months=6))
    assert count(database, "contract", LoginRecord) == signed_in
    report = clock.on(d1 + relativedelta(months=6))
    assert report.rows_of("login_records") == signed_in
    assert count(database, "contract", LoginRecord) == 0

    # the sole proprietor's agreement ended on day 100: a year later their account is erased
    shop_day = d0 + timedelta(days=SHOP_ENDS) + relativedelta(years=1)
    people = w.customer.identifiers + w.contact.identifiers + w.user.identifiers[:2]
    clock.evening_before(shop_day)
    assert "customers" in where_found(database, w.customer.identifiers)[w.customer.identifiers[0]]
    report = clock.on(shop_day)
    found = where_found(database, people)
    assert found and all(tables == {"sealed_records"} for tables in found.values()), found
    assert report.rows_of("customers") == 1
    assert report.rows_of("users") == 1 and report.rows_of("contact_persons") == 1
    shop_invoices = count(database, "legal_obligation", Invoice, Invoice.customer_id == w.customer.id)
    assert shop_invoices >= 1  # sealed, not deleted

    # the company's agreement ended on day 150: its people go, the company's own data stays
    company_day = d0 + timedelta(days=COMPANY_ENDS) + relativedelta(years=1)
    clock.evening_before(company_day)
    assert count(database, "contract", User, User.id == tl.company_user) == 1
    report = clock.on(company_day)
    assert report.rows_of("users") == 1 and report.rows_of("contact_persons") == 1
    assert count(database, "contract", User, User.id == tl.company_user) == 0
    assert count(database, "contract", ContactPerson, ContactPerson.id == tl.company_contact) == 0
    with database.unit_of_work("contract", sweeper.ACTOR) as session:
        company = session.get(Customer, tl.company)
        assert company is not None and company.erased_at is not None and company.legal_name == "Ending B.V."
    # a later run erases nobody again
    assert clock.on(company_day + timedelta(days=1)).rows_of("users") == 0

    # two years: support conversations, mail, processing-log entries, who a request was about
    two_years = d1 + relativedelta(years=2)
    built = ProcessingRecord.at <= tl.finished
    clock.evening_before(two_years)
    assert count(database, "contract", SupportContact, SupportContact.user_id == w.other_user.id) == 1
    assert count(database, "accountability", ProcessingRecord, built) > 0
    assert count(database, "contract", OutboundMail) > 0
    assert count(database, "accountability", Restriction) == 2
    report = clock.on(two_years)
    assert count(database, "contract", SupportContact) == 0
    assert "Olga Other" not in str(where_found(database, ("Olga Other asked about seats",)))
    assert count(database, "accountability", ProcessingRecord, built) == 0
    assert count(database, "contract", OutboundMail) == 0
    with database.unit_of_work("accountability", sweeper.ACTOR) as session:
        request = session.get(RightsRequest, tl.request)
        assert request is not None and request.subject_id is None
        assert request.requester_name == "Olga Other"  # three years
        restrictions = set(session.scalars(select(Restriction.id)))
    assert restrictions == {tl.in_force}  # one still in force is kept
    assert {a.action for a in report.actions if a.table == "rights_requests" and a.rows} == {"unlink"}

    # invoices are still there after two years, and the user of the other customer is untouched
    assert count(database, "legal_obligation", Invoice, Invoice.customer_id == w.customer.id) == shop_invoices
    assert count(database, "contract", User, User.id == w.other_user.id) == 1

    # three years: the request's words
    clock.evening_before(d1 + relativedelta(years=3))
    report = clock.on(d1 + relativedelta(years=3))
    with database.unit_of_work("accountability", sweeper.ACTOR) as session:
        request = session.get(RightsRequest, tl.request)
        assert request is not None
        assert (request.requester_name, request.requester_email, request.details) == (None, None, None)
    assert {a.action for a in report.actions if a.table == "rights_requests" and a.rows} == {"anonymise"}

    # the hold of a 2026 invoice ends on 2033-12-31
    clock.evening_before(HOLD_ENDS)
    assert count(database, "legal_obligation", Invoice, Invoice.customer_id == w.customer.id) == shop_invoices
    assert count(database, "legal_obligation", SealedRecord) > 0
    others = count(database, "legal_obligation", Invoice, Invoice.customer_id != w.customer.id)
    report = clock.on(HOLD_ENDS)
    assert report.rows_of("invoices") == shop_invoices
    assert count(database, "legal_obligation", Invoice, Invoice.customer_id == w.customer.id) == 0
    assert count(database, "legal_obligation", InvoiceLine, InvoiceLine.customer_id == w.customer.id) == 0
    assert (
        count(
            database,
            "legal_obligation",
            InvoiceDocumentFile,
            InvoiceDocumentFile.customer_id == w.customer.id,
        )
        == 0
    )
    assert count(database, "legal_obligation", SealedRecord) == 0
    # a company's invoices are not personal data: no retention rule removes them
    assert count(database, "legal_obligation", Invoice, Invoice.customer_id != w.customer.id) == others
    assert where_found(database, people) == {}

    # every run was logged, with its actions
    runs = count(database, "accountability", RetentionRun, RetentionRun.finished_at.is_not(None))
    assert runs == count(database, "accountability", RetentionRun) >= 14
    assert count(database, "accountability", RetentionAction, RetentionAction.rows > 0) >= 10
