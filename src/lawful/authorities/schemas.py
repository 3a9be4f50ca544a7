"""Pydantic models of the register of disclosures to authorities (API input and output)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from lawful.web.api import NO_NUL, Input

SubjectKindIn = Literal["user", "contact_person", "sole_proprietor"]
AuthorityKind = Literal["authority", "regulator"]


class SubjectIn(Input):
    kind: SubjectKindIn = Field(description="user, contact_person or sole_proprietor")
    id: uuid.UUID = Field(description="the id of the person's own record")


class DisclosureIn(Input):
    authority: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)] = Field(
        description="a recipient of the legal-obligation purpose of the policy, by its name, or another authority"
    )
    authority_kind: AuthorityKind | None = Field(
        default=None,
        description="authority or regulator; taken from the policy for a recipient it names, required otherwise",
    )
    legal_ground: Annotated[str, Field(max_length=300, pattern=NO_NUL)] = Field(
        default="", description="the law that obliged the disclosure (this or order_reference, or both)"
    )
    order_reference: Annotated[str, Field(max_length=200, pattern=NO_NUL)] = Field(
        default="", description="the reference of the authority's order or demand"
    )
    disclosed_on: date = Field(description="the day of the disclosure (not in the future)")
    categories: list[Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]] = Field(
        min_length=1, max_length=50, description="fideslang data categories the policy declares"
    )
    subjects: list[SubjectIn] = Field(min_length=1, max_length=1000, description="the people it was about")
    description: Annotated[str, Field(max_length=2000, pattern=NO_NUL)] = Field(
        default="", description="what was asked for, without personal data"
    )
    confidential_until: date | None = Field(
        default=None,
        description="until this day an order keeps the disclosure from the subjects' access reports",
    )


class SubjectOut(BaseModel):
    kind: str
    id: uuid.UUID


class DisclosureSummary(BaseModel):
    id: uuid.UUID
    authority: str
    authority_kind: str
    legal_ground: str
    order_reference: str
    disclosed_on: date
    officer_id: uuid.UUID | None = Field(description="the privacy officer who registered it")
    categories: list[str]
    description: str
    confidential_until: date | None
    confidential: bool = Field(description="whether the subjects' access reports leave it out today")
    bundle_sha256: str | None = Field(
        description="the SHA-256 of the manifest of the bundle generated last (None: none generated yet)"
    )
    created_at: datetime
    subject_count: int


class DisclosureOut(DisclosureSummary):
    subjects: list[SubjectOut]


class DisclosureList(BaseModel):
    items: list[DisclosureSummary]
    limit: int
    offset: int
