"""Shared set-up of the agreements tests: a catalogue, the published documents, a sign-up form."""

from __future__ import annotations

from datetime import date, timedelta

from tests.factories import SYSTEM

from lawful.agreements import documents
from lawful.agreements.models import DocumentVersion
from lawful.agreements.signup import SignupConfig, SignupForm
from lawful.data.db import Database

TERMS = "# Terms\n\nYou pay the fees of your plan.\n"
CONFIG = SignupConfig(
    ttl=timedelta(hours=24),
    mails_per_hour=3,
    base_url="http://lawful.test",
    organisation="Example SaaS B.V.",
)


def publish(db: Database, *, terms: str = TERMS) -> tuple[DocumentVersion, DocumentVersion]:
    """Publish the default policy's statement and ``terms``; returns (terms, statement), detached."""
    with db.unit_of_work("contract", SYSTEM) as session:
        statement, _ = documents.publish(session, documents.statement_document(db.policy))
        terms_row, _ = documents.publish(session, documents.terms_from_text(terms))
        session.expunge_all()
    return terms_row, statement


def form(
    plan_id: object,
    terms: DocumentVersion,
    statement: DocumentVersion,
    *,
    starts_on: date | None = None,
    **changes: object,
) -> SignupForm:
    """A valid sign-up of a Dutch sole proprietor; ``changes`` override fields."""
    values: dict[str, object] = {
        "plan_id": str(plan_id),
        "kind": "sole_proprietor",
        "legal_name": "Jansen Advies",
        "kvk_number": "12345678",
        "vat_number": "NL004495445B01",
        "street": "Dorpsstraat 1",
        "postal_code": "1234 AB",
        "city": "Utrecht",
        "country": "NL",
        "billing_email": "facturen@jansen-advies.nl",
        "admin_name": "Anna Jansen",
        "admin_email": "anna@jansen-advies.nl",
        "starts_on": (starts_on or date.today()).isoformat(),
        "accept": True,
        "terms_version": terms.digest,
        "statement_version": statement.digest,
    }
    values.update(changes)
    return SignupForm(**values)  # type: ignore[arg-type]
