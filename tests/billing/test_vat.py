"""VAT decisions: Dutch VAT, reverse charge within the EU, outside the EU; the optional online check."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from lawful.billing.models import VatTreatment
from lawful.billing.vat import VatCheck, decide, normalise_vat

RATE = D(21)


class Registry:
    """A VAT checker (the VIES protocol) answering from a fixed register, or not at all."""

    def __init__(self, registered: set[str] | None) -> None:
        self.registered = registered
        self.asked: list[str] = []

    def check(self, vat_number: str) -> VatCheck | None:
        self.asked.append(vat_number)
        if self.registered is None:
            return None  # the service is down
        return VatCheck(vat_number in self.registered, "register")


@pytest.mark.parametrize(
    ("country", "vat", "treatment", "rate"),
    [
        ("NL", "NL004495445B01", VatTreatment.standard, RATE),
        ("NL", None, VatTreatment.standard, RATE),
        ("DE", "DE136695976", VatTreatment.reverse_charge, D(0)),
        ("BE", "BE0403170701", VatTreatment.reverse_charge, D(0)),
        ("GR", "EL094259216", VatTreatment.reverse_charge, D(0)),  # Greek numbers start with EL
        ("DE", "DE136695970", VatTreatment.standard, RATE),  # check digit wrong
        ("DE", None, VatTreatment.standard, RATE),  # no number: Dutch VAT
        ("FR", "DE136695976", VatTreatment.standard, RATE),  # another country's number
        ("US", None, VatTreatment.outside_scope, D(0)),
        ("CH", "CHE-116.281.710 MWST", VatTreatment.outside_scope, D(0)),
    ],
)
def test_treatment(country: str, vat: str | None, treatment: VatTreatment, rate: D) -> None:
    decision = decide(country, normalise_vat(vat), RATE)
    assert (decision.treatment, decision.rate) == (treatment, rate)


def test_an_online_check_decides_when_it_answers_and_the_format_when_it_does_not() -> None:
    refused = Registry(set())
    assert decide("DE", "DE136695976", RATE, refused).treatment is VatTreatment.standard
    assert refused.asked == ["DE136695976"]
    assert (
        decide("DE", "DE136695976", RATE, Registry({"DE136695976"})).treatment is VatTreatment.reverse_charge
    )
    down = decide("DE", "DE136695976", RATE, Registry(None))
    assert down.treatment is VatTreatment.reverse_charge and "format" in down.how
    bad = Registry({"DE136695970"})
    assert decide("DE", "DE136695970", RATE, bad).treatment is VatTreatment.standard
    assert bad.asked == []  # a number that fails its check digits is not looked up


def test_normalise() -> None:
    assert normalise_vat(" nl 0044.95445.b01 ") == "NL004495445B01"
    assert normalise_vat("") is None
