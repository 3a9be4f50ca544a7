"""Rating against amounts worked out by hand: every price model, tier boundaries, zero usage,
included units, proration and rounding."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lawful.billing.models import PriceModel
from lawful.billing.rating import cents, parse_pricing, prorate, rate
from lawful.errors import Invalid

TIERS = {
    "tiers": [
        {"up_to": "1000", "unit_price": "0.10"},
        {"up_to": "5000", "unit_price": "0.05", "flat_fee": "2.00"},
        {"up_to": None, "unit_price": "0.01"},
    ]
}
GRADUATED = parse_pricing("graduated", TIERS)
VOLUME = parse_pricing("volume", TIERS)


def amounts(
    model: PriceModel, pricing: object, used: str, included: str = "0"
) -> tuple[D, list[tuple[D, D, D]]]:
    rated = rate(model, pricing, D(used), D(included))  # type: ignore[arg-type]
    return rated.amount, [(line.quantity, line.unit_price, line.amount) for line in rated.lines]


@pytest.mark.parametrize(
    ("used", "included", "expected"),
    [
        ("0", "0", D("0.00")),
        ("1", "0", D("0.00")),  # 0.0015 rounds half up to 0.00
        ("3", "0", D("0.00")),  # 0.0045 → 0.00
        ("4", "0", D("0.01")),  # 0.0060 → 0.01
        ("10000", "0", D("15.00")),
        ("10000", "10000", D("0.00")),  # all included
        ("10001", "10000", D("0.00")),  # one billable unit: 0.0015
        ("12345", "1000", D("17.02")),  # 11,345 × 0.0015 = 17.0175 → 17.02
        ("500", "1000", D("0.00")),  # less than included: nothing, never negative
    ],
)
def test_standard(used: str, included: str, expected: D) -> None:
    pricing = parse_pricing("standard", {"unit_price": "0.0015"})
    total, lines = amounts(PriceModel.standard, pricing, used, included)
    assert total == expected
    assert len(lines) == 1
    assert lines[0][0] == max(D(0), D(used) - D(included))


@pytest.mark.parametrize(
    ("used", "expected"),
    [
        ("0", D("0.00")),
        ("1", D("0.10")),
        ("1000", D("100.00")),  # the last unit of tier 1
        ("1001", D("102.05")),  # 100 + 1 × 0.05 + flat fee 2
        ("5000", D("302.00")),  # 100 + 4,000 × 0.05 + 2
        ("5001", D("302.01")),  # + 1 × 0.01
        ("25000", D("502.00")),  # 100 + 200 + 2 + 20,000 × 0.01
    ],
)
def test_graduated_tier_boundaries(used: str, expected: D) -> None:
    total, lines = amounts(PriceModel.graduated, GRADUATED, used)
    assert total == expected
    assert sum(q for q, p, a in lines if p in (D("0.10"), D("0.05"), D("0.01"))) == D(used)
    assert all(cents(q * p) == a for q, p, a in lines)  # each line checks: quantity × price


def test_graduated_after_included_units() -> None:
    # 1,500 used, 600 included: 900 billable, all in tier 1
    total, lines = amounts(PriceModel.graduated, GRADUATED, "1500", "600")
    assert total == D("90.00")
    assert lines == [(D("900"), D("0.10"), D("90.00"))]


@pytest.mark.parametrize(
    ("used", "expected"),
    [
        ("0", D("0.00")),  # no flat fee without usage
        ("1000", D("100.00")),  # all at 0.10
        ("1001", D("52.05")),  # all 1,001 at 0.05 + flat fee 2
        ("5000", D("252.00")),
        ("5001", D("50.01")),  # the volume discount: all at 0.01
    ],
)
def test_volume_tier_boundaries(used: str, expected: D) -> None:
    total, _ = amounts(PriceModel.volume, VOLUME, used)
    assert total == expected


@pytest.mark.parametrize(
    ("used", "included", "expected", "packages"),
    [
        ("0", "0", D("0.00"), D(0)),
        ("1", "0", D("4.99"), D(1)),  # a started package is a package
        ("1000", "0", D("4.99"), D(1)),
        ("1001", "0", D("9.98"), D(2)),
        ("2500", "1000", D("9.98"), D(2)),  # 1,500 billable: 2 packages
    ],
)
def test_package(used: str, included: str, expected: D, packages: D) -> None:
    pricing = parse_pricing("package", {"package_size": "1000", "package_price": "4.99"})
    total, lines = amounts(PriceModel.package, pricing, used, included)
    assert total == expected
    assert lines[0][0] == packages


@pytest.mark.parametrize(
    ("amount", "days", "month", "expected"),
    [
        (D("99.00"), 31, 31, D("99.00")),
        (D("99.00"), 22, 31, D("70.26")),  # 70.258… → 70.26
        (D("99.00"), 15, 30, D("49.50")),
        (D("19.00"), 1, 28, D("0.68")),  # 0.678… → 0.68
        (D("10.00"), 1, 3, D("3.33")),
        (D("0.05"), 1, 2, D("0.03")),  # 0.025 rounds half up
    ],
)
def test_proration(amount: D, days: int, month: int, expected: D) -> None:
    assert prorate(amount, days, month) == expected


@pytest.mark.parametrize(
    ("model", "pricing", "message"),
    [
        ("standard", {}, "needs 'unit_price'"),
        ("standard", {"unit_price": "-1"}, "greater than or equal to 0"),
        ("standard", {"unit_price": "0.1", "tiers": []}, "takes no 'tiers'"),
        ("graduated", {"tiers": [{"up_to": "10", "unit_price": "1"}]}, "last tier has no upper bound"),
        ("volume", {"tiers": [{"up_to": "10"}, {"up_to": "5"}, {}]}, "must increase"),
        ("package", {"package_size": "0", "package_price": "1"}, "greater than 0"),
        ("flat", {"unit_price": "1"}, "unknown price model"),
        ("standard", {"unit_price": "0.0000001"}, "decimal places"),
    ],
)
def test_bad_pricing_is_refused_with_the_reason(model: str, pricing: dict[str, object], message: str) -> None:
    with pytest.raises(Invalid, match=message):
        parse_pricing(model, pricing)


units = st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False, allow_infinity=False)


@given(used=units, included=units)
def test_graduated_never_costs_more_than_its_first_tier_price_and_grows_with_usage(
    used: D, included: D
) -> None:
    first = rate(PriceModel.graduated, GRADUATED, used, included)
    more = rate(PriceModel.graduated, GRADUATED, used + 1, included)
    assert first.amount <= more.amount
    assert first.amount <= cents(first.billable * D("0.10")) + D("2.00") + D("0.03")
    assert sum(line.amount for line in first.lines) == first.amount
