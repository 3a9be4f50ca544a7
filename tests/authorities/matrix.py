"""What the access matrix (tests/web/test_access_matrix.py) calls the disclosure routes with."""

from __future__ import annotations

from typing import Any

from tests.authorities.helpers import make_officer

from lawful.authorities import service
from lawful.rights.models import SubjectKind
from lawful.rights.subjects import Subject


def new_disclosure(world: Any) -> dict[str, Any]:
    """A disclosure to the regulators of the e-mail address of customer A's user."""
    return {
        "authority": "regulatory authorities",
        "legal_ground": "GDPR art. 58(1)(a)",
        "disclosed_on": "2026-01-15",
        "categories": ["user.contact.email"],
        "subjects": [{"kind": "user", "id": str(world.ids["victim"])}],
    }


def a_disclosure(world: Any) -> dict[str, Any]:
    """A disclosure registered by a privacy officer of its own (made on first use)."""
    if "disclosure" not in world.ids:
        officer = make_officer(world.db, email="matrix.officer@lawful.example")
        entry = service.register(
            world.db,
            officer=officer,
            authority="Belastingdienst (Dutch tax administration)",
            order_reference="matrix order 1",
            disclosed_on=service.today(),
            categories=["user.contact.email"],
            subjects=[Subject(SubjectKind.user, world.ids["victim"])],
        )
        world.ids["disclosure"] = entry.disclosure.id
    return {"disclosure_id": world.ids["disclosure"]}
