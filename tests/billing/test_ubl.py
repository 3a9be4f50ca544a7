"""The UBL 2.1 / Peppol BIS Billing 3.0 output: schema-valid, free of EN 16931 errors, and carrying
each business term of the sample documents at the place EN 16931's UBL binding expects it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal

import pytest
from lxml import etree
from tests.billing.samples import sample_document

from lawful.billing.document import REVERSE_CHARGE_TEXT, DocumentType, InvoiceDocument
from lawful.billing.ubl import plain_decimal, to_ubl
from lawful.billing.validation import InvalidDocument, en16931_errors, ubl_schema_errors, validate_ubl

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
INVOICE = "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice"
CREDIT_NOTE = "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote"

# (country, credit note?) for every sample the renderer must handle.
SAMPLES = [("NL", False), ("DE", False), ("US", False), ("NL", True), ("DE", True)]
SAMPLE_IDS = [f"{country}-{'credit' if credit else 'invoice'}" for country, credit in SAMPLES]

# The samples' totals worked out by hand: lines 49.00 + 172.50 + 1.25, VAT 21 % of 222.75 = 46.7775.
NET = "222.75"
VAT = {"NL": "46.78", "DE": "0.00", "US": "0.00"}
GROSS = {"NL": "269.53", "DE": "222.75", "US": "222.75"}

Rules = Callable[[bytes], list[str]]


@pytest.fixture(scope="module")
def rules() -> Rules:
    """The EN 16931 check, its stylesheet compiled once for this module."""
    assert en16931_errors(to_ubl(sample_document("NL"))) == []
    return en16931_errors


@pytest.fixture(params=SAMPLES, ids=SAMPLE_IDS)
def sample(request: pytest.FixtureRequest) -> tuple[str, InvoiceDocument]:
    country, credit = request.param
    return country, sample_document(country, credit_note=credit)


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def values(node: etree._Element, path: str) -> list[str]:
    found = node.xpath(path, namespaces=NS)
    assert isinstance(found, list)
    return [str(item) for item in found]


def one(node: etree._Element, path: str) -> str:
    found = values(node, path)
    assert len(found) == 1, f"{path}: {found}"
    return found[0]


def elements(node: etree._Element, path: str) -> list[etree._Element]:
    found = node.xpath(path, namespaces=NS)
    assert isinstance(found, list)
    return [item for item in found if isinstance(item, etree._Element)]


# Validity


def test_sample_is_schema_valid(sample: tuple[str, InvoiceDocument]) -> None:
    assert ubl_schema_errors(to_ubl(sample[1])) == []


def test_sample_has_no_en16931_errors(sample: tuple[str, InvoiceDocument], rules: Rules) -> None:
    xml = to_ubl(sample[1])
    assert rules(xml) == []
    validate_ubl(xml)


# Header


def test_document_kind_and_profile(sample: tuple[str, InvoiceDocument]) -> None:
    _, doc = sample
    root = parse(to_ubl(doc))
    credit = doc.type is DocumentType.credit_note
    assert root.tag == (CREDIT_NOTE if credit else INVOICE)
    assert one(root, "cbc:CustomizationID/text()") == (
        "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
    )
    assert one(root, "cbc:ProfileID/text()") == "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
    if credit:
        assert one(root, "cbc:CreditNoteTypeCode/text()") == "381"  # BT-3
        assert values(root, "cbc:InvoiceTypeCode") == []
    else:
        assert one(root, "cbc:InvoiceTypeCode/text()") == "380"
        assert values(root, "cbc:CreditNoteTypeCode") == []


def test_header_terms(sample: tuple[str, InvoiceDocument]) -> None:
    _, doc = sample
    root = parse(to_ubl(doc))
    credit = doc.type is DocumentType.credit_note
    assert one(root, "cbc:ID/text()") == ("C2026-000002" if credit else "2026-000123")  # BT-1
    assert one(root, "cbc:IssueDate/text()") == "2026-12-01"  # BT-2
    assert one(root, "cbc:DocumentCurrencyCode/text()") == "EUR"  # BT-5
    assert one(root, "cbc:BuyerReference/text()") == "C-000042"  # BT-10
    assert one(root, "cac:InvoicePeriod/cbc:StartDate/text()") == "2026-11-01"  # BT-73
    assert one(root, "cac:InvoicePeriod/cbc:EndDate/text()") == "2026-12-31"  # BT-74
    assert one(root, "cac:Delivery/cbc:ActualDeliveryDate/text()") == "2026-11-30"  # BT-72
    assert one(root, "cac:PaymentTerms/cbc:Note/text()") == "Payment within 14 days of the invoice date"
    # BT-9: a UBL 2.1 credit note has no DueDate; its due date goes with the payment means.
    if credit:
        assert values(root, "cbc:DueDate") == []
        assert one(root, "cac:PaymentMeans/cbc:PaymentDueDate/text()") == "2026-12-15"
    else:
        assert one(root, "cbc:DueDate/text()") == "2026-12-15"
        assert values(root, "cac:PaymentMeans/cbc:PaymentDueDate") == []


def test_preceding_invoice_only_on_the_credit_note(sample: tuple[str, InvoiceDocument]) -> None:
    _, doc = sample
    root = parse(to_ubl(doc))
    reference = "cac:BillingReference/cac:InvoiceDocumentReference"
    if doc.preceding_number is None:
        assert values(root, "cac:BillingReference") == []
    else:
        assert one(root, f"{reference}/cbc:ID/text()") == "2026-000123"  # BT-25
        assert one(root, f"{reference}/cbc:IssueDate/text()") == "2026-12-01"  # BT-26


def test_payment_means(sample: tuple[str, InvoiceDocument]) -> None:
    root = parse(to_ubl(sample[1]))
    means = elements(root, "cac:PaymentMeans")
    assert len(means) == 1
    assert one(means[0], "cbc:PaymentMeansCode/text()") == "58"  # BT-81: SEPA credit transfer
    assert one(means[0], "cbc:PaymentID/text()") == "2026-000123"  # BT-83
    assert one(means[0], "cac:PayeeFinancialAccount/cbc:ID/text()") == "NL91ABNA0417164300"  # BT-84
    assert one(means[0], "cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID/text()") == (
        "ABNANL2A"  # BT-86
    )


# Parties


def test_seller(sample: tuple[str, InvoiceDocument]) -> None:
    country, doc = sample
    party = elements(parse(to_ubl(doc)), "cac:AccountingSupplierParty/cac:Party")[0]
    assert one(party, "cac:PartyLegalEntity/cbc:RegistrationName/text()") == "Example SaaS B.V."  # BT-27
    assert one(party, "cac:PartyLegalEntity/cbc:CompanyID/text()") == "12345678"  # BT-30, KvK
    assert one(party, "cac:PartyLegalEntity/cbc:CompanyID/@schemeID") == "0106"
    assert one(party, "cbc:EndpointID/text()") == "billing@example.com"  # BT-34
    assert one(party, "cbc:EndpointID/@schemeID") == "EM"
    assert one(party, "cac:Contact/cbc:ElectronicMail/text()") == "billing@example.com"  # BT-43
    assert one(party, "cac:PostalAddress/cbc:StreetName/text()") == "Keizersgracht 1"  # BT-35
    assert one(party, "cac:PostalAddress/cbc:CityName/text()") == "Amsterdam"  # BT-37
    assert one(party, "cac:PostalAddress/cbc:PostalZone/text()") == "1015 AA"  # BT-38
    assert one(party, "cac:PostalAddress/cac:Country/cbc:IdentificationCode/text()") == "NL"  # BT-40
    vat = "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID/text()"
    if country == "US":
        assert values(party, "cac:PartyTaxScheme") == []  # BR-O-02: no VAT identifier
    else:
        assert one(party, vat) == "NL004495445B01"  # BT-31


def test_buyer(sample: tuple[str, InvoiceDocument]) -> None:
    country, doc = sample
    party = elements(parse(to_ubl(doc)), "cac:AccountingCustomerParty/cac:Party")[0]
    expected = {
        "NL": ("Bakkerij de Vries", "finance@devries.example", "Utrecht", "1234 AB"),
        "DE": ("Muster GmbH", "rechnung@muster.example", "Berlin", "10115"),
        "US": ("Acme Inc.", "ap@acme.example", "San Francisco", "94105"),
    }
    name, email, city, postal_code = expected[country]
    assert one(party, "cac:PartyLegalEntity/cbc:RegistrationName/text()") == name  # BT-44
    assert one(party, "cbc:EndpointID/text()") == email  # BT-49
    assert one(party, "cbc:EndpointID/@schemeID") == "EM"
    assert one(party, "cac:PostalAddress/cbc:CityName/text()") == city  # BT-52
    assert one(party, "cac:PostalAddress/cbc:PostalZone/text()") == postal_code  # BT-53
    assert one(party, "cac:PostalAddress/cac:Country/cbc:IdentificationCode/text()") == country  # BT-55
    vat = values(party, "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID/text()")  # BT-48
    assert vat == {"NL": ["NL000099998B57"], "DE": ["DE136695976"], "US": []}[country]
    if country == "NL":
        assert one(party, "cac:PartyLegalEntity/cbc:CompanyID/text()") == "87654321"  # BT-47
        assert one(party, "cac:PartyLegalEntity/cbc:CompanyID/@schemeID") == "0106"
    else:
        assert values(party, "cac:PartyLegalEntity/cbc:CompanyID") == []


# VAT and totals


def test_vat_breakdown(sample: tuple[str, InvoiceDocument]) -> None:
    country, doc = sample
    root = parse(to_ubl(doc))
    assert one(root, "cac:TaxTotal/cbc:TaxAmount/text()") == VAT[country]  # BT-110
    assert one(root, "cac:TaxTotal/cbc:TaxAmount/@currencyID") == "EUR"
    subtotals = elements(root, "cac:TaxTotal/cac:TaxSubtotal")
    assert len(subtotals) == 1
    subtotal = subtotals[0]
    assert one(subtotal, "cbc:TaxableAmount/text()") == NET  # BT-116
    assert one(subtotal, "cbc:TaxAmount/text()") == VAT[country]  # BT-117
    assert one(subtotal, "cac:TaxCategory/cbc:ID/text()") == {"NL": "S", "DE": "AE", "US": "O"}[country]
    assert one(subtotal, "cac:TaxCategory/cac:TaxScheme/cbc:ID/text()") == "VAT"
    percent = values(subtotal, "cac:TaxCategory/cbc:Percent/text()")  # BT-119
    reason = values(subtotal, "cac:TaxCategory/cbc:TaxExemptionReason/text()")  # BT-120
    reason_code = values(subtotal, "cac:TaxCategory/cbc:TaxExemptionReasonCode/text()")  # BT-121
    if country == "NL":
        assert (percent, reason, reason_code) == (["21"], [], [])
    elif country == "DE":
        assert percent == ["0"]
        assert reason == ["Reverse charge / btw verlegd"]
        assert reason_code == ["VATEX-EU-AE"]
    else:
        assert percent == []  # BR-O-09: no rate with category O
        assert reason == ["Not subject to Dutch VAT: service to a business outside the EU"]
        assert reason_code == ["VATEX-EU-O"]


def test_reverse_charge_note() -> None:
    root = parse(to_ubl(sample_document("DE")))
    assert one(root, "cbc:Note/text()") == REVERSE_CHARGE_TEXT == "Reverse charge / btw verlegd"  # BT-22


def test_totals(sample: tuple[str, InvoiceDocument]) -> None:
    country, doc = sample
    totals = elements(parse(to_ubl(doc)), "cac:LegalMonetaryTotal")[0]
    assert one(totals, "cbc:LineExtensionAmount/text()") == NET  # BT-106
    assert one(totals, "cbc:TaxExclusiveAmount/text()") == NET  # BT-109
    assert one(totals, "cbc:TaxInclusiveAmount/text()") == GROSS[country]  # BT-112
    assert one(totals, "cbc:PayableAmount/text()") == GROSS[country]  # BT-115
    assert set(values(totals, "*/@currencyID")) == {"EUR"}


# Lines


def test_lines(sample: tuple[str, InvoiceDocument]) -> None:
    country, doc = sample
    root = parse(to_ubl(doc))
    credit = doc.type is DocumentType.credit_note
    lines = elements(root, "cac:CreditNoteLine" if credit else "cac:InvoiceLine")
    assert len(lines) == 3
    assert elements(root, "cac:InvoiceLine" if credit else "cac:CreditNoteLine") == []
    quantity = "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity"
    expected = [
        ("1", "1", "MON", "49.00", "49.00", "Business plan, base fee", "2026-12-01", "2026-12-31"),
        (
            "2",
            "115000",
            "C62",
            "172.50",
            "0.0015",
            "API calls, November 2026",
            "2026-11-01",
            "2026-11-30",
        ),
        ("3", "12.5", "C62", "1.25", "0.10", "Storage, GB-months", "2026-11-01", "2026-11-30"),
    ]
    for line, (number, qty, unit, amount, price, name, start, end) in zip(lines, expected, strict=True):
        assert one(line, "cbc:ID/text()") == number  # BT-126
        assert one(line, f"{quantity}/text()") == qty  # BT-129
        assert one(line, f"{quantity}/@unitCode") == unit  # BT-130
        assert one(line, "cbc:LineExtensionAmount/text()") == amount  # BT-131
        assert one(line, "cbc:LineExtensionAmount/@currencyID") == "EUR"
        assert one(line, "cac:InvoicePeriod/cbc:StartDate/text()") == start  # BT-134
        assert one(line, "cac:InvoicePeriod/cbc:EndDate/text()") == end  # BT-135
        assert one(line, "cac:Item/cbc:Name/text()") == name  # BT-153
        assert one(line, "cac:Price/cbc:PriceAmount/text()") == price  # BT-146
        category = {"NL": "S", "DE": "AE", "US": "O"}[country]
        assert one(line, "cac:Item/cac:ClassifiedTaxCategory/cbc:ID/text()") == category  # BT-151
        rate = values(line, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent/text()")  # BT-152
        assert rate == {"NL": ["21"], "DE": ["0"], "US": []}[country]
    assert one(lines[1], "cbc:Note/text()") == "125,000 calls used, 10,000 included, 115,000 billable"
    assert values(lines[0], "cbc:Note") == []


# Variations of the samples


def test_without_iban_the_payment_means_stay_valid(rules: Rules) -> None:
    doc = dataclasses.replace(sample_document("NL"), iban=None, bic=None)
    xml = to_ubl(doc)
    root = parse(xml)
    assert one(root, "cac:PaymentMeans/cbc:PaymentMeansCode/text()") != "58"  # 58 needs BT-84 (BR-61)
    assert values(root, "cac:PaymentMeans/cac:PayeeFinancialAccount") == []
    assert ubl_schema_errors(xml) == []
    assert rules(xml) == []


def test_several_notes_become_one(rules: Rules) -> None:
    doc = dataclasses.replace(sample_document("DE"), notes=(REVERSE_CHARGE_TEXT, "Thank you"))
    xml = to_ubl(doc)
    assert values(parse(xml), "cbc:Note/text()") == ["Reverse charge / btw verlegd\nThank you"]
    assert rules(xml) == []


def test_minimal_document_leaves_out_what_it_lacks(rules: Rules) -> None:
    doc = dataclasses.replace(
        sample_document("NL"),
        due_date=None,
        period_start=None,
        period_end=None,
        supply_date=None,
        payment_terms="",
        iban=None,
        bic=None,
        payment_reference="",
        notes=(),
    )
    xml = to_ubl(doc)
    root = parse(xml)
    for absent in ("cbc:DueDate", "cac:InvoicePeriod", "cac:Delivery", "cac:PaymentTerms", "cbc:Note"):
        assert values(root, absent) == [], absent
    assert values(root, "cac:PaymentMeans") == []
    assert ubl_schema_errors(xml) == []
    assert rules(xml) == []


@pytest.mark.parametrize(
    ("value", "min_places", "text"),
    [
        (Decimal("125000"), 0, "125000"),
        (Decimal("1.25E+5"), 0, "125000"),
        (Decimal("12.500"), 0, "12.5"),
        (Decimal("1.000000"), 0, "1"),
        (Decimal("0.0015"), 2, "0.0015"),
        (Decimal("49"), 2, "49.00"),
        (Decimal("0.1"), 2, "0.10"),
        (Decimal("-0"), 0, "0"),
    ],
)
def test_plain_decimal(value: Decimal, min_places: int, text: str) -> None:
    assert plain_decimal(value, min_places) == text


# The validators can fail


def test_totals_that_do_not_add_up_are_reported(rules: Rules) -> None:
    good = sample_document("NL")
    bad = dataclasses.replace(good, tax_inclusive=good.tax_inclusive + Decimal("1.00"))
    xml = to_ubl(bad)
    errors = rules(xml)
    assert any(error.startswith("BR-CO-15: ") for error in errors), errors
    assert ubl_schema_errors(xml) == []  # the schema cannot see arithmetic
    with pytest.raises(InvalidDocument) as raised:
        validate_ubl(xml)
    assert any(error.startswith("BR-CO-15: ") for error in raised.value.errors)
    assert "BR-CO-15" in str(raised.value)


def test_line_amounts_that_do_not_add_up_are_reported(rules: Rules) -> None:
    good = sample_document("DE", credit_note=True)
    bad = dataclasses.replace(good, line_total=good.line_total + Decimal("0.01"))
    assert any(error.startswith("BR-CO-10: ") for error in rules(to_ubl(bad)))


def test_category_o_with_a_vat_identifier_is_reported(rules: Rules) -> None:
    """Guards the renderer's BR-O-02 choice: the same XML with the seller's VAT number fails."""
    root = parse(to_ubl(sample_document("US")))
    party = elements(root, "cac:AccountingSupplierParty/cac:Party")[0]
    scheme = etree.Element(f"{{{NS['cac']}}}PartyTaxScheme")
    etree.SubElement(scheme, f"{{{NS['cbc']}}}CompanyID").text = "NL004495445B01"
    etree.SubElement(etree.SubElement(scheme, f"{{{NS['cac']}}}TaxScheme"), f"{{{NS['cbc']}}}ID").text = "VAT"
    elements(party, "cac:PostalAddress")[0].addnext(scheme)
    xml = etree.tostring(root)
    assert ubl_schema_errors(xml) == []
    assert any(error.startswith("BR-O-02: ") for error in rules(xml))


def test_schema_rejects_a_missing_element() -> None:
    root = parse(to_ubl(sample_document("NL")))
    root.remove(elements(root, "cbc:ID")[0])
    errors = ubl_schema_errors(etree.tostring(root))
    assert errors
    assert "IssueDate" in errors[0] and "not expected" in errors[0]


def test_schema_rejects_elements_out_of_order() -> None:
    root = parse(to_ubl(sample_document("DE", credit_note=True)))
    totals = elements(root, "cac:LegalMonetaryTotal")[0]
    tax = elements(root, "cac:TaxTotal")[0]
    totals.addnext(tax)  # TaxTotal must come before LegalMonetaryTotal
    assert ubl_schema_errors(etree.tostring(root))


def test_schema_rejects_other_documents() -> None:
    assert ubl_schema_errors(b"<Order/>") == [
        "root element Order is neither a UBL 2.1 Invoice nor a CreditNote"
    ]
    assert ubl_schema_errors(b"<Invoice")[0].startswith("not well-formed XML")
    with pytest.raises(InvalidDocument):
        validate_ubl(b"<Invoice")
