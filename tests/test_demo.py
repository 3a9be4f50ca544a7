"""The demo data: counts, a usable admin per customer, logins that sign in, valid VAT numbers,
three months of finalised invoices made by the billing run, and a second run that loads nothing."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from stdnum.eu import vat
from typer.testing import CliRunner

from lawful.billing import reports
from lawful.billing.models import (
    Charge,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    InvoiceType,
    LineKind,
    Metric,
    Subscription,
    VatTreatment,
)
from lawful.billing.run import month_start, next_month, to_ms
from lawful.billing.vat import EU
from lawful.cli import app
from lawful.customers.models import Customer, CustomerKind
from lawful.data.db import Database
from lawful.data.log import ProcessingRecord
from lawful.data.purpose import Actor
from lawful.demo import (
    ABROAD,
    DEMO_PASSWORD,
    SHOWCASE,
    STAFF,
    BillingResult,
    DemoResult,
    load_billing,
    load_demo,
    vat_number,
)
from lawful.mail.models import OutboundMail
from lawful.monitoring import traffic
from lawful.monitoring.models import UsageEvent
from lawful.settings import Settings
from lawful.support.models import SupportContact
from lawful.users import service
from lawful.users.models import AccountStatus, PrincipalKind, Staff, User, UserRole
from lawful.users.security import password_problem

CHEAP = service.AuthConfig.from_settings(Settings(argon2_time_cost=1, argon2_memory_kib=8192))
TESTS = Actor.system("tests")
CUSTOMERS = 20
NOW = datetime.now(UTC).replace(microsecond=0)
SETTINGS = Settings()


def count(db: Database, purpose: str, model: type[object]) -> int:
    with db.unit_of_work(purpose, TESTS) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def loaded(database: Database) -> DemoResult:
    """The demo as ``lawful demo`` loads it, billing included."""
    return load_demo(database, customers=CUSTOMERS, seed=7, auth=CHEAP, settings=SETTINGS, now=NOW)


@pytest.fixture
def customers_only(database: Database) -> DemoResult:
    """The customers, users and support contacts without their billing (faster)."""
    return load_demo(database, customers=CUSTOMERS, seed=7, auth=CHEAP, billing_data=False, now=NOW)


def the_months() -> list[date]:
    """The three full months before NOW's month, oldest first."""
    months = [month_start(NOW.date())]
    for _ in range(3):
        months.insert(0, month_start(months[0] - timedelta(days=1)))
    return months[:3]


def test_counts_are_proportional_to_the_customers(database: Database, customers_only: DemoResult) -> None:
    assert (
        customers_only.customers,
        customers_only.users,
        customers_only.support_contacts,
        customers_only.staff,
    ) == (
        CUSTOMERS,
        5 * CUSTOMERS,
        3 * CUSTOMERS,
        len(STAFF),
    )
    assert count(database, "contract", Customer) == CUSTOMERS
    assert count(database, "contract", User) == 5 * CUSTOMERS
    assert count(database, "contract", SupportContact) == 3 * CUSTOMERS
    assert count(database, "staff_access", Staff) == len(STAFF)


def test_the_mix_is_realistic(database: Database, customers_only: DemoResult) -> None:
    with database.unit_of_work("contract", TESTS) as session:
        customers = list(session.scalars(select(Customer)))
        users = list(session.scalars(select(User)))
        contacts = list(session.scalars(select(SupportContact)))
        invitations = list(session.scalars(select(OutboundMail).where(OutboundMail.kind == "invitation")))
    assert {c.kind for c in customers} == set(CustomerKind)
    assert all(c.kvk_number and len(c.kvk_number) == 8 for c in customers if c.country == "NL")
    invited = {u.id for u in users if u.status == AccountStatus.invited}
    assert invited, "some users are invited but not yet active"
    assert {m.recipient_id for m in invitations} == invited
    assert all(u.password_hash is None for u in users if u.id in invited)
    assert len({u.email for u in users}) == len(users)
    assert any(c.follow_up_on for c in contacts) and not all(c.follow_up_on for c in contacts)
    assert any(c.user_id for c in contacts) and any(c.contact_person_id for c in contacts)
    assert {c.channel for c in contacts} == {"phone", "email", "chat"}
    occurred = sorted(c.occurred_at for c in contacts)
    assert (occurred[-1] - occurred[0]).days > 180  # spread over the last year


def test_every_customer_has_an_active_admin(database: Database, customers_only: DemoResult) -> None:
    with database.unit_of_work("contract", TESTS) as session:
        customer_ids = set(session.scalars(select(Customer.id)))
        with_admin = set(
            session.scalars(
                select(User.customer_id).where(
                    User.role == UserRole.admin, User.status == AccountStatus.active
                )
            )
        )
    assert customer_ids and customer_ids == with_admin


def test_every_vat_number_is_valid(database: Database, customers_only: DemoResult) -> None:
    with database.unit_of_work("contract", TESTS) as session:
        numbers = [n for n in session.scalars(select(Customer.vat_number)) if n]
    assert numbers
    assert all(vat.is_valid(n) for n in numbers), [n for n in numbers if not vat.is_valid(n)]


@pytest.mark.parametrize("country", ["NL", "BE", "DE", "FR"])
def test_generated_vat_numbers_pass_stdnum(country: str) -> None:
    rng = random.Random(country)
    numbers = {vat_number(rng, country, sole=i % 2 == 0) for i in range(300)}
    assert len(numbers) > 250
    assert all(n and n.startswith(country) and vat.is_valid(n) for n in numbers)


def test_the_printed_logins_sign_in(database: Database, customers_only: DemoResult) -> None:
    roles = {login.role for login in customers_only.logins if login.area == "console"}
    assert roles == {role.value for role, _, _ in STAFF}
    portal = [login for login in customers_only.logins if login.area == "portal"]
    assert [login.role for login in portal] == ["admin", "member"]
    assert all(login.customer for login in portal)
    for login in customers_only.logins:
        assert login.password == DEMO_PASSWORD
        assert password_problem(login.password, email=login.email) is None
        kind = PrincipalKind.staff if login.area == "console" else PrincipalKind.user
        with database.unit_of_work(service.purpose_of(kind), TESTS) as session:
            signed = service.sign_in(
                session, kind=kind, email=login.email, password=login.password, ip="127.0.0.1", cfg=CHEAP
            )
            assert signed.principal.email == login.email
            assert signed.principal.role.value == login.role
            if isinstance(signed.principal, User):
                customer = session.get(Customer, signed.principal.customer_id)
                assert customer is not None and customer.legal_name == login.customer
    with database.unit_of_work("contract", TESTS) as session, pytest.raises(service.Unauthorized):
        service.sign_in(
            session,
            kind=PrincipalKind.user,
            email=portal[0].email,
            password="wrong",
            ip="127.0.0.1",
            cfg=CHEAP,
        )


def test_a_second_run_loads_nothing_and_prints_the_same_logins(
    database: Database, loaded: DemoResult
) -> None:
    invoices = len(invoices_of(database))
    again = load_demo(database, customers=CUSTOMERS, seed=7, auth=CHEAP)
    assert (again.customers, again.users, again.support_contacts, again.staff) == (0, 0, 0, 0)
    assert again.billing is None
    assert load_billing(database, settings=SETTINGS, now=NOW) == BillingResult()  # plans exist
    assert invoices > 0 and len(invoices_of(database)) == invoices
    assert again.logins == loaded.logins
    assert count(database, "contract", Customer) == CUSTOMERS
    assert count(database, "contract", User) == 5 * CUSTOMERS


def test_the_loading_is_in_the_processing_log(database: Database, loaded: DemoResult) -> None:
    with database.unit_of_work("accountability", TESTS) as session:
        purposes = set(
            session.scalars(
                select(ProcessingRecord.purpose).where(
                    ProcessingRecord.actor_id == "demo", ProcessingRecord.operation == "write"
                )
            )
        )
    assert purposes == {"contract", "staff_access", "monitoring"}  # usage, as the usage API records it


def test_explicit_counts(database: Database) -> None:
    result = load_demo(database, customers=4, users=9, support_contacts=2, auth=CHEAP)
    assert (result.customers, result.users, result.support_contacts) == (4, 9, 2)
    assert count(database, "contract", User) == 9


def test_the_command_prints_the_logins_and_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAWFUL_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LAWFUL_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("LAWFUL_ARGON2_MEMORY_KIB", "8192")
    monkeypatch.delenv("LAWFUL_DATABASE_URL", raising=False)
    monkeypatch.delenv("LAWFUL_POLICY", raising=False)
    runner = CliRunner()
    first = runner.invoke(app, ["demo", "--customers", "3", "--no-serve", "--port", "8123", "--traffic", "0"])
    assert first.exit_code == 0, first.output
    assert "3 customers created, with 15 users and 9 support contacts" in first.output
    for text in (
        "support@lawful.demo",
        "privacy officer",
        DEMO_PASSWORD,
        "anna.bakker@tulpenveld.example",
        "Tulpenveld",
        "http://127.0.0.1:8123/console/",
        "http://127.0.0.1:8123/portal/",
        "http://127.0.0.1:8123/privacy",
        "http://127.0.0.1:8123/docs",
    ):
        assert text in first.output
    second = runner.invoke(
        app, ["demo", "--customers", "3", "--no-serve", "--port", "8123", "--traffic", "0"]
    )
    assert second.exit_code == 0, second.output
    assert "already loaded" in second.output
    assert "support@lawful.demo" in second.output and "anna.bakker@tulpenveld.example" in second.output


# --- billing ------------------------------------------------------------------------------------


def invoices_of(database: Database) -> list[Invoice]:
    with database.unit_of_work("contract", TESTS) as session:
        return list(session.scalars(select(Invoice).order_by(Invoice.issue_date, Invoice.sequence)))


def test_three_months_of_finalised_invoices_with_consecutive_numbers(
    database: Database, loaded: DemoResult
) -> None:
    invoices = invoices_of(database)
    months = the_months()
    assert loaded.billing is not None and loaded.billing.periods == months
    assert loaded.billing.invoices == len(invoices) and not loaded.billing.failed
    assert {i.period for i in invoices} == set(months)  # this month is not invoiced
    assert all(i.status is InvoiceStatus.finalised and i.type is InvoiceType.invoice for i in invoices)
    for invoice in invoices:
        assert invoice.issue_date is not None and invoice.number is not None
        grace = next_month(invoice.period) + timedelta(days=SETTINGS.billing_grace_days)
        assert invoice.issue_date == min(grace, NOW.date())
        assert invoice.series == str(invoice.issue_date.year)
        assert invoice.number == f"{invoice.issue_date.year}-{invoice.sequence:06d}"
    by_series: dict[str, list[Invoice]] = defaultdict(list)
    for invoice in invoices:
        by_series[invoice.series or ""].append(invoice)
    for series in by_series.values():
        sequences = [i.sequence for i in series]
        assert sequences == list(range(1, len(series) + 1))  # consecutive, from 1, in order of issue
        periods = [i.period for i in series]
        assert periods == sorted(periods)  # a month's invoices are numbered before the next month's


def test_every_subscribed_customer_is_invoiced_each_month(database: Database, loaded: DemoResult) -> None:
    invoiced = defaultdict(set)
    for invoice in invoices_of(database):
        invoiced[invoice.period].add(invoice.customer_id)
    with database.unit_of_work("contract", TESTS) as session:
        subscriptions = list(session.scalars(select(Subscription)))
        customers = session.scalar(select(func.count()).select_from(Customer))
    assert len({s.customer_id for s in subscriptions}) > CUSTOMERS // 2
    assert any(s.ends_on is not None for s in subscriptions)  # a plan change or a cancellation
    for month in the_months():
        running = {
            s.customer_id
            for s in subscriptions
            if s.starts_on < next_month(month) and (s.ends_on is None or s.ends_on > month)
        }
        assert running and running <= invoiced[month]
    assert customers == CUSTOMERS


def test_a_reverse_charge_invoice_and_one_outside_the_eu(database: Database, loaded: DemoResult) -> None:
    invoices = invoices_of(database)
    reverse = [i for i in invoices if i.vat_treatment is VatTreatment.reverse_charge]
    outside = [i for i in invoices if i.vat_treatment is VatTreatment.outside_scope]
    home = [i for i in invoices if i.vat_treatment is VatTreatment.standard]
    german = ABROAD[0]
    assert any(i.buyer_name == german[0] and i.buyer_vat == german[5] for i in reverse)
    for invoice in reverse:
        assert invoice.buyer_country in EU and invoice.buyer_country != "NL"
        assert invoice.buyer_vat and vat.is_valid(invoice.buyer_vat)
        assert invoice.vat_cents == 0 and invoice.total_cents == invoice.net_cents > 0
    assert outside and all(i.buyer_country not in EU and i.vat_cents == 0 for i in outside)
    assert {i.buyer_name for i in outside} >= {ABROAD[1][0]}
    assert home
    for invoice in home:
        expected = (invoice.net_cents * 21 + 50) // 100  # 21 %, half up (net is positive here)
        assert invoice.net_cents > 0 and invoice.vat_cents == expected


def test_the_invoices_bill_the_usage_that_was_recorded(database: Database, loaded: DemoResult) -> None:
    """The showcase's last invoice: its API-call lines add up to the calls the service reported
    in that month, and its project line counts the distinct projects of those reports."""
    month = the_months()[-1]
    with database.unit_of_work("contract", TESTS) as session:
        showcase = session.scalars(select(Customer).where(Customer.legal_name == SHOWCASE)).one()
        invoice = session.scalars(
            select(Invoice).where(Invoice.customer_id == showcase.id, Invoice.period == month)
        ).one()
        lines = session.execute(
            select(InvoiceLine, Metric.code)
            .join(Charge, Charge.id == InvoiceLine.charge_id)
            .join(Metric, Metric.id == Charge.metric_id)
            .where(InvoiceLine.invoice_id == invoice.id, InvoiceLine.kind == LineKind.usage)
        ).all()
        events = list(
            session.scalars(
                select(UsageEvent).where(
                    UsageEvent.customer_id == showcase.id,
                    UsageEvent.code == "api.call",
                    UsageEvent.ts >= to_ms(month),
                    UsageEvent.ts < to_ms(next_month(month)),
                )
            )
        )
        everything = session.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)).all()
    calls = sum(e.value_micros for e in events)
    projects = {json.loads(e.properties or "{}")["project"] for e in events}
    assert calls > 0 and len(projects) > 0
    # the showcase is on the Business plan: graduated calls without included ones, a volume price per project
    assert sum(line.quantity_micros for line, code in lines if code == "api_calls") == calls
    assert [line.quantity_micros for line, code in lines if code == "projects"] == [len(projects) * 10**6]
    assert invoice.net_cents == sum(line.amount_cents for line in everything)
    assert invoice.total_cents == invoice.net_cents + invoice.vat_cents


def test_billing_reports_its_progress(database: Database, customers_only: DemoResult) -> None:
    seen: list[tuple[int, int]] = []
    made = load_billing(database, settings=SETTINGS, now=NOW, progress=lambda *step: seen.append(step))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]  # the usage, then each month billed
    assert made.invoices == len(invoices_of(database)) > 0 and made.usage_events > 0


def test_this_month_is_usage_only(database: Database, loaded: DemoResult) -> None:
    this_month = month_start(NOW.date())
    with database.unit_of_work("contract", TESTS) as session:
        drafts = session.scalar(select(func.count()).select_from(Invoice).where(Invoice.period >= this_month))
        recorded = session.scalar(
            select(func.count()).select_from(UsageEvent).where(UsageEvent.ts >= to_ms(this_month))
        )
        showcase = session.scalars(select(Customer).where(Customer.legal_name == SHOWCASE)).one()
        estimate = reports.estimate(session, showcase.id, NOW.date(), vat_rate=SETTINGS.vat_rate)
    assert drafts == 0
    if NOW - datetime.combine(this_month, datetime.min.time(), UTC) >= timedelta(hours=6):
        assert recorded  # the first reports of the month come at 02:00 and 05:59
    assert estimate is not None and estimate.lines  # what the portal shows for this month


def test_the_demo_traffic_usage_counts_once(database: Database, loaded: DemoResult) -> None:
    """``lawful demo`` reports the traffic's usage after loading: its API calls and storage of
    the days the billing demo reported already come back as duplicates (only seats are new)."""
    planned = traffic.usage_events(database, now=NOW)
    outcomes = traffic.report_usage(database, planned, now=NOW)
    codes = {e["idempotency_key"]: e["code"] for e in planned}
    accepted = {codes[o.idempotency_key] for o in outcomes if o.status == "accepted" and o.idempotency_key}
    duplicates = [codes[o.idempotency_key] for o in outcomes if o.status == "duplicate" and o.idempotency_key]
    assert accepted <= {"seat.active"}
    assert duplicates.count("api.call") > 0 and duplicates.count("storage.gb") > 0
