"""Purpose-bound access: every statement is checked against the policy before it runs.

A session is bound to a purpose and an actor (see :meth:`lawful.data.db.Database.session`).
Just before the database driver receives a statement, :func:`check_statement` works out which
annotated personal-data columns it reads (selects or filters on), writes or deletes, and raises
:class:`~lawful.errors.PurposeViolation` when the active purpose does not declare one of their
categories. Allowed processing is collected per unit of work and written to the processing log
when it commits (or, when it does not, in a transaction of its own when the session closes).

The analysis of a statement is done once per compiled form and cached on SQLAlchemy's compiled
object, which SQLAlchemy itself caches per statement shape; checking a statement that has been
seen before costs a few dictionary look-ups.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Column, Table, insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.sql import visitors
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, ColumnElement, TextClause
from sqlalchemy.sql.operators import eq
from sqlalchemy.sql.selectable import TextualSelect

from lawful.data.annotations import column_category, personal_columns, table_only, table_subject
from lawful.data.base import utcnow
from lawful.data.log import ProcessingRecord
from lawful.errors import PurposeViolation
from lawful.policy.model import Purpose

ACCESS = "lawful_access"
INTERNAL = "lawful_internal"

Operation = Literal["read", "write", "delete"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who processes: a staff member, a customer's user, or a system job."""

    kind: Literal["staff", "user", "system"]
    id: str
    role: str | None = None

    @classmethod
    def system(cls, job: str) -> Actor:
        return cls("system", job)

    @classmethod
    def staff(cls, staff_id: object, role: str) -> Actor:
        return cls("staff", str(staff_id), role)

    @classmethod
    def user(cls, user_id: object) -> Actor:
        return cls("user", str(user_id))

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


LogKey = tuple[str, str, str, str | None, str | None]


@dataclass(slots=True)
class Access:
    """The purpose and actor of one unit of work, and the processing it has done so far."""

    purpose: Purpose
    actor: Actor
    record: bool = True
    entries: dict[LogKey, int] = field(default_factory=lambda: defaultdict(int))

    def records(self) -> list[dict[str, Any]]:
        at = utcnow()
        return [
            {
                "at": at,
                "actor_kind": self.actor.kind,
                "actor_id": self.actor.id,
                "purpose": self.purpose.key,
                "operation": op,
                "table_name": table,
                "categories": cats,
                "subject_table": subject_table,
                "subject_id": subject_id,
                "statements": count,
            }
            for (op, table, cats, subject_table, subject_id), count in self.entries.items()
        ]

    def write_log(self, connection: Connection) -> None:
        """Append the collected processing to the log on ``connection`` and forget it."""
        if not self.entries:
            return
        connection.execute(insert(ProcessingRecord).execution_options(**{INTERNAL: True}), self.records())
        self.entries.clear()


@dataclass(slots=True)
class Touch:
    """What one statement does to one table's personal data."""

    table: str
    categories: str
    subject_table: str | None
    subject_param: str | None


@dataclass(slots=True)
class Analysis:
    operation: Operation
    opaque: bool
    categories: frozenset[str]
    touches: list[Touch]
    verdicts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    only: dict[str, str] = field(default_factory=dict)  # table -> the one purpose it may be reached under

    def uncovered(self, purpose: Purpose) -> tuple[str, ...]:
        verdict = self.verdicts.get(purpose.key)
        if verdict is None:
            verdict = tuple(sorted(c for c in self.categories if not purpose.covers(c)))
            self.verdicts[purpose.key] = verdict
        return verdict


_NOTHING = Analysis("read", False, frozenset(), [])


def _base_columns(element: ColumnElement[Any]) -> list[Column[Any]]:
    """The table columns an expression stands for (through aliases, subqueries and labels)."""
    return [c for c in element.proxy_set if isinstance(c, Column) and isinstance(c.table, Table)]


def analyse(context: DefaultExecutionContext) -> Analysis:
    compiled = context.compiled
    if compiled is None:
        return Analysis("read", True, frozenset(), [])
    statement = compiled.statement
    if context.isddl:
        return _NOTHING
    if isinstance(statement, TextClause | TextualSelect):
        return Analysis("read", True, frozenset(), [])
    operation: Operation = "read"
    by_table: dict[str, set[str]] = defaultdict(set)
    tables: dict[str, Table] = {}
    only: dict[str, str] = {}

    def add(column: Column[Any]) -> None:
        table_of = column.table
        if isinstance(table_of, Table) and table_of.name not in only:
            spec_only = table_only(table_of)
            if spec_only is not None:
                only[table_of.name] = spec_only.purpose
        category = column_category(column)
        if category:
            table = column.table
            assert isinstance(table, Table)
            by_table[table.name].add(category)
            tables[table.name] = table

    for element in visitors.iterate(statement):
        if isinstance(element, Table):
            element_only = table_only(element)
            if element_only is not None:
                only[element.name] = element_only.purpose
        elif isinstance(element, ColumnElement):
            for column in _base_columns(element):
                add(column)
    for entry in getattr(compiled, "_result_columns", ()):
        for obj in entry.objects:
            if isinstance(obj, ColumnElement):
                for column in _base_columns(obj):
                    add(column)
    params = context.compiled_parameters[0] if context.compiled_parameters else {}
    target: Table | None = None
    if isinstance(statement, Insert | Update | Delete) and isinstance(statement.table, Table):
        target = statement.table
        target_only = table_only(target)
        if target_only is not None:
            only[target.name] = target_only.purpose
        operation = "delete" if isinstance(statement, Delete) else "write"
        if operation == "delete":
            for column in personal_columns(target):
                add(column)
        else:
            for key in params:
                if key in target.c:
                    add(target.c[key])
    touches = []
    for name, categories in by_table.items():
        table = tables[name]
        spec = table_subject(table)
        param = None
        if spec is not None and spec.logged:
            if target is table and isinstance(statement, Insert):
                param = spec.key if spec.key in params else None
            else:
                param = _subject_param(statement, table.c[spec.key], getattr(compiled, "bind_names", {}))
        touches.append(
            Touch(
                name, ",".join(sorted(categories)), name if spec is not None and spec.logged else None, param
            )
        )
    return Analysis(
        operation, False, frozenset(c for cats in by_table.values() for c in cats), touches, only=only
    )


def _subject_param(statement: Any, key: Column[Any], bind_names: dict[BindParameter[Any], str]) -> str | None:
    """The bound parameter in ``WHERE key = :param``, if the statement has exactly that filter."""
    where = getattr(statement, "whereclause", None)
    if where is None:
        return None
    found: list[str] = []
    for element in visitors.iterate(where):
        if isinstance(element, BinaryExpression) and element.operator is eq:
            left, right = element.left, element.right
            if isinstance(left, BindParameter):
                left, right = right, left
            if isinstance(right, BindParameter) and isinstance(left, ColumnElement) and key in left.proxy_set:
                found.append(bind_names.get(right, right.key))
    return found[0] if len(found) == 1 else None


def check_statement(context: DefaultExecutionContext) -> None:
    """Refuse what the purpose does not declare, note the rest (once per statement)."""
    options = context.execution_options
    if options.get(INTERNAL):
        return
    compiled = context.compiled
    analysis: Analysis | None = getattr(compiled, "_lawful", None) if compiled is not None else None
    if analysis is None:
        analysis = analyse(context)
        if compiled is not None:
            compiled._lawful = analysis  # type: ignore[attr-defined]
    access: Access | None = options.get(ACCESS)
    if analysis.only:
        wrong = sorted(t for t, p in analysis.only.items() if access is None or p != access.purpose.key)
        if wrong:
            purposes = sorted({analysis.only[t] for t in wrong})
            raise PurposeViolation(
                f"{', '.join(wrong)} may be reached only under purpose {' and '.join(purposes)}, "
                f"not under {access.purpose.key if access else 'no purpose'!r}",
                detail={"purpose": access.purpose.key if access else None, "only": purposes},
            )
    if access is None:
        if analysis.categories:
            raise PurposeViolation(
                "personal data ({}) was reached without a purpose; obtain a session with "
                "Database.session(purpose, actor)".format(", ".join(sorted(analysis.categories)))
            )
        return
    if analysis.opaque:
        raise PurposeViolation(
            f"raw SQL cannot be checked against the policy, so it is refused under purpose "
            f"{access.purpose.key!r}; write the statement with SQLAlchemy expressions"
        )
    if not analysis.categories:
        return
    uncovered = analysis.uncovered(access.purpose)
    if uncovered:
        raise PurposeViolation(
            f"purpose {access.purpose.key!r} does not declare {', '.join(uncovered)}; "
            f"{access.actor} may not {analysis.operation} it "
            f"(tables: {', '.join(t.table for t in analysis.touches)})",
            detail={"purpose": access.purpose.key, "categories": list(uncovered)},
        )
    if not access.record:
        return
    entries = access.entries
    op = analysis.operation
    for touch in analysis.touches:
        if touch.subject_param is None:
            entries[(op, touch.table, touch.categories, None, None)] += 1
        else:
            for params in context.compiled_parameters:
                value = params.get(touch.subject_param)
                entries[
                    (
                        op,
                        touch.table,
                        touch.categories,
                        touch.subject_table,
                        None if value is None else str(value),
                    )
                ] += 1


def install(engine: Engine) -> None:
    """Make ``engine`` check every statement against the purpose of the session running it.

    The check runs in the execution context's ``pre_exec``, once per statement (also when an
    insert of many rows goes out in several batches), before the driver sees it. An engine event
    listener would do the same, but any listener makes SQLAlchemy dispatch its engine events on
    every statement, which costs more than the check itself.
    """
    dialect = engine.dialect
    base = dialect.execution_ctx_cls
    if getattr(base, "lawful_checking", False):
        return

    class CheckingContext(base):  # type: ignore[misc, valid-type]
        lawful_checking = True

        def pre_exec(self) -> None:
            super().pre_exec()
            check_statement(self)

    dialect.execution_ctx_cls = CheckingContext
