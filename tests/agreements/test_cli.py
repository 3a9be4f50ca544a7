"""``lawful documents list | publish | diff`` on the embedded database."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lawful.cli import app as cli
from lawful.data.migrate import upgrade


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAWFUL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LAWFUL_DATABASE_URL", raising=False)
    monkeypatch.delenv("LAWFUL_TERMS", raising=False)
    upgrade(f"sqlite:///{(tmp_path / 'lawful.db').resolve()}")
    return tmp_path


def test_publish_then_a_changed_terms_file_is_a_new_version_with_its_diff(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    empty = runner.invoke(cli, ["documents", "list", "--kind", "terms"])
    assert empty.exit_code == 0 and "nothing is published yet" in empty.stdout
    terms = data_dir / "terms.md"
    terms.write_text("# Terms\n\nInvoices are due within fourteen days.\n", encoding="utf-8")
    monkeypatch.setenv("LAWFUL_TERMS", str(terms))
    first = runner.invoke(cli, ["documents", "publish"])
    assert first.exit_code == 0, first.output
    assert "terms of service:" in first.stdout and "published" in first.stdout
    again = runner.invoke(cli, ["documents", "publish"])
    assert again.exit_code == 0 and "unchanged" in again.stdout and "published," not in again.stdout
    no_earlier = runner.invoke(cli, ["documents", "diff", "--kind", "terms"])
    assert no_earlier.exit_code == 2 and "no earlier version" in no_earlier.output
    terms.write_text("# Terms\n\nInvoices are due within thirty days.\n", encoding="utf-8")
    assert runner.invoke(cli, ["documents", "publish"]).exit_code == 0
    listed = runner.invoke(cli, ["documents", "list", "--kind", "terms"])
    assert listed.exit_code == 0 and listed.stdout.count("UTC") == 2
    changed = runner.invoke(cli, ["documents", "diff", "--kind", "terms"])
    assert changed.exit_code == 0, changed.output
    assert "- Invoices are due within fourteen days." in changed.stdout
    assert "+ Invoices are due within thirty days." in changed.stdout
    unknown = runner.invoke(cli, ["documents", "diff", "--kind", "terms", "--to", "ffffffff"])
    assert unknown.exit_code == 2 and "no published version" in unknown.output
