"""What the access matrix (tests/web/test_access_matrix.py) calls the agreements routes with."""

from __future__ import annotations

from typing import Any

from tests.factories import SYSTEM

from lawful.agreements import documents
from lawful.agreements.models import DocumentKind
from lawful.billing import catalogue
from lawful.customers import service as customers
from lawful.customers.models import CustomerKind


def fresh_prospect(world: Any) -> dict[str, Any]:
    """A customer of its own without a subscription (concluding an agreement uses it up)."""
    with world.db.unit_of_work("contract", SYSTEM) as session:
        customer = customers.create_customer(
            session,
            kind=CustomerKind.company,
            legal_name=f"Prospect {next(world.counter)} B.V.",
            billing_email="orders@prospect.example",
        )
        session.flush()
        return {"customer_id": customer.id}


def conclusion(world: Any) -> dict[str, Any]:
    """An agreement on a plan of its own (made on first use), from March 2025."""
    if "agreement_plan" not in world.ids:
        with world.db.unit_of_work("contract", SYSTEM) as session:
            plan = catalogue.create_plan(
                session, code="matrix-agreements", name="Matrix agreements", base_fee="10.00"
            )
            world.ids["agreement_plan"] = plan.id
    return {
        "plan_id": str(world.ids["agreement_plan"]),
        "starts_on": "2025-03-01",
        "note": "signed order form 2025-02-27",
    }


def a_terms_version(world: Any) -> dict[str, Any]:
    """The version of the terms the app published."""
    world.app.state.publication.ensure()
    with world.db.unit_of_work("contract", SYSTEM) as session:
        current = documents.current(session, DocumentKind.terms)
        assert current is not None
        return {"kind": "terms", "version_id": current.id}
