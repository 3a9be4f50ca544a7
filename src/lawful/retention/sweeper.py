"""The retention run: apply each category's retention from the policy, with legal holds, and log it.

The rules (:mod:`lawful.retention.rules`) come from the schema's annotations and the policy:

- a table annotated ``subject(..., kept=P, since=C)`` keeps each personal column for the retention
  that purpose ``P`` declares for the column's category. Columns whose clock starts at
  ``collection`` expire on the day ``C`` plus the period comes (UTC days): the rows are deleted
  when one of the expiring columns may not be empty, else those columns are emptied (``unlink``
  when they are only links to a person, ``anonymise`` otherwise). Only rows that are personal
  data count (``when``). Raw tracker events are rolled up into anonymous daily totals first, and
  never outlive the policy's ``raw_event_days`` either;
- the people of an account (a sole proprietor, a company's users and contact persons), whose data
  is kept ``contract_end`` plus a period, are erased (:func:`lawful.rights.erasure.erase`) once
  that day has come, which seals what tax law obliges keeping;
- what a legal hold keeps (``held(...)`` tables, ``sealed_records``) is deleted once the hold is
  over: the day :func:`lawful.retention.holds.hold_of` gives, for accounts that were erased;
- credentials kept as long as the account exists (``account_exists``) go when they are dead: a
  session or a token whose ``expires_at`` has passed.

Every run is logged in ``retention_runs`` and ``retention_actions``: the kind of data in the
policy's words, the category, the purpose, the rule, what was done, the cut-off and the rows. A
dry run logs what it would do and changes nothing. Every statement runs under the purpose the
data is kept under, as the system actor ``retention``, so the purpose layer checks and logs it.

The monitoring maintenance, every few minutes, applies the rules of the monitoring tables through
:func:`run_tables`; ``lawful retention run`` and the daily job (:mod:`lawful.retention.jobs`)
apply them all through :func:`run`. What expires next is :func:`upcoming`
(:mod:`lawful.retention.forecast`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, select, update

from lawful.data.annotations import table_hold, table_subject
from lawful.data.base import new_id, table_of, utcnow
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.monitoring import rollups
from lawful.monitoring.models import PageEvent
from lawful.monitoring.sessions import DAY_MS, day_start_ms, to_ms
from lawful.retention.forecast import Upcoming, upcoming
from lawful.retention.models import RetentionAction, RetentionRun
from lawful.retention.rules import (
    ACTOR,
    CONTRACT_END,
    ERASED,
    EXPIRES,
    HELD_UNTIL,
    Rule,
    aware,
    customers_table,
    expired,
    fit,
    held_rows,
    hold_over,
    rules,
    started_by,
    when,
)

LOG_PURPOSE = "accountability"  # the retention log is how the company accounts for its deletions


# --- the report -------------------------------------------------------------------------------


@dataclass(slots=True)
class Action:
    """What one rule did (or, in a dry run, would do) in one run."""

    table: str
    data: str
    category: str
    purpose: str
    rule: str
    action: str
    cutoff: str
    rows: int


@dataclass(slots=True)
class RunReport:
    run_id: uuid.UUID | None  # None: nothing was logged (a maintenance run that found nothing)
    clock: datetime
    dry_run: bool
    actions: list[Action] = field(default_factory=list)
    rolled_up: int = 0  # site-days of raw events rolled up before any was deleted

    @property
    def rows(self) -> int:
        return sum(a.rows for a in self.actions)

    def rows_of(self, table: str) -> int:
        return sum(a.rows for a in self.actions if a.table == table)

    def lines(self) -> list[str]:
        verb = "would" if self.dry_run else "did"
        lines = [
            f"{a.table}: {a.action} {a.rows} row{'s' if a.rows != 1 else ''} ({verb}) — {a.data}; "
            f"kept {a.rule}; {a.cutoff}"
            for a in self.actions
            if a.rows
        ]
        head = (
            f"retention {'dry run' if self.dry_run else 'run'} at {self.clock.isoformat(timespec='seconds')}"
        )
        return [
            head,
            *lines,
            f"total: {self.rows} rows" + (" (dry run: nothing was changed)" if self.dry_run else ""),
        ]


# --- the run ----------------------------------------------------------------------------------

Step = Callable[[], dict[Rule, int]]


@dataclass
class Job:
    rules: list[Rule]
    cutoffs: dict[Rule, str]
    steps: list[Step]


class Sweep:
    def __init__(self, db: Database, now: datetime, dry_run: bool, actor: Actor) -> None:
        self.db = db
        self.policy = db.policy
        self.now = now
        self.today = now.astimezone(UTC).date()
        self.dry_run = dry_run
        self.actor = actor
        self.rolled_up = 0

    # --- one statement under a purpose ---------------------------------------------------------

    def step(self, rule: Rule, condition: ColumnElement[bool]) -> dict[Rule, int]:
        return {rule: self.apply(rule, condition)}

    def apply(self, rule: Rule, condition: ColumnElement[bool]) -> int:
        table = rule.table
        with self.db.purposes(self.actor, rule.purpose) as work:
            if self.dry_run:
                return int(
                    work.execute(
                        rule.purpose, select(func.count()).select_from(table).where(condition)
                    ).scalar_one()
                )
            if rule.action == "delete":
                statement: Any = delete(table).where(condition)
            else:
                statement = update(table).where(condition).values({c.name: None for c in rule.columns})
            return int(work.execute(rule.purpose, statement).rowcount)

    # --- collection ----------------------------------------------------------------------------

    def collection(self, rule: Rule) -> Job:
        last = started_by(rule.retention, self.today)
        if last is None:
            return Job([rule], {rule: "nothing is old enough"}, [])
        boundary = last + timedelta(days=1)
        cutoff = f"collected before {boundary.isoformat()}"
        if rule.table is table_of(PageEvent):
            return Job([rule], {rule: cutoff}, self.raw_event_steps(rule, boundary))
        return Job([rule], {rule: cutoff}, [partial(self.step, rule, expired(rule, boundary))])

    def raw_event_steps(self, rule: Rule, boundary: date) -> list[Step]:
        """One step per site and day: raw events are rolled up first and deleted a day at a time.

        The events of a day that is not rolled up (and the ``timeout`` before it, which its rollup
        reads) stay whatever their age, as in :func:`lawful.monitoring.rollups.purge_raw`.
        """
        if not self.dry_run:
            self.rolled_up += len(rollups.roll_up(self.db, now=self.now))
        timeout = rollups.timeout_ms_of(self.db)
        cutoff = day_start_ms(boundary)
        last_complete = rollups.last_complete_day(to_ms(self.now), timeout)
        table = rule.table
        batches: list[tuple[uuid.UUID, int, int]] = []
        with self.db.unit_of_work(rule.purpose, self.actor) as session:
            for site_id in rollups.site_ids(session):
                days = rollups.days_with_events(session, site_id, before=cutoff + timeout)
                if not days:
                    continue
                if self.dry_run:
                    pending = [d for d in days if d > last_complete]
                else:
                    done = rollups.rolled_days(session, site_id, since=days[0])
                    pending = [d for d in days if d not in done]
                bound = cutoff if not pending else min(cutoff, day_start_ms(pending[0]) - timeout)
                for day in days:
                    start = day_start_ms(day)
                    if start >= bound:
                        break
                    batches.append((site_id, start, min(start + DAY_MS, bound)))

        ts = table.c[PageEvent.ts.key]
        site = table.c[PageEvent.site_id.key]
        return [partial(self.step, rule, and_(site == s, ts >= a, ts < b)) for s, a, b in batches]

    # --- dead credentials ----------------------------------------------------------------------

    def credentials(self, rule: Rule) -> Job:
        expires = rule.table.c[EXPIRES]
        condition = and_(expires.is_not(None), expires <= self.now, when(rule.table))
        cutoff = f"expired by {self.now.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        return Job([rule], {rule: cutoff}, [partial(self.step, rule, condition)])

    # --- the end of an agreement ---------------------------------------------------------------

    def contract_end(self, chosen: list[Rule]) -> Job:
        """Erase the people of every account whose agreement ended long enough ago."""
        lasts = [d for d in (started_by(r.retention, self.today) for r in chosen) if d is not None]
        if not lasts:
            return Job(chosen, dict.fromkeys(chosen, "nothing is old enough"), [])
        last = max(lasts)
        cutoffs = {r: f"ended on or before {last.isoformat()}" for r in chosen}
        customers = customers_table()
        with self.db.purposes(self.actor, "contract") as work:
            due: list[Any] = list(
                work.execute(
                    "contract",
                    select(customers.c.id, customers.c.kind)
                    .where(
                        customers.c[CONTRACT_END].is_not(None),
                        customers.c[CONTRACT_END] <= last,
                        customers.c[ERASED].is_(None),
                    )
                    .order_by(customers.c[CONTRACT_END], customers.c.id),
                )
            )
        by_table = {r.table.name: r for r in chosen}
        return Job(chosen, cutoffs, [partial(self.end_account, by_table, row[0], str(row[1])) for row in due])

    def end_account(self, by_table: dict[str, Rule], customer_id: uuid.UUID, kind: str) -> dict[Rule, int]:
        from lawful.rights.erasure import erase
        from lawful.rights.models import SubjectKind
        from lawful.rights.subjects import Subject

        customers = customers_table()
        spec = table_subject(customers)
        person = spec is not None and spec.when is not None and kind == spec.when[1]
        counts: dict[str, int] = {}
        people = self._people_of(customer_id)
        if self.dry_run:
            counts = {name: len(ids) for name, ids in people.items()}
            if person:
                counts[customers.name] = 1
        elif person:
            result = erase(
                self.db, Subject(SubjectKind.sole_proprietor, customer_id), actor=self.actor, now=self.now
            )
            if result is not None:
                counts[customers.name] = 1
                for someone in result.people:
                    table = SubjectKind(someone.split(":", 1)[0]).table or ""
                    counts[table] = counts.get(table, 0) + 1
        else:
            for table_name, ids in people.items():
                kind_of = next(k for k in SubjectKind if k.table == table_name)
                for person_id in ids:
                    if erase(self.db, Subject(kind_of, person_id), actor=self.actor, now=self.now):
                        counts[table_name] = counts.get(table_name, 0) + 1
            with self.db.purposes(self.actor, "contract") as work:
                work.execute(
                    "contract",
                    update(customers).where(customers.c.id == customer_id).values({ERASED: self.now}),
                )
        return {rule: counts.get(name, 0) for name, rule in by_table.items()}

    def _people_of(self, customer_id: uuid.UUID) -> dict[str, list[uuid.UUID]]:
        """The ids of the account's own people (users, contact persons), per table."""
        customers = customers_table()
        found: dict[str, list[uuid.UUID]] = {}
        with self.db.purposes(self.actor, "contract") as work:
            for rule in rules(self.policy):
                table = rule.table
                if rule.kind != "contract_end" or table is customers:
                    continue
                link = next(
                    (c for c in table.c if any(fk.column.table is customers for fk in c.foreign_keys)), None
                )
                if link is None:
                    continue
                ids = work.execute("contract", select(table.c.id).where(link == customer_id)).scalars()
                found[table.name] = list(ids)
        return found

    # --- legal holds ---------------------------------------------------------------------------

    def sealed(self, rule: Rule) -> Job:
        condition = rule.table.c[HELD_UNTIL] <= self.today
        cutoff = f"held until on or before {self.today.isoformat()}"
        return Job([rule], {rule: cutoff}, [partial(self.step, rule, condition)])

    def hold(self, rule: Rule) -> Job:
        last = hold_over(self.policy, rule.table, self.today)
        condition = held_rows(rule.table, last) if last is not None else None
        if last is None or condition is None:
            return Job([rule], {rule: "no hold is over"}, [])
        spec = table_hold(rule.table)
        assert spec is not None
        cutoff = f"{spec.date} on or before {last.isoformat()}"
        return Job([rule], {rule: cutoff}, [partial(self.step, rule, condition)])

    # --- planning ------------------------------------------------------------------------------

    def jobs(self, chosen: list[Rule]) -> Iterable[Job]:
        ending = [r for r in chosen if r.kind == "contract_end"]
        for rule in chosen:
            if rule.kind == "credentials":
                yield self.credentials(rule)
            elif rule.kind == "collection":
                yield self.collection(rule)
        if ending:
            yield self.contract_end(ending)
        for rule in chosen:
            if rule.kind == "sealed":
                yield self.sealed(rule)
            elif rule.kind == "hold":
                yield self.hold(rule)


def _open(db: Database, report: RunReport, actor: Actor) -> uuid.UUID:
    run_id = new_id()
    with db.purposes(actor, LOG_PURPOSE) as work:
        work.execute(
            LOG_PURPOSE,
            insert(table_of(RetentionRun)).values(
                id=run_id,
                started_at=utcnow(),
                clock=report.clock,
                dry_run=report.dry_run,
                actor=str(actor)[:80],
                rows=0,
            ),
        )
    return run_id


def _log(db: Database, run_id: uuid.UUID, actions: list[Action], actor: Actor) -> None:
    if not actions:
        return
    with db.purposes(actor, LOG_PURPOSE) as work:
        work.execute(
            LOG_PURPOSE,
            insert(table_of(RetentionAction)),
            [
                {
                    "id": new_id(),
                    "run_id": run_id,
                    "table_name": a.table,
                    "data": fit(a.data, 300),
                    "category": fit(a.category, 100),
                    "purpose": a.purpose,
                    "rule": fit(a.rule, 200),
                    "action": a.action,
                    "cutoff": fit(a.cutoff, 40),
                    "rows": a.rows,
                }
                for a in actions
            ],
        )


def _close(db: Database, report: RunReport, actor: Actor) -> None:
    assert report.run_id is not None
    runs = table_of(RetentionRun)
    with db.purposes(actor, LOG_PURPOSE) as work:
        work.execute(
            LOG_PURPOSE,
            update(runs).where(runs.c.id == report.run_id).values(finished_at=utcnow(), rows=report.rows),
        )


def sweep(
    db: Database,
    chosen: list[Rule],
    *,
    now: datetime,
    dry_run: bool,
    actor: Actor,
    progress: Callable[[int, int], None] | None = None,
    log_empty: bool = True,
) -> RunReport:
    """Apply ``chosen`` rules at ``now``; log the run (unless it did nothing and ``log_empty`` is off)."""
    report = RunReport(None, now, dry_run)
    if log_empty:
        report.run_id = _open(db, report, actor)
    sweep_ = Sweep(db, now, dry_run, actor)
    jobs = list(sweep_.jobs(chosen))
    report.rolled_up = sweep_.rolled_up
    total = sum(len(j.steps) for j in jobs)
    done = 0
    if progress is not None:
        progress(0, total)
    for job in jobs:
        rows = dict.fromkeys(job.rules, 0)
        for step in job.steps:
            for rule, count in step().items():
                rows[rule] = rows.get(rule, 0) + count
            done += 1
            if progress is not None:
                progress(done, total)
        actions = [
            Action(
                rule.table.name,
                rule.data,
                rule.category,
                rule.purpose,
                rule.rule,
                rule.action,
                job.cutoffs.get(rule, ""),
                rows[rule],
            )
            for rule in job.rules
        ]
        report.actions += actions
        if report.run_id is not None:
            _log(db, report.run_id, actions, actor)
    if report.run_id is None and report.rows:
        report.run_id = _open(db, report, actor)
        _log(db, report.run_id, [a for a in report.actions if a.rows], actor)
    if report.run_id is not None:
        _close(db, report, actor)
    return report


def run(
    db: Database,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    actor: Actor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunReport:
    """Apply every retention rule of the policy at ``now`` (default: the present), and log the run.

    ``progress(done, total)`` is called as steps finish (a step is one statement or batch, or one
    account's erasure). A dry run logs what it would do and changes nothing.
    """
    return sweep(
        db,
        rules(db.policy),
        now=aware(now),
        dry_run=dry_run,
        actor=actor or ACTOR,
        progress=progress,
    )


def run_tables(
    db: Database, tables: Collection[str], *, now: datetime | None = None, actor: Actor | None = None
) -> RunReport:
    """Apply the rules of ``tables`` only; logged as a run only when it changed something.

    The monitoring maintenance, which runs every few minutes, applies the raw events' and usage
    events' retention through this.
    """
    chosen = [r for r in rules(db.policy) if r.table.name in tables]
    return sweep(db, chosen, now=aware(now), dry_run=False, actor=actor or ACTOR, log_empty=False)


__all__ = [
    "ACTOR",
    "Action",
    "Rule",
    "RunReport",
    "Upcoming",
    "rules",
    "run",
    "run_tables",
    "sweep",
    "upcoming",
]
