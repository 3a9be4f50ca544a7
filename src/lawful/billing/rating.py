"""Rating: what a quantity of usage costs under a price model. Pure functions over Decimal.

A charge is priced by one of four models (the JSON stored in ``billing_charges.pricing``):

- ``standard`` ``{"unit_price": "0.0015"}``: every billable unit at one price;
- ``graduated`` ``{"tiers": [{"up_to": "10000", "unit_price": "0.002", "flat_fee": "0"}, ...,
  {"up_to": null, ...}]}``: each unit at the price of the tier it falls in, plus the flat fee of
  every tier reached;
- ``volume`` (same tiers): every unit at the price of the tier the total falls in, plus that
  tier's flat fee;
- ``package`` ``{"package_size": "1000", "package_price": "1.50"}``: per started package.

Included units are subtracted first. The result is one or more :class:`RatedLine` whose amount is
exactly ``quantity × unit price`` rounded half up to cents, so that every invoice line can be
checked by its reader (and by EN 16931's rule on line amounts): a graduated charge gives one line
per tier reached. Upper bounds of tiers are inclusive: with ``up_to = 10000`` the 10,000th unit
is in the first tier.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lawful.billing.models import PriceModel
from lawful.errors import Invalid

CENT = Decimal("0.01")
ZERO = Decimal(0)
MICRO = Decimal("0.000001")

Price = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6)]
Units = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6)]


def cents(amount: Decimal) -> Decimal:
    """Round half up to cents (the rounding Dutch invoices and EN 16931 use)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def to_cents(amount: Decimal) -> int:
    return int(cents(amount) * 100)


def from_cents(value: int) -> Decimal:
    return (Decimal(value) / 100).quantize(CENT)


def to_micros(value: Decimal) -> int:
    return int((value / MICRO).to_integral_value(rounding=ROUND_HALF_UP))


def from_micros(value: int) -> Decimal:
    return (Decimal(value) * MICRO).normalize() if value else ZERO


def plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: ``"0.0015"``, ``"125000"``."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tier(_Strict):
    up_to: Units | None = None
    unit_price: Price = ZERO
    flat_fee: Price = ZERO


class Pricing(_Strict):
    unit_price: Price | None = None
    tiers: list[Tier] | None = None
    package_size: Units | None = None
    package_price: Price | None = None


class _Checked(Pricing):
    model: PriceModel

    @model_validator(mode="after")
    def _fits_model(self) -> _Checked:
        needs: dict[PriceModel, tuple[str, ...]] = {
            PriceModel.standard: ("unit_price",),
            PriceModel.graduated: ("tiers",),
            PriceModel.volume: ("tiers",),
            PriceModel.package: ("package_size", "package_price"),
        }
        wanted = needs[self.model]
        for name in ("unit_price", "tiers", "package_size", "package_price"):
            present = getattr(self, name) is not None
            if name in wanted and not present:
                raise ValueError(f"the {self.model.value} model needs {name!r}")
            if name not in wanted and present:
                raise ValueError(f"the {self.model.value} model takes no {name!r}")
        if self.tiers is not None:
            if not self.tiers:
                raise ValueError("tiers: at least one tier")
            bounds = [t.up_to for t in self.tiers]
            if bounds[-1] is not None:
                raise ValueError("tiers: the last tier has no upper bound (up_to = null)")
            if any(b is None for b in bounds[:-1]):
                raise ValueError("tiers: only the last tier may be without an upper bound")
            limits = [b for b in bounds[:-1] if b is not None]
            if any(b >= a for b, a in pairwise(limits)) or limits != sorted(limits):
                raise ValueError("tiers: upper bounds must increase")
        return self


def parse_pricing(model: PriceModel | str, data: dict[str, Any] | str) -> Pricing:
    """Validate a pricing for a model; ``Invalid`` with the reason otherwise."""
    try:
        model = PriceModel(model)
    except ValueError:
        raise Invalid(
            f"unknown price model {model!r}; one of {', '.join(m.value for m in PriceModel)}",
            detail={"field": "model"},
        ) from None
    try:
        raw = json.loads(data) if isinstance(data, str) else dict(data)
        checked = _Checked.model_validate({**raw, "model": model})
    except (ValueError, ValidationError, TypeError) as exc:
        message = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise Invalid(f"pricing: {message}", detail={"field": "pricing"}) from None
    return Pricing.model_validate(checked.model_dump(exclude={"model"}))


def pricing_json(pricing: Pricing) -> str:
    """The canonical JSON of a pricing (decimals as strings)."""
    return json.dumps(pricing.model_dump(mode="json", exclude_none=True), sort_keys=True)


@dataclass(frozen=True, slots=True)
class RatedLine:
    label: str  # "" for a single line, else the tier ("units 10,001–50,000", "flat fee, tier 2")
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal  # cents(quantity × unit_price)


@dataclass(frozen=True, slots=True)
class Rated:
    used: Decimal
    included: Decimal
    billable: Decimal
    lines: tuple[RatedLine, ...]

    @property
    def amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


def _line(label: str, quantity: Decimal, unit_price: Decimal) -> RatedLine:
    return RatedLine(label, quantity, unit_price, cents(quantity * unit_price))


def _count(value: Decimal) -> str:
    return f"{value.normalize():,f}" if value == value.to_integral_value() else plain(value)


def rate(model: PriceModel, pricing: Pricing, used: Decimal, included: Decimal = ZERO) -> Rated:
    """Price ``used`` units (``included`` of them free)."""
    if used < 0 or included < 0:
        raise Invalid("usage and included units cannot be negative")
    billable = max(ZERO, used - included)
    lines: list[RatedLine] = []
    if model is PriceModel.standard:
        assert pricing.unit_price is not None
        lines.append(_line("", billable, pricing.unit_price))
    elif model is PriceModel.package:
        assert pricing.package_size is not None and pricing.package_price is not None
        packages = (billable / pricing.package_size).to_integral_value(rounding=ROUND_CEILING)
        lines.append(_line(f"packages of {_count(pricing.package_size)}", packages, pricing.package_price))
    elif model is PriceModel.graduated:
        assert pricing.tiers is not None
        lower = ZERO
        for index, tier in enumerate(pricing.tiers, start=1):
            upper = tier.up_to
            in_tier = (min(billable, upper) if upper is not None else billable) - lower
            if in_tier <= 0 and index > 1:
                break
            in_tier = max(in_tier, ZERO)
            span = f"{_count(lower + 1)}–{_count(upper)}" if upper is not None else f"above {_count(lower)}"
            lines.append(_line(f"tier {index}: units {span}", in_tier, tier.unit_price))
            if tier.flat_fee and in_tier > 0:
                lines.append(_line(f"tier {index}: flat fee", Decimal(1), tier.flat_fee))
            if upper is None or billable <= upper:
                break
            lower = upper
    elif model is PriceModel.volume:
        assert pricing.tiers is not None
        index, tier = next(
            (i, t) for i, t in enumerate(pricing.tiers, start=1) if t.up_to is None or billable <= t.up_to
        )
        lines.append(_line(f"tier {index}", billable, tier.unit_price))
        if tier.flat_fee and billable > 0:
            lines.append(_line(f"tier {index}: flat fee", Decimal(1), tier.flat_fee))
    else:  # pragma: no cover - the enum is exhaustive
        raise Invalid(f"unknown price model {model}")
    return Rated(used, included, billable, tuple(lines))


def prorate(amount: Decimal, days: int, days_in_month: int) -> Decimal:
    """``amount`` for ``days`` of a month of ``days_in_month`` days, rounded half up to cents."""
    if days >= days_in_month:
        return cents(amount)
    return cents(amount * days / days_in_month)
