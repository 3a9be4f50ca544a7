"""The retention rules, derived from the schema's annotations and the policy; and their days.

:func:`rules` reads every annotated table: per purpose the table is kept under, each personal
column's category has a retention (a period after a trigger). Columns sharing a retention form one
:class:`Rule`, and the rule's kind says how the run applies it (see :mod:`lawful.retention.sweeper`).
Tables are not listed by hand: a new annotated table or column gets its rules without a change.
The one table named is in :data:`IN_FORCE`, for a fact the annotations cannot state yet (a
restriction of processing still in force must outlive its retention).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Literal

from sqlalchemy import Column, ColumnElement, Date, Integer, Table, and_, exists, or_, select, true

from lawful.data.annotations import column_category, personal_columns, table_hold, table_subject
from lawful.data.base import table_of
from lawful.data.purpose import Actor
from lawful.errors import Invalid
from lawful.monitoring.models import PageEvent
from lawful.monitoring.sessions import day_of_ms, day_start_ms
from lawful.policy.model import Policy, Purpose, Retention, Trigger
from lawful.retention.holds import hold_of, trigger_date

ACTOR = Actor.system("retention")
IDENTIFIER = "user.unique_id"
CREDENTIALS = "user.authorization.credentials"
EXPIRES = "expires_at"  # a credential's end: once passed, it is dead
HELD_UNTIL = "held_until"  # a row that carries the day its hold ends
ERASED = "erased_at"  # an account whose people were erased
CONTRACT_END = "contract_end"
#: A row of these tables records something still in force while the column is empty (a restriction
#: of processing not lifted yet); it does not expire before that.
IN_FORCE = {"rights_restrictions": "lifted_at"}
FIRST_DAY = date(1900, 1, 1)

Kind = Literal["collection", "credentials", "contract_end", "hold", "sealed"]


# --- the rules --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    """One retention of one table's columns, as the policy declares it."""

    kind: Kind
    table: Table
    purpose: str
    retention: Retention
    columns: tuple[Column[Any], ...]
    categories: tuple[str, ...]  # the policy's keys
    data: str  # the policy's labels
    action: str  # delete, anonymise, unlink, erase

    @property
    def category(self) -> str:
        return fit(",".join(self.categories), 100)

    @property
    def rule(self) -> str:
        return fit(self.retention.phrase, 200)


def fit(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _declared(purpose: Purpose, table: Table) -> list[tuple[Column[Any], Any]]:
    found = []
    for column in personal_columns(table):
        declared = purpose.category(column_category(column) or "")
        if declared is not None:
            found.append((column, declared))
    return found


def _rule(
    kind: Kind,
    table: Table,
    purpose: Purpose,
    members: list[tuple[Column[Any], Any]],
    retention: Retention,
    action: str,
) -> Rule:
    keys = tuple(dict.fromkeys(d.key for _, d in members))
    labels = "; ".join(dict.fromkeys(d.label for _, d in members))
    return Rule(
        kind, table, purpose.key, retention, tuple(c for c, _ in members), keys, fit(labels, 300), action
    )


def _cleared(columns: Iterable[Column[Any]]) -> str:
    cols = list(columns)
    if any(not c.nullable for c in cols):
        return "delete"
    if all((column_category(c) or "").startswith(IDENTIFIER) for c in cols):
        return "unlink"
    return "anonymise"


def _raw_events(policy: Policy, retention: Retention) -> Retention:
    """The raw tracker events' retention, no longer than the policy's ``raw_event_days``."""
    days = policy.monitoring.raw_event_days
    capped = Retention(period=f"P{days}D", trigger=Trigger.collection)
    start = date(2000, 1, 1)
    return capped if capped.expires(start) < retention.expires(start) else retention


def _people_tables() -> frozenset[str]:
    from lawful.rights.models import SubjectKind

    return frozenset(k.table for k in SubjectKind if k.table)


_RULES: dict[int, tuple[Policy, tuple[Rule, ...]]] = {}


def _rules(policy: Policy) -> tuple[Rule, ...]:
    cached = _RULES.get(id(policy))
    if cached is not None and cached[0] is policy:
        return cached[1]
    found = _derive(policy)
    _RULES[id(policy)] = (policy, found)
    return found


def _derive(policy: Policy) -> tuple[Rule, ...]:
    from lawful.schema import metadata

    found: list[Rule] = []
    people = _people_tables()
    for table in metadata.sorted_tables:
        spec = table_subject(table)
        if spec is None or spec.kept is None:
            continue
        purpose = policy.purpose(spec.kept)
        declared = _declared(purpose, table)
        hold = table_hold(table)
        by_rule: dict[tuple[Trigger, str], list[tuple[Column[Any], Any]]] = {}
        for column, d in declared:
            by_rule.setdefault((d.retention.trigger, d.retention.period), []).append((column, d))
        for (trigger, _), members in sorted(
            by_rule.items(), key=lambda item: item[1][0][1].retention.expires(date(2000, 1, 1))
        ):
            retention = members[0][1].retention
            if trigger is Trigger.collection and spec.since:
                if table is table_of(PageEvent):
                    retention = _raw_events(policy, retention)
                found.append(
                    _rule("collection", table, purpose, members, retention, _cleared(c for c, _ in members))
                )
            elif trigger is Trigger.fiscal_year_end and hold is None and HELD_UNTIL in table.c:
                found.append(_rule("sealed", table, purpose, members, retention, "delete"))
            elif trigger is Trigger.fiscal_year_end and hold is None and spec.since:
                found.append(
                    _rule("collection", table, purpose, members, retention, _cleared(c for c, _ in members))
                )
            elif trigger is Trigger.contract_end and table.name in people:
                found.append(_rule("contract_end", table, purpose, members, retention, "erase"))
            elif trigger is Trigger.account_exists and EXPIRES in table.c:
                creds = [(c, d) for c, d in members if d.key == CREDENTIALS]
                if creds:
                    found.append(_rule("credentials", table, purpose, creds, retention, "delete"))
        if hold is not None:
            holding = policy.purpose(hold.purpose)
            members = _declared(holding, table)
            if members:
                longest = max(
                    (d.retention for _, d in members),
                    key=lambda r: r.expires(trigger_date(r.trigger, date(2000, 1, 1))),
                )
                found.append(_rule("hold", table, holding, members, longest, "delete"))
    # what a hold keeps goes children first (an invoice's lines before the invoice)
    holds = [r for r in found if r.kind == "hold"]
    others = [r for r in found if r.kind != "hold"]
    return tuple(others + holds[::-1])


def rules(policy: Policy) -> list[Rule]:
    """Every retention rule the run applies, derived from the annotations and ``policy``."""
    return list(_rules(policy))


# --- days and cut-offs ------------------------------------------------------------------------


def last_due(due: Callable[[date], bool], today: date) -> date | None:
    """The last day whose data is due by ``today`` (``due`` is monotone), or None."""
    lo, hi = FIRST_DAY.toordinal(), today.toordinal()
    if not due(FIRST_DAY):
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if due(date.fromordinal(mid)):
            lo = mid
        else:
            hi = mid - 1
    return date.fromordinal(lo)


def started_by(retention: Retention, today: date) -> date | None:
    """The last day a clock may have started on for the data to be due by ``today``."""
    return last_due(lambda day: retention.expires(trigger_date(retention.trigger, day)) <= today, today)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def before(column: Column[Any], day: date) -> ColumnElement[bool]:
    """``column`` (a timestamp, a date or milliseconds since the epoch) lies before ``day`` (UTC)."""
    if isinstance(column.type, Date):
        return column < day
    if isinstance(column.type, Integer):
        return column < day_start_ms(day)
    return column < midnight(day)


def day_of(value: Any) -> date:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).date()
    if isinstance(value, date):
        return value
    return day_of_ms(int(value))


def when(table: Table) -> ColumnElement[bool]:
    spec = table_subject(table)
    if spec is not None and spec.when is not None:
        name, expected = spec.when
        return table.c[name] == expected
    return true()


def holding(rule: Rule) -> ColumnElement[bool]:
    """The rows a rule may still expire something of: personal data (``when``), not yet emptied,
    and not recording something still in force."""
    table = rule.table
    condition = when(table)
    if rule.action in ("anonymise", "unlink"):
        condition = and_(condition, or_(*(c.is_not(None) for c in rule.columns)))
    live = IN_FORCE.get(table.name)
    if live is not None and live in table.c:
        condition = and_(condition, table.c[live].is_not(None))
    return condition


def customers_table() -> Table:
    from lawful.customers.models import Customer

    return table_of(Customer)


def aware(now: datetime | None) -> datetime:
    """``now`` in UTC (the present when None); a naive moment is refused."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise Invalid("the moment of a retention run must be timezone-aware (UTC)")
    return now.astimezone(UTC)


def expired(rule: Rule, boundary: date) -> ColumnElement[bool]:
    """The rows of a ``collection`` rule collected before ``boundary``, still holding the data."""
    spec = table_subject(rule.table)
    assert spec is not None and spec.since is not None
    return and_(before(rule.table.c[spec.since], boundary), holding(rule))


def hold_over(policy: Policy, table: Table, today: date) -> date | None:
    """The last day of the hold's date column whose hold on ``table`` is over by ``today``."""

    def due(day: date) -> bool:
        hold = hold_of(policy, table, day)
        return hold.until is not None and hold.until <= today

    return last_due(due, today)


def held_rows(table: Table, last: date) -> ColumnElement[bool] | None:
    """The held rows of erased people whose hold is over: their date is ``last`` or earlier.

    None when the table's rows cannot be tied to an account that records its erasure.
    """
    hold = table_hold(table)
    spec = table_subject(table)
    if hold is None or spec is None:
        return None
    key = table.c[spec.key]
    root = next((fk.column.table for fk in key.foreign_keys), None)
    if root is None or ERASED not in root.c:
        return None
    erased = select(root.primary_key.columns[0]).where(root.c[ERASED].is_not(None), when(root))
    day = table.c[hold.date]
    condition: ColumnElement[bool] = and_(day.is_not(None), day <= last, key.in_(erased), when(table))
    pk = table.primary_key.columns[0]
    for fk in table.foreign_keys:
        parent = fk.column.table
        if parent is table:
            # a row another row still points at (an invoice its later credit note corrects) stays
            other = table.alias()
            later = or_(other.c[hold.date].is_(None), other.c[hold.date] > last)
            condition = and_(condition, ~exists().where(other.c[fk.parent.name] == pk, later))
        elif isinstance(parent, Table) and table_hold(parent) is not None:
            inner = held_rows(parent, last)
            if inner is not None:
                condition = and_(condition, fk.parent.in_(select(fk.column).where(inner)))
    return condition
