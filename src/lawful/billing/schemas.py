"""What the billing API accepts and shows. Input models refuse unknown fields.

Amounts of money are decimal strings with two decimals (``"12.10"``); quantities, unit prices and
tier bounds are plain decimal strings (``"0.0015"``, ``"10000"``). Nothing is a JSON number, so no
amount passes through a float on either side. Months are written ``YYYY-MM``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field

from lawful.billing.models import Aggregation, InvoiceStatus, InvoiceType, LineKind, PriceModel, VatTreatment
from lawful.web.api import NO_NUL, Input, Text

MONEY = r"^-?[0-9]+\.[0-9]{2}$"
DECIMAL = r"^-?[0-9]+(\.[0-9]+)?$"
PERIOD = r"^(20[0-9]{2}|21[0-9]{2})-(0[1-9]|1[0-2])$"
CODE = r"^[a-z0-9][a-z0-9_.:-]{0,63}$"

# --- shown ------------------------------------------------------------------------------------

Money = Annotated[str, Field(pattern=MONEY, description="an amount with two decimals", examples=["12.10"])]
Quantity = Annotated[str, Field(pattern=DECIMAL, description="a plain decimal", examples=["0.0015"])]
Period = Annotated[str, Field(pattern=PERIOD, description="a month, YYYY-MM", examples=["2026-11"])]

# --- accepted ---------------------------------------------------------------------------------

AmountIn = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{1,10}(\.[0-9]{1,2})?$",
        description="an amount in the plan's currency, at most two decimals, as a string",
        examples=["19.00"],
    ),
]
DecimalIn = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{1,12}(\.[0-9]{1,6})?$",
        description="a decimal of at most six decimals, as a string",
        examples=["0.0015"],
    ),
]
CodeIn = Annotated[str, Field(pattern=CODE, max_length=64, description="lower-case letters, digits, _ . : -")]
Day = Annotated[
    date, Field(ge=date(2000, 1, 1), le=date(2199, 12, 31), description="a day from 2000 to 2199")
]
FilterValue = Annotated[str, Field(max_length=200, pattern=NO_NUL)] | int | bool


class MetricIn(Input):
    code: CodeIn
    name: Text = Field(min_length=1, max_length=100)
    event_code: CodeIn = Field(description="the code of the usage events it counts, e.g. api.call")
    aggregation: Aggregation
    distinct_property: Text | None = Field(
        default=None, max_length=64, description="for unique_count: the property whose distinct values count"
    )
    filters: dict[Annotated[str, Field(max_length=64)], FilterValue | list[FilterValue]] = Field(
        default_factory=dict,
        max_length=20,
        description='only events whose properties match: {"region": ["eu", "us"]}',
    )
    unit: Text = Field(default="", max_length=40, description='shown on invoices: "calls", "GB"')


class MetricOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    event_code: str
    aggregation: Aggregation
    distinct_property: str | None
    filters: dict[str, list[str]]
    unit: str
    archived: bool


class MetricList(BaseModel):
    items: list[MetricOut]


class TierIn(Input):
    up_to: DecimalIn | None = Field(default=None, description="inclusive upper bound; null for the last tier")
    unit_price: DecimalIn = "0"
    flat_fee: DecimalIn = "0"


class PricingIn(Input):
    """The fields a price model needs: standard ``unit_price``; graduated and volume ``tiers``;
    package ``package_size`` and ``package_price``."""

    unit_price: DecimalIn | None = None
    tiers: list[TierIn] | None = Field(default=None, max_length=20)
    package_size: DecimalIn | None = None
    package_price: DecimalIn | None = None


class ChargeIn(Input):
    metric_code: CodeIn
    model: PriceModel
    pricing: PricingIn
    included: DecimalIn = Field(default="0", description="units free each month")


class PlanIn(Input):
    code: CodeIn
    name: Text = Field(min_length=1, max_length=100)
    base_fee: AmountIn = Field(default="0", description="per month, billed in advance")
    minimum: AmountIn = Field(default="0", description="the monthly minimum of base fee plus usage")
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    description: Text = Field(default="", max_length=2000)
    charges: list[ChargeIn] = Field(default_factory=list, max_length=50)


class TierOut(BaseModel):
    up_to: Quantity | None
    unit_price: Quantity
    flat_fee: Quantity


class PricingOut(BaseModel):
    unit_price: Quantity | None = None
    tiers: list[TierOut] | None = None
    package_size: Quantity | None = None
    package_price: Quantity | None = None


class ChargeOut(BaseModel):
    metric_id: uuid.UUID
    metric_code: str
    metric_name: str
    unit: str
    model: PriceModel
    pricing: PricingOut
    included: Quantity = Field(description="units free each month")


class PlanOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    description: str
    currency: str
    base_fee: Money
    minimum: Money
    active: bool = Field(description="offered to new subscriptions")
    created_at: datetime
    charges: list[ChargeOut]


class PlanList(BaseModel):
    items: list[PlanOut]


class SubscriptionIn(Input):
    plan_id: uuid.UUID
    starts_on: Day = Field(description="the first day; a current subscription ends that day (a plan change)")


class CancelIn(Input):
    on: Day = Field(description="the day it ends; the last day billed is the day before")


class SubscriptionOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    plan_id: uuid.UUID
    plan_code: str
    plan_name: str
    starts_on: date
    ends_on: date | None = Field(description="the first day no longer subscribed; null: open-ended")


class SubscriptionList(BaseModel):
    items: list[SubscriptionOut]


class RunIn(Input):
    period: Period = Field(description="the month whose usage is billed")


class RunSummaryOut(BaseModel):
    run_id: uuid.UUID
    period: Period
    subscriptions: int
    created: int
    updated: int
    unchanged: int
    removed: int
    skipped_finalised: int
    total: Money = Field(description="the total of the drafts, VAT included")


class RunOut(BaseModel):
    id: uuid.UUID
    period: Period
    started_at: datetime
    finished_at: datetime | None
    actor: str
    subscriptions: int
    created: int
    updated: int
    unchanged: int
    finalised: int
    total: Money


class RunList(BaseModel):
    items: list[RunOut]


class FinalisedOut(BaseModel):
    period: Period
    numbers: list[str] = Field(description="the numbers given, in order")
    failed: list[str] = Field(description="the drafts that could not be finalised, and why")


class CreditIn(Input):
    reason: Text = Field(min_length=1, max_length=500)
    amount: AmountIn | None = Field(
        default=None, description="the net amount to credit; leave it out to credit the whole invoice"
    )


class BuyerOut(BaseModel):
    kind: str
    name: str
    street: str
    postal_code: str
    city: str
    country: str
    vat_number: str | None
    kvk_number: str | None


class LineOut(BaseModel):
    position: int
    kind: LineKind
    description: str
    detail: str
    service_start: date
    service_end: date = Field(description="inclusive")
    unit: str = Field(description="UN/ECE rec 20 unit code")
    quantity: Quantity
    unit_price: Quantity
    amount: Money
    vat_rate: Quantity = Field(description="percent")


class HoldOut(BaseModel):
    held: bool = Field(description="kept because a law obliges it, also if its customer is erased")
    until: date | None = Field(description="the first day it may be deleted")
    purpose: str | None
    why: str


class InvoiceSummary(BaseModel):
    id: uuid.UUID
    type: InvoiceType
    status: InvoiceStatus
    number: str | None
    customer_id: uuid.UUID
    period: Period
    issue_date: date | None
    due_date: date | None
    currency: str
    buyer_name: str
    net: Money
    vat: Money
    total: Money
    corrects_id: uuid.UUID | None = Field(description="for a credit note: the invoice it corrects")


class InvoicePage(BaseModel):
    items: list[InvoiceSummary]
    limit: int
    offset: int


class InvoiceOut(InvoiceSummary):
    supply_date: date | None
    reason: str = Field(description="a credit note's reason")
    buyer: BuyerOut = Field(description="the buyer as on the day of issue (for a draft: as last rated)")
    vat_treatment: VatTreatment
    vat_check: str = Field(description="how the VAT number was checked")
    lines: list[LineOut]
    created_at: datetime
    finalised_at: datetime | None
    finalised_by: str | None
    hold: HoldOut


class MonthRevenueOut(BaseModel):
    month: Period
    invoiced: Money = Field(description="net, finalised invoices issued in the month")
    credited: Money = Field(description="net, finalised credit notes issued in the month")
    net: Money = Field(description="invoiced minus credited")
    vat: Money = Field(description="VAT invoiced minus VAT credited")
    invoices: int
    credit_notes: int


class RevenueOut(BaseModel):
    start: Period
    end: Period
    items: list[MonthRevenueOut]


class EstimateLine(BaseModel):
    kind: LineKind
    description: str
    detail: str
    service_start: date
    service_end: date
    quantity: Quantity
    unit_price: Quantity
    amount: Money


class EstimateOut(BaseModel):
    period: Period
    as_of: date = Field(description="usage counted up to this day")
    currency: str
    vat_rate: Quantity = Field(description="percent")
    lines: list[EstimateLine]
    net: Money
    vat: Money
    total: Money


class CurrentPlan(BaseModel):
    starts_on: date
    ends_on: date | None
    plan: PlanOut


class PortalBilling(BaseModel):
    subscription: CurrentPlan | None = Field(description="the plan today; null when not subscribed")
    estimate: EstimateOut | None = Field(
        description="this month's invoice if the month ended today; not an invoice, not stored"
    )
