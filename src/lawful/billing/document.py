"""An invoice or credit note as a document: plain, immutable values, independent of the database.

Every output format (the PDF, UBL 2.1 / Peppol BIS Billing 3.0, the CII XML embedded in a
Factur-X PDF) is rendered from one :class:`InvoiceDocument`, which the billing service builds
from a finalised invoice (``lawful.billing.service.document_of``). Amounts are
:class:`~decimal.Decimal` in the currency's major unit with two decimals (``Decimal("12.10")``);
quantities and unit prices may have up to six decimals. Nothing here is a float.

EN 16931 business terms are named where a field carries one (BT-1 the invoice number, …), so the
renderers map them without guessing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

CENT = Decimal("0.01")


class DocumentType(enum.StrEnum):
    invoice = "invoice"  # UBL Invoice, type code 380
    credit_note = "credit_note"  # UBL CreditNote, type code 381


class VatCategory(enum.StrEnum):
    """UNCL 5305 VAT category codes used by Lawful (BT-118, BT-151)."""

    standard = "S"  # Dutch VAT at the standard rate
    reverse_charge = "AE"  # intra-EU B2B service: the buyer accounts for the VAT
    outside_scope = "O"  # service to a business outside the EU: not subject to EU VAT


@dataclass(frozen=True, slots=True)
class Address:
    street: str
    postal_code: str
    city: str
    country: str  # ISO 3166-1 alpha-2 (BT-40, BT-55)


@dataclass(frozen=True, slots=True)
class Party:
    name: str  # BT-27 / BT-44: legal name
    address: Address
    vat_number: str | None = None  # BT-31 / BT-48, with its country prefix ("NL004495445B01")
    company_id: str | None = None  # BT-30 / BT-47: KvK number (scheme 0106) for Dutch parties
    email: str | None = None  # BT-43 seller contact e-mail / BT-49 buyer electronic address
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Line:
    """One invoice line (BG-25)."""

    number: int  # BT-126, 1-based
    description: str  # BT-153 item name
    quantity: Decimal  # BT-129
    unit_code: str  # BT-130, UN/ECE rec 20: "C62" (one), "MON" (month)
    unit_price: Decimal  # BT-146 net price, up to 6 decimals
    amount: Decimal  # BT-131 net line amount, 2 decimals (quantity × price, rounded half up)
    vat_category: VatCategory  # BT-151
    vat_rate: Decimal  # BT-152, percent ("21", "0")
    period_start: date | None = None  # BT-134
    period_end: date | None = None  # BT-135 (inclusive)
    note: str = ""  # BT-127: e.g. the tiers applied


@dataclass(frozen=True, slots=True)
class VatBreakdown:
    """One VAT category and rate (BG-23)."""

    category: VatCategory  # BT-118
    rate: Decimal  # BT-119, percent
    taxable_amount: Decimal  # BT-116
    vat_amount: Decimal  # BT-117
    exemption_reason: str | None = None  # BT-120: "Reverse charge / btw verlegd" for AE


@dataclass(frozen=True, slots=True)
class InvoiceDocument:
    type: DocumentType
    number: str  # BT-1, e.g. "2026-000123"
    issue_date: date  # BT-2
    due_date: date | None  # BT-9
    currency: str  # BT-5, ISO 4217 ("EUR")
    seller: Party  # BG-4
    buyer: Party  # BG-7
    lines: tuple[Line, ...]
    vat_breakdown: tuple[VatBreakdown, ...]
    line_total: Decimal  # BT-106: sum of line amounts
    tax_exclusive: Decimal  # BT-109
    vat_total: Decimal  # BT-110
    tax_inclusive: Decimal  # BT-112
    payable: Decimal  # BT-115
    period_start: date | None = None  # BT-73 (the supply period)
    period_end: date | None = None  # BT-74 (inclusive)
    supply_date: date | None = None  # BT-72: actual delivery date, the period's last day
    buyer_reference: str = ""  # BT-10: Peppol needs BT-10 or BT-13; Lawful uses the customer number
    payment_terms: str = ""  # BT-20, e.g. "Payment within 14 days of the invoice date"
    iban: str | None = None  # BT-84 payment account (payment means 58, SEPA credit transfer)
    bic: str | None = None  # BT-86
    payment_reference: str = ""  # BT-83 remittance information: the invoice number
    preceding_number: str | None = None  # BT-25: the invoice a credit note corrects
    preceding_date: date | None = None  # BT-26
    notes: tuple[str, ...] = field(default_factory=tuple)  # BT-22: incl. "Reverse charge / btw verlegd"

    @property
    def reverse_charge(self) -> bool:
        return any(b.category is VatCategory.reverse_charge for b in self.vat_breakdown)


REVERSE_CHARGE_TEXT = "Reverse charge / btw verlegd"
OUTSIDE_SCOPE_TEXT = "Not subject to Dutch VAT: service to a business outside the EU"
