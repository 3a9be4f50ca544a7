"""The Cross Industry Invoice (UN/CEFACT CII D16B) of an invoice document, as embedded in a Factur-X PDF.

:func:`to_cii` renders one :class:`~lawful.billing.document.InvoiceDocument` in the Factur-X
**EN 16931** profile (the CEN guideline ``urn:cen.eu:en16931:2017``). Every business term of the
document that EN 16931 knows is carried over; nothing is computed here except what the syntax
needs (the prepaid amount when the amount due differs from the total). The output is deterministic:
the same document always gives the same bytes, so a stored Factur-X XML can be compared with a
fresh rendering.

VAT category "O" (not subject to VAT) forbids the seller's and the buyer's VAT identifiers and
every VAT rate in the document (EN 16931 rules BR-O-02 and BR-O-05), so they are left out there.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lxml import etree

from lawful.billing.document import (
    CENT,
    DocumentType,
    InvoiceDocument,
    Line,
    Party,
    VatBreakdown,
    VatCategory,
)

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
NSMAP = {"rsm": RSM, "qdt": QDT, "ram": RAM, "udt": UDT}

GUIDELINE_EN16931 = "urn:cen.eu:en16931:2017"
TYPE_CODES = {DocumentType.invoice: "380", DocumentType.credit_note: "381"}
PAYMENT_MEANS_SEPA_CREDIT_TRANSFER = "58"
KVK_SCHEME = "0106"  # ISO 6523 ICD of the Dutch Chamber of Commerce number
EXEMPTION_CODES = {
    VatCategory.reverse_charge: "VATEX-EU-AE",
    VatCategory.outside_scope: "VATEX-EU-O",
}


def _el(parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def _ram(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    return _el(parent, RAM, tag, text, **attrs)


def _amount(value: Decimal) -> str:
    """A money amount with exactly two decimals."""
    return f"{value.quantize(CENT):.2f}"


def _decimal(value: Decimal) -> str:
    """A quantity or unit price as written, in plain notation (no exponent)."""
    return format(value, "f")


def _price(value: Decimal) -> str:
    """A unit price: at least two decimals, more when the price has them (up to six)."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        value = value.quantize(CENT)
    return format(value, "f")


def _percent(value: Decimal) -> str:
    return f"{value:.2f}"


def _date(parent: etree._Element, tag: str, value: date, *, ns: str = RAM) -> None:
    """A date in format 102 (CCYYMMDD) inside a udt:DateTimeString."""
    holder = _el(parent, ns, tag)
    _el(holder, UDT, "DateTimeString", value.strftime("%Y%m%d"), format="102")


def _period(parent: etree._Element, start: date | None, end: date | None) -> None:
    if start is None and end is None:
        return
    period = _ram(parent, "BillingSpecifiedPeriod")
    if start is not None:
        _date(period, "StartDateTime", start)
    if end is not None:
        _date(period, "EndDateTime", end)


def _party(parent: etree._Element, tag: str, party: Party, *, with_vat: bool, seller: bool) -> None:
    node = _ram(parent, tag)
    _ram(node, "Name", party.name)
    if party.company_id:
        organization = _ram(node, "SpecifiedLegalOrganization")
        if party.address.country == "NL":
            _ram(organization, "ID", party.company_id, schemeID=KVK_SCHEME)
        else:
            _ram(organization, "ID", party.company_id)
    if seller and (party.email or party.phone):
        # BG-6, the seller's contact: BT-42 telephone and BT-43 e-mail.
        contact = _ram(node, "DefinedTradeContact")
        if party.phone:
            phone = _ram(contact, "TelephoneUniversalCommunication")
            _ram(phone, "CompleteNumber", party.phone)
        if party.email:
            mail = _ram(contact, "EmailURIUniversalCommunication")
            _ram(mail, "URIID", party.email)
    address = _ram(node, "PostalTradeAddress")
    _ram(address, "PostcodeCode", party.address.postal_code)
    _ram(address, "LineOne", party.address.street)
    _ram(address, "CityName", party.address.city)
    _ram(address, "CountryID", party.address.country)
    if party.email:
        # BT-34 / BT-49: the party's electronic address, scheme EM (e-mail).
        uri = _ram(node, "URIUniversalCommunication")
        _ram(uri, "URIID", party.email, schemeID="EM")
    if with_vat and party.vat_number:
        registration = _ram(node, "SpecifiedTaxRegistration")
        _ram(registration, "ID", party.vat_number, schemeID="VA")


def _trade_tax(
    parent: etree._Element,
    tag: str,
    category: VatCategory,
    rate: Decimal,
    *,
    breakdown: VatBreakdown | None = None,
) -> None:
    """An ApplicableTradeTax: for a line (no amounts) or for a VAT breakdown (BG-23)."""
    tax = _ram(parent, tag)
    if breakdown is not None:
        _ram(tax, "CalculatedAmount", _amount(breakdown.vat_amount))
    _ram(tax, "TypeCode", "VAT")
    if breakdown is not None and category in EXEMPTION_CODES and breakdown.exemption_reason:
        _ram(tax, "ExemptionReason", breakdown.exemption_reason)
    if breakdown is not None:
        _ram(tax, "BasisAmount", _amount(breakdown.taxable_amount))
    _ram(tax, "CategoryCode", category.value)
    if breakdown is not None and category in EXEMPTION_CODES:
        _ram(tax, "ExemptionReasonCode", EXEMPTION_CODES[category])
    if category is not VatCategory.outside_scope:
        _ram(tax, "RateApplicablePercent", _percent(rate))


def _line(parent: etree._Element, line: Line) -> None:
    item = _ram(parent, "IncludedSupplyChainTradeLineItem")
    line_document = _ram(item, "AssociatedDocumentLineDocument")
    _ram(line_document, "LineID", str(line.number))
    if line.note:
        note = _ram(line_document, "IncludedNote")
        _ram(note, "Content", line.note)
    product = _ram(item, "SpecifiedTradeProduct")
    _ram(product, "Name", line.description)
    agreement = _ram(item, "SpecifiedLineTradeAgreement")
    price = _ram(agreement, "NetPriceProductTradePrice")
    _ram(price, "ChargeAmount", _price(line.unit_price))
    delivery = _ram(item, "SpecifiedLineTradeDelivery")
    _ram(delivery, "BilledQuantity", _decimal(line.quantity), unitCode=line.unit_code)
    settlement = _ram(item, "SpecifiedLineTradeSettlement")
    _trade_tax(settlement, "ApplicableTradeTax", line.vat_category, line.vat_rate)
    _period(settlement, line.period_start, line.period_end)
    summation = _ram(settlement, "SpecifiedTradeSettlementLineMonetarySummation")
    _ram(summation, "LineTotalAmount", _amount(line.amount))


def to_cii(doc: InvoiceDocument) -> bytes:
    """The document as a Factur-X EN 16931 CII XML (UTF-8, with an XML declaration)."""
    outside_scope = any(b.category is VatCategory.outside_scope for b in doc.vat_breakdown) or any(
        line.vat_category is VatCategory.outside_scope for line in doc.lines
    )
    with_vat = not outside_scope

    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)

    context = _el(root, RSM, "ExchangedDocumentContext")
    guideline = _ram(context, "GuidelineSpecifiedDocumentContextParameter")
    _ram(guideline, "ID", GUIDELINE_EN16931)

    header = _el(root, RSM, "ExchangedDocument")
    _ram(header, "ID", doc.number)
    _ram(header, "TypeCode", TYPE_CODES[doc.type])
    _date(header, "IssueDateTime", doc.issue_date)
    for text in doc.notes:
        note = _ram(header, "IncludedNote")
        _ram(note, "Content", text)

    transaction = _el(root, RSM, "SupplyChainTradeTransaction")
    for line in doc.lines:
        _line(transaction, line)

    agreement = _ram(transaction, "ApplicableHeaderTradeAgreement")
    if doc.buyer_reference:
        _ram(agreement, "BuyerReference", doc.buyer_reference)
    _party(agreement, "SellerTradeParty", doc.seller, with_vat=with_vat, seller=True)
    _party(agreement, "BuyerTradeParty", doc.buyer, with_vat=with_vat, seller=False)

    delivery = _ram(transaction, "ApplicableHeaderTradeDelivery")
    if doc.supply_date is not None:
        event = _ram(delivery, "ActualDeliverySupplyChainEvent")
        _date(event, "OccurrenceDateTime", doc.supply_date)

    settlement = _ram(transaction, "ApplicableHeaderTradeSettlement")
    if doc.payment_reference:
        _ram(settlement, "PaymentReference", doc.payment_reference)
    _ram(settlement, "InvoiceCurrencyCode", doc.currency)
    if doc.iban:
        means = _ram(settlement, "SpecifiedTradeSettlementPaymentMeans")
        _ram(means, "TypeCode", PAYMENT_MEANS_SEPA_CREDIT_TRANSFER)
        account = _ram(means, "PayeePartyCreditorFinancialAccount")
        _ram(account, "IBANID", doc.iban)
        if doc.bic:
            institution = _ram(means, "PayeeSpecifiedCreditorFinancialInstitution")
            _ram(institution, "BICID", doc.bic)
    for breakdown in doc.vat_breakdown:
        _trade_tax(settlement, "ApplicableTradeTax", breakdown.category, breakdown.rate, breakdown=breakdown)
    _period(settlement, doc.period_start, doc.period_end)
    if doc.payment_terms or doc.due_date is not None:
        terms = _ram(settlement, "SpecifiedTradePaymentTerms")
        if doc.payment_terms:
            _ram(terms, "Description", doc.payment_terms)
        if doc.due_date is not None:
            _date(terms, "DueDateDateTime", doc.due_date)

    summation = _ram(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation")
    _ram(summation, "LineTotalAmount", _amount(doc.line_total))
    _ram(summation, "TaxBasisTotalAmount", _amount(doc.tax_exclusive))
    _ram(summation, "TaxTotalAmount", _amount(doc.vat_total), currencyID=doc.currency)
    _ram(summation, "GrandTotalAmount", _amount(doc.tax_inclusive))
    prepaid = doc.tax_inclusive - doc.payable
    if prepaid:
        _ram(summation, "TotalPrepaidAmount", _amount(prepaid))
    _ram(summation, "DuePayableAmount", _amount(doc.payable))

    if doc.preceding_number:
        preceding = _ram(settlement, "InvoiceReferencedDocument")
        _ram(preceding, "IssuerAssignedID", doc.preceding_number)
        if doc.preceding_date is not None:
            formatted = _ram(preceding, "FormattedIssueDateTime")
            _el(formatted, QDT, "DateTimeString", doc.preceding_date.strftime("%Y%m%d"), format="102")

    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
