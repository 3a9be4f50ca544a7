"""The `lawful` command: renderers, policy failures, migrate and demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from fideslang.parse import parse_dict
from typer.testing import CliRunner

from lawful.cli import app
from lawful.data.db import Database
from lawful.policy.loader import default_policy_path, load_policy

runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAWFUL_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("LAWFUL_DATABASE_URL", raising=False)
    monkeypatch.delenv("LAWFUL_POLICY", raising=False)
    return tmp_path


def bad_policy(tmp_path: Path, old: str, new: str) -> Path:
    text = default_policy_path().read_text()
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_statement_markdown_and_html() -> None:
    policy = load_policy()
    md = runner.invoke(app, ["statement"])
    assert md.exit_code == 0, md.output
    html = runner.invoke(app, ["statement", "--format", "html"])
    assert html.exit_code == 0, html.output
    assert html.stdout.lstrip().lower().startswith("<!doctype html")
    for purpose in policy.public_purposes:
        assert purpose.title in md.stdout and purpose.title in html.stdout


def test_ropa_json_has_every_purpose() -> None:
    result = runner.invoke(app, ["ropa", "--format", "json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert [a["purpose_key"] for a in record["activities"]] == load_policy().keys


def test_ropa_refuses_an_unknown_format() -> None:
    result = runner.invoke(app, ["ropa", "--format", "xml"])
    assert result.exit_code == 2
    assert "xml" in result.output


def test_datamap_loads_with_fideslang() -> None:
    result = runner.invoke(app, ["datamap"])
    assert result.exit_code == 0, result.output
    manifest = yaml.safe_load(result.stdout)
    for kind in ("system", "dataset"):
        for resource in manifest[kind]:
            assert parse_dict(kind, resource).fides_key


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ('key = "user.contact.phone_number"', 'key = "user.contact.telephone"', "user.contact.telephone"),
        ('legal_basis = "contract"', 'legal_basis = "because_we_can"', "because_we_can"),
    ],
)
@pytest.mark.parametrize("command", ["statement", "ropa", "datamap", "check"])
def test_a_bad_policy_fails_every_command_with_a_clear_message(
    tmp_path: Path, command: str, old: str, new: str, named: str
) -> None:
    path = bad_policy(tmp_path, old, new)
    result = runner.invoke(app, [command, "--policy", str(path)])
    assert result.exit_code == 1
    assert str(path) in result.output and "'contract'" in result.output and named in result.output
    assert "Traceback" not in result.output


def test_the_policy_comes_from_the_environment_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = bad_policy(
        tmp_path,
        'title = "To monitor the use of our services"',
        'title = "To watch how our services are used"',
    )
    monkeypatch.setenv("LAWFUL_POLICY", str(path))
    result = runner.invoke(app, ["statement"])
    assert result.exit_code == 0
    assert "To watch how our services are used" in result.stdout
    assert "To monitor the use of our services" not in result.stdout


def test_check_accepts_the_default_policy() -> None:
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert "the schema agrees" in result.stdout


def test_migrate_then_demo_loads_customers(isolated: Path) -> None:
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert (isolated / "var" / "lawful.db").exists()
    result = runner.invoke(app, ["demo", "--customers", "12", "--no-serve", "--traffic", "2000"])
    assert result.exit_code == 0, result.output
    assert "12 customers created" in result.output
    again = runner.invoke(app, ["demo", "--customers", "12", "--no-serve", "--traffic", "2000"])
    assert "already loaded" in again.output
    db = Database(f"sqlite:///{isolated / 'var' / 'lawful.db'}", load_policy())
    from tests.factories import SYSTEM

    from lawful.customers import repository

    with db.unit_of_work("contract", SYSTEM) as session:
        assert repository.count(session) == 12
    db.dispose()


def test_migrate_reports_an_unreachable_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAWFUL_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 1
    assert "migration failed" in result.output and "Traceback" not in result.output
