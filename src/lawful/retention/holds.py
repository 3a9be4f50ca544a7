"""Legal holds, computed from the table annotations and the policy.

A table annotated with :func:`lawful.data.annotations.held` is kept under a purpose whose legal
basis obliges keeping it (invoices under ``legal_obligation``). For one row, :func:`hold_of`
answers whether it is held, until which day and why; erasure and the access report rely on it,
and the API shows it with every invoice. The day comes from the policy: the longest retention
that the holding purpose declares for the table's categories, counted from the row's date
column (for ``fiscal_year_end``: from the last day of that date's fiscal year, the calendar year).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Table

from lawful.data.annotations import column_category, personal_columns, table_hold
from lawful.policy.model import Policy, Trigger


@dataclass(frozen=True, slots=True)
class Hold:
    held: bool
    until: date | None  # the first day it may be deleted
    purpose: str | None
    why: str

    def as_dict(self) -> dict[str, object]:
        return {
            "held": self.held,
            "until": self.until.isoformat() if self.until else None,
            "purpose": self.purpose,
            "why": self.why,
        }


NOT_HELD = Hold(False, None, None, "")


def fiscal_year_end(day: date) -> date:
    return date(day.year, 12, 31)


def trigger_date(trigger: Trigger, day: date) -> date:
    return fiscal_year_end(day) if trigger is Trigger.fiscal_year_end else day


def hold_of(policy: Policy, table: Table, day: date | None) -> Hold:
    """The legal hold on a row of ``table`` whose hold-date column holds ``day``."""
    spec = table_hold(table)
    if spec is None:
        return NOT_HELD
    if day is None:
        return Hold(False, None, spec.purpose, "not held yet: " + spec.why)
    purpose = policy.purpose(spec.purpose)
    until: date | None = None
    for column in personal_columns(table):
        category = column_category(column)
        declared = purpose.category(category) if category else None
        if declared is None:
            continue
        end = declared.retention.expires(trigger_date(declared.retention.trigger, day))
        until = end if until is None or end > until else until
    if until is None:
        return NOT_HELD
    return Hold(True, until, spec.purpose, spec.why)


def held_until(policy: Policy, table: Table, day: date | None, today: date) -> Hold:
    """Like :func:`hold_of`, but a hold whose day has come is no longer held."""
    hold = hold_of(policy, table, day)
    if hold.held and hold.until is not None and hold.until <= today:
        return Hold(False, hold.until, hold.purpose, "the hold ended: " + hold.why)
    return hold
