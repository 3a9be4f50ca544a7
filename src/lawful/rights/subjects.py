"""Where Lawful holds data about a person, found from the column annotations alone.

A person is a row of a *root* table: a customer's user (``users``), a contact person
(``contact_persons``) or a sole proprietor (``customers`` whose ``kind`` is ``sole_proprietor``).
:func:`links` lists, for a root table, every table and column through which rows are about that
person, reading nothing but the schema's annotations:

- ``own``: the person's own row;
- ``subject``: tables whose subject key (``subject(key=...)``) holds the person's id, either a
  foreign key to the root table or a key without one (``principal_id``, ``recipient_id``);
- ``identifier``: other columns annotated as the person's identifier (``user.unique_id``) that
  point at the root table (the user a support conversation was with);
- ``agreement``: tables without personal columns that belong to the person's row (a sole
  proprietor's subscriptions);
- ``value``: e-mail addresses and phone numbers that identify (``identifies=True``) in tables
  about others, matched against the person's own (mail sent to their address).

A new annotated table or column is found without any change here. Two tables are reported in
sections of their own: the processing log (entries by and about the person) and the subjects of
disclosures (which an authority's order may keep confidential). Page events are pseudonymous and
linked to a visitor only through the day's salt (see :mod:`lawful.rights.visitors`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from sqlalchemy import Column, ColumnElement, LargeBinary, MetaData, String, Table, Text, Uuid, and_
from sqlalchemy.types import Integer, Numeric

from lawful.data.annotations import (
    SubjectSpec,
    column_category,
    personal_columns,
    table_only,
    table_subject,
)
from lawful.policy.model import Policy
from lawful.rights.models import SubjectKind

#: Tables reported in sections of their own, not as rows.
SECTIONS = frozenset({"processing_log", "disclosure_subjects"})
#: Categories whose identifying values are matched across tables (unique to one person, unlike a name).
MATCHED_VALUES = ("user.contact.email", "user.contact.phone_number")
IDENTIFIER = "user.unique_id"
CREDENTIALS = "user.authorization.credentials"

How = Literal["own", "subject", "identifier", "agreement", "value"]


@dataclass(frozen=True, slots=True)
class Subject:
    """One person: the kind of subject and the id of their row in its root table."""

    kind: SubjectKind
    id: uuid.UUID

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.id}"


@dataclass(frozen=True, slots=True)
class Link:
    """Rows of ``table`` are about the person when ``column`` holds their id (or their ``match`` value)."""

    table: Table
    column: Column[Any]
    how: How
    match: str | None = None  # for ``value``: the root column whose value is looked for

    @property
    def spec(self) -> SubjectSpec | None:
        return table_subject(self.table)

    def condition(self, subject_id: uuid.UUID, values: dict[str, Any]) -> ColumnElement[bool] | None:
        """The WHERE clause selecting the person's rows, or None when there is nothing to match."""
        if self.how == "value":
            value = values.get(self.match or "")
            if not value:
                return None
            # As stored, or lower-case as Lawful stores addresses it normalised: the column's index serves.
            clause: ColumnElement[bool] = self.column.in_(sorted({str(value), str(value).lower()}))
        elif isinstance(self.column.type, Uuid):
            clause = self.column == subject_id
        else:
            clause = self.column == str(subject_id)
        spec = self.spec
        if self.how in ("own", "subject") and spec is not None and spec.when is not None:
            name, expected = spec.when
            clause = and_(clause, self.table.c[name] == expected)
        return clause


def root_table(metadata: MetaData, kind: SubjectKind) -> Table:
    name = kind.table
    if name is None:
        raise ValueError(f"a {kind.value} has no row of their own")
    return metadata.tables[name]


def _owns_subject(table: Table, spec: SubjectSpec) -> bool:
    """Whether the rows of ``table`` are people themselves (its subject key is its primary key)."""
    return spec.key in table.primary_key.columns


def _references(column: Column[Any], root: Table) -> bool:
    return any(fk.column.table is root for fk in column.foreign_keys)


def _key_type_ok(column: Column[Any]) -> bool:
    return isinstance(column.type, Uuid | String)


def links(metadata: MetaData, root: Table) -> tuple[Link, ...]:
    """Every way rows in the schema are about a person of ``root``, from the annotations."""
    return _links(metadata, root, tuple(metadata.tables))


@cache
def _links(metadata: MetaData, root: Table, _tables: tuple[str, ...]) -> tuple[Link, ...]:
    found: list[Link] = [Link(root, root.primary_key.columns[0], "own")]
    matched = [
        c.name
        for c in personal_columns(root)
        if c.info.get("identifies") and column_category(c) in MATCHED_VALUES
    ]
    for table in metadata.sorted_tables:
        if table is root or table.name in SECTIONS:
            continue
        spec = table_subject(table)
        if spec is None:
            for column in table.columns:
                if _references(column, root) and not personal_columns(table):
                    found.append(Link(table, column, "agreement"))
            continue
        if _owns_subject(table, spec):
            continue  # other people's own rows (a customer's users are people of their own)
        key = table.c[spec.key]
        if _key_type_ok(key) and (_references(key, root) or not key.foreign_keys):
            found.append(Link(table, key, "subject"))
        for column in personal_columns(table):
            if column is key:
                continue
            category = column_category(column) or ""
            if category == IDENTIFIER and _references(column, root):
                found.append(Link(table, column, "identifier"))
            elif column.info.get("identifies") and category in MATCHED_VALUES:
                for name in matched:
                    if column_category(root.c[name]) == category:
                        found.append(Link(table, column, "value", match=name))
    return tuple(found)


def purpose_of(table: Table, policy: Policy) -> str:
    """The purpose a table is read and erased under: its ``only_under``, else the one it is kept under."""
    only = table_only(table)
    if only is not None:
        return only.purpose
    spec = table_subject(table)
    if spec is not None and spec.kept is not None:
        return spec.kept
    categories = [column_category(c) or "" for c in personal_columns(table)]
    for purpose in policy.purposes:
        if all(purpose.covers(c) for c in categories):
            return purpose.key
    raise LookupError(f"no purpose of the policy covers every column of {table.name}")


def is_numeric(column: Column[Any]) -> bool:
    return isinstance(column.type, Integer | Numeric)


def blank(column: Column[Any]) -> Any:
    """The value an erased column gets: NULL where allowed, else an empty value of its type."""
    if column.nullable:
        return None
    if isinstance(column.type, LargeBinary):
        return b""
    if isinstance(column.type, String | Text):
        return "(erased)" if column.info.get("identifies") else ""
    if is_numeric(column):
        return 0
    raise TypeError(f"{column} cannot be blanked")
