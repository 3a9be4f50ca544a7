"""The human-readable invoice: HTML from a Jinja2 template, a PDF from WeasyPrint, and the Factur-X PDF.

:func:`render_html` fills ``templates/invoice.html`` (autoescaped: every value comes from customer
data) from an :class:`~lawful.billing.document.InvoiceDocument`; :func:`render_pdf` lays it out
as an A4 PDF/A-3b; :func:`render_facturx` embeds the document's CII XML (:func:`lawful.billing.cii.to_cii`)
in that PDF as ``factur-x.xml``, which makes it a Factur-X EN 16931 invoice that a person can read
and software can book.

Rendering never touches the network: the template carries its CSS inline and uses no images or
fonts from elsewhere, and WeasyPrint gets a URL fetcher that refuses every URL that is not a
``data:`` URL. One font configuration serves every rendering in the process.
"""

from __future__ import annotations

import functools
import warnings
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import facturx
import jinja2

with warnings.catch_warnings():
    # Without the system's HarfBuzz-Subset library WeasyPrint warns at import that a future version
    # will need it, and subsets fonts with fontTools meanwhile (about twice as slow, same output).
    # Debian's libharfbuzz-subset0 provides it; this keeps a machine without it working under -W error.
    warnings.filterwarnings("ignore", message="HarfBuzz-Subset", category=DeprecationWarning)
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcher

from lawful.billing.cii import to_cii
from lawful.billing.document import (
    CENT,
    REVERSE_CHARGE_TEXT,
    DocumentType,
    InvoiceDocument,
    Party,
    VatCategory,
)
from lawful.billing.vat import COUNTRY_NAMES

CURRENCY_SYMBOLS = {"EUR": "€"}
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
# UN/ECE recommendation 20 unit codes shown next to a quantity (singular, plural); "C62" (one) shows none.
UNIT_LABELS = {
    "MON": ("month", "months"),
    "WEE": ("week", "weeks"),
    "DAY": ("day", "days"),
    "HUR": ("hour", "hours"),
    "ANN": ("year", "years"),
    "E34": ("GB", "GB"),
}
ALLOWED_URL_SCHEMES = ("data",)
PDF_VARIANT = "pdf/a-3b"  # Factur-X is a PDF/A-3 (the XML is an associated file); B: visual appearance


def format_money(amount: Decimal, currency: str) -> str:
    """An amount for people: ``€ 1,234.56`` for euros, ``USD 1,234.56`` for other currencies.

    Rounded half up to cents; a negative amount reads ``-€ 12.10``.
    """
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be a Decimal, not {type(amount).__name__}")
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    symbol = CURRENCY_SYMBOLS.get(currency, currency)
    return f"{sign}{symbol} {abs(rounded):,.2f}"


def format_price(amount: Decimal, currency: str) -> str:
    """A unit price: like :func:`format_money`, but keeping up to six decimals where the price has them."""
    exponent = amount.as_tuple().exponent
    if not isinstance(exponent, int) or exponent >= -2:
        return format_money(amount, currency)
    decimals = min(-exponent, 6)
    rounded = amount.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    symbol = CURRENCY_SYMBOLS.get(currency, currency)
    return f"{sign}{symbol} {abs(rounded):,.{decimals}f}"


def format_quantity(quantity: Decimal) -> str:
    """A quantity without trailing zeros and with thousands separators: ``125,000``, ``12.5``."""
    normalized = quantity.normalize()
    exponent = normalized.as_tuple().exponent
    decimals = max(-exponent, 0) if isinstance(exponent, int) else 0
    return f"{normalized:,.{decimals}f}"


def format_percent(rate: Decimal) -> str:
    """A VAT rate: ``21%``, ``9.5%``."""
    return f"{format_quantity(rate)}%"


def format_date(value: date | None, *, short: bool = False) -> str:
    """A date in English, unambiguous in both languages: ``1 December 2026`` (short: ``1 Dec 2026``)."""
    if value is None:
        return ""
    month = MONTHS[value.month - 1]
    return f"{value.day} {month[:3] if short else month} {value.year}"


def format_period(start: date | None, end: date | None, *, short: bool = False) -> str:
    """A supply period, the shared month and year written once: ``1–30 November 2026``,
    ``1 November – 31 December 2026``, ``1 Dec 2026 – 31 Jan 2027``; empty when there is none."""
    if start is None or end is None or start == end:
        return format_date(start or end, short=short)
    last = format_date(end, short=short)
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}–{last}"
    if start.year == end.year:
        month = MONTHS[start.month - 1]
        return f"{start.day} {month[:3] if short else month} – {last}"
    return f"{format_date(start, short=short)} – {last}"


def country_name(code: str) -> str:
    return COUNTRY_NAMES.get(code.upper(), code)


def unit_label(code: str, quantity: Decimal) -> str:
    """A readable unit for the quantity column; empty for plain pieces ("C62")."""
    singular, plural = UNIT_LABELS.get(code, ("", ""))
    return singular if quantity == 1 else plural


def vat_label(category: VatCategory, rate: Decimal) -> str:
    """The VAT column of a line: the rate, "0%" for reverse charge, "n/a" when not subject to VAT."""
    if category is VatCategory.outside_scope:
        return "n/a"
    return format_percent(rate)


def company_id_label(party: Party) -> str:
    return "KvK" if party.address.country == "NL" else "Company no."


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("lawful.billing", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        {
            "date": format_date,
            "quantity": format_quantity,
            "percent": format_percent,
            "country": country_name,
        }
    )
    return environment


@functools.cache
def _font_config() -> Any:
    """The one font configuration shared by every rendering in this process."""
    return FontConfiguration()


def offline_url_fetcher() -> Any:
    """A fetcher that only resolves ``data:`` URLs: an invoice never loads anything from outside."""
    return URLFetcher(allowed_protocols=ALLOWED_URL_SCHEMES, fail_on_errors=True)


def _context(doc: InvoiceDocument) -> dict[str, Any]:
    credit = doc.type is DocumentType.credit_note

    def money(amount: Decimal) -> str:
        return format_money(amount, doc.currency)

    def price(amount: Decimal) -> str:
        return format_price(amount, doc.currency)

    return {
        "doc": doc,
        "credit": credit,
        "title_en": "Credit note" if credit else "Invoice",
        "title_nl": "Creditnota" if credit else "Factuur",
        "money": money,
        "price": price,
        "period": format_period,
        "unit_label": unit_label,
        "vat_label": vat_label,
        "company_id_label": company_id_label,
        "outside_scope": VatCategory.outside_scope,
        "reverse_charge": VatCategory.reverse_charge,
        "reverse_charge_text": REVERSE_CHARGE_TEXT,
    }


def render_html(doc: InvoiceDocument) -> str:
    """The invoice or credit note as a standalone HTML page (inline CSS, no external resources)."""
    return _environment().get_template("invoice.html").render(_context(doc))


def _write_pdf(doc: InvoiceDocument) -> bytes:
    html = weasyprint.HTML(string=render_html(doc), url_fetcher=offline_url_fetcher(), base_url=None)
    with warnings.catch_warnings():
        # For PDF/A WeasyPrint reads its bundled sRGB profile (the output intent) from a file that it
        # leaves for the garbage collector to close; nothing else of ours is open here.
        warnings.filterwarnings("ignore", message=r"unclosed file .*sRGB", category=ResourceWarning)
        pdf: bytes = html.write_pdf(
            font_config=_font_config(), pdf_variant=PDF_VARIANT, finisher=_drop_producer
        )
    return pdf


def _drop_producer(document: Any, pdf: Any) -> None:
    """Leave the producer out of the PDF's information dictionary.

    The Factur-X step replaces the XMP metadata with its own, which names a different producer; a
    PDF/A validator compares the two, so the information dictionary does not name one at all.
    """
    pdf.info.pop("Producer", None)


def render_pdf(doc: InvoiceDocument) -> bytes:
    """The invoice as an A4 PDF (PDF/A-3b, so that it is archivable and can become a Factur-X)."""
    return _write_pdf(doc)


def _pdf_metadata(doc: InvoiceDocument) -> dict[str, str]:
    kind = "Credit note" if doc.type is DocumentType.credit_note else "Invoice"
    return {
        "author": doc.seller.name,
        "keywords": f"{kind}, Factur-X",
        "title": f"{doc.seller.name}: {kind} {doc.number}",
        "subject": f"{kind} {doc.number} dated {doc.issue_date.isoformat()} issued by {doc.seller.name}",
    }


def render_facturx(doc: InvoiceDocument) -> bytes:
    """The PDF with the CII XML embedded as ``factur-x.xml``: a Factur-X EN 16931 invoice (PDF/A-3b)."""
    pdf = _write_pdf(doc)
    result: bytes = facturx.generate_from_binary(
        pdf,
        to_cii(doc),
        flavor="factur-x",
        level="en16931",
        check_xsd=True,
        pdf_metadata=_pdf_metadata(doc),
        lang="en",
    )
    return result
