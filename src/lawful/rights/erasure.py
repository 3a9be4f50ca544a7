"""Erasure (GDPR art. 17), with the legal-obligation exception of art. 17(3)(b).

:func:`erase` removes a person's data from every table the annotations link them to, in one
transaction across purposes, and says what it did:

- rows about the person only (sign-ins, sessions, tokens, mail to them, their own record) are
  deleted; their own row is anonymised instead where records a law obliges keeping point at it
  (a sole proprietor's customer row, which their invoices reference);
- rows about someone else that name the person (a support conversation with a customer's user)
  lose the personal fields: the summary and the link to the person;
- usage events keep counting for the customer's account, without the person;
- records kept for accountability (their rights requests) keep that a request was made and
  answered, without name, address or text;
- rows under a live legal hold (a finalised invoice of a sole proprietor) keep their amounts for
  the books, and their other personal fields move to ``sealed_records``, which only the legal
  obligation may read; drafts, which no law obliges keeping, are deleted;
- the processing log keeps the person's identifier and the kinds of data processed, never values.

Erasing a sole proprietor also erases their account's users and contact persons and ends the
agreement: nobody can sign in to an account whose customer no longer exists.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Table, delete, func, or_, select, update

from lawful.data.annotations import column_category, personal_columns, table_hold, table_only, table_subject
from lawful.data.base import new_id, table_of
from lawful.data.db import Database, Purposes
from lawful.data.log import ProcessingRecord
from lawful.data.purpose import Actor
from lawful.policy.model import Policy
from lawful.retention.holds import held_until
from lawful.rights.access import logged_about, purposes_needed, root_values
from lawful.rights.models import SealedRecord, SubjectKind
from lawful.rights.subjects import Link, Subject, blank, is_numeric, links, purpose_of, root_table


@dataclass
class Erased:
    table: str
    action: str  # deleted, anonymised, unlinked, sealed
    rows: int
    categories: list[str]


@dataclass
class Kept:
    table: str
    rows: int
    purpose: str
    why: str
    until: str | None


@dataclass
class ErasureResult:
    subject: str
    at: datetime
    erased: list[Erased] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)
    people: list[str] = field(default_factory=list)  # other people erased with the subject

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "at": self.at.isoformat(),
            "erased": [e.__dict__ for e in self.erased if e.rows],
            "kept": [k.__dict__ for k in self.kept if k.rows],
            "people": self.people,
        }

    def note(self, table: str, action: str, rows: int, categories: list[str]) -> None:
        if rows <= 0:
            return
        for entry in self.erased:
            if entry.table == table and entry.action == action:
                entry.rows += rows
                entry.categories = sorted(set(entry.categories) | set(categories))
                return
        self.erased.append(Erased(table, action, rows, sorted(set(categories))))

    def keep(self, table: str, rows: int, purpose: str, why: str, until: date | None) -> None:
        if rows <= 0:
            return
        text = until.isoformat() if until else None
        for entry in self.kept:
            if (entry.table, entry.purpose, entry.why, entry.until) == (table, purpose, why, text):
                entry.rows += rows
                return
        self.kept.append(Kept(table, rows, purpose, why, text))


def _categories(table: Table, names: list[str] | None = None) -> list[str]:
    return sorted(
        {column_category(c) or "" for c in personal_columns(table) if names is None or c.name in names}
    )


def _pk(table: Table) -> Any:
    return table.primary_key.columns[0]


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def decode_sealed(values: str) -> dict[str, Any]:
    """The kept values of a sealed row, bytes restored."""
    out: dict[str, Any] = {}
    for key, value in json.loads(values).items():
        out[key] = (
            base64.b64decode(value["base64"]) if isinstance(value, dict) and "base64" in value else value
        )
    return out


class Eraser:
    def __init__(self, work: Purposes, policy: Policy, now: datetime, request_id: uuid.UUID | None) -> None:
        self.work = work
        self.policy = policy
        self.now = now
        self.today = now.date()
        self.request_id = request_id

    def erase(self, subject: Subject, result: ErasureResult) -> bool:
        from lawful.schema import metadata

        root = root_table(metadata, subject.kind)
        values = root_values(self.work, self.policy, root, subject)
        if values is None:
            return False
        if subject.kind is SubjectKind.sole_proprietor:
            self._close_account(subject, result)
        own, *others = links(metadata, root)
        for link in others:
            self._erase_link(link, subject, values, result)
        self._erase_own(own, root, subject, result)
        return True

    # --- a sole proprietor's account ------------------------------------------------------------

    def _close_account(self, subject: Subject, result: ErasureResult) -> None:
        from lawful.billing.models import Subscription
        from lawful.customers.models import ContactPerson
        from lawful.users.models import User

        for model, kind in ((User, SubjectKind.user), (ContactPerson, SubjectKind.contact_person)):
            table = model.__table__
            assert isinstance(table, Table)
            ids = self.work.execute("contract", select(table.c.id).where(table.c.customer_id == subject.id))
            for person in list(ids.scalars()):
                other = Subject(kind, person)
                if self.erase(other, result):
                    result.people.append(str(other))
        subscriptions = Subscription.__table__
        assert isinstance(subscriptions, Table)
        self.work.execute(
            "contract",
            delete(subscriptions).where(
                subscriptions.c.customer_id == subject.id, subscriptions.c.starts_on >= self.today
            ),
        )
        self.work.execute(
            "contract",
            update(subscriptions)
            .where(
                subscriptions.c.customer_id == subject.id,
                or_(subscriptions.c.ends_on.is_(None), subscriptions.c.ends_on > self.today),
            )
            .values(ends_on=self.today),
        )

    # --- the person's own row -------------------------------------------------------------------

    def _erase_own(self, own: Link, root: Table, subject: Subject, result: ErasureResult) -> None:
        condition = own.condition(subject.id, {})
        assert condition is not None
        purpose = purpose_of(root, self.policy)
        referenced_by_held = any(
            table_hold(t) is not None and any(fk.column.table is root for fk in t.foreign_keys)
            for t in root.metadata.sorted_tables
        )
        if referenced_by_held:
            changes = {c.name: blank(c) for c in personal_columns(root)}
            if "erased_at" in root.c:
                changes["erased_at"] = self.now
            if "status" in root.c and subject.kind is SubjectKind.sole_proprietor:
                changes["status"] = "ended"
                # The agreement ends today unless it ended before.
                self.work.execute(
                    purpose,
                    update(root)
                    .where(condition, or_(root.c.contract_end.is_(None), root.c.contract_end > self.today))
                    .values(contract_end=self.today),
                )
            self.work.execute(purpose, update(root).where(condition).values(**changes))
            result.note(root.name, "anonymised", 1, _categories(root))
        else:
            rows = self.work.execute(purpose, delete(root).where(condition)).rowcount
            result.note(root.name, "deleted", rows, _categories(root))

    # --- rows linked to the person --------------------------------------------------------------

    def _erase_link(
        self, link: Link, subject: Subject, values: dict[str, Any], result: ErasureResult
    ) -> None:
        table = link.table
        if link.how == "agreement" or table_only(table) is not None:
            return  # no personal data (the agreement's records), or what an earlier erasure kept
        condition = link.condition(subject.id, values)
        if condition is None:
            return
        purpose = purpose_of(table, self.policy)
        personal = list(personal_columns(table))
        if table_hold(table) is not None:
            self._seal(table, purpose, condition, subject, result)
            return
        spec = table_subject(table)
        if spec is not None and spec.kept == "accountability":
            changes = {c.name: blank(c) for c in personal if c is not link.column}
            if changes:
                rows = self.work.execute(purpose, update(table).where(condition).values(**changes)).rowcount
                result.note(table.name, "anonymised", rows, _categories(table, list(changes)))
            else:
                rows = self.work.execute(
                    purpose, select(func.count()).select_from(table).where(condition)
                ).scalar_one()
            declared = self.policy.purpose(purpose).category(link.column.info.get("category", ""))
            result.keep(
                table.name,
                rows,
                purpose,
                "the record that a request was made and answered (GDPR art. 5(2) and 12), with your "
                "account's identifier only"
                + (f", for {declared.retention.phrase}" if declared is not None else ""),
                None,
            )
            return
        if link.how == "identifier":
            changes = {c.name: blank(c) for c in personal}
            rows = self.work.execute(purpose, update(table).where(condition).values(**changes)).rowcount
            result.note(table.name, "anonymised", rows, _categories(table))
            return
        others = [c for c in personal if c is not link.column]
        if not others and link.column.nullable:
            rows = self.work.execute(
                purpose, update(table).where(condition).values({link.column.name: None})
            ).rowcount
            result.note(table.name, "unlinked", rows, _categories(table, [link.column.name]))
            return
        rows = self.work.execute(purpose, delete(table).where(condition)).rowcount
        result.note(table.name, "deleted", rows, _categories(table))

    def _seal(
        self, table: Table, purpose: str, condition: Any, subject: Subject, result: ErasureResult
    ) -> None:
        hold_spec = table_hold(table)
        assert hold_spec is not None
        moved = [c for c in personal_columns(table) if not is_numeric(c)]
        pk = _pk(table)
        date_column = table.c[hold_spec.date]
        rows = self.work.execute(purpose, select(pk, date_column, *moved).where(condition)).mappings().all()
        doomed: list[Any] = []
        for row in rows:
            hold = held_until(self.policy, table, row[hold_spec.date], self.today)
            if not hold.held or hold.until is None:
                doomed.append(row[pk.name])
                continue
            if moved:
                kept_values = {c.name: _encode(row[c.name]) for c in moved}
                self.work.execute(
                    hold.purpose or hold_spec.purpose,
                    table_of(SealedRecord)
                    .insert()
                    .values(
                        id=new_id(),
                        table_name=table.name,
                        row_id=str(row[pk.name]),
                        subject_id=subject.id,
                        request_id=self.request_id,
                        sealed_at=self.now,
                        held_until=hold.until,
                        why=hold.why,
                        values=json.dumps(kept_values),
                    ),
                )
                self.work.execute(
                    purpose,
                    update(table).where(pk == row[pk.name]).values({c.name: blank(c) for c in moved}),
                )
                result.note(table.name, "sealed", 1, _categories(table, [c.name for c in moved]))
            result.keep(table.name, 1, hold.purpose or hold_spec.purpose, hold.why, hold.until)
        if doomed:
            deleted = self.work.execute(purpose, delete(table).where(pk.in_(doomed))).rowcount
            result.note(table.name, "deleted", deleted, _categories(table))


def erase(
    db: Database,
    subject: Subject,
    *,
    actor: Actor,
    now: datetime | None = None,
    request_id: uuid.UUID | None = None,
    visitor_codes: list[int] | None = None,
    dry_run: bool = False,
) -> ErasureResult | None:
    """Erase ``subject`` (see the module); None when no such person exists.

    ``dry_run``: do all of it in the transaction, then roll it back, so the result says exactly what
    erasing would do (the confirmation page shows it). Only the reads are logged as processing.
    """
    from lawful.schema import metadata

    policy = db.policy
    now = now or datetime.now(UTC)
    root = root_table(metadata, subject.kind)
    result = ErasureResult(str(subject), now)
    keys = set(purposes_needed(metadata, policy, root)) | {"contract", "monitoring"}
    try:
        with db.purposes(actor, *[p.key for p in policy.purposes if p.key in keys]) as work:
            if not _erase(work, policy, subject, result, now, request_id, visitor_codes):
                return None
            if dry_run:
                for access in work.accesses.values():
                    for key in [k for k in access.entries if k[0] != "read"]:
                        del access.entries[key]  # rolled back: not done, so not logged
                raise _RolledBack
    except _RolledBack:
        pass
    return result


class _RolledBack(Exception):
    """Leaves a dry run's transaction, which rolls it back."""


def _erase(
    work: Purposes,
    policy: Policy,
    subject: Subject,
    result: ErasureResult,
    now: datetime,
    request_id: uuid.UUID | None,
    visitor_codes: list[int] | None,
) -> bool:
    today = now.date()
    if not Eraser(work, policy, now, request_id).erase(subject, result):
        return False
    if visitor_codes:
        from lawful.rights.visitors import delete_events

        result.note("page_events", "deleted", delete_events(work, visitor_codes), ["user.behavior"])
    logged = work.execute(
        "accountability",
        select(func.count()).select_from(table_of(ProcessingRecord)).where(logged_about(subject)),
    ).scalar_one()
    retention = policy.purpose("accountability").category("user.unique_id")
    result.keep(
        "processing_log",
        int(logged),
        "accountability",
        "which kinds of your data were processed, when and why: your account's identifier only, "
        "no values (GDPR art. 5(2))",
        None if retention is None else today + retention.retention.delta,
    )
    return True
