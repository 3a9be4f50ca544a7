"""Loading the policy: the default loads; a wrong policy fails naming the file, the purpose and the key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from lawful.errors import PolicyError
from lawful.policy.loader import default_policy_path, load_policy, parse_policy, taxonomy
from lawful.policy.model import LegalBasis, Retention, Trigger

NEWSLETTER = """
[purposes.newsletter]
section = "b"
title = "To send our newsletter"
description = "We send a newsletter to those who ask for it."
legal_basis = "consent"
data_uses = ["marketing.communications.email"]
data_subjects = ["customer"]
"""


def test_the_default_policy_loads() -> None:
    policy = load_policy()
    assert {"contract", "legal_obligation", "monitoring"} <= set(policy.keys)
    assert policy.purpose("contract").legal_basis is LegalBasis.contract
    assert policy.purpose("legal_obligation").legal_basis is LegalBasis.legal_obligation
    assert policy.purpose("monitoring").legal_basis is LegalBasis.legitimate_interests
    assert policy.source.endswith("policy.toml")
    keys = taxonomy()
    for p in policy.purposes:
        assert {c.key for c in p.categories} <= keys["data_category"]


BAD = [
    pytest.param(
        [('key = "user.contact.phone_number"', 'key = "user.contact.telephone"')],
        "",
        "contract",
        "user.contact.telephone",
        id="unknown category",
    ),
    pytest.param(
        [('legal_basis = "legitimate_interests"', 'legal_basis = "because_we_can"')],
        "",
        "monitoring",
        "because_we_can",
        id="unknown legal basis",
    ),
    pytest.param([], NEWSLETTER, "newsletter", "categories", id="purpose without categories"),
    pytest.param([], NEWSLETTER + "categories = []\n", "newsletter", "categories", id="empty categories"),
    pytest.param(
        [('  "functional.service.improve",', '  "functional.service.improvement",')],
        "",
        "monitoring",
        "functional.service.improvement",
        id="unknown data use",
    ),
    pytest.param(
        [
            (
                'data_subjects = ["customer"]\nactivities = [\n  "keeping invoices',
                'data_subjects = ["customer", "robot"]\nactivities = [\n  "keeping invoices',
            )
        ],
        "",
        "legal_obligation",
        "robot",
        id="unknown subject",
    ),
    pytest.param(
        [('legal_basis = "contract"', 'legal_basis = "legitimate_interests"')],
        "",
        "contract",
        "assessment",
        id="legitimate interest without assessment",
    ),
    pytest.param(
        [
            (
                'title = "To monitor the use of our services"',
                'title = "To monitor the use of our services"\nretention_days = 30',
            )
        ],
        "",
        "monitoring",
        "retention_days",
        id="unknown field",
    ),
    pytest.param(
        [
            (
                'subjects = ["customer"]\nretention = { period = "P7Y", trigger = "fiscal_year_end" }\n\n'
                '[[purposes.legal_obligation.categories]]\nkey = "user.name"',
                'subjects = ["employee"]\nretention = { period = "P7Y", trigger = "fiscal_year_end" }\n\n'
                '[[purposes.legal_obligation.categories]]\nkey = "user.name"',
            )
        ],
        "",
        "legal_obligation",
        "employee",
        id="category subject the purpose does not list",
    ),
    pytest.param(
        [
            (
                'retention = { period = "P6M", trigger = "collection" }',
                'retention = { period = "six months", trigger = "collection" }',
            )
        ],
        "",
        "contract",
        "six months",
        id="bad retention period",
    ),
]


@pytest.mark.parametrize(("replacements", "append", "purpose", "bad"), BAD)
def test_a_wrong_policy_fails_naming_file_purpose_and_key(
    edit_policy: Callable[..., Path],
    replacements: list[tuple[str, str]],
    append: str,
    purpose: str,
    bad: str,
) -> None:
    path = edit_policy(*replacements, append=append)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = caught.value.message
    assert str(path) in message
    assert f"'{purpose}'" in message
    assert bad in message


def test_the_unknown_key_is_quoted_exactly(edit_policy: Callable[..., Path]) -> None:
    path = edit_policy(('key = "user.contact.phone_number"', 'key = "user.contact.telephone"'))
    with pytest.raises(PolicyError, match=r"unknown fideslang data category 'user\.contact\.telephone'"):
        load_policy(path)


def test_parse_policy_names_its_source(default_text: str) -> None:
    with pytest.raises(PolicyError, match=r"^somewhere\.toml: "):
        parse_policy(
            default_text.replace('legal_basis = "contract"', 'legal_basis = "nope"'), source="somewhere.toml"
        )
    with pytest.raises(PolicyError, match="not valid TOML"):
        parse_policy("version = ", source="broken.toml")


def test_a_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    with pytest.raises(PolicyError, match="absent.toml"):
        load_policy(missing)


@pytest.mark.parametrize(
    ("period", "trigger", "phrase"),
    [
        ("P7Y", Trigger.fiscal_year_end, "7 years after the end of the fiscal year it belongs to"),
        ("P1Y", Trigger.contract_end, "1 year after the agreement with your company ends"),
        ("P30D", Trigger.collection, "30 days after it was collected"),
        ("P1Y6M", Trigger.collection, "1 year and 6 months after it was collected"),
        ("P0D", Trigger.account_exists, "as long as the account it belongs to exists"),
        ("P0D", Trigger.contract_end, "until the agreement with your company ends"),
        ("PT48H", Trigger.collection, "48 hours after it was collected"),
    ],
)
def test_retention_phrase(period: str, trigger: Trigger, phrase: str) -> None:
    assert Retention(period=period, trigger=trigger).phrase == phrase


@pytest.mark.parametrize(
    ("period", "start", "expires"),
    [
        ("P7Y", date(2026, 12, 31), date(2033, 12, 31)),
        ("P30D", date(2026, 11, 29), date(2026, 12, 29)),
        ("P6M", date(2026, 8, 31), date(2027, 2, 28)),
        ("P2W", date(2026, 12, 25), date(2027, 1, 8)),
        ("P0D", date(2026, 1, 1), date(2026, 1, 1)),
    ],
)
def test_retention_expires(period: str, start: date, expires: date) -> None:
    assert Retention(period=period, trigger=Trigger.collection).expires(start) == expires


@pytest.mark.parametrize("period", ["7Y", "P", "PT", "P7", "P-1Y", "seven years", ""])
def test_retention_refuses_what_is_no_iso_period(period: str) -> None:
    with pytest.raises(ValidationError):
        Retention(period=period, trigger=Trigger.collection)


def test_measures_state_the_enforced_monitoring_values(tmp_path: Path) -> None:
    """A policy that tightens [monitoring] changes what its statement promises, with no second edit."""
    text = default_policy_path().read_text()
    tightened = text.replace("salt_lifetime_hours = 48", "salt_lifetime_hours = 24").replace(
        "raw_event_days = 30", "raw_event_days = 14"
    )
    policy = parse_policy(tightened, source="tight.toml")
    measures = " ".join(policy.purpose("monitoring").measures)
    assert "destroyed after 24 hours" in measures and "deleted after 14 days" in measures
    assert "{" not in measures
    assert policy.purpose("monitoring").assessment is not None
    assert "within 24 hours" in policy.purpose("monitoring").assessment.balancing


def test_monitoring_may_only_be_tightened() -> None:
    text = default_policy_path().read_text().replace("salt_lifetime_hours = 48", "salt_lifetime_hours = 72")
    with pytest.raises(PolicyError, match="salt_lifetime_hours"):
        parse_policy(text, source="loose.toml")
