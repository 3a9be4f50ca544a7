"""The retention of what a sign-up leaves: the acceptance's IP address after six months (the
policy's retention of IP addresses under the contract purpose), an unconfirmed sign-up when its link
expires; the agreement record itself stays. On both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from tests.agreements.helpers import publish, start
from tests.billing.helpers import standard_catalogue
from tests.factories import FAST, SYSTEM

from lawful.agreements import signup
from lawful.agreements.models import Agreement, AgreementAcceptance, Signup
from lawful.data.db import Database
from lawful.retention import sweeper
from lawful.users.service import AuthConfig

AUTH = AuthConfig.from_settings(FAST)


def test_the_ip_address_goes_after_six_months_and_an_unconfirmed_sign_up_when_it_expires(
    database: Database,
) -> None:
    plans = standard_catalogue(database)
    terms, statement = publish(database)
    with database.unit_of_work("contract", SYSTEM) as session:
        confirmed = start(session, plans["starter"].id, terms, statement, ip="203.0.113.7")
        start(
            session,
            plans["starter"].id,
            terms,
            statement,
            ip="198.51.100.9",
            admin_email="piet@bakkerij.example",
            legal_name="Bakkerij Piet",
        )
    assert confirmed is not None
    with database.unit_of_work("contract", SYSTEM) as session:
        signup.confirm(session, confirmed, password="a long enough passphrase 42", auth=AUTH)
    now = datetime.now(UTC)

    def state() -> tuple[list[str | None], int, int]:
        with database.unit_of_work("contract", SYSTEM) as session:
            ips = list(session.scalars(select(AgreementAcceptance.ip_address)))
            pending = session.scalar(select(func.count()).select_from(Signup)) or 0
            records = session.scalar(select(func.count()).select_from(Agreement)) or 0
        return ips, int(pending), int(records)

    tables = {"agreement_acceptances", "signups"}
    sweeper.run_tables(database, tables, now=now + timedelta(hours=1))
    assert state() == (["203.0.113.7"], 2, 1)  # both links still work for a day
    sweeper.run_tables(database, tables, now=now + timedelta(days=2))
    assert state() == (["203.0.113.7"], 0, 1)  # the used and the unused link expired: both rows go
    sweeper.run_tables(database, tables, now=now + relativedelta(months=6) - timedelta(days=1))
    assert state() == (["203.0.113.7"], 0, 1)
    sweeper.run_tables(database, tables, now=now + relativedelta(months=6) + timedelta(days=1))
    assert state() == ([None], 0, 1)  # the address is gone; who accepted and the record stay
