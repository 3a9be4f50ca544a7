"""Billable metrics: aggregations over usage events per customer account, computed in SQL.

A metric counts the events of one code (``count``), sums or takes the largest of their values
(``sum``, ``max``), counts the distinct values of a property (``unique_count``) or takes the
value of the last event (``latest``), optionally only over events whose properties match
filters (``{"region": ["eu", "us"]}``). Quantities come back in millionths, like the values
they are made of.

All metrics without filters that count, sum or take a maximum share one ``GROUP BY customer,
code`` pass over the period; the others take one pass each over their own code. None selects
the user who caused the usage, so the whole computation runs under the contract purpose.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import JSON, ColumnElement, Select, and_, cast, func, literal, select, type_coerce
from sqlalchemy.orm import Session

from lawful.billing.models import Aggregation, Metric
from lawful.errors import Invalid
from lawful.monitoring.models import UsageEvent

MICROS = 1_000_000
PROPERTY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_FILTER_VALUES = 50

Quantities = dict[tuple[uuid.UUID, uuid.UUID], int]  # (customer id, metric id) -> micros


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """What the aggregation needs of a metric (detached from the session)."""

    id: uuid.UUID
    event_code: str
    aggregation: Aggregation
    distinct_property: str | None
    filters: tuple[tuple[str, tuple[str, ...]], ...]

    @classmethod
    def of(cls, metric: Metric) -> MetricSpec:
        filters = parse_filters(metric.filters)
        return cls(
            metric.id,
            metric.event_code,
            metric.aggregation,
            metric.distinct_property,
            tuple(sorted((k, tuple(v)) for k, v in filters.items())),
        )

    @property
    def simple(self) -> bool:
        return not self.filters and self.aggregation in (Aggregation.count, Aggregation.sum, Aggregation.max)


def parse_filters(value: str | dict[str, object] | None) -> dict[str, list[str]]:
    """Validate a filter object: property name -> list of accepted values (as text)."""
    if value is None or value == "":
        return {}
    try:
        data = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        raise Invalid("filters must be a JSON object", detail={"field": "filters"}) from None
    if not isinstance(data, dict):
        raise Invalid("filters must be an object of property -> list of values", detail={"field": "filters"})
    result: dict[str, list[str]] = {}
    for key, values in data.items():
        if not isinstance(key, str) or not PROPERTY.match(key):
            raise Invalid(f"filter property {key!r} is not a property name", detail={"field": "filters"})
        if isinstance(values, str | int | bool):
            values = [values]
        if not isinstance(values, list) or not values or len(values) > MAX_FILTER_VALUES:
            raise Invalid(
                f"filter {key!r} needs a list of 1 to {MAX_FILTER_VALUES} values", detail={"field": "filters"}
            )
        if not all(isinstance(v, str | int | bool) for v in values):
            raise Invalid(
                f"filter {key!r}: values must be text, numbers or booleans", detail={"field": "filters"}
            )
        result[key] = [_as_text(v) for v in values]
    return result


def _as_text(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _property(session: Session, name: str) -> ColumnElement[str]:
    """The text of one top-level property of an event (NULL when absent).

    SQLite reads the TEXT column as JSON directly; PostgreSQL casts it first. Booleans read as
    ``true``/``false`` and numbers as their text, the way filters are written.
    """
    if session.get_bind().dialect.name == "postgresql":
        extracted: ColumnElement[str] = cast(UsageEvent.properties, JSON)[name].as_string()
        return extracted
    value = type_coerce(UsageEvent.properties, JSON)[name]
    kind = func.json_type(UsageEvent.properties, f'$."{name}"')
    text: ColumnElement[str] = func.iif(
        kind == "true", "true", func.iif(kind == "false", "false", value.as_string())
    )
    return text


def _window(start_ms: int, end_ms: int, customers: Sequence[uuid.UUID] | None) -> list[ColumnElement[bool]]:
    conditions = [UsageEvent.ts >= start_ms, UsageEvent.ts < end_ms]
    if customers is not None:
        conditions.append(UsageEvent.customer_id.in_(customers))
    return conditions


def aggregate(
    session: Session,
    metrics: Iterable[MetricSpec],
    start_ms: int,
    end_ms: int,
    customers: Sequence[uuid.UUID] | None = None,
) -> Quantities:
    """The quantity of each metric for each customer with usage in ``[start_ms, end_ms)``."""
    metrics = list(metrics)
    result: Quantities = {}
    simple = [m for m in metrics if m.simple]
    if simple:
        by_code: dict[str, list[MetricSpec]] = {}
        for m in simple:
            by_code.setdefault(m.event_code, []).append(m)
        statement = (
            select(
                UsageEvent.customer_id,
                UsageEvent.code,
                func.count(),
                func.sum(UsageEvent.value_micros),
                func.max(UsageEvent.value_micros),
            )
            .where(*_window(start_ms, end_ms, customers), UsageEvent.code.in_(sorted(by_code)))
            .group_by(UsageEvent.customer_id, UsageEvent.code)
        )
        for customer_id, code, count, total, largest in session.execute(statement):
            for m in by_code[code]:
                if m.aggregation is Aggregation.count:
                    value = int(count) * MICROS
                elif m.aggregation is Aggregation.sum:
                    value = int(total or 0)
                else:
                    value = int(largest or 0)
                result[(customer_id, m.id)] = value
    for m in metrics:
        if not m.simple:
            for customer_id, value in session.execute(_statement(session, m, start_ms, end_ms, customers)):
                result[(customer_id, m.id)] = int(value or 0)
    return result


def _statement(
    session: Session, m: MetricSpec, start_ms: int, end_ms: int, customers: Sequence[uuid.UUID] | None
) -> Select[uuid.UUID, int]:
    conditions = [*_window(start_ms, end_ms, customers), UsageEvent.code == m.event_code]
    for name, values in m.filters:
        conditions.append(_property(session, name).in_(values))
    where = and_(*conditions)
    if m.aggregation is Aggregation.latest:
        ranked = (
            select(
                UsageEvent.customer_id,
                UsageEvent.value_micros,
                func.row_number()
                .over(
                    partition_by=UsageEvent.customer_id,
                    order_by=(UsageEvent.ts.desc(), UsageEvent.id.desc()),
                )
                .label("rank"),
            )
            .where(where)
            .subquery()
        )
        return select(ranked.c.customer_id, ranked.c.value_micros).where(ranked.c.rank == 1)
    if m.aggregation is Aggregation.count:
        value: ColumnElement[int] = func.count() * literal(MICROS)
    elif m.aggregation is Aggregation.sum:
        value = func.sum(UsageEvent.value_micros)
    elif m.aggregation is Aggregation.max:
        value = func.max(UsageEvent.value_micros)
    else:
        if not m.distinct_property:
            raise Invalid("a unique count needs the property whose distinct values it counts")
        value = func.count(_property(session, m.distinct_property).distinct()) * literal(MICROS)
    return select(UsageEvent.customer_id, value).where(where).group_by(UsageEvent.customer_id)
