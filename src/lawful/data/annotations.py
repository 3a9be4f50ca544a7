"""Column and table annotations: which personal data a column holds and whom it is about.

Every personal-data column says so where it is declared::

    email: Mapped[str] = mapped_column(String(254), info=personal("user.contact.email"))

and every table that holds personal data names its subject::

    __table_args__ = {"info": subject("employee", key="id")}

The key is the column that identifies the data subject of a row (the row's own id, or a
foreign key such as ``user_id``). For rows that are personal data only for some kinds of
customer (a sole proprietor's company data), ``when`` names the condition:
``subject("customer", key="id", when=("kind", "sole_proprietor"))``.

A column whose name looks personal but is not (``table_name``, ``plan_name``) says why with
``not_personal("...")``; the metadata check refuses a personal-looking column that says nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table

CATEGORY = "category"
NOT_PERSONAL = "not_personal"
SUBJECT = "subject"
HOLD = "hold"
ONLY = "only_under"


def personal(category: str, *, identifies: bool = False) -> dict[str, Any]:
    """Annotate a column holding personal data of the fideslang ``category``.

    ``identifies``: the value on its own points to a person (an e-mail address, a name), so it is
    what erasure must remove and what an access request searches for.
    """
    return {CATEGORY: category, "identifies": identifies}


def not_personal(why: str) -> dict[str, Any]:
    """Mark a personal-looking column as holding no personal data, and say why."""
    if not why.strip():
        raise ValueError("not_personal() needs a reason")
    return {NOT_PERSONAL: why}


@dataclass(frozen=True, slots=True)
class SubjectSpec:
    """Whom the rows of a table are about."""

    kind: str
    key: str
    when: tuple[str, str] | None = None
    logged: bool = True
    kept: str | None = None
    since: str | None = None


def subject(
    kind: str,
    *,
    key: str = "id",
    when: tuple[str, str] | None = None,
    logged: bool = True,
    kept: str | None = None,
    since: str | None = None,
) -> dict[str, Any]:
    """Table-level annotation: the fideslang data subject and the column that identifies them.

    ``logged=False`` keeps the subject's key out of the processing log: the log then records the
    table's processing per statement, not per subject. It is for pseudonymous, high-volume
    monitoring rows, whose keys must not outlive the rows themselves in a log kept far longer.

    ``kept`` names the purpose the rows are kept under: its retention of each column's category
    is what the retention run applies, and the access report reads the table under it. ``since``
    is the column with the moment of collection (a timestamp, a date, or milliseconds since the
    epoch), from which retentions triggered by ``collection`` count.
    """
    return {SUBJECT: SubjectSpec(kind, key, when, logged, kept, since)}


@dataclass(frozen=True, slots=True)
class HoldSpec:
    """A legal hold on the rows of a table: kept under ``purpose`` for as long as the policy's
    retention of the table's categories under that purpose says, counted from ``date``.

    A row whose ``date`` is still empty (a draft invoice) is not held.
    """

    purpose: str
    date: str
    why: str


def held(purpose: str, *, date: str, why: str) -> dict[str, Any]:
    """Table-level annotation: a law obliges keeping these rows; erasure leaves them."""
    if not why.strip():
        raise ValueError("held() needs the reason the law gives")
    return {HOLD: HoldSpec(purpose, date, why)}


@dataclass(frozen=True, slots=True)
class OnlySpec:
    """A table readable and writable under one purpose only, whatever categories its columns hold."""

    purpose: str
    why: str


def only_under(purpose: str, *, why: str) -> dict[str, Any]:
    """Table-level annotation: every statement that reaches this table must run under ``purpose``.

    The category check allows a statement when the active purpose declares the categories it
    reaches; this is stricter. It is for what erasure leaves behind because a law obliges keeping
    it: the records kept for tax law of an erased person are readable under the legal obligation
    only, although their categories (a name, an address) are declared under other purposes too.
    """
    if not why.strip():
        raise ValueError("only_under() needs the reason")
    return {ONLY: OnlySpec(purpose, why)}


def table_only(table: Table) -> OnlySpec | None:
    value = table.info.get(ONLY)
    return value if isinstance(value, OnlySpec) else None


def table_hold(table: Table) -> HoldSpec | None:
    value = table.info.get(HOLD)
    return value if isinstance(value, HoldSpec) else None


def column_category(column: Column[Any]) -> str | None:
    value = column.info.get(CATEGORY)
    return value if isinstance(value, str) else None


def table_subject(table: Table) -> SubjectSpec | None:
    value = table.info.get(SUBJECT)
    return value if isinstance(value, SubjectSpec) else None


def personal_columns(table: Table) -> list[Column[Any]]:
    return [c for c in table.columns if column_category(c)]
