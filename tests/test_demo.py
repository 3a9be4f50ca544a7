"""The demo data: counts, a usable admin per customer, logins that sign in, valid VAT numbers,
and a second run that loads nothing."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import func, select
from stdnum.eu import vat
from typer.testing import CliRunner

from lawful.cli import app
from lawful.customers.models import Customer, CustomerKind
from lawful.data.db import Database
from lawful.data.log import ProcessingRecord
from lawful.data.purpose import Actor
from lawful.demo import DEMO_PASSWORD, STAFF, DemoResult, load_demo, vat_number
from lawful.mail.models import OutboundMail
from lawful.settings import Settings
from lawful.support.models import SupportContact
from lawful.users import service
from lawful.users.models import AccountStatus, PrincipalKind, Staff, User, UserRole
from lawful.users.security import password_problem

CHEAP = service.AuthConfig.from_settings(Settings(argon2_time_cost=1, argon2_memory_kib=8192))
TESTS = Actor.system("tests")
CUSTOMERS = 20


def count(db: Database, purpose: str, model: type[object]) -> int:
    with db.unit_of_work(purpose, TESTS) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def loaded(database: Database) -> DemoResult:
    return load_demo(database, customers=CUSTOMERS, seed=7, auth=CHEAP)


def test_counts_are_proportional_to_the_customers(database: Database, loaded: DemoResult) -> None:
    assert (loaded.customers, loaded.users, loaded.support_contacts, loaded.staff) == (
        CUSTOMERS,
        5 * CUSTOMERS,
        3 * CUSTOMERS,
        len(STAFF),
    )
    assert count(database, "contract", Customer) == CUSTOMERS
    assert count(database, "contract", User) == 5 * CUSTOMERS
    assert count(database, "contract", SupportContact) == 3 * CUSTOMERS
    assert count(database, "staff_access", Staff) == len(STAFF)


def test_the_mix_is_realistic(database: Database, loaded: DemoResult) -> None:
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


def test_every_customer_has_an_active_admin(database: Database, loaded: DemoResult) -> None:
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


def test_every_vat_number_is_valid(database: Database, loaded: DemoResult) -> None:
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


def test_the_printed_logins_sign_in(database: Database, loaded: DemoResult) -> None:
    roles = {login.role for login in loaded.logins if login.area == "console"}
    assert roles == {role.value for role, _, _ in STAFF}
    portal = [login for login in loaded.logins if login.area == "portal"]
    assert [login.role for login in portal] == ["admin", "member"]
    assert all(login.customer for login in portal)
    for login in loaded.logins:
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
    again = load_demo(database, customers=CUSTOMERS, seed=7, auth=CHEAP)
    assert (again.customers, again.users, again.support_contacts, again.staff) == (0, 0, 0, 0)
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
    assert purposes == {"contract", "staff_access"}


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
