"""The public pages: pricing from the catalogue, the privacy statement and the terms with their
version, their Markdown, and the versions as JSON; on both databases."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.billing.helpers import standard_catalogue
from tests.factories import SYSTEM
from tests.web.test_console import console_client

from lawful.agreements import documents
from lawful.agreements.models import DocumentKind, DocumentVersion
from lawful.agreements.signup_pages import USES, why
from lawful.billing import catalogue
from lawful.data.db import Database
from lawful.policy.loader import policy_hash
from lawful.policy.model import Policy
from lawful.policy.render import render_statement


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    client = console_client(database)
    yield client
    client.close()


def current(db: Database, kind: DocumentKind) -> DocumentVersion:
    with db.unit_of_work("contract", SYSTEM) as session:
        row = documents.current(session, kind)
        assert row is not None
        session.expunge(row)
        return row


# --- pricing ----------------------------------------------------------------------------------


def test_pricing_lists_the_active_plans_and_not_the_inactive_ones(
    database: Database, client: TestClient
) -> None:
    plans = standard_catalogue(database)
    with database.unit_of_work("contract", SYSTEM) as session:
        catalogue.set_plan_active(session, catalogue.get_plan(session, plans["business"].id), False)
    response = client.get("/pricing")
    assert response.status_code == 200
    page = response.text
    assert re.search(r"<h2[^>]*>Starter</h2>", page)
    assert "Business" not in page
    assert "EUR 19.00</strong> per month" in page and "excl. VAT" in page
    assert "the first 1,000 calls of a month are included; after that EUR 0.002 each" in page
    assert f'href="/signup?plan={plans["starter"].id}">Choose Starter</a>' in page
    assert f"plan={plans['business'].id}" not in page
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', page, re.S)
    assert nav is not None
    for href in ("/pricing", "/signup", "/privacy", "/terms", "/portal/login"):
        assert f'href="{href}"' in nav.group(1)
    assert 'href="/pricing" aria-current="page"' in nav.group(1)


def test_pricing_puts_tiers_packages_and_the_minimum_in_words(database: Database, client: TestClient) -> None:
    standard_catalogue(database)
    page = client.get("/pricing").text
    assert "EUR 150.00 for the base fee and usage together" in page
    assert (
        "1–10,000 calls: EUR 0.002 each; above 10,000 calls: EUR 0.001 each "
        "(each unit at the price of its own tier)"
    ) in page
    assert "EUR 5 per started package of 10 GB" in page
    assert "every unit at the price of the tier the month&#39;s total falls in" in page


def test_pricing_without_plans_says_so(sqlite_db: Database) -> None:
    page = console_client(sqlite_db).get("/pricing").text
    assert "We have no plans on offer at the moment" in page
    assert "Choose Starter" not in page and "/signup?plan=" not in page


def test_pricing_without_sign_up_offers_no_choice(sqlite_db: Database) -> None:
    standard_catalogue(sqlite_db)
    page = console_client(sqlite_db, signup_open=False).get("/pricing").text
    assert "Sign-up on this website is closed" in page
    assert "Choose Starter" not in page and 'href="/signup"' not in page


# --- the documents ----------------------------------------------------------------------------


def test_privacy_shows_the_statement_with_its_version_and_date(
    database: Database, client: TestClient, policy: Policy
) -> None:
    response = client.get("/privacy")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    row = current(database, DocumentKind.statement)
    assert row.digest == policy_hash(policy) and row.label == policy.version
    page = response.text
    version = re.search(r'<p class="version" id="document-version">(.*?)</p>', page, re.S)
    assert version is not None
    line = " ".join(version.group(1).split())
    assert f"Version {policy.version} · {row.digest[:12]} · last changed" in line
    assert (
        f'<time datetime="{row.published_at.isoformat()}">{row.published_at.date().isoformat()}</time>'
        in line
    )
    assert f"<title>Privacy statement of {policy.organisation.name}</title>" in page
    assert page.count("<h1") == 1
    for purpose in policy.public_purposes:
        assert purpose.title in page
    assert 'href="/privacy" aria-current="page"' in page


def test_privacy_markdown_is_the_published_text(
    database: Database, client: TestClient, policy: Policy
) -> None:
    response = client.get("/privacy.md")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert response.text == render_statement(policy, "md")
    assert response.text == current(database, DocumentKind.statement).text
    assert response.headers["x-document-version"] == policy_hash(policy)


def test_terms_render_the_supplied_file_and_escape_raw_html(database: Database, tmp_path: Path) -> None:
    text = (
        "# Terms of Tulpenveld Software\n\n"
        "You pay **every month**.\n\n"
        '<script>alert("x")</script>\n\n'
        'Click <a href="https://evil.example">here</a>.\n'
    )
    path = tmp_path / "terms.md"
    path.write_text(text, encoding="utf-8")
    client = console_client(database, terms=path)
    response = client.get("/terms")
    assert response.status_code == 200
    page = response.text
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    row = current(database, DocumentKind.terms)
    assert row.digest == digest and row.text == text
    assert f"Version {digest[:12]} · last changed" in " ".join(page.split())
    assert "<title>Terms of Tulpenveld Software</title>" in page
    assert page.count("<h1") == 1 and "<strong>every month</strong>" in page
    assert '<script>alert("x")' not in page and "&lt;script&gt;alert" in page
    assert '<a href="https://evil.example">' not in page and "&lt;a href=" in page
    markdown = client.get("/terms.md")
    assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
    assert markdown.text == text
    assert hashlib.sha256(markdown.content).hexdigest()[:16] == markdown.headers["x-document-version"]


def test_terms_without_a_heading_get_one(sqlite_db: Database, tmp_path: Path, policy: Policy) -> None:
    path = tmp_path / "terms.md"
    path.write_text("You pay every month.\n", encoding="utf-8")
    page = console_client(sqlite_db, terms=path).get("/terms").text
    assert f"<h1>Terms of service of {policy.organisation.name}</h1>" in page


def test_the_documents_api_names_the_versions_in_force(
    database: Database, client: TestClient, policy: Policy
) -> None:
    response = client.get("/api/v1/documents")
    assert response.status_code == 200
    body = response.json()
    by_kind = {d["kind"]: d for d in body["documents"]}
    assert set(by_kind) == {"statement", "terms"}
    for kind, path in ((DocumentKind.statement, "/privacy"), (DocumentKind.terms, "/terms")):
        row = current(database, kind)
        found = by_kind[kind.value]
        assert found["version"] == row.digest and found["label"] == row.label
        assert found["url"] == f"http://127.0.0.1:8000{path}"
        assert found["markdown_url"] == f"http://127.0.0.1:8000{path}.md"
        assert found["published_at"].startswith(row.published_at.isoformat()[:19])
    assert by_kind["statement"]["version"] == policy_hash(policy)
    schema = client.get("/openapi.json").json()
    assert "/api/v1/documents" in schema["paths"]
    assert "/privacy" not in schema["paths"] and "/signup" not in schema["paths"]


# --- why each field is asked ------------------------------------------------------------------


def test_every_field_has_a_reason_and_personal_ones_the_policys_words(policy: Policy) -> None:
    contract = policy.purpose("contract")
    for field in USES:
        assert why(policy, field).use
    billing = why(policy, "billing_email")
    email = contract.category("user.contact.email")
    assert email is not None
    assert billing.use == "Your invoices are sent here."
    assert billing.category == email.label and billing.retention == email.retention.phrase
    assert billing.purpose == contract.title and billing.basis == "performance of contract"
    assert billing.policy.startswith("If you are a sole proprietor, this is personal data: ")
    name = why(policy, "admin_name")
    assert name.policy.startswith("Personal data: name,")
    assert "1 year after the agreement with your company ends" in name.policy
    organisation = contract.category("user.contact.organization")
    assert organisation is not None and why(policy, "vat_number").category == organisation.label
    address = contract.category("user.contact.address")
    assert address is not None and why(policy, "postal_code").category == address.label
    assert why(policy, "plan_id").policy == "" and why(policy, "starts_on").policy == ""
    assert "IP address" in why(policy, "accept").policy
