"""Invoice documents for the renderers' tests: a Dutch customer, an EU reverse-charge customer,
a customer outside the EU, and a credit note."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lawful.billing.document import (
    OUTSIDE_SCOPE_TEXT,
    REVERSE_CHARGE_TEXT,
    Address,
    DocumentType,
    InvoiceDocument,
    Line,
    Party,
    VatBreakdown,
    VatCategory,
)

SELLER = Party(
    name="Example SaaS B.V.",
    address=Address("Keizersgracht 1", "1015 AA", "Amsterdam", "NL"),
    vat_number="NL004495445B01",
    company_id="12345678",
    email="billing@example.com",
    phone="+31 20 123 4567",
)

BUYERS = {
    "NL": Party(
        name="Bakkerij de Vries",
        address=Address("Dorpsstraat 12", "1234 AB", "Utrecht", "NL"),
        vat_number="NL000099998B57",
        company_id="87654321",
        email="finance@devries.example",
    ),
    "DE": Party(
        name="Muster GmbH",
        address=Address("Hauptstraße 5", "10115", "Berlin", "DE"),
        vat_number="DE136695976",
        email="rechnung@muster.example",
    ),
    "US": Party(
        name="Acme Inc.",
        address=Address("1 Main Street", "94105", "San Francisco", "US"),
        email="ap@acme.example",
    ),
}

CATEGORY = {"NL": VatCategory.standard, "DE": VatCategory.reverse_charge, "US": VatCategory.outside_scope}
RATE = {"NL": Decimal("21"), "DE": Decimal("0"), "US": Decimal("0")}
REASON = {"NL": None, "DE": REVERSE_CHARGE_TEXT, "US": OUTSIDE_SCOPE_TEXT}


def sample_document(country: str = "NL", *, credit_note: bool = False) -> InvoiceDocument:
    """A November 2026 invoice: the December base fee in advance and November usage in arrears."""
    category, rate = CATEGORY[country], RATE[country]
    lines = (
        Line(
            1,
            "Business plan, base fee",
            Decimal("1"),
            "MON",
            Decimal("49.00"),
            Decimal("49.00"),
            category,
            rate,
            date(2026, 12, 1),
            date(2026, 12, 31),
        ),
        Line(
            2,
            "API calls, November 2026",
            Decimal("115000"),
            "C62",
            Decimal("0.0015"),
            Decimal("172.50"),
            category,
            rate,
            date(2026, 11, 1),
            date(2026, 11, 30),
            note="125,000 calls used, 10,000 included, 115,000 billable",
        ),
        Line(
            3,
            "Storage, GB-months",
            Decimal("12.5"),
            "C62",
            Decimal("0.10"),
            Decimal("1.25"),
            category,
            rate,
            date(2026, 11, 1),
            date(2026, 11, 30),
        ),
    )
    net = sum((line.amount for line in lines), Decimal("0.00"))
    vat = (net * rate / 100).quantize(Decimal("0.01"))
    notes: tuple[str, ...] = (REASON[country],) if REASON[country] else ()
    return InvoiceDocument(
        type=DocumentType.credit_note if credit_note else DocumentType.invoice,
        number="C2026-000002" if credit_note else "2026-000123",
        issue_date=date(2026, 12, 1),
        due_date=date(2026, 12, 15),
        currency="EUR",
        seller=SELLER,
        buyer=BUYERS[country],
        lines=lines,
        vat_breakdown=(VatBreakdown(category, rate, net, vat, REASON[country]),),
        line_total=net,
        tax_exclusive=net,
        vat_total=vat,
        tax_inclusive=net + vat,
        payable=net + vat,
        period_start=date(2026, 11, 1),
        period_end=date(2026, 12, 31),
        supply_date=date(2026, 11, 30),
        buyer_reference="C-000042",
        payment_terms="Payment within 14 days of the invoice date",
        iban="NL91ABNA0417164300",
        bic="ABNANL2A",
        payment_reference="2026-000123",
        preceding_number="2026-000123" if credit_note else None,
        preceding_date=date(2026, 12, 1) if credit_note else None,
        notes=notes,
    )
