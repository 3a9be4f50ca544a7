"""The billing pages, on both backends: finance builds a plan and a metric through the forms,
subscribes a customer, runs a month, finalises its drafts, downloads the documents, sees the
revenue and issues a credit note; form errors say what is wrong and change nothing; the pages are
for finance only. In the portal a customer's admin sees the plan, this month's estimate and their
own finalised invoices, and downloads them; nobody else's, and no draft."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import func, select
from tests.billing.helpers import make_service, record_usage, standard_catalogue
from tests.factories import SYSTEM, make_customer, make_staff, make_user
from tests.web.test_console import assert_accessible, console_client, post, sign_in

from lawful.billing import catalogue, reports, service
from lawful.billing.models import Charge, Invoice, InvoiceStatus, InvoiceType, Plan, Subscription
from lawful.billing.pages import revenue_chart
from lawful.billing.run import month_start, next_month
from lawful.data.db import Database
from lawful.settings import Settings
from lawful.users.models import StaffRole, UserRole
from lawful.web.auth import CSRF_COOKIE

TODAY = datetime.now(UTC).date()
THIS_MONTH = month_start(TODAY)
LAST_MONTH = month_start(THIS_MONTH - timedelta(days=1))
SETTINGS = Settings()
VAT = Decimal("0.21")
CENT = Decimal("0.01")
UBL = "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice"


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding="ROUND_HALF_UP")


@dataclass
class World:
    db: Database
    alpha: uuid.UUID
    bravo: uuid.UUID


def build_world(db: Database) -> World:
    alpha, _ = make_customer(db, legal_name="Alpha Trading B.V.", contacts=0)
    bravo, _ = make_customer(
        db, legal_name="Bravo Logistiek B.V.", billing_email="billing@bravo.example", contacts=0
    )
    make_user(db, customer_id=alpha.id, email="adam@alpha.example", role=UserRole.admin)
    make_user(db, customer_id=alpha.id, email="mia@alpha.example")
    make_user(db, customer_id=bravo.id, email="bea@bravo.example", role=UserRole.admin)
    for role in (StaffRole.finance, StaffRole.support):
        make_staff(db, role=role, email=f"{role.value}@lawful.example")
    return World(db, alpha.id, bravo.id)


@pytest.fixture
def world(database: Database) -> World:
    """Two customers with their users, finance and support; on both backends."""
    return build_world(database)


@pytest.fixture
def sqlite_world(sqlite_db: Database) -> World:
    """The same on SQLite only, for tests about the pages rather than the database."""
    return build_world(sqlite_db)


@pytest.fixture
def client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """A browser for the test's world (``world`` or ``sqlite_world``)."""
    name = "sqlite_world" if "sqlite_world" in request.fixturenames else "world"
    built: World = request.getfixturevalue(name)
    with console_client(built.db) as client:
        yield client


def as_staff(client: TestClient, role: StaffRole) -> TestClient:
    assert sign_in(client, f"{role.value}@lawful.example").status_code == 303
    return client


def as_user(client: TestClient, email: str) -> TestClient:
    client.get("/portal/login")
    data = {
        "email": email,
        "password": "correct horse battery staple",
        "csrf_token": client.cookies[CSRF_COOKIE],
    }
    assert client.post("/portal/login", data=data).status_code == 303
    return client


def count(db: Database, model: type[Plan] | type[Charge] | type[Invoice] | type[Subscription]) -> int:
    with db.unit_of_work("contract", SYSTEM) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def invoices_of(db: Database, customer_id: uuid.UUID) -> list[Invoice]:
    with db.unit_of_work("contract", SYSTEM) as session:
        found = reports.list_invoices(session, customer_id=customer_id)
        session.expunge_all()
        return found


def cell(html: str, element_id: str) -> str:
    """The text inside the element with ``element_id`` (tags removed, spaces collapsed)."""
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:td|p|dl|table)>', html, re.S)
    assert found, element_id
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


# --- finance: from a plan to a credit note ------------------------------------------------------------


TIERS = "100 0.10\n- 0.05"  # the first 100 calls at 0.10, the rest at 0.05
BASE_FEE = Decimal("20.00")
CALLS = 150


def expected_net() -> Decimal:
    """Last month's base fee (never billed before), this month's in advance, and 150 calls."""
    usage = 100 * Decimal("0.10") + (CALLS - 100) * Decimal("0.05")
    return BASE_FEE + BASE_FEE + usage


def test_finance_bills_a_customer_through_the_forms(client: TestClient, world: World) -> None:
    db = world.db
    as_staff(client, StaffRole.finance)
    overview = client.get("/console/billing")
    assert overview.status_code == 200, overview.text
    assert_accessible(overview.text)
    assert '<a href="/console/billing" aria-current="page">Billing</a>' in overview.text

    metric = post(
        client,
        "/console/billing/metrics",
        {
            "name": "API calls",
            "code": "api_calls",
            "event_code": "api.call",
            "aggregation": "count",
            "unit": "calls",
        },
    )
    assert metric.status_code == 303, metric.text
    created = post(
        client,
        "/console/billing/plans",
        {
            "rows": "3",
            "name": "Growth",
            "code": "growth",
            "base_fee": f"{BASE_FEE}",
            "minimum": "0",
            "description": "For growing teams",
            "metric_0": "api_calls",
            "model_0": "graduated",
            "tiers_0": TIERS,
            "model_1": "standard",
        },
    )
    assert created.status_code == 303, created.text
    with db.unit_of_work("contract", SYSTEM) as session:
        plan = session.scalars(select(Plan).where(Plan.code == "growth")).one()
        [(charge, charged)] = reports.charges_of(session, [plan.id])[plan.id]
        assert (plan.base_fee_cents, charged.code, charge.model.value) == (2000, "api_calls", "graduated")
        plan_id = plan.id
    plans_page = client.get(created.headers["location"])
    assert_accessible(plans_page.text)
    assert "The plan was created." in plans_page.text
    assert "1–100: 0.1 per unit; above 100: 0.05 per unit" in plans_page.text

    subscribed = post(
        client,
        f"/console/billing/customers/{world.alpha}/subscribe",
        {"plan_id": str(plan_id), "starts_on": LAST_MONTH.isoformat()},
    )
    assert subscribed.status_code == 303, subscribed.text
    customer_page = client.get(f"/console/billing/customers/{world.alpha}")
    assert_accessible(customer_page.text)
    assert "Growth" in cell(customer_page.text, "current-plan")

    record_usage(
        db, make_service(db), world.alpha, code="api.call", day=LAST_MONTH + timedelta(days=9), count=CALLS
    )
    ran = post(client, "/console/billing/runs", {"period": f"{LAST_MONTH:%Y-%m}"})
    assert ran.status_code == 303, ran.text
    runs_page = client.get(ran.headers["location"])
    assert_accessible(runs_page.text)
    assert "1 drafts made" in runs_page.text

    net = expected_net()
    vat = cents(net * VAT)
    [draft] = invoices_of(db, world.alpha)
    assert draft.status is InvoiceStatus.draft
    listed = client.get("/console/billing/invoices", params={"status": "draft"})
    assert_accessible(listed.text)
    assert f"/console/billing/invoices/{draft.id}" in listed.text
    partial = client.get(
        "/console/billing/invoices", params={"status": "draft"}, headers={"HX-Request": "true"}
    )
    assert "<h1>" not in partial.text and f"/console/billing/invoices/{draft.id}" in partial.text
    finalised_only = client.get("/console/billing/invoices", params={"status": "finalised"})
    assert f"/console/billing/invoices/{draft.id}" not in finalised_only.text
    draft_page = client.get(f"/console/billing/invoices/{draft.id}")
    assert draft_page.status_code == 200
    assert_accessible(draft_page.text)
    assert cell(draft_page.text, "invoice-net") == f"EUR {net:,.2f}"
    assert cell(draft_page.text, "invoice-vat") == f"EUR {vat:,.2f}"
    assert ".pdf" not in draft_page.text  # a draft has no document yet

    confirm = client.get("/console/billing/finalise", params={"period": f"{LAST_MONTH:%Y-%m}"})
    assert confirm.status_code == 200
    assert_accessible(confirm.text)
    assert "Finalise 1 draft and send them" in confirm.text
    finalised = post(client, "/console/billing/finalise", {"period": f"{LAST_MONTH:%Y-%m}"})
    assert finalised.status_code == 200, finalised.text
    [invoice] = invoices_of(db, world.alpha)
    assert invoice.status is InvoiceStatus.finalised and invoice.number
    assert f"finalised: {invoice.number}" in finalised.text
    page = client.get(f"/console/billing/invoices/{invoice.id}").text
    assert invoice.number in page and "Finalise and send" not in page
    assert cell(page, "hold").startswith("Held yes Until")

    pdf = client.get(f"/console/billing/invoices/{invoice.id}.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert f'filename="{invoice.number}.pdf"' in pdf.headers["content-disposition"]
    ubl = client.get(f"/console/billing/invoices/{invoice.id}.xml")
    assert ubl.status_code == 200
    root = etree.fromstring(ubl.content)
    assert root.tag == UBL
    assert root.findtext("{*}ID") == invoice.number
    assert root.findtext("{*}LegalMonetaryTotal/{*}TaxExclusiveAmount") == f"{net:.2f}"

    def revenue_row() -> str:
        html = client.get("/console/billing").text
        row = re.search(rf'<th scope="row">{THIS_MONTH:%B %Y}</th>(.*?)</tr>', html, re.S)
        assert row, html
        return " ".join(re.sub(r"<[^>]+>", " ", row.group(1)).split())

    assert revenue_row().split()[:3] == [f"{net:,.2f}", "0.00", f"{net:,.2f}"]
    assert f"net {net:,.2f} (1 invoice)" in client.get("/console/billing").text  # the bar's tooltip

    credited = post(
        client,
        f"/console/billing/invoices/{invoice.id}/credit",
        {"scope": "amount", "amount": "10.00", "reason": "Goodwill for an outage"},
    )
    assert credited.status_code == 303, credited.text
    note_page = client.get(credited.headers["location"])
    assert note_page.status_code == 200
    assert "The credit note was issued" in note_page.text
    notes = [i for i in invoices_of(db, world.alpha) if i.type is InvoiceType.credit_note]
    assert [(n.net_cents, n.corrects_id, n.reason) for n in notes] == [
        (1000, invoice.id, "Goodwill for an outage")
    ]
    assert notes[0].number and notes[0].number in note_page.text
    assert revenue_row().split()[:3] == [f"{net:,.2f}", "10.00", f"{net - 10:,.2f}"]


def test_the_revenue_chart_draws_each_month_from_the_zero_line() -> None:
    nets = [Decimal("0"), Decimal("100.00"), Decimal("-50.00"), Decimal("250.00")]
    months = [
        reports.MonthRevenue(date(2026, m, 1), max(n, Decimal(0)), max(-n, Decimal(0)), Decimal(0), 1, 0)
        for m, n in enumerate(nets, start=1)
    ]
    svg = str(revenue_chart(months))
    bars = re.findall(
        r'<rect class="bar" x="[0-9.]+" y="([0-9.]+)" width="[0-9.]+" height="([0-9.]+)"><title>([^<]+)</title>',
        svg,
    )
    assert [title.split(": ")[0] for *_, title in bars] == ["February 2026", "March 2026", "April 2026"]
    (y_100, h_100, _), (y_neg, h_neg, _), (y_250, h_250, _) = [
        (Decimal(y), Decimal(h), t) for y, h, t in bars
    ]
    zero = y_neg  # positive bars end where the negative one starts (each figure rounded to 0.1 px)
    assert abs(y_100 + h_100 - zero) <= Decimal("0.1") and abs(y_250 + h_250 - zero) <= Decimal("0.1")
    assert h_250 > h_100 > 0 and h_neg > 0
    assert abs(h_250 / h_100 - Decimal("2.5")) < Decimal("0.01")
    assert "net -50.00" in svg and "January 2026" not in "".join(t for *_, t in bars)


# --- form errors change nothing ---------------------------------------------------------------------


def plan_form(**fields: str) -> dict[str, str]:
    return {
        "rows": "3",
        "name": "Broken",
        "code": "broken",
        "base_fee": "10",
        "metric_0": "api_calls",
        "model_0": "graduated",
        **fields,
    }


BAD_PLANS = [
    ({"tiers_0": "100 0.10\nlots 0.05"}, "tier line 2 ('lots 0.05'), up_to: 'lots' is not a number"),
    ({"tiers_0": "100 0.10 1 2"}, "charge 1, tiers, tier line 1"),
    ({"tiers_0": "100 0.10\n200 0.05"}, "the last tier has no upper bound"),
    ({"tiers_0": ""}, "charge 1, tiers: give the tiers"),
    ({"metric_0": "", "model_0": "standard"}, "a plan needs at least one charge"),
    ({"metric_0": "", "unit_price_1": "2"}, "charge 2: choose the metric it prices"),
    ({"model_0": "standard", "unit_price_0": "1,5"}, "charge 1, unit price: '1,5' is not a number"),
    ({"model_0": "package", "package_size_0": "0", "package_price_0": "5"}, "charge 1: pricing:"),
    ({"base_fee": "ten", "tiers_0": "- 1"}, "base_fee"),
    ({"code": "Not A Code", "tiers_0": "- 1"}, "plan code must be"),
    ({"code": "starter", "tiers_0": "- 1"}, "a plan with code 'starter' exists"),
]


def test_a_bad_plan_form_shows_why_and_creates_nothing(client: TestClient, world: World) -> None:
    standard_catalogue(world.db)
    plans, charges = count(world.db, Plan), count(world.db, Charge)
    as_staff(client, StaffRole.finance)
    for fields, message in BAD_PLANS:
        response = post(client, "/console/billing/plans", plan_form(**fields))
        assert response.status_code in (409, 422), (fields, response.status_code)
        shown = cell(response.text, "plan-error")
        assert message.replace("'", "&#39;") in shown or message in html.unescape(shown), (message, shown)
        assert 'value="Broken"' in response.text  # the input is kept
        assert_accessible(response.text)
        assert (count(world.db, Plan), count(world.db, Charge)) == (plans, charges), fields


def test_another_charge_row_keeps_the_input_and_stores_nothing(
    client: TestClient, sqlite_world: World
) -> None:
    world = sqlite_world
    standard_catalogue(world.db)
    as_staff(client, StaffRole.finance)
    response = post(client, "/console/billing/plans", plan_form(tiers_0="- 1", add_row="1"))
    assert response.status_code == 200
    assert 'id="charge-3"' in response.text and 'id="charge-4"' not in response.text
    assert "- 1</textarea>" in response.text
    assert count(world.db, Plan) == 2


def finalised_invoice(world: World) -> Invoice:
    """Alpha on the starter plan since last month, its invoice of last month finalised today."""
    plans = standard_catalogue(world.db)
    with world.db.unit_of_work("contract", SYSTEM) as session:
        catalogue.subscribe(session, world.alpha, plans["starter"].id, starts_on=LAST_MONTH)
    service.run(world.db, LAST_MONTH, settings=SETTINGS)
    service.finalise_drafts(world.db, today=TODAY, settings=SETTINGS, period=LAST_MONTH)
    [invoice] = invoices_of(world.db, world.alpha)
    assert invoice.status is InvoiceStatus.finalised
    return invoice


BAD_CREDITS = [
    ({"amount": "999999.00"}, "of this invoice is still uncredited"),
    ({"amount": "12,50"}, "is not an amount"),
    ({"amount": "-5"}, "a positive amount"),
    ({"amount": "0.001"}, "at most two decimals"),
    ({"amount": ""}, "give the amount to credit"),
    ({"amount": "5", "reason": "  "}, "a credit note needs a reason"),
]


def test_a_bad_credit_note_shows_why_and_issues_nothing(client: TestClient, world: World) -> None:
    invoice = finalised_invoice(world)
    as_staff(client, StaffRole.finance)
    for fields, message in BAD_CREDITS:
        form = {"scope": "amount", "reason": "Goodwill", **fields}
        response = post(client, f"/console/billing/invoices/{invoice.id}/credit", form)
        assert response.status_code == 422, (fields, response.status_code)
        assert message in cell(response.text, "credit-error"), fields
        assert_accessible(response.text)
        assert [i.type for i in invoices_of(world.db, world.alpha)] == [InvoiceType.invoice]
    larger = Decimal(invoice.net_cents) / 100 + 1
    response = post(
        client,
        f"/console/billing/invoices/{invoice.id}/credit",
        {"scope": "amount", "reason": "Too much", "amount": f"{larger:.2f}"},
    )
    assert response.status_code == 422 and "still uncredited" in response.text
    whole = post(
        client, f"/console/billing/invoices/{invoice.id}/credit", {"scope": "whole", "reason": "Wrong plan"}
    )
    assert whole.status_code == 303
    [note] = [i for i in invoices_of(world.db, world.alpha) if i.type is InvoiceType.credit_note]
    assert note.net_cents == invoice.net_cents
    again = post(
        client,
        f"/console/billing/invoices/{invoice.id}/credit",
        {"scope": "amount", "amount": "1", "reason": "x"},
    )
    assert again.status_code == 422 and "at most 0.00 of this invoice is still uncredited" in again.text
    assert len(invoices_of(world.db, world.alpha)) == 2


def test_other_form_errors_are_shown_on_their_page(client: TestClient, world: World) -> None:
    db = world.db
    plans = standard_catalogue(db)
    as_staff(client, StaffRole.finance)
    no_plan = post(
        client,
        f"/console/billing/customers/{world.alpha}/subscribe",
        {"plan_id": "", "starts_on": "2026-01-01"},
    )
    assert no_plan.status_code == 422 and "choose plan_id" in no_plan.text
    bad_day = post(
        client,
        f"/console/billing/customers/{world.alpha}/subscribe",
        {"plan_id": str(plans["starter"].id), "starts_on": "first of May"},
    )
    assert bad_day.status_code == 422 and "is not a date (YYYY-MM-DD)" in bad_day.text
    assert f'<option value="{plans["starter"].id}" selected>' in bad_day.text
    assert count(db, Subscription) == 0
    nothing_to_cancel = post(
        client, f"/console/billing/customers/{world.alpha}/cancel", {"on": TODAY.isoformat()}
    )
    assert nothing_to_cancel.status_code == 404 and "no subscription running" in nothing_to_cancel.text

    for period, message in (
        ("2026-13", "is not a month"),
        (f"{next_month(THIS_MONTH):%Y-%m}", "has not begun"),
    ):
        response = post(client, "/console/billing/runs", {"period": period})
        assert response.status_code == 422 and message in response.text, period
        assert 'id="run-error"' in response.text
    with db.unit_of_work("contract", SYSTEM) as session:
        assert reports.list_runs(session) == []

    with db.unit_of_work("contract", SYSTEM) as session:
        catalogue.subscribe(session, world.alpha, plans["starter"].id, starts_on=LAST_MONTH)
    service.run(db, THIS_MONTH, settings=SETTINGS)
    [draft] = invoices_of(db, world.alpha)
    early = post(client, f"/console/billing/invoices/{draft.id}/finalise")
    assert early.status_code == 422 and "is not complete before" in early.text
    assert 'id="finalise-error"' in early.text
    refused = post(client, "/console/billing/finalise", {"period": f"{THIS_MONTH:%Y-%m}"})
    assert refused.status_code == 409 and "is not complete before" in refused.text
    assert [i.status for i in invoices_of(db, world.alpha)] == [InvoiceStatus.draft]

    bad_filter = client.get("/console/billing/invoices", params={"period": "May"})
    assert bad_filter.status_code == 422 and "is not a month" in bad_filter.text
    assert f"/console/billing/invoices/{draft.id}" in bad_filter.text


def test_finance_archives_and_offers_a_plan_and_cancels_a_subscription(
    client: TestClient, sqlite_world: World
) -> None:
    world = sqlite_world
    db = world.db
    plans = standard_catalogue(db)
    starter = plans["starter"].id
    as_staff(client, StaffRole.finance)
    archived = post(client, f"/console/billing/plans/{starter}/archive")
    assert archived.status_code == 303
    assert "no longer offered" in client.get(archived.headers["location"]).text
    refused = post(
        client,
        f"/console/billing/customers/{world.alpha}/subscribe",
        {"plan_id": str(starter), "starts_on": LAST_MONTH.isoformat()},
    )
    assert refused.status_code == 422 and "is no longer offered" in refused.text
    assert post(client, f"/console/billing/plans/{starter}/activate").status_code == 303
    assert (
        post(
            client,
            f"/console/billing/customers/{world.alpha}/subscribe",
            {"plan_id": str(starter), "starts_on": LAST_MONTH.isoformat()},
        ).status_code
        == 303
    )
    ends = next_month(THIS_MONTH)
    cancelled = post(client, f"/console/billing/customers/{world.alpha}/cancel", {"on": ends.isoformat()})
    assert cancelled.status_code == 303
    with db.unit_of_work("contract", SYSTEM) as session:
        [subscription] = catalogue.subscriptions_of(session, world.alpha)
        assert subscription.ends_on == ends
    listing = client.get("/console/billing/customers")
    assert_accessible(listing.text)
    assert "Starter" in listing.text and "Alpha Trading B.V." in listing.text


# --- who may open the billing pages -------------------------------------------------------------------


CONSOLE_PAGES = [
    "/console/billing",
    "/console/billing/plans",
    "/console/billing/customers",
    "/console/billing/runs",
    "/console/billing/invoices",
]


def test_the_support_role_cannot_open_the_billing_pages(client: TestClient, world: World) -> None:
    invoice = finalised_invoice(world)
    as_staff(client, StaffRole.support)
    for path in [
        *CONSOLE_PAGES,
        f"/console/billing/customers/{world.alpha}",
        f"/console/billing/invoices/{invoice.id}",
        f"/console/billing/invoices/{invoice.id}.pdf",
    ]:
        response = client.get(path)
        assert response.status_code == 403, path
        assert "does not work on fees" in response.text
        assert "Alpha Trading" not in response.text
    refused = post(
        client, f"/console/billing/invoices/{invoice.id}/credit", {"scope": "whole", "reason": "x"}
    )
    assert refused.status_code == 403
    assert post(client, "/console/billing/plans", plan_form(tiers_0="- 1")).status_code == 403
    assert count(world.db, Plan) == 2 and len(invoices_of(world.db, world.alpha)) == 1
    assert '<a href="/console/billing"' not in client.get("/console/profile").text


# --- the portal ---------------------------------------------------------------------------------------


def test_a_customer_admin_sees_the_estimate_and_downloads_their_invoices(
    client: TestClient, world: World
) -> None:
    db = world.db
    invoice = finalised_invoice(world)
    with db.unit_of_work("contract", SYSTEM) as session:
        bravo_plan = session.scalars(select(Plan).where(Plan.code == "business")).one()
        catalogue.subscribe(session, world.bravo, bravo_plan.id, starts_on=LAST_MONTH)
    service.run(db, LAST_MONTH, settings=SETTINGS)
    service.finalise_drafts(db, today=TODAY, settings=SETTINGS, period=LAST_MONTH)
    [bravo_invoice] = invoices_of(db, world.bravo)
    calls = 1500  # the starter plan includes 1,000 calls a month, then 0.002 a call
    record_usage(db, make_service(db), world.alpha, code="api.call", day=TODAY, count=calls)
    service.run(db, THIS_MONTH, settings=SETTINGS)  # a draft of this month: never the customer's to see
    draft = next(i for i in invoices_of(db, world.alpha) if i.status is InvoiceStatus.draft)

    as_user(client, "adam@alpha.example")
    page = client.get("/portal/billing")
    assert page.status_code == 200, page.text
    assert_accessible(page.text)
    assert '<a href="/portal/billing" aria-current="page">Billing</a>' in page.text
    assert "Starter" in cell(page.text, "current-plan")
    assert "This is an estimate, not an invoice." in page.text
    usage = (calls - 1000) * Decimal("0.002")
    net = usage + Decimal("19.00")  # next month's base fee in advance; this month's was billed already
    assert f"{calls} calls used, 1000 included, {calls - 1000} billable" in page.text
    assert cell(page.text, "estimate-total") == f"EUR {net + cents(net * VAT):,.2f}"
    assert invoice.number and invoice.number in page.text
    assert f"/portal/billing/invoices/{invoice.id}.pdf" in page.text
    assert str(draft.id) not in page.text and "Bravo" not in page.text
    assert bravo_invoice.number and bravo_invoice.number not in page.text

    pdf = client.get(f"/portal/billing/invoices/{invoice.id}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    ubl = client.get(f"/portal/billing/invoices/{invoice.id}.xml")
    assert ubl.status_code == 200 and etree.fromstring(ubl.content).findtext("{*}ID") == invoice.number
    for other in (bravo_invoice.id, draft.id, uuid.uuid4()):
        for suffix in (".pdf", ".xml"):
            response = client.get(f"/portal/billing/invoices/{other}{suffix}")
            assert response.status_code == 404, (other, suffix)
            assert not response.content.startswith(b"%PDF")


def test_only_a_customer_admin_sees_billing(client: TestClient, sqlite_world: World) -> None:
    world = sqlite_world
    invoice = finalised_invoice(world)
    as_user(client, "mia@alpha.example")  # a member, not an admin
    assert client.get("/portal/billing").status_code == 403
    assert client.get(f"/portal/billing/invoices/{invoice.id}.pdf").status_code == 403
    assert '<a href="/portal/billing"' not in client.get("/portal/").text
    client.post("/portal/logout", data={"csrf_token": client.cookies[CSRF_COOKIE]})

    as_user(client, "bea@bravo.example")  # an admin of a customer without a plan
    page = client.get("/portal/billing")
    assert page.status_code == 200
    assert "no plan today" in page.text and "Nothing to estimate" in page.text
    assert "No invoices yet." in page.text and "Alpha" not in page.text
    client.post("/portal/logout", data={"csrf_token": client.cookies[CSRF_COOKIE]})

    as_staff(client, StaffRole.finance)  # staff are not portal users
    response = client.get("/portal/billing")
    assert response.status_code == 303 and response.headers["location"].startswith("/portal/login")
