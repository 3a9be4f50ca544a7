"""Erasure end to end, for each kind of person, on both databases."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select
from tests.factories import make_staff
from tests.rights.world import SETTINGS, build, where_found
from tests.users.test_mail import Inbox
from tests.users.test_mail import smtp as smtp

from lawful.billing import invoices
from lawful.billing.models import Invoice
from lawful.data.db import Database
from lawful.data.log import ProcessingRecord
from lawful.data.purpose import Actor
from lawful.errors import PurposeViolation
from lawful.mail.service import SmtpMailer, deliver_pending
from lawful.rights import service
from lawful.rights.erasure import ErasureResult, erase
from lawful.rights.models import SealedRecord, SubjectKind
from lawful.rights.subjects import Subject
from lawful.users.models import StaffRole

ACTOR = Actor.system("tests:erasure")


def test_erasing_a_user_leaves_their_identifiers_nowhere(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world = build(database, invoices=False)
    assert set(where_found(database, world.user.identifiers)) == set(world.user.identifiers)
    result = erase(database, Subject(SubjectKind.user, world.user.id), actor=ACTOR)
    assert result is not None
    assert where_found(database, world.user.identifiers) == {}
    # the other customer's user keeps everything
    assert set(where_found(database, world.other_user.identifiers)) == set(world.other_user.identifiers)
    erased = {(e["table"], e["action"]) for e in result.as_dict()["erased"]}
    assert ("users", "deleted") in erased and ("login_records", "deleted") in erased
    assert ("support_contacts", "anonymised") in erased
    for needle in world.user.identifiers:
        assert needle not in caplog.text


def test_erasing_a_sole_proprietor_keeps_only_the_sealed_invoice_records(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    world = build(database)
    result = erase(database, Subject(SubjectKind.sole_proprietor, world.customer.id), actor=ACTOR)
    assert result is not None
    found = where_found(
        database, world.customer.identifiers + world.user.identifiers + world.contact.identifiers
    )
    assert found, "the invoice's buyer must be kept for tax law"
    assert all(tables == {"sealed_records"} for tables in found.values()), found
    kept = result.as_dict()["kept"]
    assert any(k["table"] == "invoices" and k["until"] == "2033-12-31" for k in kept), kept
    for purpose in ("contract", "accountability", "monitoring"):
        with pytest.raises(PurposeViolation), database.unit_of_work(purpose, ACTOR) as session:
            session.scalars(select(SealedRecord)).all()
    with database.unit_of_work("legal_obligation", ACTOR) as session:
        sealed = session.scalars(select(SealedRecord)).all()
    assert any("Jan de Vries Advies" in s.values for s in sealed)
    for needle in world.customer.identifiers + world.user.identifiers + world.contact.identifiers:
        assert needle.lower() not in caplog.text.lower()


def test_erasing_a_contact_person(database: Database) -> None:
    world = build(database, invoices=False)
    assert set(where_found(database, world.contact.identifiers)) == set(world.contact.identifiers)
    result = erase(database, Subject(SubjectKind.contact_person, world.contact.id), actor=ACTOR)
    assert result is not None
    assert where_found(database, world.contact.identifiers) == {}
    assert set(where_found(database, world.user.identifiers)) == set(world.user.identifiers)
    assert erase(database, Subject(SubjectKind.contact_person, world.contact.id), actor=ACTOR) is None


def test_sealed_invoice_documents_are_for_the_tax_law_only(database: Database) -> None:
    world = build(database)
    with database.unit_of_work("legal_obligation", ACTOR) as session:
        invoice = invoices.get_invoice(session, world.invoice_ids[0])
        before = invoices.documents(session, invoice, policy=database.policy, settings=SETTINGS).pdf
    shop = [i for i in world.invoice_ids if _customer_of(database, i) == world.customer.id]
    assert erase(database, Subject(SubjectKind.sole_proprietor, world.customer.id), actor=ACTOR) is not None
    with database.unit_of_work("legal_obligation", ACTOR) as session:
        invoice = invoices.get_invoice(session, shop[0])
        assert invoice.buyer_name == "(erased)"
        kept = invoices.documents(session, invoice, policy=database.policy, settings=SETTINGS)
        assert kept.pdf.startswith(b"%PDF") and world.customer.identifiers[1].encode() in kept.ubl
    if shop[0] == world.invoice_ids[0]:
        assert kept.pdf == before
    with pytest.raises(PurposeViolation), database.unit_of_work("contract", ACTOR) as session:
        invoice = invoices.get_invoice(session, shop[0])
        invoices.documents(session, invoice, policy=database.policy, settings=SETTINGS)
    # the books still add up: amounts stay on the invoice, readable for the revenue report
    with database.unit_of_work("legal_obligation", ACTOR) as session:
        assert invoices.get_invoice(session, shop[0]).total_cents > 0


def test_erasure_is_logged_under_each_purpose_it_used(database: Database) -> None:
    world = build(database, invoices=False)
    erase(database, Subject(SubjectKind.user, world.user.id), actor=ACTOR)
    with database.unit_of_work("accountability", ACTOR) as session:
        rows = session.execute(
            select(ProcessingRecord.purpose, ProcessingRecord.operation, ProcessingRecord.table_name).where(
                ProcessingRecord.actor_id == "tests:erasure"
            )
        ).all()
    assert ("contract", "delete", "users") in {tuple(r) for r in rows}
    assert ("contract", "delete", "login_records") in {tuple(r) for r in rows}
    assert {r[0] for r in rows} >= {"contract", "accountability"}


def _customer_of(db: Database, invoice_id: object) -> object:
    with db.unit_of_work("contract", ACTOR) as session:
        return session.scalar(select(Invoice.customer_id).where(Invoice.id == invoice_id))


def test_an_erasure_request_end_to_end_answers_and_then_forgets_the_address(
    database: Database, smtp: tuple[Inbox, int]
) -> None:
    """Recorded by the privacy officer, confirmed by the link, carried out, answered by e-mail:
    afterwards the person's identifiers are nowhere, the answer's address included."""
    inbox, port = smtp
    world = build(database, invoices=False)
    config = SETTINGS.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False})
    officer = make_staff(database, role=StaffRole.privacy_officer, email="pia@lawful.example")
    as_officer = Actor.staff(officer.id, "privacy_officer")
    email = world.user.identifiers[0]
    request = service.record_request(
        database,
        officer=as_officer,
        kind="erasure",
        channel="email",
        email=email,
        name="Johan Smit",
        settings=config,
    )
    assert deliver_pending(database, SmtpMailer(config), sender=config.mail_from) >= 1
    (link,) = [
        m.get_content()
        for to, m in inbox.messages
        if to == [email] and "/rights/verify?token=" in m.get_content()
    ]
    token = link.split("/rights/verify?token=")[1].split()[0]
    assert service.verify(database, token) and not service.verify(database, token)
    done = service.complete(database, request.id, actor=as_officer)
    outcome = json.loads(done.outcome or "{}")
    assert {"table": "users", "action": "deleted"}.items() <= next(
        e for e in outcome["erased"] if e["table"] == "users"
    ).items()
    assert deliver_pending(database, SmtpMailer(config), sender=config.mail_from) >= 1
    answer = inbox.messages[-1]
    assert answer[0] == [email] and "We have erased your personal data" in answer[1].get_content()
    assert where_found(database, world.user.identifiers) == {}


def test_a_dry_run_says_exactly_what_erasure_does_and_changes_nothing(database: Database) -> None:
    world = build(database)
    subject = Subject(SubjectKind.sole_proprietor, world.customer.id)
    before = where_found(database, world.customer.identifiers)
    preview = erase(database, subject, actor=Actor.system("tests:preview"), dry_run=True)
    assert preview is not None
    assert where_found(database, world.customer.identifiers) == before
    with database.unit_of_work("accountability", ACTOR) as session:
        logged = session.execute(
            select(ProcessingRecord.operation).where(ProcessingRecord.actor_id == "tests:preview")
        ).scalars()
        assert set(logged) == {"read"}  # what was rolled back was not done
    done = erase(database, subject, actor=ACTOR)
    assert done is not None
    assert preview.as_dict()["erased"] == done.as_dict()["erased"]

    # the log grows by the dry run's own reads; everything else is the same
    def kept(result: ErasureResult) -> list[tuple[str, int, str | None]]:
        return [
            (k["table"], k["rows"], k["until"])
            for k in result.as_dict()["kept"]
            if k["table"] != "processing_log"
        ]

    assert kept(preview) == kept(done) and any(t == "invoices" for t, _, _ in kept(done))
