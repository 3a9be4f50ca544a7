"""``lawful bill``: run, finalise, the daily job and document export from the command line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader
from tests.billing.helpers import make_service, record_usage, standard_catalogue
from tests.factories import SYSTEM, make_customer
from tests.users.test_mail import Inbox
from typer.testing import CliRunner

from lawful.billing.validation import ubl_schema_errors
from lawful.cli import app
from lawful.data.db import Database
from lawful.settings import Settings

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("LAWFUL_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("LAWFUL_DATABASE_URL", raising=False)
    monkeypatch.delenv("LAWFUL_POLICY", raising=False)
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    settings = Settings()
    database = Database(settings.url, settings.loaded_policy)
    plans = standard_catalogue(database)
    api = make_service(database)
    from lawful.billing import catalogue

    for i in range(3):
        customer, _ = make_customer(database, legal_name=f"Klant {i}")
        with database.unit_of_work("contract", SYSTEM) as session:
            catalogue.subscribe(session, customer.id, plans["starter"].id, starts_on=date(2026, 10, 1))
        record_usage(database, api, customer.id, code="api.call", day=date(2026, 10, 9), count=1500 + i)
    return database


def test_bill_run_twice_then_finalise_and_export(db: Database, tmp_path: Path) -> None:
    first = runner.invoke(app, ["bill", "run", "--period", "2026-10"])
    assert first.exit_code == 0, first.output
    assert "drafts created: 3" in first.output
    again = runner.invoke(app, ["bill", "run", "--period", "2026-10"])
    assert "drafts created: 0" in again.output and "drafts unchanged: 3" in again.output

    early = runner.invoke(app, ["bill", "finalise", "--period", "2026-10", "--today", "2026-10-20"])
    assert early.exit_code == 1
    assert "not complete" in early.output

    done = runner.invoke(app, ["bill", "finalise", "--period", "2026-10", "--today", "2026-11-03"])
    assert done.exit_code == 0, done.output
    assert "finalised: 3 (2026-000001 to 2026-000003)" in done.output

    pdf = tmp_path / "invoice.pdf"
    exported = runner.invoke(app, ["bill", "export", "2026-000002", "--out", str(pdf)])
    assert exported.exit_code == 0, exported.output
    assert "2026-000002" in PdfReader(pdf).pages[0].extract_text()
    xml = tmp_path / "invoice.xml"
    assert (
        runner.invoke(app, ["bill", "export", "2026-000002", "--format", "ubl", "-o", str(xml)]).exit_code
        == 0
    )
    assert ubl_schema_errors(xml.read_bytes()) == []

    missing = runner.invoke(app, ["bill", "export", "2026-000099", "--out", str(pdf)])
    assert missing.exit_code == 1 and "no finalised invoice" in missing.output


def test_bill_daily_drafts_during_grace_and_finalises_after(db: Database) -> None:
    during = runner.invoke(app, ["bill", "daily", "--today", "2026-11-02"])
    assert during.exit_code == 0, during.output
    assert "drafts created: 3" in during.output and "\nfinalised:" not in during.output
    after = runner.invoke(app, ["bill", "daily", "--today", "2026-11-04"])
    assert after.exit_code == 0, after.output
    assert "drafts unchanged: 3" in after.output and "finalised: 3" in after.output


@pytest.mark.parametrize("period", ["2026-13", "november", "1999-12"])
def test_bill_run_refuses_a_bad_period(db: Database, period: str) -> None:
    result = runner.invoke(app, ["bill", "run", "--period", period])
    assert result.exit_code == 1
    assert "error:" in result.output


def test_bill_finalise_sends_the_invoices_by_smtp(
    db: Database, smtp: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = smtp
    monkeypatch.setenv("LAWFUL_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LAWFUL_SMTP_PORT", str(port))
    monkeypatch.setenv("LAWFUL_SMTP_STARTTLS", "false")
    result = runner.invoke(app, ["bill", "run", "--period", "2026-10", "--finalise", "--today", "2026-11-02"])
    assert result.exit_code == 0, result.output
    assert "finalised: 3 (2026-000001 to 2026-000003)" in result.output
    assert "e-mails sent: 3" in result.output
    subjects = sorted(message["Subject"] for _, message in inbox.messages)
    assert subjects == ["Invoice 2026-000001", "Invoice 2026-000002", "Invoice 2026-000003"]
    for _, message in inbox.messages:
        (pdf,) = list(message.iter_attachments())
        assert pdf.get_content_type() == "application/pdf"
