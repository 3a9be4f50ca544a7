"""Finalising, numbering, credit notes, documents, e-mail, the legal hold, and both databases
giving the same invoices."""

from __future__ import annotations

import threading
import uuid
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from sqlalchemy import select
from tests.billing.helpers import make_service, record_usage, standard_catalogue
from tests.factories import SYSTEM, make_customer
from tests.users.test_mail import Inbox

from lawful.billing import catalogue, invoices, service
from lawful.billing.invoices import CreditRequest, credit, document_of, documents, lines_of
from lawful.billing.models import Invoice, InvoiceDocumentFile, InvoiceLine, InvoiceStatus, InvoiceType
from lawful.billing.rating import cents, from_cents
from lawful.billing.ubl import to_ubl
from lawful.billing.validation import validate_ubl
from lawful.customers.models import Customer
from lawful.data.db import Database
from lawful.data.migrate import upgrade
from lawful.data.purpose import Actor
from lawful.errors import Conflict, Invalid, PurposeViolation
from lawful.mail.models import OutboundMail
from lawful.mail.service import SmtpMailer, deliver_pending
from lawful.policy.model import Policy
from lawful.retention.holds import held_until, hold_of
from lawful.settings import Settings

SETTINGS = Settings()
OCT = date(2026, 10, 1)
ISSUED = date(2026, 11, 4)


def drafts(db: Database, customers: int, *, plan: str = "business", country: str = "NL") -> list[uuid.UUID]:
    """``customers`` customers on ``plan`` since September, with some October usage, drafted."""
    plans = standard_catalogue(db)
    api = make_service(db)
    ids = []
    for i in range(customers):
        customer, _ = make_customer(
            db, legal_name=f"Klant {i:03d} B.V.", billing_email=f"ap{i}@klant.example"
        )
        with db.unit_of_work("contract", SYSTEM) as session:
            row = session.get(type(customer), customer.id)
            assert row is not None
            row.country = country
            row.vat_number = {"DE": "DE136695976", "NL": "NL004495445B01"}.get(country)
            catalogue.subscribe(session, customer.id, plans[plan].id, starts_on=date(2026, 9, 1))
        record_usage(
            db, api, customer.id, code="api.call", day=date(2026, 10, 2 + i % 20), count=100 * (i + 1)
        )
        record_usage(db, api, customer.id, code="storage", day=date(2026, 10, 3), value=f"{i * 3}.5")
        ids.append(customer.id)
    service.run(db, OCT, settings=SETTINGS)
    return ids


def draft_ids(db: Database) -> list[uuid.UUID]:
    with db.unit_of_work("contract", SYSTEM) as session:
        return invoices.drafts_of(session)


def finalise_one(db: Database, invoice_id: uuid.UUID) -> str:
    with db.unit_of_work("contract", SYSTEM) as session:
        return (
            invoices.finalise(session, invoice_id, today=ISSUED, actor="tests", settings=SETTINGS).number
            or ""
        )


def test_finalising_numbers_consecutively_and_never_changes_an_invoice_again(database: Database) -> None:
    drafts(database, 3)
    ids = draft_ids(database)
    with database.unit_of_work("contract", SYSTEM) as session:
        with pytest.raises(Invalid, match="not complete"):
            invoices.finalise(session, ids[0], today=date(2026, 10, 31), actor="t", settings=SETTINGS)
    numbers = [finalise_one(database, i) for i in ids]
    assert numbers == ["2026-000001", "2026-000002", "2026-000003"]
    with pytest.raises(Conflict, match="cannot change"):
        finalise_one(database, ids[0])
    with database.unit_of_work("contract", SYSTEM) as session:
        invoice = session.get(Invoice, ids[0])
        assert invoice is not None
        assert (invoice.issue_date, invoice.due_date, invoice.supply_date) == (
            ISSUED,
            date(2026, 11, 18),
            date(2026, 10, 31),
        )
        assert {line.issue_date for line in lines_of(session, invoice.id)} == {ISSUED}


def test_numbers_never_skip_or_repeat_under_concurrent_finalisation(database: Database) -> None:
    drafts(database, 12, plan="starter")
    ids = draft_ids(database)
    assert len(ids) == 12
    results: list[str] = []
    conflicts: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def worker(k: int) -> None:
        barrier.wait()
        # every worker tries every invoice, each starting at a different one: all collide
        for invoice_id in ids[k * 2 :] + ids[: k * 2]:
            try:
                number = finalise_one(database, invoice_id)
            except Conflict as exc:
                with lock:
                    conflicts.append(str(exc))
                continue
            with lock:
                results.append(number)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(results) == [f"2026-{n:06d}" for n in range(1, 13)]
    assert len(conflicts) == 12 * 5
    with database.unit_of_work("contract", SYSTEM) as session:
        assert invoices.finalised_numbers(session, "2026") == list(range(1, 13))


@pytest.fixture(scope="module")
def fourteen_drafts(tmp_path_factory: pytest.TempPathFactory, policy: Policy) -> Path:
    """A SQLite file with 14 October drafts, copied for each example."""
    path = tmp_path_factory.mktemp("drafts") / "lawful.db"
    upgrade(f"sqlite:///{path}")
    db = Database(f"sqlite:///{path}", policy)
    try:
        drafts(db, 14, plan="starter")
    finally:
        db.dispose()
    return path


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.sampled_from(["finalise", "fail", "credit", "partial"]), min_size=1, max_size=14))
def test_numbers_stay_gapless_whatever_happens_between_them(
    fourteen_drafts: Path, policy: Policy, tmp_path_factory: pytest.TempPathFactory, steps: list[str]
) -> None:
    path = tmp_path_factory.mktemp("numbers") / "lawful.db"
    path.write_bytes(fourteen_drafts.read_bytes())
    db = Database(f"sqlite:///{path}", policy)
    try:
        pending = draft_ids(db)
        finalised: list[uuid.UUID] = []
        credited = 0
        for step in steps:
            if step == "fail":  # a finalisation that fails after taking its number gives it back
                with pytest.raises(RuntimeError), db.unit_of_work("contract", SYSTEM) as session:
                    invoices.finalise(session, pending[0], today=ISSUED, actor="t", settings=SETTINGS)
                    raise RuntimeError("the mail server said no")
            elif step == "finalise" or not finalised:
                finalise_one(db, pending[0])
                finalised.append(pending.pop(0))
            else:
                amount = D("0.01") if step == "partial" else None
                try:
                    with db.unit_of_work("contract", SYSTEM) as session:
                        credit(
                            session,
                            finalised[-1],
                            CreditRequest("test", amount),
                            today=ISSUED,
                            actor="t",
                            settings=SETTINGS,
                        )
                    credited += 1
                except (Conflict, Invalid):
                    pass  # refused (credited already): rolled back, no number used
        with db.unit_of_work("legal_obligation", SYSTEM) as session:
            assert invoices.finalised_numbers(session, "2026") == list(range(1, len(finalised) + 1))
            assert invoices.finalised_numbers(session, "C2026") == list(range(1, credited + 1))
    finally:
        db.dispose()


@settings(max_examples=30, deadline=None)
@given(
    amounts=st.lists(st.integers(min_value=-5_000, max_value=2_000_000), min_size=1, max_size=12),
    rate=st.sampled_from([D(0), D(9), D(21), D("5.5")]),
)
def test_a_total_is_the_sum_of_its_lines_plus_vat(amounts: list[int], rate: D) -> None:
    from lawful.billing.models import LineKind, VatTreatment
    from lawful.billing.run import Buyer, Draft, LineDraft
    from lawful.billing.vat import VatDecision

    draft = Draft(
        uuid.uuid4(),
        Buyer("company", "X", "", "", "", "NL", None, None),
        VatDecision(VatTreatment.standard, rate, "t"),
        "EUR",
        [
            LineDraft(
                LineKind.usage, None, None, OCT, OCT, "x", "", "C62", D(1), from_cents(a), from_cents(a)
            )
            for a in amounts
        ],
    )
    assert draft.net == sum((from_cents(a) for a in amounts), D(0))
    assert draft.total == draft.net + draft.vat_amount
    assert draft.vat_amount == cents(draft.net * rate / 100)


def test_stored_invoices_add_up(database: Database) -> None:
    drafts(database, 4)
    for invoice_id in draft_ids(database):
        finalise_one(database, invoice_id)
    with database.unit_of_work("legal_obligation", SYSTEM) as session:
        for invoice in session.scalars(select(Invoice)):
            lines = lines_of(session, invoice.id)
            assert invoice.net_cents == sum(line.amount_cents for line in lines)
            assert invoice.total_cents == invoice.net_cents + invoice.vat_cents
            assert invoice.vat_cents == int(cents(from_cents(invoice.net_cents) * D("0.21")) * 100)
            for line in lines:  # quantity × unit price = amount, as EN 16931 checks it
                assert cents(D(line.quantity_micros) * D(line.unit_price_micros) / 10**12) == from_cents(
                    line.amount_cents
                )


def test_credit_notes_correct_without_editing(database: Database) -> None:
    drafts(database, 1, country="DE")
    (invoice_id,) = draft_ids(database)
    finalise_one(database, invoice_id)
    with database.unit_of_work("contract", SYSTEM) as session:
        original = session.get(Invoice, invoice_id)
        assert original is not None and original.vat_cents == 0  # reverse charge
        before = (original.net_cents, original.total_cents, original.number)
        partial = credit(
            session,
            invoice_id,
            CreditRequest("two seats too many", D("16.00")),
            today=ISSUED,
            actor="t",
            settings=SETTINGS,
        )
        assert (partial.number, partial.type, partial.net_cents) == (
            "C2026-000001",
            InvoiceType.credit_note,
            1600,
        )
        with pytest.raises(Invalid, match="uncredited"):
            credit(
                session,
                invoice_id,
                CreditRequest("too much", from_cents(original.net_cents)),
                today=ISSUED,
                actor="t",
                settings=SETTINGS,
            )
        with pytest.raises(Conflict, match="credited already"):
            credit(
                session, invoice_id, CreditRequest("all", None), today=ISSUED, actor="t", settings=SETTINGS
            )
        with pytest.raises(Invalid, match="reason"):
            credit(session, invoice_id, CreditRequest("  ", D(1)), today=ISSUED, actor="t", settings=SETTINGS)
        rest = credit(
            session,
            invoice_id,
            CreditRequest("the rest", from_cents(original.net_cents - 1600)),
            today=ISSUED,
            actor="t",
            settings=SETTINGS,
        )
        assert rest.number == "C2026-000002"
        session.refresh(original)
        assert (original.net_cents, original.total_cents, original.number) == before
        document = document_of(session, partial, policy=database.policy, settings=SETTINGS)
        assert document.preceding_number == original.number
        assert "Reverse charge / btw verlegd" in document.notes
        validate_ubl(to_ubl(document))
        draft = session.scalars(select(Invoice).where(Invoice.status == InvoiceStatus.draft)).first()
        assert draft is None


def test_the_legal_hold_comes_from_the_policy(database: Database) -> None:
    drafts(database, 2)
    first, second = draft_ids(database)
    finalise_one(database, first)
    table = Invoice.__table__
    with database.unit_of_work("legal_obligation", SYSTEM) as session:
        finalised = session.get(Invoice, first)
        draft = session.get(Invoice, second)
        assert finalised is not None and draft is not None
        hold = hold_of(database.policy, table, finalised.issue_date)
        assert (hold.held, hold.until, hold.purpose) == (True, date(2033, 12, 31), "legal_obligation")
        assert "AWR art. 52" in hold.why
        assert hold_of(database.policy, table, draft.issue_date).held is False
        assert hold_of(database.policy, InvoiceLine.__table__, ISSUED).until == date(2033, 12, 31)
        assert held_until(database.policy, table, ISSUED, date(2033, 12, 31)).held is False
        assert held_until(database.policy, table, ISSUED, date(2033, 12, 30)).held is True


def test_invoices_cannot_be_read_under_another_purpose(database: Database) -> None:
    drafts(database, 1)
    with (
        pytest.raises(PurposeViolation, match="user.financial"),
        database.unit_of_work("monitoring", SYSTEM) as session,
    ):
        session.execute(select(Invoice.total_cents)).all()
    with pytest.raises(PurposeViolation), database.unit_of_work("accountability", SYSTEM) as session:
        session.execute(select(InvoiceLine.amount_cents)).all()
    with pytest.raises(PurposeViolation, match="may not act"):
        database.session("monitoring", Actor.staff(uuid.uuid4(), "finance"))


def test_a_finalised_invoice_is_mailed_with_its_pdf(
    database: Database,
    smtp: tuple[Inbox, int],
) -> None:
    inbox, port = smtp
    drafts(database, 1)
    (invoice_id,) = draft_ids(database)
    number = finalise_one(database, invoice_id)
    config = SETTINGS.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False})
    sources = [invoices.invoice_attachments(database.policy, config)]
    sent = deliver_pending(database, SmtpMailer(config), sender=config.mail_from, attachments=sources)
    assert sent == 1
    ((recipients, message),) = inbox.messages
    assert recipients == ["ap0@klant.example"]
    assert message["Subject"] == f"Invoice {number}"
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == f"{number}.pdf"
    pdf = attachment.get_content()
    assert pdf.startswith(b"%PDF")
    with database.unit_of_work("legal_obligation", SYSTEM) as session:
        stored = session.get(InvoiceDocumentFile, invoice_id)
        assert stored is not None and stored.pdf == pdf  # the document kept is the document sent
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        assert documents(session, invoice, policy=database.policy, settings=config).pdf == pdf
    import io

    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert number in text
    assert f"{from_cents(invoice.total_cents):,.2f}" in text


def test_mail_whose_attachment_cannot_be_made_is_not_sent(
    database: Database, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    drafts(database, 1)
    finalise_one(database, draft_ids(database)[0])
    config = SETTINGS.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False})
    assert deliver_pending(database, SmtpMailer(config), sender=config.mail_from) == 0
    assert inbox.messages == []
    with database.unit_of_work("contract", SYSTEM) as session:
        (mail,) = session.scalars(select(OutboundMail)).all()
        assert mail.last_error is not None and "attachment" in mail.last_error


def _canonical(db: Database) -> list[tuple[object, ...]]:
    """Every invoice with its lines and UBL, without the ids that differ between databases."""
    rows: list[tuple[object, ...]] = []
    with db.unit_of_work("legal_obligation", SYSTEM) as session:
        for invoice in session.scalars(
            select(Invoice).order_by(Invoice.buyer_name, Invoice.type, Invoice.period)
        ):
            lines = tuple(
                (
                    x.position,
                    x.kind,
                    x.description,
                    x.detail,
                    x.quantity_micros,
                    x.unit_price_micros,
                    x.amount_cents,
                    x.vat_rate_bp,
                )
                for x in lines_of(session, invoice.id)
            )
            ubl = b""
            if invoice.status is InvoiceStatus.finalised:
                ubl = to_ubl(document_of(session, invoice, policy=db.policy, settings=SETTINGS))
                ubl = ubl.replace(str(invoice.customer_id).encode(), b"CUSTOMER")
            rows.append(
                (
                    invoice.buyer_name,
                    invoice.type,
                    invoice.status,
                    invoice.number,
                    invoice.issue_date,
                    invoice.net_cents,
                    invoice.vat_cents,
                    invoice.total_cents,
                    invoice.vat_treatment,
                    lines,
                    ubl,
                )
            )
    return rows


def _scenario(db: Database) -> None:
    drafts(db, 5)
    for invoice_id in draft_ids(db):
        finalise_one(db, invoice_id)
    with db.unit_of_work("contract", SYSTEM) as session:
        first = session.scalars(select(Invoice).where(Invoice.number == "2026-000002")).one()
        credit(
            session,
            first.id,
            CreditRequest("goodwill", D("12.34")),
            today=ISSUED,
            actor="t",
            settings=SETTINGS,
        )
    service.run(db, date(2026, 11, 1), settings=SETTINGS)


@pytest.mark.postgres
def test_sqlite_and_postgresql_make_identical_invoices(
    sqlite_db: Database, postgres_url: str, policy: Policy
) -> None:
    from tests.conftest import _empty

    postgres = Database(postgres_url, policy)
    try:
        _scenario(sqlite_db)
        _scenario(postgres)
        on_sqlite, on_postgres = _canonical(sqlite_db), _canonical(postgres)
        assert len(on_sqlite) == 11  # 5 October invoices, 1 credit note, 5 November drafts
        assert on_sqlite == on_postgres
    finally:
        _empty(postgres)
        postgres.dispose()


def test_a_finalised_invoice_keeps_the_buyer_as_it_was_and_a_draft_follows_changes(
    database: Database,
) -> None:
    drafts(database, 2)
    first, second = draft_ids(database)
    finalise_one(database, first)
    with database.unit_of_work("contract", SYSTEM) as session:
        invoice = session.get(Invoice, first)
        draft = session.get(Invoice, second)
        assert invoice is not None and draft is not None
        for customer_id in (invoice.customer_id, draft.customer_id):
            customer = session.get(Customer, customer_id)
            assert customer is not None
            customer.legal_name, customer.street, customer.city = "Renamed B.V.", "Nieuwe Weg 2", "Delft"
    service.run(database, OCT, settings=SETTINGS)
    with database.unit_of_work("legal_obligation", SYSTEM) as session:
        invoice = session.get(Invoice, first)
        draft = session.get(Invoice, second)
        assert invoice is not None and draft is not None
        assert (invoice.buyer_name, invoice.buyer_street, invoice.buyer_city) == (
            "Klant 000 B.V.",
            "Kerkstraat 1",
            "Amsterdam",
        )
        assert (draft.buyer_name, draft.buyer_city) == ("Renamed B.V.", "Delft")


def test_a_reverse_charge_invoice_from_a_real_run_as_pdf_and_ubl(database: Database) -> None:
    import io

    drafts(database, 1, country="DE")
    (invoice_id,) = draft_ids(database)
    number = finalise_one(database, invoice_id)
    with database.unit_of_work("legal_obligation", SYSTEM) as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        stored = documents(session, invoice, policy=database.policy, settings=SETTINGS)
        lines = lines_of(session, invoice_id)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(stored.pdf)).pages)
    assert number in text
    assert "Reverse charge / btw verlegd" in text
    assert "DE136695976" in text  # the buyer's VAT number, as reverse charge requires
    assert "NL004495445B01" in text  # the seller's
    total = from_cents(invoice.total_cents)
    assert invoice.vat_cents == 0 and f"{total:,.2f}" in text
    for line in lines:
        assert f"{from_cents(line.amount_cents):,.2f}" in text
    validate_ubl(stored.ubl)
    assert b"VATEX-EU-AE" in stored.ubl and b"DE136695976" in stored.ubl
