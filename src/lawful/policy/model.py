"""The privacy statement as a typed model.

A :class:`Policy` is what ``policy.toml`` declares: the controller, and per purpose the legal
basis, the data subjects, the data categories with their retention, the recipients, the
measures and, for legitimate interest, the assessment. The data layer enforces it and the
renderers write it out for people; both read this model and nothing else.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from dateutil.relativedelta import relativedelta
from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    """Policy models refuse keys they do not know: a typo must not silently drop a rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LegalBasis(StrEnum):
    """GDPR art. 6(1)(a)-(f)."""

    consent = "consent"
    contract = "contract"
    legal_obligation = "legal_obligation"
    vital_interests = "vital_interests"
    public_task = "public_task"
    legitimate_interests = "legitimate_interests"

    @property
    def article(self) -> str:
        return _BASIS_ARTICLE[self]

    @property
    def label(self) -> str:
        return _BASIS_LABEL[self]


_BASIS_ARTICLE = {
    LegalBasis.consent: "GDPR art. 6(1)(a)",
    LegalBasis.contract: "GDPR art. 6(1)(b)",
    LegalBasis.legal_obligation: "GDPR art. 6(1)(c)",
    LegalBasis.vital_interests: "GDPR art. 6(1)(d)",
    LegalBasis.public_task: "GDPR art. 6(1)(e)",
    LegalBasis.legitimate_interests: "GDPR art. 6(1)(f)",
}
_BASIS_LABEL = {
    LegalBasis.consent: "consent",
    LegalBasis.contract: "performance of contract",
    LegalBasis.legal_obligation: "legal obligation",
    LegalBasis.vital_interests: "vital interests",
    LegalBasis.public_task: "public task",
    LegalBasis.legitimate_interests: "legitimate interest",
}


class Trigger(StrEnum):
    """What starts a retention clock."""

    collection = "collection"
    contract_end = "contract_end"
    fiscal_year_end = "fiscal_year_end"
    account_exists = "account_exists"

    @property
    def phrase(self) -> str:
        return _TRIGGER_PHRASE[self]


_TRIGGER_PHRASE = {
    Trigger.collection: "after it was collected",
    Trigger.contract_end: "after the agreement with your company ends",
    Trigger.fiscal_year_end: "after the end of the fiscal year it belongs to",
    Trigger.account_exists: "after the account it belongs to is closed",
}

_PERIOD = re.compile(r"^P(?:(?P<y>\d+)Y)?(?:(?P<m>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?P<h>\d+)H)?$")


class Retention(Strict):
    """How long one category is kept under one purpose: an ISO 8601 period after a trigger.

    ``period = "P7Y"`` with ``trigger = "fiscal_year_end"`` keeps data seven years after the end
    of its fiscal year; ``period = "P0D"`` with ``trigger = "account_exists"`` keeps it exactly as
    long as the account exists.
    """

    period: str
    trigger: Trigger

    @model_validator(mode="after")
    def _check_period(self) -> Retention:
        match = _PERIOD.match(self.period)
        if not match or self.period in ("P", "PT"):
            raise ValueError(
                f"retention period {self.period!r} is not an ISO 8601 period such as P30D, P2Y or P7Y"
            )
        return self

    def _parts(self) -> dict[str, int]:
        match = _PERIOD.match(self.period)
        assert match is not None  # checked by the validator
        return {k: int(v) if v else 0 for k, v in match.groupdict().items()}

    @property
    def delta(self) -> relativedelta:
        part = self._parts()
        return relativedelta(
            years=part["y"], months=part["m"], weeks=part["w"], days=part["d"], hours=part["h"]
        )

    def expires(self, start: date) -> date:
        """The day data whose clock started on ``start`` is due for deletion."""
        return start + self.delta

    @property
    def phrase(self) -> str:
        """The period in words, e.g. ``7 years after the end of the fiscal year it belongs to``."""
        part = self._parts()
        words = [
            f"{part[k]} {unit}{'s' if part[k] != 1 else ''}"
            for k, unit in (("y", "year"), ("m", "month"), ("w", "week"), ("d", "day"), ("h", "hour"))
            if part[k]
        ]
        if not words:
            if self.trigger is Trigger.account_exists:
                return "as long as the account it belongs to exists"
            return "until " + self.trigger.phrase.removeprefix("after ")
        return " and ".join(words) + " " + self.trigger.phrase


class Category(Strict):
    """One fideslang data category processed under a purpose."""

    key: str = Field(description="fideslang data category key, e.g. user.contact.email")
    label: str = Field(description="what it is, in the reader's words")
    subjects: list[str] = Field(default_factory=list, description="fideslang data subject keys it is about")
    retention: Retention
    source: str = "provided by you or your company"
    note: str = ""


class Recipient(Strict):
    name: str
    kind: Literal["authority", "regulator", "processor", "controller", "internal"]
    description: str = ""
    country: str = "NL"
    condition: str = Field(default="", description="when data is disclosed to it")


class Transfer(Strict):
    """A transfer to a third country (GDPR art. 30(1)(e))."""

    country: str
    recipient: str
    safeguard: str


class Assessment(Strict):
    """The legitimate-interest assessment: purpose test, necessity test, balancing test."""

    interest: str
    necessity: str
    balancing: str


class Purpose(Strict):
    key: str
    section: Literal["a", "b", "internal"] = Field(
        description='the section of the statement ("a", "b"); "internal" purposes (our own staff) are '
        "in the record of processing, not in the customers' statement"
    )
    title: str
    description: str
    legal_basis: LegalBasis
    basis_explanation: str = ""
    data_uses: list[str] = Field(min_length=1)
    data_subjects: list[str] = Field(min_length=1)
    activities: list[str] = Field(default_factory=list, description="what is done, in plain words")
    categories: list[Category] = Field(min_length=1)
    recipients: list[Recipient] = Field(default_factory=list)
    transfers: list[Transfer] = Field(default_factory=list)
    measures: list[str] = Field(default_factory=list)
    assessment: Assessment | None = None

    def covers(self, category: str) -> bool:
        """Whether ``category`` (or a parent of it) is declared under this purpose."""
        return any(category == c.key or category.startswith(c.key + ".") for c in self.categories)

    def category(self, key: str) -> Category | None:
        """The declaration that covers ``key``: the most specific one."""
        best: Category | None = None
        for c in self.categories:
            if (key == c.key or key.startswith(c.key + ".")) and (best is None or len(c.key) > len(best.key)):
                best = c
        return best


class Person(Strict):
    name: str
    email: str
    phone: str = ""
    address: str = ""


class Authority(Strict):
    """The supervisory authority a data subject may complain to (GDPR art. 77)."""

    name: str
    url: str
    address: str = ""


class Organisation(Strict):
    name: str
    address: str
    email: str
    phone: str = ""
    website: str = ""
    registration: str = Field(default="", description="chamber of commerce number")
    vat_number: str = ""
    representative: Person | None = None
    dpo: Person | None = None
    supervisory_authority: Authority


class Monitoring(Strict):
    """The privacy measures of monitoring. Defaults are the most a policy may allow; it may only tighten them."""

    raw_event_days: Annotated[int, Field(ge=1, le=90)] = 30
    salt_lifetime_hours: Annotated[int, Field(ge=24, le=48)] = 48
    session_timeout_minutes: Annotated[int, Field(ge=1, le=30)] = 30
    ipv4_prefix: Annotated[int, Field(ge=0, le=24)] = 24
    ipv6_prefix: Annotated[int, Field(ge=0, le=48)] = 48
    store_truncated_ip: bool = True
    kept_query_parameters: list[str] = Field(default_factory=lambda: ["utm_*"])
    honour_gpc: Literal[True] = True
    honour_dnt: Literal[True] = True


class Role(Strict):
    """A staff role and the purposes under which it may act."""

    description: str
    purposes: list[str] = Field(min_length=1)
    aggregates_only: bool = Field(default=False, description="sees totals, never one person's data")


class Policy(Strict):
    version: str = Field(description="the policy author's own version label")
    effective: date
    language: str = "en"
    organisation: Organisation
    purposes: list[Purpose] = Field(min_length=1)
    monitoring: Monitoring = Monitoring()
    roles: dict[str, Role] = Field(default_factory=dict)
    portal_purposes: list[str] = Field(
        default_factory=lambda: ["contract", "accountability"],
        description="the purposes under which a customer's user acts in the portal",
    )
    source: str = Field(default="", description="the file it was loaded from", exclude=True)

    def purpose(self, key: str) -> Purpose:
        for p in self.purposes:
            if p.key == key:
                return p
        raise KeyError(key)

    @model_validator(mode="after")
    def _unique_keys(self) -> Policy:
        seen: set[str] = set()
        for p in self.purposes:
            if p.key in seen:
                raise ValueError(f"purpose {p.key!r} is declared twice")
            seen.add(p.key)
        return self

    @model_validator(mode="after")
    def _roles_name_purposes(self) -> Policy:
        keys = {p.key for p in self.purposes}
        for name, role in self.roles.items():
            unknown = [k for k in role.purposes if k not in keys]
            if unknown:
                raise ValueError(f"role {name!r} names purposes that are not declared: {unknown}")
        unknown = [k for k in self.portal_purposes if k not in keys]
        if unknown:
            raise ValueError(f"portal_purposes names purposes that are not declared: {unknown}")
        return self

    def role_may(self, role: str | None, purpose: str) -> bool:
        """Whether a staff member with ``role`` may act under ``purpose``."""
        return role is not None and role in self.roles and purpose in self.roles[role].purposes

    @property
    def public_purposes(self) -> list[Purpose]:
        """The purposes the customers' privacy statement covers (sections a and b)."""
        return [p for p in self.purposes if p.section != "internal"]

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.purposes]

    def declared_categories(self) -> set[str]:
        return {c.key for p in self.purposes for c in p.categories}

    def purposes_covering(self, category: str) -> list[Purpose]:
        return [p for p in self.purposes if p.covers(category)]
