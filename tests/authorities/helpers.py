"""Helpers of the tests of the register of disclosures: the privacy officer, and a disclosure."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from tests.factories import SYSTEM, make_staff

from lawful.authorities import service
from lawful.authorities.models import Disclosure, DisclosureSubject
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.rights.subjects import Subject
from lawful.users.models import StaffRole

TAX = "Belastingdienst (Dutch tax administration)"
REGULATORS = "regulatory authorities"
OFFICER_EMAIL = "privacy.officer@lawful.example"


def today() -> date:
    return datetime.now(UTC).date()


def yesterday() -> date:
    return today() - timedelta(days=1)


def make_officer(db: Database, *, email: str = OFFICER_EMAIL) -> Actor:
    staff = make_staff(db, role=StaffRole.privacy_officer, email=email, name="Petra Officer")
    return Actor.staff(staff.id, StaffRole.privacy_officer.value)


def make_role(db: Database, role: StaffRole) -> Actor:
    staff = make_staff(db, role=role, email=f"{role.value}.{uuid.uuid4().hex[:6]}@lawful.example")
    return Actor.staff(staff.id, role.value)


def disclose(db: Database, officer: Actor, subjects: Iterable[Subject], **changes: Any) -> service.Entry:
    """Register a disclosure to the tax authority of the e-mail addresses of ``subjects``."""
    fields: dict[str, Any] = {
        "authority": TAX,
        "legal_ground": "AWR art. 47 (duty to provide information)",
        "disclosed_on": yesterday(),
        "categories": ["user.contact.email"],
        "subjects": list(subjects),
    }
    fields.update(changes)
    return service.register(db, officer=officer, **fields)


def counts(db: Database) -> tuple[int, int]:
    """How many disclosures and disclosure subjects are stored."""
    with db.unit_of_work("legal_obligation", SYSTEM) as session:
        return (
            int(session.scalar(select(func.count()).select_from(Disclosure)) or 0),
            int(session.scalar(select(func.count()).select_from(DisclosureSubject)) or 0),
        )


def unzip(content: bytes) -> dict[str, bytes]:
    """The files of a ZIP, in the order they are stored."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}
