"""The outbox: every e-mail Lawful sends is written here in the same transaction as the change
that caused it, then delivered. Pending mail is personal data (an address, a message to a
person) and is erased with its recipient."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from lawful.data.annotations import not_personal, personal, subject
from lawful.data.base import Base, IdMixin, UTCDateTime, utcnow


class MailStatus(enum.StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"


class OutboundMail(IdMixin, Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status", "status", "created_at"),
        Index("ix_outbox_to_address", "to_address"),  # a person's access report and erasure find mail to them
        {"info": subject("employee", key="recipient_id", kept="contract", since="created_at")},
    )

    recipient_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True, info=personal("user.unique_id"))
    to_address: Mapped[str] = mapped_column(String(254), info=personal("user.contact.email", identifies=True))
    subject_line: Mapped[str] = mapped_column(
        String(200), info=not_personal("a fixed subject per kind of mail")
    )
    body: Mapped[str] = mapped_column(Text, info=personal("user.content.private"))
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[MailStatus] = mapped_column(
        Enum(MailStatus, native_enum=False, length=10, values_callable=lambda e: [m.value for m in e]),
        default=MailStatus.pending,
    )
    attachment: Mapped[str | None] = mapped_column(String(80))  # e.g. "invoice:<id>", resolved when sent
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
