"""Shared set-up of the agreements tests: the published documents, a sign-up form and starting a
sign-up with it, the rows a sign-up makes, the hidden fields of a page."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.factories import SYSTEM

from lawful.agreements import documents, signup
from lawful.agreements.models import Agreement, AgreementAcceptance, DocumentVersion, Signup
from lawful.agreements.signup import SignupConfig, SignupForm
from lawful.billing.models import Subscription
from lawful.customers.models import Customer
from lawful.data.db import Database
from lawful.users.models import User

TERMS = "# Terms\n\nYou pay the fees of your plan.\n"
CONFIG = SignupConfig(
    ttl=timedelta(hours=24),
    mails_per_hour=3,
    base_url="http://lawful.test",
    organisation="Example SaaS B.V.",
)
#: The business and its admin in a valid sign-up of a Dutch sole proprietor.
SOLE_PROPRIETOR = {
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
}


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
        **SOLE_PROPRIETOR,
        "starts_on": (starts_on or date.today()).isoformat(),
        "accept": True,
        "terms_version": terms.digest,
        "statement_version": statement.digest,
    }
    values.update(changes)
    return SignupForm(**values)  # type: ignore[arg-type]


def start(
    session: Session,
    plan_id: object,
    terms: DocumentVersion,
    statement: DocumentVersion,
    *,
    ip: str | None = None,
    **changes: object,
) -> str | None:
    """Start the sign-up of :func:`form` (with ``changes``) from ``ip``; returns the link's token."""
    return signup.start(
        session,
        form(plan_id, terms, statement, **changes),
        ip=ip,
        terms=terms,
        statement=statement,
        cfg=CONFIG,
    )


def counts(db: Database) -> dict[str, int]:
    """The rows of each table a confirmed sign-up adds to."""
    with db.unit_of_work("contract", SYSTEM) as session:
        return {
            model.__tablename__: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Customer, User, Subscription, Agreement, AgreementAcceptance, Signup)
        }


def hidden(page: str, name: str) -> str:
    """The value of the hidden field ``name`` on ``page``."""
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden {name} on the page"
    return found.group(1)
