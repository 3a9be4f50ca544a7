"""Queries over usage events for fees: totals per customer account, event code and period.

Totals read the account, the code, the time and the value of usage events and never the user
who caused them (``user_id``), so they touch no personal column and run under ``contract``.
Values are stored as integer millionths (``value_micros``) and come back as :class:`Decimal`;
nothing here passes through a float.

A period is a UTC day or a UTC calendar month. A range is given by its first and last day
(both included); a month at the edge of a range counts only the days inside the range.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from sqlalchemy import BigInteger, ColumnElement, case, func, literal_column, select
from sqlalchemy.orm import Session

from lawful.customers.models import Customer
from lawful.errors import Invalid
from lawful.monitoring.models import UsageEvent

Period = Literal["day", "month"]
PERIODS: tuple[Period, ...] = ("day", "month")
DAY_MS = 86_400_000
MAX_DAYS: dict[Period, int] = {"day": 366, "month": 3 * 366}
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
MICROS = Decimal(1_000_000)


# --- values and periods ---------------------------------------------------------------------------


def to_decimal(micros: int) -> Decimal:
    """An amount in millionths as an exact decimal (``1_500_000`` -> ``Decimal("1.5")``)."""
    return Decimal(micros).scaleb(-6)


def decimal_text(micros: int) -> str:
    """An amount in millionths as a plain decimal string without trailing zeros (``"1.5"``, ``"3"``)."""
    text = format(to_decimal(micros).normalize(), "f")
    return "0" if text in ("-0", "") else text


def day_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def month_end(day: date) -> date:
    """The last day of the month of ``day``."""
    return next_month(day) - timedelta(days=1)


def parse_month(value: str) -> date:
    """The first day of a month given as ``YYYY-MM``; ``Invalid`` otherwise."""
    try:
        year, month = value.strip().split("-")
        first = date(int(year), int(month), 1)
    except ValueError:
        raise Invalid(f"{value!r} is not a month (YYYY-MM)", detail={"field": "month"}) from None
    if not EARLIEST <= first <= LATEST:
        raise Invalid(f"the month must lie between {EARLIEST:%Y-%m} and {LATEST:%Y-%m}")
    return first


def period_starts(start: date, end: date, period: Period) -> list[date]:
    """The first day of every period that overlaps the range (a month: its first day)."""
    if period == "day":
        return [start + timedelta(days=n) for n in range((end - start).days + 1)]
    months, current = [], month_start(start)
    while current <= end:
        months.append(current)
        current = next_month(current)
    return months


def period_label(first: date, period: Period) -> str:
    """``2026-11-29`` for a day, ``2026-11`` for a month."""
    return first.isoformat() if period == "day" else f"{first:%Y-%m}"


def check_range(start: date, end: date, period: Period) -> None:
    """Refuse a range that is reversed, outside 2000-2100, or too long for its period."""
    if period not in PERIODS:
        raise Invalid("period must be day or month", detail={"field": "period"})
    if not (EARLIEST <= start <= LATEST and EARLIEST <= end <= LATEST):
        raise Invalid(f"dates must lie between {EARLIEST} and {LATEST}")
    if end < start:
        raise Invalid("'to' lies before 'from'", detail={"field": "to"})
    days = (end - start).days + 1
    if days > MAX_DAYS[period]:
        raise Invalid(
            f"a range of {days} days is too long: per {period}, at most {MAX_DAYS[period]} days",
            detail={"field": "to"},
        )


# --- totals ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Total:
    """The usage of one customer account for one event code in one period."""

    customer_id: uuid.UUID
    code: str
    period: date  # the day, or the first day of the month
    events: int
    value_micros: int

    @property
    def value(self) -> Decimal:
        return to_decimal(self.value_micros)


def _number(value: int) -> ColumnElement[int]:
    """An integer written into the statement (a bound parameter would differ between the select
    list and GROUP BY, which PostgreSQL refuses)."""
    return literal_column(str(int(value)), BigInteger)


def _bucket(start: date, end: date, period: Period) -> tuple[ColumnElement[int], list[date]]:
    """An expression numbering the period of an event's ``ts`` within the range, and the periods."""
    starts = period_starts(start, end, period)
    if len(starts) == 1:
        return _number(0), starts
    if period == "day":
        return (UsageEvent.ts - _number(day_ms(start))) // _number(DAY_MS), starts
    whens = [(UsageEvent.ts < _number(day_ms(first)), _number(n)) for n, first in enumerate(starts[1:])]
    return case(*whens, else_=_number(len(starts) - 1)), starts


def totals(
    session: Session,
    *,
    start: date,
    end: date,
    period: Period = "month",
    customer_id: uuid.UUID | None = None,
    code: str | None = None,
) -> list[Total]:
    """Count and sum of the usage events per customer, code and period between ``start`` and
    ``end`` (both included), ordered by customer, code and period. One query; no user column."""
    check_range(start, end, period)
    expression, starts = _bucket(start, end, period)
    bucket = expression.label("bucket")
    # one period needs no bucket in GROUP BY (where a constant would name a column by position)
    groups = [UsageEvent.customer_id, UsageEvent.code, *([bucket] if len(starts) > 1 else [])]
    stmt = (
        select(
            UsageEvent.customer_id,
            UsageEvent.code,
            bucket,
            func.count().label("events"),
            func.sum(UsageEvent.value_micros).label("micros"),
        )
        .where(UsageEvent.ts >= day_ms(start), UsageEvent.ts < day_ms(end + timedelta(days=1)))
        .group_by(*groups)
        .order_by(*groups)
    )
    if customer_id is not None:
        stmt = stmt.where(UsageEvent.customer_id == customer_id)
    if code is not None:
        stmt = stmt.where(UsageEvent.code == code)
    return [
        Total(row.customer_id, row.code, starts[int(row.bucket)], int(row.events), int(row.micros or 0))
        for row in session.execute(stmt)
    ]


@dataclass(frozen=True, slots=True)
class Summary:
    """The usage of one customer for one code over a whole range."""

    customer_id: uuid.UUID
    code: str
    events: int
    value_micros: int

    @property
    def value(self) -> Decimal:
        return to_decimal(self.value_micros)


def summarise(rows: Iterable[Total]) -> list[Summary]:
    """Totals added up over their periods: one per customer and code."""
    sums: dict[tuple[uuid.UUID, str], list[int]] = {}
    for row in rows:
        entry = sums.setdefault((row.customer_id, row.code), [0, 0])
        entry[0] += row.events
        entry[1] += row.value_micros
    return [Summary(c, code, n, micros) for (c, code), (n, micros) in sums.items()]


@dataclass(frozen=True, slots=True)
class Point:
    day: date
    events: int
    value_micros: int

    @property
    def value(self) -> Decimal:
        return to_decimal(self.value_micros)


def daily_series(
    session: Session, *, customer_id: uuid.UUID, start: date, end: date
) -> dict[str, list[Point]]:
    """Per event code, one point per day of the range (days without usage are zeros), for a chart."""
    found: dict[str, dict[date, Total]] = {}
    for row in totals(session, start=start, end=end, period="day", customer_id=customer_id):
        found.setdefault(row.code, {})[row.period] = row
    days = period_starts(start, end, "day")
    series: dict[str, list[Point]] = {}
    for code in sorted(found):
        by_day = found[code]
        series[code] = [
            Point(d, by_day[d].events, by_day[d].value_micros) if d in by_day else Point(d, 0, 0)
            for d in days
        ]
    return series


def customer_names(session: Session, ids: Sequence[uuid.UUID] | set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The legal names of the given customers (those that exist)."""
    if not ids:
        return {}
    stmt = select(Customer.id, Customer.legal_name).where(Customer.id.in_(list(ids)))
    return dict(session.execute(stmt).all())
