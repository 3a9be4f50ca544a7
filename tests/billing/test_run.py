"""The billing run on both databases: drafts, arrears and advance, proration, idempotence,
late usage, minimum commitments, VAT, and metrics over usage events."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal as D

import pytest
from sqlalchemy import select
from tests.billing.helpers import make_service, record_usage, standard_catalogue
from tests.factories import SYSTEM, make_customer

from lawful.billing import catalogue, service
from lawful.billing.catalogue import ChargeInput
from lawful.billing.invoices import lines_of
from lawful.billing.metrics import MetricSpec, aggregate
from lawful.billing.models import Invoice, InvoiceStatus, Metric, VatTreatment
from lawful.billing.rating import from_cents
from lawful.billing.run import to_ms
from lawful.customers.models import CustomerKind
from lawful.data.db import Database
from lawful.errors import Conflict, Invalid
from lawful.settings import Settings

SETTINGS = Settings()
OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)


def subscribe(db: Database, customer_id: uuid.UUID, plan_id: uuid.UUID, starts_on: date) -> None:
    with db.unit_of_work("contract", SYSTEM) as session:
        catalogue.subscribe(session, customer_id, plan_id, starts_on=starts_on)


def invoice_of(
    db: Database, customer_id: uuid.UUID, period: date
) -> tuple[Invoice, list[tuple[str, D, D, D]]]:
    with db.unit_of_work("contract", SYSTEM) as session:
        invoice = session.scalars(
            select(Invoice).where(Invoice.customer_id == customer_id, Invoice.period == period)
        ).one()
        lines = [
            (
                line.description,
                D(line.quantity_micros) / 1_000_000,
                D(line.unit_price_micros) / 1_000_000,
                from_cents(line.amount_cents),
            )
            for line in lines_of(session, invoice.id)
        ]
    return invoice, lines


def test_a_month_in_arrears_and_the_next_in_advance(database: Database) -> None:
    plans = standard_catalogue(database)
    customer, _ = make_customer(database)
    api = make_service(database)
    subscribe(database, customer.id, plans["starter"].id, date(2026, 9, 1))
    record_usage(database, api, customer.id, code="api.call", day=date(2026, 10, 3), count=2500)
    record_usage(database, api, customer.id, code="api.call", day=date(2026, 9, 30), count=7)  # not October
    record_usage(database, api, customer.id, code="other", day=date(2026, 10, 3), count=9)  # no metric

    summary = service.run(database, OCT, settings=SETTINGS)
    assert (summary.created, summary.updated, summary.unchanged) == (1, 0, 0)
    invoice, lines = invoice_of(database, customer.id, OCT)
    # October's base fee was never billed (no September run): billed now; November's in advance;
    # 2,500 calls with 1,000 included: 1,500 × 0.002 = 3.00
    assert lines == [
        ("Starter, base fee October 2026", D(1), D(19), D("19.00")),
        ("API calls, October 2026", D(1500), D("0.002"), D("3.00")),
        ("Starter, base fee November 2026", D(1), D(19), D("19.00")),
    ]
    assert invoice.status is InvoiceStatus.draft and invoice.number is None
    assert (invoice.net_cents, invoice.vat_cents, invoice.total_cents) == (4100, 861, 4961)  # 21 % of 41.00
    assert invoice.vat_treatment is VatTreatment.standard


def test_running_twice_makes_nothing_new_and_late_usage_updates_the_draft(database: Database) -> None:
    plans = standard_catalogue(database)
    customer, _ = make_customer(database)
    api = make_service(database)
    subscribe(database, customer.id, plans["starter"].id, OCT)
    record_usage(database, api, customer.id, code="api.call", day=date(2026, 10, 20), count=1200)
    first = service.run(database, OCT, settings=SETTINGS)
    again = service.run(database, OCT, settings=SETTINGS)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert again.total == first.total
    with database.unit_of_work("contract", SYSTEM) as session:
        assert len(session.scalars(select(Invoice)).all()) == 1

    record_usage(database, api, customer.id, code="api.call", day=date(2026, 10, 31), count=300)  # late
    late = service.run(database, OCT, settings=SETTINGS)
    assert (late.created, late.updated) == (0, 1)
    _, lines = invoice_of(database, customer.id, OCT)
    assert ("API calls, October 2026", D(500), D("0.002"), D("1.00")) in lines

    done = service.finalise_drafts(database, today=date(2026, 11, 4), settings=SETTINGS)
    assert done.numbers == ["2026-000001"]
    record_usage(database, api, customer.id, code="api.call", day=date(2026, 10, 31), count=5)  # too late
    after = service.run(database, OCT, settings=SETTINGS)
    assert (after.created, after.updated, after.skipped_finalised) == (0, 0, 1)
    invoice, lines = invoice_of(database, customer.id, OCT)
    assert invoice.number == "2026-000001"
    assert ("API calls, October 2026", D(500), D("0.002"), D("1.00")) in lines


def test_a_plan_change_mid_month_is_prorated(database: Database) -> None:
    plans = standard_catalogue(database)
    customer, _ = make_customer(database)
    api = make_service(database)
    subscribe(database, customer.id, plans["starter"].id, OCT)
    service.run(database, date(2026, 9, 1), settings=SETTINGS)  # October's fee in advance
    assert service.finalise_drafts(database, today=date(2026, 10, 1), settings=SETTINGS).numbers == [
        "2026-000001"
    ]
    _, september = invoice_of(database, customer.id, date(2026, 9, 1))
    assert september == [("Starter, base fee October 2026", D(1), D(19), D("19.00"))]

    subscribe(database, customer.id, plans["business"].id, date(2026, 10, 16))
    record_usage(database, api, customer.id, code="api.call", day=date(2026, 10, 5), count=1600)  # Starter
    record_usage(
        database, api, customer.id, code="api.call", day=date(2026, 10, 20), count=11_000
    )  # Business
    service.run(database, OCT, settings=SETTINGS)
    _, lines = invoice_of(database, customer.id, OCT)
    # Starter 1-15 Oct: 19 × 15/31 = 9.19 due, 19.00 billed → -9.81; 600 billable calls × 0.002
    # Business 16-31 Oct (16 days): 99 × 16/31 = 51.10; 11,000 calls: 10,000 × 0.002 + 1,000 × 0.001;
    # no storage, no seats; minimum 150 × 16/31 = 77.42 against 51.10 + 21.00 = 72.10 → 5.32;
    # November in advance: 99.00
    assert lines == [
        ("Starter, base fee 01 Oct – 15 Oct 2026 (15 of 31 days): adjustment", D(1), D("-9.81"), D("-9.81")),
        ("API calls, 01 Oct – 15 Oct 2026 (15 of 31 days)", D(600), D("0.002"), D("1.20")),
        ("Business, base fee 16 Oct – 31 Oct 2026 (16 of 31 days)", D(1), D("51.10"), D("51.10")),
        (
            "API calls, 16 Oct – 31 Oct 2026 (16 of 31 days): tier 1: units 1–10,000",
            D(10000),
            D("0.002"),
            D("20.00"),
        ),
        (
            "API calls, 16 Oct – 31 Oct 2026 (16 of 31 days): tier 2: units above 10,000",
            D(1000),
            D("0.001"),
            D("1.00"),
        ),
        ("Storage, 16 Oct – 31 Oct 2026 (16 of 31 days): packages of 10", D(0), D(5), D("0.00")),
        ("Active seats, 16 Oct – 31 Oct 2026 (16 of 31 days): tier 1", D(0), D(8), D("0.00")),
        ("Business, minimum commitment 16 Oct – 31 Oct 2026 (16 of 31 days)", D(1), D("5.32"), D("5.32")),
        ("Business, base fee November 2026", D(1), D(99), D("99.00")),
    ]


def test_cancelling_bills_the_last_month_in_advance_only_for_its_days(database: Database) -> None:
    plans = standard_catalogue(database)
    customer, _ = make_customer(database)
    subscribe(database, customer.id, plans["starter"].id, OCT)
    with database.unit_of_work("contract", SYSTEM) as session:
        catalogue.cancel(session, customer.id, on=date(2026, 11, 16))
        with pytest.raises(Invalid):
            catalogue.cancel(session, customer.id, on=date(2026, 10, 1))
    service.run(database, OCT, settings=SETTINGS)
    _, lines = invoice_of(database, customer.id, OCT)
    assert lines[-1] == ("Starter, base fee 01 Nov – 15 Nov 2026 (15 of 30 days)", D(1), D("9.50"), D("9.50"))
    service.run(database, date(2026, 12, 1), settings=SETTINGS, today=date(2026, 12, 31))  # nothing to bill
    with database.unit_of_work("contract", SYSTEM) as session:
        assert session.scalars(select(Invoice).where(Invoice.period == date(2026, 12, 1))).all() == []


def test_vat_reverse_charge_outside_scope_and_a_bad_vat_number(database: Database) -> None:
    plans = standard_catalogue(database)
    made = {}
    for name, country, vat in [
        ("Muster GmbH", "DE", "DE136695976"),
        ("Falsch GmbH", "DE", "DE136695970"),  # check digit wrong
        ("Acme Inc.", "US", None),
        ("Bakker", "NL", "NL004495445B01"),
    ]:
        customer, _ = make_customer(database, legal_name=name)
        with database.unit_of_work("contract", SYSTEM) as session:
            row = session.get(type(customer), customer.id)
            assert row is not None
            row.country, row.vat_number = country, vat
        subscribe(database, customer.id, plans["starter"].id, NOV)
        made[name] = customer.id
    service.run(database, OCT, settings=SETTINGS)
    expected = {
        "Muster GmbH": (VatTreatment.reverse_charge, 0),
        "Falsch GmbH": (VatTreatment.standard, 399),
        "Acme Inc.": (VatTreatment.outside_scope, 0),
        "Bakker": (VatTreatment.standard, 399),
    }
    for name, customer_id in made.items():
        invoice, _ = invoice_of(database, customer_id, OCT)
        assert (invoice.vat_treatment, invoice.vat_cents) == expected[name], name
        assert invoice.net_cents == 1900
    invoice, _ = invoice_of(database, made["Falsch GmbH"], OCT)
    assert "check digits" in invoice.vat_check


def test_metrics_count_sum_max_unique_latest_and_filters(database: Database) -> None:
    customer, _ = make_customer(database)
    other, _ = make_customer(database, legal_name="Other B.V.")
    api = make_service(database)
    day = date(2026, 10, 7)
    record_usage(
        database, api, customer.id, code="gb", day=day, value="2.5", properties={"region": "eu", "seat": "a"}
    )
    record_usage(
        database, api, customer.id, code="gb", day=day, value="7", properties={"region": "us", "seat": "b"}
    )
    record_usage(
        database,
        api,
        customer.id,
        code="gb",
        day=date(2026, 10, 9),
        value="1.25",
        properties={"region": "eu", "seat": "a", "paid": True},
    )
    record_usage(
        database, api, other.id, code="gb", day=day, value="4", properties={"region": "eu", "seat": 7}
    )
    with database.unit_of_work("contract", SYSTEM) as session:
        specs = {}
        for code, aggregation, prop, filters in [
            ("n", "count", None, None),
            ("total", "sum", None, None),
            ("largest", "max", None, None),
            ("seats", "unique_count", "seat", None),
            ("last", "latest", None, None),
            ("eu", "sum", None, {"region": ["eu"]}),
            ("paid", "count", None, {"paid": [True]}),
            ("seat7", "count", None, {"seat": [7]}),
        ]:
            metric = catalogue.create_metric(
                session,
                code=code,
                name=code,
                event_code="gb",
                aggregation=aggregation,
                distinct_property=prop,
                filters=filters,
            )
            specs[code] = MetricSpec.of(metric)
        quantities = aggregate(session, specs.values(), to_ms(OCT), to_ms(NOV))
    mine = {code: D(quantities.get((customer.id, s.id), 0)) / 1_000_000 for code, s in specs.items()}
    assert mine == {
        "n": 3,
        "total": D("10.75"),
        "largest": 7,
        "seats": 2,
        "last": D("1.25"),
        "eu": D("3.75"),
        "paid": 1,
        "seat7": 0,
    }
    theirs = {code: D(quantities.get((other.id, s.id), 0)) / 1_000_000 for code, s in specs.items()}
    assert theirs["seat7"] == 1 and theirs["eu"] == 4 and theirs["paid"] == 0


def test_catalogue_refuses_bad_input_and_keeps_what_was_there(database: Database) -> None:
    standard_catalogue(database)
    customer, _ = make_customer(database)
    with database.unit_of_work("contract", SYSTEM) as session:
        with pytest.raises(Conflict):
            catalogue.create_metric(session, code="api_calls", name="x", event_code="x", aggregation="count")
        with pytest.raises(Invalid, match="aggregation"):
            catalogue.create_metric(session, code="m2", name="x", event_code="x", aggregation="median")
        with pytest.raises(Invalid, match="property"):
            catalogue.create_metric(session, code="m3", name="x", event_code="x", aggregation="unique_count")
        with pytest.raises(Invalid, match="no metric"):
            catalogue.create_plan(
                session, code="p", name="P", charges=[ChargeInput("nope", "standard", {"unit_price": "1"})]
            )
        with pytest.raises(Invalid, match="two decimals"):
            catalogue.create_plan(session, code="p2", name="P", base_fee="1.005")
    with database.unit_of_work("contract", SYSTEM) as session:
        assert {m.code for m in session.scalars(select(Metric))} == {"api_calls", "storage_gb", "seats"}
        plan = catalogue.list_plans(session)[0]
        catalogue.subscribe(session, customer.id, plan.id, starts_on=OCT)
        with pytest.raises(Conflict):
            catalogue.subscribe(session, customer.id, plan.id, starts_on=date(2026, 10, 5))
        with pytest.raises(Conflict):
            catalogue.subscribe(session, customer.id, plan.id, starts_on=date(2026, 9, 5))


def test_a_sole_proprietor_is_billed_like_a_company(database: Database) -> None:
    plans = standard_catalogue(database)
    customer, _ = make_customer(database, kind=CustomerKind.sole_proprietor, legal_name="Jansen Advies")
    subscribe(database, customer.id, plans["business"].id, NOV)
    service.run(database, OCT, settings=SETTINGS)
    invoice, lines = invoice_of(database, customer.id, OCT)
    assert invoice.buyer_kind == "sole_proprietor" and invoice.buyer_name == "Jansen Advies"
    assert lines == [("Business, base fee November 2026", D(1), D(99), D("99.00"))]


def test_a_month_that_has_not_begun_is_not_billed(database: Database) -> None:
    with pytest.raises(Invalid, match="has not begun"):
        service.run(database, date(2026, 12, 1), settings=SETTINGS, today=date(2026, 11, 30))
    with database.unit_of_work("contract", SYSTEM) as session:
        assert session.scalars(select(Invoice)).all() == []
