"""What expires next: per retention rule, the next day it expires something and how many rows.

The console and ``lawful retention next`` show it; it reads only the dates rows were collected on
(or their agreements ended, or their holds end) and counts, under each rule's purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select

from lawful.data.annotations import table_hold, table_subject
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.retention.holds import hold_of, trigger_date
from lawful.retention.rules import (
    ACTOR,
    CONTRACT_END,
    ERASED,
    EXPIRES,
    HELD_UNTIL,
    Rule,
    aware,
    customers_table,
    day_of,
    expired,
    held_rows,
    hold_over,
    holding,
    midnight,
    rules,
    started_by,
    when,
)


@dataclass(frozen=True, slots=True)
class Upcoming:
    """The next day a rule expires something, and how many rows will have expired by then."""

    table: str
    data: str
    category: str
    purpose: str
    rule: str
    action: str
    on: date | None  # None: nothing that this rule will expire is held now
    rows: int


class Forecast:
    def __init__(self, db: Database, now: datetime, actor: Actor) -> None:
        self.db = db
        self.policy = db.policy
        self.now = now
        self.today = now.date()
        self.actor = actor

    def scalar(self, purpose: str, statement: Any) -> Any:
        with self.db.purposes(self.actor, purpose) as work:
            return work.execute(purpose, statement).scalar()

    def next_of(self, rule: Rule) -> tuple[date | None, int]:
        table = rule.table
        if rule.kind == "collection":
            return self.collection(rule)
        if rule.kind == "credentials":
            expires = table.c[EXPIRES]
            first = self.scalar(rule.purpose, select(func.min(expires)).where(when(table)))
            if first is None:
                return None, 0
            on = max(day_of(first), self.today)
            rows = self.scalar(
                rule.purpose,
                select(func.count())
                .select_from(table)
                .where(expires < midnight(on + timedelta(days=1)), when(table)),
            )
            return on, int(rows)
        if rule.kind == "contract_end":
            return self.contract_end(rule)
        if rule.kind == "sealed":
            until = table.c[HELD_UNTIL]
            first = self.scalar(rule.purpose, select(func.min(until)))
            if first is None:
                return None, 0
            on = max(day_of(first), self.today)
            return on, int(
                self.scalar(rule.purpose, select(func.count()).select_from(table).where(until <= on))
            )
        return self.hold(rule)

    def collection(self, rule: Rule) -> tuple[date | None, int]:
        table = rule.table
        spec = table_subject(table)
        assert spec is not None and spec.since is not None
        first = self.scalar(rule.purpose, select(func.min(table.c[spec.since])).where(holding(rule)))
        if first is None:
            return None, 0
        start = day_of(first)
        on = max(rule.retention.expires(trigger_date(rule.retention.trigger, start)), self.today)
        last = started_by(rule.retention, on)
        if last is None:
            return on, 0
        rows = self.scalar(
            rule.purpose,
            select(func.count()).select_from(table).where(expired(rule, last + timedelta(days=1))),
        )
        return on, int(rows)

    def contract_end(self, rule: Rule) -> tuple[date | None, int]:
        customers = customers_table()
        table = rule.table
        open_ = and_(customers.c[CONTRACT_END].is_not(None), customers.c[ERASED].is_(None))
        if table is customers:
            source: Any = customers
            where = and_(open_, when(customers))
        else:
            link = next(
                (c for c in table.c if any(fk.column.table is customers for fk in c.foreign_keys)), None
            )
            if link is None:
                return None, 0
            source = table.join(customers, link == customers.c.id)
            where = open_
        first = self.scalar(
            "contract", select(func.min(customers.c[CONTRACT_END])).select_from(source).where(where)
        )
        if first is None:
            return None, 0
        on = max(rule.retention.expires(first), self.today)
        last = started_by(rule.retention, on)
        if last is None:
            return on, 0
        rows = self.scalar(
            "contract",
            select(func.count()).select_from(source).where(where, customers.c[CONTRACT_END] <= last),
        )
        return on, int(rows)

    def hold(self, rule: Rule) -> tuple[date | None, int]:
        table = rule.table
        hold = table_hold(table)
        assert hold is not None
        everything = held_rows(table, date.max)
        if everything is None:
            return None, 0
        first = self.scalar(rule.purpose, select(func.min(table.c[hold.date])).where(everything))
        if first is None:
            return None, 0
        until = hold_of(self.policy, table, day_of(first)).until
        if until is None:
            return None, 0
        on = max(until, self.today)
        last = hold_over(self.policy, table, on)
        condition = held_rows(table, last) if last is not None else None
        if condition is None:
            return on, 0
        return on, int(self.scalar(rule.purpose, select(func.count()).select_from(table).where(condition)))


def upcoming(
    db: Database, *, now: datetime | None = None, limit: int = 100, actor: Actor | None = None
) -> list[Upcoming]:
    """Per rule, the next day it expires something and how many rows by then; soonest first,
    rules with nothing to expire last."""
    moment = aware(now)
    forecast = Forecast(db, moment, actor or ACTOR)
    found = []
    for rule in rules(db.policy):
        on, rows = forecast.next_of(rule)
        found.append(
            Upcoming(
                rule.table.name, rule.data, rule.category, rule.purpose, rule.rule, rule.action, on, rows
            )
        )
    found.sort(key=lambda u: (u.on is None, u.on or date.max, u.table))
    return found[: max(0, limit)]
