"""Disclosures to government agencies and regulators (GDPR art. 30(1)(d), the statement's recipients).

Each disclosure records the authority, the legal ground or order, the day, the officer who made it,
the kinds of data and the people it was about, and until when an order keeps it confidential
(until then the subject's access report leaves it out). The bundle handed over is described by
its manifest's SHA-256.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from lawful.data.annotations import not_personal, personal, subject
from lawful.data.base import Base, IdMixin, UTCDateTime, utcnow


class Disclosure(IdMixin, Base):
    __tablename__ = "disclosures"
    __table_args__ = (Index("ix_disclosures_disclosed_on", "disclosed_on"),)

    authority: Mapped[str] = mapped_column(String(200))
    authority_kind: Mapped[str] = mapped_column(String(20))  # authority or regulator, as in the policy
    legal_ground: Mapped[str] = mapped_column(String(300))
    order_reference: Mapped[str] = mapped_column(String(200), default="")
    disclosed_on: Mapped[date] = mapped_column(Date)
    officer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("staff.id", ondelete="SET NULL"))
    categories: Mapped[str] = mapped_column(
        String(1000), info=not_personal("the fideslang keys of the kinds of data disclosed")
    )
    description: Mapped[str] = mapped_column(
        Text,
        default="",
        info=not_personal("what was asked for, in the officer's words, without personal data"),
    )
    confidential_until: Mapped[date | None] = mapped_column(Date)
    bundle_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DisclosureSubject(IdMixin, Base):
    """One person a disclosure was about; kept as long as the legal obligation keeps such records,
    counted from the day of the disclosure (its own column, so the retention run needs no join)."""

    __tablename__ = "disclosure_subjects"
    __table_args__ = (
        Index("ix_disclosure_subjects_subject", "subject_id"),
        {"info": subject("customer", key="subject_id", kept="legal_obligation", since="disclosed_on")},
    )

    disclosure_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("disclosures.id", ondelete="CASCADE"), index=True
    )
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid, info=personal("user.unique_id"))
    disclosed_on: Mapped[date] = mapped_column(Date)
