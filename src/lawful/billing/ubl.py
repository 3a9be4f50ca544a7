"""UBL 2.1 XML for an invoice or credit note, in the Peppol BIS Billing 3.0 profile of EN 16931.

:func:`to_ubl` renders one :class:`~lawful.billing.document.InvoiceDocument` as a UBL ``Invoice``
(type code 380) or ``CreditNote`` (type code 381). Only what the document carries is written: an
empty optional field leaves its element out rather than producing an empty one, which EN 16931
forbids. Children are appended in the order the UBL 2.1 schemas prescribe, so each builder below
follows the schema's sequence from top to bottom.

Choices Lawful makes where EN 16931 leaves room:

* The electronic addresses (BT-34, BT-49) are the parties' e-mail addresses, scheme ``EM``.
* A Dutch party's registration number (BT-30, BT-47) is its KvK number, scheme ``0106``.
* Peppol allows a single document-level note, so several BT-22 notes are joined by line breaks.
* Payment means code 58 (SEPA credit transfer) needs the payee IBAN (BR-61); without an IBAN the
  means are written as code 1 (instrument not defined), and only if there is something to carry.
* A UBL 2.1 credit note has no ``DueDate``; its BT-9 goes to ``PaymentMeans/PaymentDueDate``.
* With VAT category O (not subject to VAT) neither party's VAT identifier nor any VAT rate is
  written (BR-O-02, BR-O-05, BR-O-09).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lxml import etree

from lawful.billing.document import (
    Address,
    DocumentType,
    InvoiceDocument,
    Line,
    Party,
    VatBreakdown,
    VatCategory,
)

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NAMESPACES = {"cac": CAC, "cbc": CBC}

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"

INVOICE_TYPE_CODE = "380"
CREDIT_NOTE_TYPE_CODE = "381"
SEPA_CREDIT_TRANSFER = "58"
INSTRUMENT_NOT_DEFINED = "1"
EMAIL_SCHEME = "EM"  # EAS code for an e-mail address as electronic address
KVK_SCHEME = "0106"  # ISO 6523 ICD of the Dutch Chamber of Commerce register

# VATEX codes (BT-121) for the categories that carry an exemption reason.
EXEMPTION_CODES = {
    VatCategory.reverse_charge: "VATEX-EU-AE",
    VatCategory.outside_scope: "VATEX-EU-O",
}

Element = etree._Element


def to_ubl(doc: InvoiceDocument) -> bytes:
    """The document as UBL 2.1 XML (UTF-8, with an XML declaration)."""
    credit = doc.type is DocumentType.credit_note
    root_ns = CREDIT_NOTE_NS if credit else INVOICE_NS
    root = etree.Element(
        f"{{{root_ns}}}{'CreditNote' if credit else 'Invoice'}",
        nsmap={None: root_ns, "cac": CAC, "cbc": CBC},  # type: ignore[dict-item]  # default namespace
    )
    outside_scope = _outside_scope(doc)

    _cbc(root, "CustomizationID", CUSTOMIZATION_ID)
    _cbc(root, "ProfileID", PROFILE_ID)
    _cbc(root, "ID", doc.number)  # BT-1
    _cbc(root, "IssueDate", doc.issue_date.isoformat())  # BT-2
    if not credit and doc.due_date is not None:
        _cbc(root, "DueDate", doc.due_date.isoformat())  # BT-9
    if credit:
        _cbc(root, "CreditNoteTypeCode", CREDIT_NOTE_TYPE_CODE)  # BT-3
    else:
        _cbc(root, "InvoiceTypeCode", INVOICE_TYPE_CODE)  # BT-3
    notes = [note for note in doc.notes if note.strip()]
    if notes:
        _cbc(root, "Note", "\n".join(notes))  # BT-22
    _cbc(root, "DocumentCurrencyCode", doc.currency)  # BT-5
    if doc.buyer_reference:
        _cbc(root, "BuyerReference", doc.buyer_reference)  # BT-10
    _period(root, doc.period_start, doc.period_end)  # BT-73, BT-74
    if doc.preceding_number:
        reference = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")
        _cbc(reference, "ID", doc.preceding_number)  # BT-25
        if doc.preceding_date is not None:
            _cbc(reference, "IssueDate", doc.preceding_date.isoformat())  # BT-26
    _party(_cac(root, "AccountingSupplierParty"), doc.seller, with_vat=not outside_scope)  # BG-4
    _party(_cac(root, "AccountingCustomerParty"), doc.buyer, with_vat=not outside_scope)  # BG-7
    if doc.supply_date is not None:
        _cbc(_cac(root, "Delivery"), "ActualDeliveryDate", doc.supply_date.isoformat())  # BT-72
    _payment_means(root, doc, credit)
    if doc.payment_terms:
        _cbc(_cac(root, "PaymentTerms"), "Note", doc.payment_terms)  # BT-20
    _tax_total(root, doc, outside_scope)
    _totals(root, doc)
    for line in doc.lines:
        _line(root, line, doc.currency, credit, outside_scope)

    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def plain_decimal(value: Decimal, min_places: int = 0) -> str:
    """A decimal as plain digits, without exponent and trailing zeros, but keeping
    at least ``min_places`` decimals: ``125000``, ``12.5``, ``0.0015``, ``49.00`` (``min_places=2``)."""
    normalized = value.normalize()
    exponent = normalized.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -min_places:
        normalized = normalized.quantize(Decimal(1).scaleb(-min_places))
    text = format(normalized, "f")
    return "0" if text == "-0" else text


def _outside_scope(doc: InvoiceDocument) -> bool:
    categories = {b.category for b in doc.vat_breakdown} | {line.vat_category for line in doc.lines}
    return VatCategory.outside_scope in categories


def _cbc(parent: Element, tag: str, text: str, **attributes: str) -> Element:
    element = etree.SubElement(parent, f"{{{CBC}}}{tag}", attributes)
    element.text = text
    return element


def _cac(parent: Element, tag: str) -> Element:
    return etree.SubElement(parent, f"{{{CAC}}}{tag}")


def _amount(parent: Element, tag: str, amount: Decimal, currency: str) -> Element:
    return _cbc(parent, tag, f"{amount:.2f}", currencyID=currency)


def _period(parent: Element, start: date | None, end: date | None) -> None:
    if start is None and end is None:
        return
    period = _cac(parent, "InvoicePeriod")
    if start is not None:
        _cbc(period, "StartDate", start.isoformat())
    if end is not None:
        _cbc(period, "EndDate", end.isoformat())


def _party(parent: Element, party: Party, *, with_vat: bool) -> None:
    """``cac:Party`` for the seller (BG-4) or the buyer (BG-7)."""
    node = _cac(parent, "Party")
    if party.email:
        _cbc(node, "EndpointID", party.email, schemeID=EMAIL_SCHEME)  # BT-34 / BT-49
    _address(_cac(node, "PostalAddress"), party.address)  # BG-5 / BG-8
    if with_vat and party.vat_number:
        tax_scheme = _cac(node, "PartyTaxScheme")
        _cbc(tax_scheme, "CompanyID", party.vat_number)  # BT-31 / BT-48
        _cbc(_cac(tax_scheme, "TaxScheme"), "ID", "VAT")
    legal = _cac(node, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", party.name)  # BT-27 / BT-44
    if party.company_id:
        if party.address.country == "NL":
            _cbc(legal, "CompanyID", party.company_id, schemeID=KVK_SCHEME)  # BT-30 / BT-47
        else:
            _cbc(legal, "CompanyID", party.company_id)
    if party.phone or party.email:
        contact = _cac(node, "Contact")
        if party.phone:
            _cbc(contact, "Telephone", party.phone)  # BT-42 / BT-57
        if party.email:
            _cbc(contact, "ElectronicMail", party.email)  # BT-43 / BT-58


def _address(node: Element, address: Address) -> None:
    if address.street:
        _cbc(node, "StreetName", address.street)  # BT-35 / BT-50
    if address.city:
        _cbc(node, "CityName", address.city)  # BT-37 / BT-52
    if address.postal_code:
        _cbc(node, "PostalZone", address.postal_code)  # BT-38 / BT-53
    _cbc(_cac(node, "Country"), "IdentificationCode", address.country)  # BT-40 / BT-55


def _payment_means(root: Element, doc: InvoiceDocument, credit: bool) -> None:
    """BG-16: SEPA credit transfer to the seller's account; for a credit note also its due date."""
    due_date = doc.due_date if credit else None
    if doc.iban is None and not doc.payment_reference and due_date is None:
        return
    means = _cac(root, "PaymentMeans")
    if doc.iban is not None:
        _cbc(means, "PaymentMeansCode", SEPA_CREDIT_TRANSFER, name="SEPA credit transfer")  # BT-81/82
    else:
        _cbc(means, "PaymentMeansCode", INSTRUMENT_NOT_DEFINED)  # BT-81
    if due_date is not None:
        _cbc(means, "PaymentDueDate", due_date.isoformat())  # BT-9 of a credit note
    if doc.payment_reference:
        _cbc(means, "PaymentID", doc.payment_reference)  # BT-83
    if doc.iban is not None:
        account = _cac(means, "PayeeFinancialAccount")
        _cbc(account, "ID", "".join(doc.iban.split()).upper())  # BT-84
        if doc.bic:
            _cbc(_cac(account, "FinancialInstitutionBranch"), "ID", doc.bic.strip())  # BT-86


def _tax_total(root: Element, doc: InvoiceDocument, outside_scope: bool) -> None:
    """BT-110 and one subtotal per VAT category and rate (BG-23)."""
    total = _cac(root, "TaxTotal")
    _amount(total, "TaxAmount", doc.vat_total, doc.currency)  # BT-110
    for breakdown in doc.vat_breakdown:
        subtotal = _cac(total, "TaxSubtotal")
        _amount(subtotal, "TaxableAmount", breakdown.taxable_amount, doc.currency)  # BT-116
        _amount(subtotal, "TaxAmount", breakdown.vat_amount, doc.currency)  # BT-117
        _tax_category(_cac(subtotal, "TaxCategory"), breakdown, outside_scope)


def _tax_category(node: Element, breakdown: VatBreakdown, outside_scope: bool) -> None:
    _cbc(node, "ID", breakdown.category.value)  # BT-118
    if not outside_scope:
        _cbc(node, "Percent", plain_decimal(breakdown.rate))  # BT-119
    code = EXEMPTION_CODES.get(breakdown.category)
    if code is not None:
        _cbc(node, "TaxExemptionReasonCode", code)  # BT-121
        if breakdown.exemption_reason:
            _cbc(node, "TaxExemptionReason", breakdown.exemption_reason)  # BT-120
    _cbc(_cac(node, "TaxScheme"), "ID", "VAT")


def _totals(root: Element, doc: InvoiceDocument) -> None:
    """BG-22, the document totals."""
    totals = _cac(root, "LegalMonetaryTotal")
    _amount(totals, "LineExtensionAmount", doc.line_total, doc.currency)  # BT-106
    _amount(totals, "TaxExclusiveAmount", doc.tax_exclusive, doc.currency)  # BT-109
    _amount(totals, "TaxInclusiveAmount", doc.tax_inclusive, doc.currency)  # BT-112
    _amount(totals, "PayableAmount", doc.payable, doc.currency)  # BT-115


def _line(root: Element, line: Line, currency: str, credit: bool, outside_scope: bool) -> None:
    """BG-25, one invoice or credit note line."""
    node = _cac(root, "CreditNoteLine" if credit else "InvoiceLine")
    _cbc(node, "ID", str(line.number))  # BT-126
    if line.note:
        _cbc(node, "Note", line.note)  # BT-127
    _cbc(
        node,
        "CreditedQuantity" if credit else "InvoicedQuantity",
        plain_decimal(line.quantity),
        unitCode=line.unit_code,
    )  # BT-129, BT-130
    _amount(node, "LineExtensionAmount", line.amount, currency)  # BT-131
    _period(node, line.period_start, line.period_end)  # BT-134, BT-135
    item = _cac(node, "Item")
    _cbc(item, "Name", line.description)  # BT-153
    category = _cac(item, "ClassifiedTaxCategory")
    _cbc(category, "ID", line.vat_category.value)  # BT-151
    if not outside_scope:
        _cbc(category, "Percent", plain_decimal(line.vat_rate))  # BT-152
    _cbc(_cac(category, "TaxScheme"), "ID", "VAT")
    price = _cac(node, "Price")
    _cbc(price, "PriceAmount", plain_decimal(line.unit_price, 2), currencyID=currency)  # BT-146
