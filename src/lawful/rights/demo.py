"""Demo data-subject requests, so the privacy officer's queue shows every state on the first run.

Made through the real services: a portal access request and an objection (answered at once), an
e-mailed request that is verified and now overdue, one whose deadline was extended, one still
waiting for the requester to confirm, and an erasure of a contact person carried out in full.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from lawful.customers.models import ContactPerson
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.rights import service
from lawful.rights.models import RequestKind, RightsRequest
from lawful.settings import Settings
from lawful.users.models import AccountStatus, Staff, StaffRole, User

ACTOR = Actor.system("demo")


@dataclass
class RightsDemo:
    requests: int = 0
    disclosures: int = 0


def load_rights_demo(db: Database, *, now: datetime, seed: int, settings: Settings) -> RightsDemo:
    rng = random.Random(seed)
    with db.unit_of_work("contract", ACTOR) as session:
        users = list(
            session.scalars(
                select(User).where(User.status == AccountStatus.active).order_by(User.email).limit(40)
            )
        )
        contacts = list(session.scalars(select(ContactPerson).order_by(ContactPerson.email).limit(40)))
    with db.unit_of_work("staff_access", ACTOR) as session:
        officer = session.scalar(select(Staff).where(Staff.role == StaffRole.privacy_officer).limit(1))
    if len(users) < 4 or not contacts or officer is None:
        return RightsDemo()
    picked = rng.sample(users, 4)
    as_officer = Actor.staff(officer.id, officer.role.value)
    made = RightsDemo()
    service.file_from_portal(db, picked[0], kind=RequestKind.access)
    service.file_from_portal(db, picked[1], kind=RequestKind.objection)
    made.requests += 2
    overdue = service.record_request(
        db,
        officer=as_officer,
        kind="access",
        channel="email",
        email=picked[2].email,
        name=picked[2].name,
        received_at=now - timedelta(days=40),
        settings=settings,
    )
    extended = service.record_request(
        db,
        officer=as_officer,
        kind="rectification",
        channel="phone",
        email=picked[3].email,
        name=picked[3].name,
        details="My name is misspelt in the account: it is written without the accent.",
        received_at=now - timedelta(days=12),
        settings=settings,
    )
    service.record_request(
        db,
        officer=as_officer,
        kind="erasure",
        channel="letter",
        email="someone.unknown@example.org",
        name="A. Nonymous",
        received_at=now - timedelta(days=2),
        settings=settings,
    )
    contact = rng.choice(contacts)
    erasure = service.record_request(
        db,
        officer=as_officer,
        kind="erasure",
        channel="email",
        email=contact.email,
        name=contact.name,
        received_at=now - timedelta(days=9),
        settings=settings,
    )
    made.requests += 4
    # The requesters confirmed by the link they were mailed (as if they had opened it).
    with db.unit_of_work(service.PURPOSE, ACTOR) as session:
        session.execute(
            update(RightsRequest)
            .where(RightsRequest.id.in_([overdue.id, extended.id, erasure.id]))
            .values(status="open", verified_at=now - timedelta(days=1), verify_token_hash=None)
        )
    service.extend(
        db,
        extended.id,
        officer=as_officer,
        reason="Several of your colleagues asked for corrections at the same time; we check each with your company.",
    )
    service.complete(db, erasure.id, actor=as_officer)
    made.disclosures = _disclosure(db, as_officer, now)
    return made


def _disclosure(db: Database, officer: Actor, now: datetime) -> int:
    """A tax audit: the invoices of two sole proprietors handed to the tax administration."""
    from lawful.authorities import service as register
    from lawful.customers.models import Customer, CustomerKind
    from lawful.rights.models import SubjectKind
    from lawful.rights.subjects import Subject

    with db.unit_of_work("contract", ACTOR) as session:
        sole = list(
            session.scalars(
                select(Customer.id)
                .where(Customer.kind == CustomerKind.sole_proprietor, Customer.erased_at.is_(None))
                .order_by(Customer.legal_name)
                .limit(2)
            )
        )
    if not sole:
        return 0
    register.register(
        db,
        officer=officer,
        authority="Belastingdienst (Dutch tax administration)",
        legal_ground="AWR art. 47: the obligation to provide information for a tax audit",
        order_reference="BD/2026/VA-0412",
        disclosed_on=(now - timedelta(days=20)).date(),
        categories=["user.financial", "user.contact.organization", "user.contact.address"],
        subjects=[Subject(SubjectKind.sole_proprietor, i) for i in sole],
        description="Invoices of 2026 of the customers named in the audit letter",
    )
    return 1
