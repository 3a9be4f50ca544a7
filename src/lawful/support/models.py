"""The customer-service contact log: who at the customer spoke with which staff member, and what about."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import Date, Enum, ForeignKey, Index, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from lawful.data.annotations import personal, subject
from lawful.data.base import Base, IdMixin, UTCDateTime, utcnow


class Channel(enum.StrEnum):
    phone = "phone"
    email = "email"
    chat = "chat"


class SupportContact(IdMixin, Base):
    __tablename__ = "support_contacts"
    __table_args__ = (
        Index("ix_support_contacts_customer", "customer_id", "occurred_at"),
        {"info": subject("customer", key="customer_id", kept="contract", since="occurred_at")},
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id", ondelete="CASCADE"))
    # Whom the conversation was with: personal data of that person (their access report finds
    # the conversation through it, and erasing them erases the summary).
    contact_person_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid,
        ForeignKey("contact_persons.id", ondelete="SET NULL"),
        index=True,
        info=personal("user.unique_id"),
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), index=True, info=personal("user.unique_id")
    )
    staff_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("staff.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[Channel] = mapped_column(
        Enum(Channel, native_enum=False, length=10, values_callable=lambda e: [m.value for m in e])
    )
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    summary: Mapped[str] = mapped_column(Text, info=personal("user.content.private"))
    follow_up_on: Mapped[date | None] = mapped_column(Date, index=True)
    follow_up_done: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
