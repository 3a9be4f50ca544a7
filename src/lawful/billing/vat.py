"""VAT on Lawful's invoices: Dutch VAT, reverse charge within the EU, or outside the scope of EU VAT.

The seller is established in the Netherlands and sells a service to businesses:

- a customer in the Netherlands pays Dutch VAT at the standard rate;
- a business customer elsewhere in the EU with a valid VAT number accounts for the VAT itself
  (art. 196 of the VAT directive): 0 %, "Reverse charge / btw verlegd", and the buyer's VAT
  number on the invoice;
- an EU customer without a valid VAT number is charged Dutch VAT;
- a business customer outside the EU receives a service whose place of supply is outside the
  EU: not subject to Dutch VAT.

A VAT number is checked for its format and check digits with python-stdnum. An optional
:class:`VatChecker` (``ViesChecker`` when ``LAWFUL_VIES=true``) asks the EU's VIES service as well;
when VIES cannot answer, the format check decides and the invoice records that.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError

from lawful.billing.document import VatCategory
from lawful.billing.models import VatTreatment

EU = frozenset(s.upper() for s in eu_vat.MEMBER_STATES if s not in ("el", "xi")) | {"GR"}
HOME = "NL"

# The names of the countries in English: the EU's (VAT numbers needed) and the usual others, on
# invoices and in the sign-up form's list (a code not here is shown as itself).
COUNTRY_NAMES = {
    "AT": "Austria", "BE": "Belgium", "BG": "Bulgaria", "CY": "Cyprus", "CZ": "Czechia",
    "DE": "Germany", "DK": "Denmark", "EE": "Estonia", "ES": "Spain", "FI": "Finland",
    "FR": "France", "GR": "Greece", "HR": "Croatia", "HU": "Hungary", "IE": "Ireland",
    "IT": "Italy", "LT": "Lithuania", "LU": "Luxembourg", "LV": "Latvia", "MT": "Malta",
    "NL": "Netherlands", "PL": "Poland", "PT": "Portugal", "RO": "Romania", "SE": "Sweden",
    "SI": "Slovenia", "SK": "Slovakia", "IS": "Iceland", "LI": "Liechtenstein", "NO": "Norway",
    "CH": "Switzerland", "GB": "United Kingdom", "US": "United States", "CA": "Canada",
    "AU": "Australia", "NZ": "New Zealand", "JP": "Japan", "SG": "Singapore",
}  # fmt: skip


def normalise_vat(value: str | None) -> str | None:
    """A VAT number in its compact form (``"NL004495445B01"``) or None when empty."""
    if value is None or not value.strip():
        return None
    try:
        return str(eu_vat.compact(value))
    except ValidationError:  # not an EU number (a Swiss or British one): kept as given
        return "".join(value.split()).upper()


def vat_country(vat_number: str) -> str:
    """The ISO country of a VAT number (``EL`` numbers belong to Greece, ``GR``)."""
    prefix = vat_number[:2].upper()
    return "GR" if prefix == "EL" else prefix


@dataclass(frozen=True, slots=True)
class VatCheck:
    valid: bool
    how: str  # what the check was, for the invoice's record


class VatChecker(Protocol):
    """Checks a VAT number; returns None when it cannot tell (the format check then decides)."""

    def check(self, vat_number: str) -> VatCheck | None: ...


class FormatOnly:
    """No online check."""

    def check(self, vat_number: str) -> VatCheck | None:
        return None


class ViesChecker:
    """Asks the EU's VIES service (REST) whether a VAT number is registered."""

    URL = "https://ec.europa.eu/taxation_customs/vies/rest-api/check-vat-number"

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout

    def check(self, vat_number: str) -> VatCheck | None:
        body = json.dumps({"countryCode": vat_number[:2], "vatNumber": vat_number[2:]}).encode()
        request = urllib.request.Request(self.URL, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.load(response)
        except (OSError, ValueError):
            return None
        if not isinstance(answer, dict) or "valid" not in answer:
            return None
        return VatCheck(bool(answer["valid"]), "VIES " + ("valid" if answer["valid"] else "not registered"))


def check_vat(vat_number: str | None, checker: VatChecker | None = None) -> VatCheck:
    if not vat_number:
        return VatCheck(False, "no VAT number")
    try:
        eu_vat.validate(vat_number)
    except ValidationError:
        return VatCheck(False, "VAT number fails its format or check digits")
    online = checker.check(vat_number) if checker is not None else None
    if online is not None:
        return online
    return VatCheck(True, "format and check digits valid")


@dataclass(frozen=True, slots=True)
class VatDecision:
    treatment: VatTreatment
    rate: Decimal  # percent
    how: str

    @property
    def category(self) -> VatCategory:
        return CATEGORY[self.treatment]

    @property
    def rate_bp(self) -> int:
        return int(self.rate * 100)


CATEGORY = {
    VatTreatment.standard: VatCategory.standard,
    VatTreatment.reverse_charge: VatCategory.reverse_charge,
    VatTreatment.outside_scope: VatCategory.outside_scope,
}


def decide(
    country: str, vat_number: str | None, standard_rate: Decimal, checker: VatChecker | None = None
) -> VatDecision:
    """The VAT treatment of an invoice to a business customer in ``country``."""
    country = country.upper()
    if country == HOME:
        return VatDecision(VatTreatment.standard, standard_rate, "customer in the Netherlands")
    if country in EU:
        checked = check_vat(vat_number, checker)
        if checked.valid and vat_number and vat_country(vat_number) == country:
            return VatDecision(VatTreatment.reverse_charge, Decimal(0), f"buyer's VAT number: {checked.how}")
        reason = checked.how if vat_number else "no VAT number"
        if checked.valid and vat_number:
            reason = f"VAT number of {vat_country(vat_number)}, customer in {country}"
        return VatDecision(VatTreatment.standard, standard_rate, f"EU customer, no reverse charge: {reason}")
    return VatDecision(
        VatTreatment.outside_scope, Decimal(0), f"business customer outside the EU ({country})"
    )
