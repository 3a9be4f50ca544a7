"""The billing catalogue: metrics, plans with their charges, and customers' subscriptions.

A plan's prices are fixed once a customer subscribed to it (an invoice must be traceable to the
prices agreed); to change a price, create a new plan and move the customers. A customer has at
most one subscription at a time: changing plan ends the current one on the day the new one
starts, and the billing run prorates both.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from lawful.billing.metrics import PROPERTY, parse_filters
from lawful.billing.models import Aggregation, Charge, Metric, Plan, PriceModel, Subscription
from lawful.billing.rating import parse_pricing, pricing_json, to_cents, to_micros
from lawful.customers.models import Customer
from lawful.errors import Conflict, Invalid, NotFound

CODE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")
CURRENCIES = frozenset({"EUR"})
EARLIEST, LATEST = date(2000, 1, 2), date(2199, 12, 31)


def _code(value: str, what: str) -> str:
    value = value.strip()
    if not CODE.match(value):
        raise Invalid(
            f"{what} must be 1 to 64 lower-case letters, digits or _ . : - (got {value!r})",
            detail={"field": what.split()[-1]},
        )
    return value


def _name(value: str) -> str:
    value = value.strip()
    if not value or len(value) > 100:
        raise Invalid("a name of 1 to 100 characters is needed", detail={"field": "name"})
    return value


def _money(value: Decimal | str | int, field: str) -> int:
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise Invalid(f"{field}: {value!r} is not an amount", detail={"field": field}) from None
    if not amount.is_finite() or amount < 0 or amount > Decimal(10) ** 9:
        raise Invalid(f"{field}: an amount from 0 to 1,000,000,000", detail={"field": field})
    if amount != amount.quantize(Decimal("0.01")):
        raise Invalid(f"{field}: at most two decimals", detail={"field": field})
    return to_cents(amount)


# --- metrics ----------------------------------------------------------------------------------


def create_metric(
    session: Session,
    *,
    code: str,
    name: str,
    event_code: str,
    aggregation: Aggregation | str,
    distinct_property: str | None = None,
    filters: dict[str, Any] | None = None,
    unit: str = "",
) -> Metric:
    code = _code(code, "metric code")
    try:
        aggregation = Aggregation(aggregation)
    except ValueError:
        raise Invalid(
            f"aggregation must be one of {', '.join(a.value for a in Aggregation)}",
            detail={"field": "aggregation"},
        ) from None
    if aggregation is Aggregation.unique_count:
        if not distinct_property or not PROPERTY.match(distinct_property):
            raise Invalid(
                "a unique count needs the property whose distinct values it counts",
                detail={"field": "distinct_property"},
            )
    elif distinct_property:
        raise Invalid("only a unique count takes a property", detail={"field": "distinct_property"})
    if session.scalar(select(exists().where(Metric.code == code))):
        raise Conflict(f"a metric with code {code!r} exists", detail={"field": "code"})
    metric = Metric(
        code=code,
        name=_name(name),
        event_code=_code(event_code, "event code"),
        aggregation=aggregation,
        distinct_property=distinct_property or None,
        filters=json.dumps(parse_filters(filters or {}), sort_keys=True),
        unit=unit.strip()[:40],
    )
    session.add(metric)
    session.flush()
    return metric


def list_metrics(session: Session) -> list[Metric]:
    return list(session.scalars(select(Metric).order_by(Metric.code)))


def get_metric(session: Session, metric_id: uuid.UUID) -> Metric:
    metric = session.get(Metric, metric_id)
    if metric is None:
        raise NotFound("no such metric")
    return metric


# --- plans ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChargeInput:
    metric_code: str
    model: PriceModel | str
    pricing: dict[str, Any]
    included: Decimal | str | int = 0


def create_plan(
    session: Session,
    *,
    code: str,
    name: str,
    base_fee: Decimal | str | int = 0,
    minimum: Decimal | str | int = 0,
    currency: str = "EUR",
    description: str = "",
    charges: Sequence[ChargeInput] = (),
) -> Plan:
    code = _code(code, "plan code")
    if currency not in CURRENCIES:
        raise Invalid(
            f"currency must be one of {', '.join(sorted(CURRENCIES))}", detail={"field": "currency"}
        )
    if session.scalar(select(exists().where(Plan.code == code))):
        raise Conflict(f"a plan with code {code!r} exists", detail={"field": "code"})
    plan = Plan(
        code=code,
        name=_name(name),
        description=description.strip()[:2000],
        currency=currency,
        base_fee_cents=_money(base_fee, "base_fee"),
        minimum_cents=_money(minimum, "minimum"),
        active=True,
    )
    session.add(plan)
    session.flush()
    seen: set[uuid.UUID] = set()
    for position, item in enumerate(charges):
        metric = session.scalar(select(Metric).where(Metric.code == item.metric_code))
        if metric is None:
            raise Invalid(f"no metric with code {item.metric_code!r}", detail={"field": "charges"})
        if metric.id in seen:
            raise Invalid(f"metric {item.metric_code!r} is charged twice", detail={"field": "charges"})
        seen.add(metric.id)
        pricing = parse_pricing(item.model, item.pricing)
        try:
            included = Decimal(str(item.included))
        except ArithmeticError:
            raise Invalid("included units must be a number", detail={"field": "included"}) from None
        if not included.is_finite() or included < 0:
            raise Invalid("included units cannot be negative", detail={"field": "included"})
        session.add(
            Charge(
                plan_id=plan.id,
                metric_id=metric.id,
                position=position,
                model=PriceModel(item.model),
                pricing=pricing_json(pricing),
                included_micros=to_micros(included),
            )
        )
    session.flush()
    return plan


def list_plans(session: Session, *, active_only: bool = False) -> list[Plan]:
    statement = select(Plan).order_by(Plan.base_fee_cents, Plan.code)
    if active_only:
        statement = statement.where(Plan.active.is_(True))
    return list(session.scalars(statement))


def get_plan(session: Session, plan_id: uuid.UUID) -> Plan:
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound("no such plan")
    return plan


def set_plan_active(session: Session, plan: Plan, active: bool) -> Plan:
    """Offer a plan to new subscriptions or stop offering it (existing ones continue)."""
    plan.active = active
    session.flush()
    return plan


# --- subscriptions ----------------------------------------------------------------------------


def current_subscription(session: Session, customer_id: uuid.UUID, on: date) -> Subscription | None:
    return session.scalar(
        select(Subscription)
        .where(
            Subscription.customer_id == customer_id,
            Subscription.starts_on <= on,
            or_(Subscription.ends_on.is_(None), Subscription.ends_on > on),
        )
        .order_by(Subscription.starts_on.desc())
        .limit(1)
    )


def subscriptions_of(session: Session, customer_id: uuid.UUID) -> list[Subscription]:
    return list(
        session.scalars(
            select(Subscription)
            .where(Subscription.customer_id == customer_id)
            .order_by(Subscription.starts_on.desc())
        )
    )


def _in_range(day: date, field: str) -> date:
    if not EARLIEST <= day <= LATEST:
        raise Invalid(f"{field}: a day from {EARLIEST} to {LATEST}", detail={"field": field})
    return day


def subscribe(
    session: Session, customer_id: uuid.UUID, plan_id: uuid.UUID, *, starts_on: date
) -> Subscription:
    """Subscribe a customer to a plan from ``starts_on``; a current subscription ends that day."""
    _in_range(starts_on, "starts_on")
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("no such customer")
    plan = get_plan(session, plan_id)
    if not plan.active:
        raise Invalid(f"plan {plan.code!r} is no longer offered", detail={"field": "plan_id"})
    later = session.scalar(
        select(Subscription)
        .where(Subscription.customer_id == customer_id, Subscription.starts_on >= starts_on)
        .limit(1)
    )
    if later is not None:
        raise Conflict(
            f"the customer has a subscription from {later.starts_on.isoformat()}; "
            "a new one must start after it",
            detail={"field": "starts_on"},
        )
    current = current_subscription(session, customer_id, starts_on)
    if current is not None:
        if current.plan_id == plan.id:
            raise Conflict("the customer is already subscribed to this plan", detail={"field": "plan_id"})
        current.ends_on = starts_on
    subscription = Subscription(customer_id=customer_id, plan_id=plan.id, starts_on=starts_on)
    session.add(subscription)
    session.flush()
    return subscription


def cancel(session: Session, customer_id: uuid.UUID, *, on: date) -> Subscription:
    """End the customer's subscription on ``on`` (the last day billed is the day before)."""
    _in_range(on, "on")
    if current_subscription(session, customer_id, on) is not None and (
        current_subscription(session, customer_id, on - timedelta(days=1)) is None
    ):
        raise Invalid("a subscription ends after the day it starts", detail={"field": "on"})
    current = current_subscription(session, customer_id, on - timedelta(days=1))
    if current is None or (current.ends_on is not None and current.ends_on <= on):
        raise NotFound("the customer has no subscription running on that day")
    if on <= current.starts_on:
        raise Invalid("a subscription ends after it starts", detail={"field": "on"})
    current.ends_on = on
    session.flush()
    return current
