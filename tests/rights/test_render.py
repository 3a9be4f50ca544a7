"""The readable access report: every table and personal column of the package is in the HTML,
with the policy's labels, the purposes, the log, the disclosures, the monitoring, the rights and
the authority to complain to; the values are escaped; the PDF is a PDF with the person's data."""

from __future__ import annotations

import copy
import html
import io
import re
from typing import Any

import pytest
from pypdf import PdfReader
from tests.factories import SYSTEM
from tests.rights.world import World, build

from lawful.data.db import Database
from lawful.policy.model import Policy
from lawful.rights import access
from lawful.rights.models import SubjectKind
from lawful.rights.render import show, to_html, to_pdf
from lawful.rights.subjects import Subject


@pytest.fixture(scope="module")
def packages(
    policy: Policy, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Any
) -> dict[str, dict[str, Any]]:
    """The access packages of the world's user, sole proprietor and contact person (built once)."""
    path = tmp_path_factory.mktemp("render") / "lawful.db"
    path.write_bytes(sqlite_template.read_bytes())
    db = Database(f"sqlite:///{path}", policy)
    try:
        world: World = build(db)
        found = {
            kind.value: access.package(db, Subject(kind, person.id), actor=SYSTEM)
            for kind, person in (
                (SubjectKind.user, world.user),
                (SubjectKind.sole_proprietor, world.customer),
                (SubjectKind.contact_person, world.contact),
            )
        }
    finally:
        db.dispose()
    out = {k: v for k, v in found.items() if v is not None}
    assert out.keys() == found.keys()
    return out


def text_of(page: str) -> str:
    """The page's text as a reader gets it: tags gone, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


@pytest.mark.parametrize("kind", ["user", "sole_proprietor", "contact_person"])
def test_every_table_and_personal_column_of_the_package_is_in_the_report(
    packages: dict[str, dict[str, Any]], policy: Policy, kind: str
) -> None:
    package = packages[kind]
    page = to_html(package, policy=policy)
    text = text_of(page)
    assert package["data"], "the package holds data"
    for table in package["data"]:
        assert f'id="table-{table["table"]}"' in page, table["table"]
        section = page.split(f'id="table-{table["table"]}"', 1)[1].split('<section class="table"', 1)[0]
        for column in table["personal_columns"]:
            assert f"<code>{column['name']}</code>" in section, (table["table"], column["name"])
            declared = policy.purpose(table["purpose"]).category(column["category"])
            assert declared is not None
            assert html.escape(declared.label) in section, (table["table"], column["category"])
        for row in table["rows"]:
            for value in row.values():
                if isinstance(value, str) and value:
                    assert " ".join(show(value).split()) in text, (table["table"], value)


def test_the_report_has_the_purposes_the_log_the_rights_and_the_complaint(
    packages: dict[str, dict[str, Any]], policy: Policy
) -> None:
    package = packages["user"]
    text = text_of(to_html(package, policy=policy))
    assert "jan.user@devries.example" in text and "Johan Smit" in text
    assert package["purposes"]
    for purpose in package["purposes"]:
        assert purpose["title"] in text
        assert f"{purpose['legal_basis_label']} ({purpose['legal_basis_article']})" in text
        for category in purpose["categories"]:
            assert category["retention"] in text and category["source"] in text
        for recipient in purpose["recipients"]:
            assert recipient["name"] in text
    monitoring = next(p for p in package["purposes"] if p["purpose"] == "monitoring")
    assert monitoring["right_to_object"] in text  # legitimate interest: the right to object
    assert package["processing_log"]
    assert f"Processing-log entries about you or by you ({len(package['processing_log'])})" in text
    for right in package["rights"]:
        assert f"({right['article']}): {right['what']}" in text
    authority = policy.organisation.supervisory_authority
    assert authority.name in text and authority.url in text and "GDPR art. 77" in text
    assert package["monitoring"]["explanation"] in text
    assert "No events can be linked to the browser you asked from." in text


def test_disclosures_and_linked_monitoring_events_are_shown(
    packages: dict[str, dict[str, Any]], policy: Policy
) -> None:
    package = copy.deepcopy(packages["sole_proprietor"])
    package["disclosures"] = [
        {
            "authority": "Belastingdienst",
            "kind": "authority",
            "legal_ground": "AWR art. 53",
            "order_reference": "BD-2026-0042",
            "disclosed_on": "2026-11-20",
            "categories": ["user.financial"],
        }
    ]
    package["monitoring"]["linked_events"] = [
        {"at": "2026-11-29T10:00:00+00:00", "name": "pageview", "path": "/pricing", "browser": "Firefox"}
    ]
    text = text_of(to_html(package, policy=policy))
    assert "Belastingdienst" in text and "AWR art. 53" in text and "BD-2026-0042" in text
    assert "invoices, credit notes and the amounts on them" in text  # the category's label
    assert "Events still linked to the browser you asked from (1)" in text
    assert "/pricing" in text and "2026-11-29 10:00:00 UTC" in text


def test_values_are_escaped(packages: dict[str, dict[str, Any]], policy: Policy) -> None:
    package = copy.deepcopy(packages["user"])
    users = next(t for t in package["data"] if t["table"] == "users")
    users["rows"][0]["name"] = '<script>alert("x")</script>'
    page = to_html(package, policy=policy)
    assert "<script" not in page
    assert "&lt;script&gt;" in page


def test_the_portability_report_leaves_out_the_log_and_the_disclosures(
    packages: dict[str, dict[str, Any]],
) -> None:
    package = copy.deepcopy(packages["user"])
    package["scope"] = "portability"
    text = text_of(to_html(package))
    assert "GDPR art. 20" in text
    assert "Who processed your data" not in text
    assert "Disclosures to authorities" not in text


def test_without_the_policy_the_labels_come_from_the_package(packages: dict[str, dict[str, Any]]) -> None:
    package = packages["user"]
    text = text_of(to_html(package))
    labels = {c["label"] for p in package["purposes"] for c in p["categories"]}
    assert labels and all(label in text for label in labels)
    assert package["controller"]["name"] in text


def test_a_package_about_nobody_renders(policy: Policy) -> None:
    empty = {
        "format": access.FORMAT,
        "scope": "access",
        "data": [],
        "note": "we hold no personal data about you",
    }
    text = text_of(to_html(empty, policy=policy))
    assert "We hold no personal data about you." in text
    assert "We found no records about you." in text
    assert policy.organisation.supervisory_authority.name in text
    assert "We found no records about you." in text_of(to_html(empty))  # no policy at hand either


def test_the_pdf_is_a_pdf_with_the_persons_data(packages: dict[str, dict[str, Any]], policy: Policy) -> None:
    pdf = to_pdf(packages["user"], policy=policy)
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 2
    text = " ".join(page.extract_text() for page in reader.pages)
    assert "jan.user@devries.example" in text
    assert "Your personal data at" in text
