"""A customer's admin changes plan and ends the agreement in the portal: each a new agreement record."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.agreements.helpers import hidden
from tests.billing.helpers import standard_catalogue
from tests.billing.test_pages import TODAY, World, as_user
from tests.billing.test_pages import client as client
from tests.billing.test_pages import sqlite_world as sqlite_world
from tests.billing.test_pages import world as world
from tests.factories import SYSTEM

from lawful.agreements import service
from lawful.agreements.models import Agreement, AgreementEvent, Channel
from lawful.billing import catalogue
from lawful.customers.models import Customer, CustomerStatus
from lawful.web.auth import CSRF_COOKIE

TOMORROW = TODAY + timedelta(days=1)


def records(world: World) -> int:
    with world.db.unit_of_work("contract", SYSTEM) as session:
        return int(session.scalar(select(func.count()).select_from(Agreement)) or 0)


def subscribe_alpha(world: World) -> dict[str, object]:
    plans = standard_catalogue(world.db)
    with world.db.unit_of_work("contract", SYSTEM) as session:
        service.conclude(
            session,
            world.alpha,
            plans["starter"].id,
            starts_on=TODAY - timedelta(days=40),
            how=service.Acceptance(Channel.console, note="signed order form"),
        )
    return {"starter": plans["starter"].id, "business": plans["business"].id}


def test_an_admin_changes_plan_then_ends_the_agreement(client: TestClient, world: World) -> None:
    plans = subscribe_alpha(world)
    as_user(client, "adam@alpha.example")
    page = client.get("/portal/billing")
    assert page.status_code == 200 and "Change plan" in page.text
    form = {
        "plan_id": str(plans["business"]),
        "starts_on": TOMORROW.isoformat(),
        "accept": "yes",
        "terms_version": hidden(page.text, "terms_version"),
        "statement_version": hidden(page.text, "statement_version"),
        "csrf_token": client.cookies[CSRF_COOKIE],
    }
    changed = client.post("/portal/billing/plan", data=form)
    assert changed.status_code == 303 and changed.headers["location"] == "/portal/billing?done=plan"
    with world.db.unit_of_work("contract", SYSTEM) as session:
        upcoming = catalogue.current_subscription(session, world.alpha, TOMORROW)
        assert upcoming is not None and upcoming.plan_id == plans["business"]
        latest = service.history(session, world.alpha)[0]
        assert latest.agreement.event is AgreementEvent.plan_changed
        assert latest.agreement.channel is Channel.self_service
        assert latest.agreement.plan_code == "business" and latest.agreement.effective_on == TOMORROW
        assert latest.acceptance is not None and latest.acceptance.ip_address == "testclient"
        assert latest.terms is not None and latest.terms.digest == form["terms_version"]

    end = TOMORROW + timedelta(days=30)
    ended = client.post(
        "/portal/billing/cancel",
        data={
            "on": end.isoformat(),
            "confirm": "yes",
            "terms_version": form["terms_version"],
            "statement_version": form["statement_version"],
            "csrf_token": client.cookies[CSRF_COOKIE],
        },
    )
    assert ended.status_code == 303, ended.text
    with world.db.unit_of_work("contract", SYSTEM) as session:
        customer = session.get(Customer, world.alpha)
        assert customer is not None and customer.contract_end == end
        assert customer.status is CustomerStatus.active  # it ends in the future
        latest = service.history(session, world.alpha)[0]
        assert latest.agreement.event is AgreementEvent.cancelled and latest.agreement.effective_on == end
    assert records(world) == 3


def test_a_change_without_acceptance_or_with_stale_terms_changes_nothing(
    client: TestClient, sqlite_world: World
) -> None:
    world = sqlite_world
    plans = subscribe_alpha(world)
    as_user(client, "adam@alpha.example")
    page = client.get("/portal/billing")
    form = {
        "plan_id": str(plans["business"]),
        "starts_on": TOMORROW.isoformat(),
        "terms_version": hidden(page.text, "terms_version"),
        "statement_version": hidden(page.text, "statement_version"),
        "csrf_token": client.cookies[CSRF_COOKIE],
    }
    missing = client.post("/portal/billing/plan", data=form)
    assert missing.status_code == 422 and "accept the terms of service" in missing.text
    stale = client.post("/portal/billing/plan", data={**form, "accept": "yes", "terms_version": "0" * 16})
    assert stale.status_code == 422 and "changed while you were on this page" in stale.text
    past = client.post("/portal/billing/plan", data={**form, "accept": "yes", "starts_on": TODAY.isoformat()})
    assert past.status_code == 422 and "after today" in past.text
    unconfirmed = client.post("/portal/billing/cancel", data={**form, "on": TOMORROW.isoformat()})
    assert unconfirmed.status_code == 422 and "confirm that the agreement ends" in unconfirmed.text
    assert records(world) == 1
    with world.db.unit_of_work("contract", SYSTEM) as session:
        assert catalogue.current_subscription(session, world.alpha, TOMORROW) is not None
        customer = session.get(Customer, world.alpha)
        assert customer is not None and customer.contract_end is None


def test_a_member_cannot_change_the_plan(client: TestClient, sqlite_world: World) -> None:
    plans = subscribe_alpha(sqlite_world)
    as_user(client, "mia@alpha.example")
    refused = client.post(
        "/portal/billing/plan",
        data={
            "plan_id": str(plans["business"]),
            "starts_on": TOMORROW.isoformat(),
            "accept": "yes",
            "csrf_token": client.cookies[CSRF_COOKIE],
        },
    )
    assert refused.status_code == 403
    assert records(sqlite_world) == 1
