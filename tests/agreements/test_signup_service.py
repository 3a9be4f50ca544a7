"""Sign-up and confirmation at the service level, on both databases: what is created, and what not."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update
from tests.agreements.helpers import counts, publish, start
from tests.billing.helpers import standard_catalogue
from tests.factories import FAST, SYSTEM, make_customer, make_user

from lawful.agreements import service, signup
from lawful.agreements.models import AgreementEvent, Channel, Signup
from lawful.billing import catalogue
from lawful.customers.models import Customer, CustomerKind
from lawful.data.db import Database
from lawful.errors import Gone, Invalid, NotFound
from lawful.mail.models import OutboundMail
from lawful.users.models import AccountStatus, User, UserRole
from lawful.users.service import AuthConfig

AUTH = AuthConfig.from_settings(FAST)
PASSWORD = "a long enough passphrase 42"


def test_a_confirmed_sign_up_makes_the_customer_admin_subscription_and_record(database: Database) -> None:
    plans = standard_catalogue(database)
    terms, statement = publish(database)
    with database.unit_of_work("contract", SYSTEM) as session:
        token = start(session, plans["starter"].id, terms, statement, ip="203.0.113.7")
    assert token is not None
    assert counts(database)["customers"] == 0 and counts(database)["signups"] == 1
    with database.unit_of_work("contract", SYSTEM) as session:
        user = signup.confirm(session, token, password=PASSWORD, auth=AUTH)
        user_id, customer_id = user.id, user.customer_id
    with database.unit_of_work("contract", SYSTEM) as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None and customer.kind is CustomerKind.sole_proprietor
        assert customer.vat_number == "NL004495445B01" and customer.contract_start == date.today()
        user = session.get(User, user_id)
        assert user is not None and user.role is UserRole.admin and user.status is AccountStatus.active
        current = catalogue.current_subscription(session, customer_id, date.today())
        assert current is not None and current.plan_id == plans["starter"].id
        (view,) = service.history(session, customer_id)
        assert view.agreement.event is AgreementEvent.concluded
        assert view.agreement.channel is Channel.self_service
        assert view.terms is not None and view.terms.digest == terms.digest
        assert view.statement is not None and view.statement.digest == statement.digest
        assert view.acceptance is not None and view.acceptance.ip_address == "203.0.113.7"
        assert view.acceptance.user_id == user_id
        assert view.agreement.base_fee_cents == 1900 and view.prices[0]["metric"] == "api_calls"
    with database.unit_of_work("contract", SYSTEM) as session:
        with pytest.raises(Gone, match="already used"):
            signup.confirm(session, token, password=PASSWORD, auth=AUTH)
    assert counts(database)["customers"] == 1 and counts(database)["users"] == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"vat_number": "NL123456789B99"}, "vat_number"),
        ({"accept": False}, "accept"),
        ({"kvk_number": ""}, "kvk_number"),
        ({"vat_number": "DE136695976"}, "vat_number"),
        ({"admin_email": "not an address"}, "admin_email"),
        ({"terms_version": "0" * 16}, "accept"),
    ],
)
def test_a_bad_sign_up_says_which_field_and_creates_nothing(
    sqlite_db: Database, changes: dict[str, object], field: str
) -> None:
    plans = standard_catalogue(sqlite_db)
    terms, statement = publish(sqlite_db)
    with sqlite_db.unit_of_work("contract", SYSTEM) as session:
        with pytest.raises(Invalid) as caught:
            start(session, plans["starter"].id, terms, statement, **changes)
    assert caught.value.detail is not None and field in caught.value.detail["fields"]
    assert set(counts(sqlite_db).values()) == {0}


def test_an_existing_address_gets_a_mail_not_a_link(sqlite_db: Database) -> None:
    plans = standard_catalogue(sqlite_db)
    terms, statement = publish(sqlite_db)
    customer, _ = make_customer(sqlite_db)
    make_user(sqlite_db, customer_id=customer.id, email="anna@jansen-advies.nl")
    before = counts(sqlite_db)
    with sqlite_db.unit_of_work("contract", SYSTEM) as session:
        token = start(session, plans["starter"].id, terms, statement)
    assert token is None and counts(sqlite_db) == before
    with sqlite_db.unit_of_work("contract", SYSTEM) as session:
        kinds = session.scalars(
            select(OutboundMail.kind).where(OutboundMail.to_address == "anna@jansen-advies.nl")
        ).all()
    assert kinds.count(signup.EXISTING_KIND) == 1 and signup.CONFIRM_KIND not in kinds


def test_a_new_sign_up_replaces_the_pending_one_and_expired_links_fail(sqlite_db: Database) -> None:
    plans = standard_catalogue(sqlite_db)
    terms, statement = publish(sqlite_db)
    with sqlite_db.unit_of_work("contract", SYSTEM) as session:
        first = start(session, plans["starter"].id, terms, statement)
        second = start(session, plans["business"].id, terms, statement, legal_name="Jansen Consult")
    assert first and second and first != second
    assert counts(sqlite_db)["signups"] == 1
    with sqlite_db.unit_of_work("contract", SYSTEM) as session:
        with pytest.raises(NotFound, match="not valid"):
            signup.pending(session, first)
        session.execute(update(Signup).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    with sqlite_db.unit_of_work("contract", SYSTEM) as session:
        with pytest.raises(Gone, match="expired"):
            signup.confirm(session, second, password=PASSWORD, auth=AUTH)
    assert counts(sqlite_db)["customers"] == 0 and counts(sqlite_db)["users"] == 0
