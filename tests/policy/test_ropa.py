"""The GDPR art. 30(1) record of processing activities holds every field for every purpose."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from lawful.policy.loader import load_policy, policy_hash
from lawful.policy.model import LegalBasis, Policy
from lawful.policy.render import render_ropa, ropa_record


@pytest.fixture(scope="module")
def record(policy: Policy) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(render_ropa(policy, "json"))
    return parsed


def test_json_is_the_record(policy: Policy, record: dict[str, Any]) -> None:
    assert record == ropa_record(policy)


def test_a_controller_name_and_contact_details(policy: Policy, record: dict[str, Any]) -> None:
    controller = record["controller"]
    org = policy.organisation
    assert controller["name"] == org.name
    assert controller["address"] == org.address
    assert controller["email"] == org.email
    assert controller["phone"] == org.phone
    assert "representative" in controller and "dpo" in controller
    assert record["generated_from"] == {
        "version": policy.version,
        "effective": policy.effective.isoformat(),
        "hash": policy_hash(policy),
    }


def test_one_activity_per_purpose(policy: Policy, record: dict[str, Any]) -> None:
    assert [a["purpose_key"] for a in record["activities"]] == policy.keys


def test_b_to_g_for_every_purpose(policy: Policy, record: dict[str, Any]) -> None:
    for p, a in zip(policy.purposes, record["activities"], strict=True):
        # (b) purposes
        assert a["purpose"] == p.title and a["description"] and a["section"] == p.section
        assert a["legal_basis"] == {
            "key": p.legal_basis.value,
            "label": p.legal_basis.label,
            "article": p.legal_basis.article,
            "explanation": p.basis_explanation,
        }
        assert [u["key"] for u in a["data_uses"]] == p.data_uses
        # (c) categories of data subjects and of personal data
        assert [s["key"] for s in a["data_subjects"]] == p.data_subjects
        assert all(s["name"] and s["description"] for s in a["data_subjects"])
        categories = a["personal_data_categories"]
        assert [c["key"] for c in categories] == [c.key for c in p.categories]
        assert [c["label"] for c in categories] == [c.label for c in p.categories]
        assert all(c["subjects"] and set(c["subjects"]) <= set(p.data_subjects) for c in categories)
        # (d) recipients
        assert isinstance(a["recipients"], list)
        assert [r["name"] for r in a["recipients"]] == [r.name for r in p.recipients]
        # (e) transfers to third countries
        assert isinstance(a["third_country_transfers"], list)
        assert len(a["third_country_transfers"]) == len(p.transfers)
        assert a["third_country_transfers_note"]
        # (f) time limits for erasure, per category
        limits = {t["category"]: t for t in a["time_limits_for_erasure"]}
        assert list(limits) == [c.key for c in p.categories]
        for c in p.categories:
            assert limits[c.key]["period"] == c.retention.period
            assert limits[c.key]["trigger"] == c.retention.trigger.value
            assert limits[c.key]["description"] == c.retention.phrase
        # (g) security measures
        assert a["security_measures"] == p.measures and a["security_measures"]


def test_legitimate_interest_carries_its_assessment(policy: Policy, record: dict[str, Any]) -> None:
    seen = 0
    for p, a in zip(policy.purposes, record["activities"], strict=True):
        lia = a["legitimate_interest_assessment"]
        if p.legal_basis is LegalBasis.legitimate_interests:
            assert p.assessment is not None
            assert lia["interest"] == p.assessment.interest
            assert lia["necessity"] == p.assessment.necessity
            assert lia["balancing"] == p.assessment.balancing
            seen += 1
        else:
            assert lia is None
    assert seen, "the default policy has a legitimate-interest purpose"


def test_recipients_of_the_legal_obligation(record: dict[str, Any], policy: Policy) -> None:
    (a,) = [a for a in record["activities"] if a["purpose_key"] == "legal_obligation"]
    names = {r["name"] for r in a["recipients"]}
    assert {"government agencies", "regulatory authorities"} <= names
    assert {r.kind for r in policy.purpose("legal_obligation").recipients} == {
        r["kind"] for r in a["recipients"]
    }


def test_a_transfer_is_recorded(edit_policy: Callable[..., Path]) -> None:
    path = edit_policy(
        append='\n[[purposes.monitoring.transfers]]\ncountry = "US"\n'
        'recipient = "Example Analytics Inc."\nsafeguard = "standard contractual clauses"\n'
    )
    record = ropa_record(load_policy(path))
    by_key = {a["purpose_key"]: a for a in record["activities"]}
    assert by_key["monitoring"]["third_country_transfers"] == [
        {"country": "US", "recipient": "Example Analytics Inc.", "safeguard": "standard contractual clauses"}
    ]
    assert by_key["contract"]["third_country_transfers"] == []
    assert (
        by_key["monitoring"]["third_country_transfers_note"]
        != by_key["contract"]["third_country_transfers_note"]
    )
    rows = list(csv.DictReader(io.StringIO(render_ropa(load_policy(path), "csv"))))
    assert all(
        "Example Analytics Inc." in r["third_country_transfers"]
        for r in rows
        if r["purpose_key"] == "monitoring"
    )
    assert not any(
        "Example Analytics Inc." in r["third_country_transfers"]
        for r in rows
        if r["purpose_key"] != "monitoring"
    )


def test_a_dpo_is_recorded(default_text: str, tmp_path: Path) -> None:
    path = tmp_path / "dpo.toml"
    path.write_text(
        default_text.replace(
            "[organisation.supervisory_authority]",
            '[organisation.dpo]\nname = "Dana Officer"\nemail = "dpo@example.com"\n\n[organisation.supervisory_authority]',
        ),
        encoding="utf-8",
    )
    controller = ropa_record(load_policy(path))["controller"]
    assert controller["dpo"]["name"] == "Dana Officer" and controller["dpo"]["email"] == "dpo@example.com"
    assert controller["representative"] is None


def test_csv_has_a_row_per_purpose_and_category(policy: Policy) -> None:
    rows = list(csv.DictReader(io.StringIO(render_ropa(policy, "csv"))))
    expected = [(p.key, c.key) for p in policy.purposes for c in p.categories]
    assert [(r["purpose_key"], r["category_key"]) for r in rows] == expected
    for column in (
        "controller",
        "purpose",
        "legal_basis",
        "data_subjects",
        "category",
        "retention",
        "recipients",
        "third_country_transfers",
        "security_measures",
    ):
        assert all(r[column] for r in rows), f"empty {column}"
    for r in rows:
        p = policy.purpose(r["purpose_key"])
        c = p.category(r["category_key"])
        assert c is not None
        assert r["purpose"] == p.title and r["category"] == c.label
        assert r["legal_basis"] == p.legal_basis.label and r["retention"] == c.retention.phrase
        assert r["security_measures"].splitlines() == p.measures
        assert policy.organisation.name in r["controller"]
        for recipient in p.recipients:
            assert recipient.name in r["recipients"]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)


def test_html_has_a_table_per_purpose(policy: Policy) -> None:
    page = render_ropa(policy, "html")
    assert page.lstrip().lower().startswith("<!doctype html>")
    parser = _Text()
    parser.feed(page)
    text = "".join(parser.chunks)
    assert parser.tags.count("table") >= len(policy.purposes) + 1
    assert policy.organisation.name in text
    for p in policy.purposes:
        assert p.title in text
        for c in p.categories:
            assert c.label in text and c.retention.phrase in text
        for m in p.measures:
            assert m in text


def test_html_escapes_policy_strings(default_text: str, tmp_path: Path) -> None:
    path = tmp_path / "evil.toml"
    path.write_text(
        default_text.replace('label = "phone number"', 'label = "phone <script>x()</script>"'),
        encoding="utf-8",
    )
    page = render_ropa(load_policy(path), "html")
    assert "<script>" not in page and "phone &lt;script&gt;x()&lt;/script&gt;" in page


def test_unknown_format_is_refused(policy: Policy) -> None:
    with pytest.raises(ValueError, match="xml"):
        render_ropa(policy, "xml")  # type: ignore[arg-type]
