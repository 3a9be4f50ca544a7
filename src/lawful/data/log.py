"""The processing log: who processed which kinds of personal data, about whom, for what purpose.

It records kinds of data (categories), never their contents. It is itself personal data (it
names actors and subjects) and is kept under the ``accountability`` purpose with that purpose's
retention.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from lawful.data.annotations import not_personal, personal, subject
from lawful.data.base import Base, UTCDateTime, new_id, utcnow


class ProcessingRecord(Base):
    __tablename__ = "processing_log"
    __table_args__ = (
        Index("ix_processing_log_subject", "subject_table", "subject_id", "at"),
        Index("ix_processing_log_at", "at"),
        Index("ix_processing_log_actor", "actor_id", "at"),  # what a person did, for their access report
        {"info": subject("employee", key="actor_id", kept="accountability", since="at")},
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(64), info=personal("user.unique_id"))
    purpose: Mapped[str] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(8))
    table_name: Mapped[str] = mapped_column(String(64), info=not_personal("the name of a database table"))
    categories: Mapped[str] = mapped_column(String(512))
    subject_table: Mapped[str | None] = mapped_column(
        String(64), info=not_personal("the name of a database table")
    )
    subject_id: Mapped[str | None] = mapped_column(String(64), info=personal("user.unique_id"))
    statements: Mapped[int] = mapped_column(Integer, default=1)
