"""``lawful ropa`` lists the authorities of the register when there is a database, and renders the
policy alone when there is none (creating none) or it cannot be read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.authorities.helpers import disclose, make_officer, yesterday
from tests.factories import make_customer, make_user
from typer.testing import CliRunner

from lawful.cli import app
from lawful.data.db import Database
from lawful.rights.models import SubjectKind
from lawful.rights.subjects import Subject

runner = CliRunner()


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAWFUL_DATABASE_URL", raising=False)
    monkeypatch.delenv("LAWFUL_POLICY", raising=False)


def recipients(output: str) -> dict[str, dict[str, Any]]:
    record = json.loads(output)
    [activity] = [a for a in record["activities"] if a["purpose_key"] == "legal_obligation"]
    return {r["name"]: r for r in activity["recipients"]}


def test_the_record_lists_the_register_of_the_database(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    company, _ = make_customer(sqlite_db, contacts=0)
    user = make_user(sqlite_db, customer_id=company.id)
    disclose(
        sqlite_db,
        make_officer(sqlite_db),
        [Subject(SubjectKind.user, user.id)],
        authority="FIOD",
        authority_kind="authority",
    )
    assert sqlite_db.url.endswith(str(tmp_path / "lawful.db"))
    monkeypatch.setenv("LAWFUL_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, ["ropa"])
    assert result.exit_code == 0, result.output
    assert recipients(result.stdout)["FIOD"]["disclosed"]["first"] == yesterday().isoformat()
    csv_out = runner.invoke(app, ["ropa", "--format", "csv"])
    assert csv_out.exit_code == 0 and "FIOD (disclosed to once" in csv_out.stdout
    alone = runner.invoke(app, ["ropa", "--policy-only"])
    assert alone.exit_code == 0
    assert "FIOD" not in recipients(alone.stdout)


def test_without_a_database_the_policy_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAWFUL_DATA_DIR", str(tmp_path / "var"))
    result = runner.invoke(app, ["ropa"])
    assert result.exit_code == 0, result.output
    assert "register_of_disclosures" not in json.loads(result.stdout)["generated_from"]
    assert not (tmp_path / "var").exists()  # no database was created to read the register


def test_a_database_that_cannot_be_read_leaves_the_policy_alone_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lawful.db").write_bytes(b"")  # not migrated: no register in it
    monkeypatch.setenv("LAWFUL_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, ["ropa"])
    assert result.exit_code == 0, result.output
    assert "register_of_disclosures" not in json.loads(result.stdout)["generated_from"]
    assert "could not be read" in result.stderr
