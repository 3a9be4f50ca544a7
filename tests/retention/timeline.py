"""A world for the retention tests: the rights world of day 0, plus monitoring, usage, requests and
an ended company, each with a known collection time; and helpers that count what is left.

Day 0 is the day the world is built (its sign-ins, support conversations and log entries carry the
real time); the retention runs then act at simulated moments after it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Table, func, insert, select, update
from tests.factories import SYSTEM, make_customer, make_site, make_user
from tests.rights.world import World, build

from lawful.customers.models import Customer
from lawful.data.base import table_of
from lawful.data.db import Database
from lawful.monitoring import usage
from lawful.monitoring.models import PageEvent
from lawful.rights.models import (
    Channel,
    RequestKind,
    RequestStatus,
    Restriction,
    RightsRequest,
    SubjectKind,
)

#: when the world's two agreements end, in days after day 0
SHOP_ENDS = 100
COMPANY_ENDS = 150


@dataclass(frozen=True)
class Timeline:
    world: World
    started: datetime  # the build began
    finished: datetime  # the build ended: everything was collected in between
    site: uuid.UUID
    company: uuid.UUID  # a company whose agreement ends
    company_user: uuid.UUID
    company_contact: uuid.UUID
    request: uuid.UUID
    lifted: uuid.UUID  # a restriction that was lifted
    in_force: uuid.UUID  # a restriction still in force

    @property
    def day0(self) -> date:
        return self.started.date()

    @property
    def last_day(self) -> date:
        """The day the last collected row was collected on (day 0, unless the build crossed midnight)."""
        return self.finished.date()


def at(day: date, hour: int = 3) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def build_timeline(db: Database) -> Timeline:
    started = datetime.now(UTC)
    world = build(db)
    site = make_site(db)
    company, contacts = make_customer(
        db, legal_name="Ending B.V.", billing_email="ap@ending.example", contacts=1
    )
    worker = make_user(db, customer_id=company.id, email="wim@ending.example", name="Wim Werker")
    now = datetime.now(UTC)
    ms = int(now.timestamp() * 1000)
    with db.unit_of_work("monitoring", SYSTEM) as session:
        session.execute(
            insert(PageEvent),
            [
                {"site_id": site, "ts": ms + i, "visitor_id": 7 + i, "name": "pageview", "path": f"/p{i}"}
                for i in range(3)
            ],
        )
        service, _ = usage.create_service(session, name="retention-tests")
        outcomes = usage.record(
            session,
            service,
            [
                {
                    "idempotency_key": "linked",
                    "customer_id": str(_customer_of(db, world.other_user.id)),
                    "user_id": str(world.other_user.id),
                    "code": "api.call",
                    "timestamp": now.isoformat(),
                }
            ],
            now=now,
        )
        assert [o.status for o in outcomes] == ["accepted"]
    customers = table_of(Customer)
    with db.unit_of_work("contract", SYSTEM) as session:
        for customer_id, days in ((world.customer.id, SHOP_ENDS), (company.id, COMPANY_ENDS)):
            session.execute(
                update(customers)
                .where(customers.c.id == customer_id)
                .values(contract_end=started.date() + timedelta(days=days))
            )
    with db.unit_of_work("accountability", SYSTEM) as session:
        request = RightsRequest(
            kind=RequestKind.rectification,
            status=RequestStatus.completed,
            channel=Channel.email,
            subject_kind=SubjectKind.user,
            subject_id=world.other_user.id,
            requester_name="Olga Other",
            requester_email="olga@other.example",
            details="please spell my name Olga",
            received_at=now,
            due_on=now.date() + timedelta(days=30),
        )
        lifted = Restriction(
            subject_kind=SubjectKind.user, subject_id=world.other_user.id, since=now, lifted_at=now
        )
        in_force = Restriction(subject_kind=SubjectKind.user, subject_id=world.other_user.id, since=now)
        session.add_all([request, lifted, in_force])
        session.flush()
        ids = request.id, lifted.id, in_force.id
    return Timeline(
        world,
        started,
        datetime.now(UTC),
        site,
        company.id,
        worker.id,
        contacts[0].id,
        *ids,
    )


def _customer_of(db: Database, user_id: uuid.UUID) -> uuid.UUID:
    from lawful.users.models import User

    with db.unit_of_work("contract", SYSTEM) as session:
        found = session.scalar(select(User.customer_id).where(User.id == user_id))
    assert found is not None
    return found


def count(db: Database, purpose: str, table: Table | Any, *where: Any) -> int:
    source = table if isinstance(table, Table) else table_of(table)
    with db.purposes(SYSTEM, purpose) as work:
        return int(work.execute(purpose, select(func.count()).select_from(source).where(*where)).scalar_one())
