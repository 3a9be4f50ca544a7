"""Customers' users, the company's own staff, and what authenticates them.

Users are the employees and associates of a customer who log in to the portal (subject
``employee`` under the contract purpose). Staff are the company's own people working in the
console (under the internal ``staff_access`` purpose). Both sign in with an argon2id password
and an optional TOTP second factor; their server-side sessions, one-time tokens and login
records live in tables shared by both kinds of principal.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from lawful.data.annotations import not_personal, personal, subject
from lawful.data.base import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


def _enum(cls: type[enum.Enum], length: int = 20) -> Enum:
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class PrincipalKind(enum.StrEnum):
    user = "user"
    staff = "staff"


class UserRole(enum.StrEnum):
    admin = "admin"
    member = "member"


class AccountStatus(enum.StrEnum):
    invited = "invited"
    active = "active"
    disabled = "disabled"


class StaffRole(enum.StrEnum):
    admin = "admin"
    support = "support"
    finance = "finance"
    privacy_officer = "privacy_officer"
    analyst = "analyst"


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = ({"info": subject("employee", key="id", kept="contract", since="created_at")},)

    customer_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200), info=personal("user.name", identifies=True))
    email: Mapped[str] = mapped_column(
        String(254), unique=True, info=personal("user.contact.email", identifies=True)
    )  # stored lower-case
    role: Mapped[UserRole] = mapped_column(_enum(UserRole), default=UserRole.member)
    status: Mapped[AccountStatus] = mapped_column(_enum(AccountStatus), default=AccountStatus.invited)
    password_hash: Mapped[str | None] = mapped_column(
        String(200), info=personal("user.authorization.credentials")
    )
    totp_secret: Mapped[str | None] = mapped_column(
        String(64), info=personal("user.authorization.credentials")
    )
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the user objects to the monitoring of their use (art. 21): ingestion then drops
    # their behavioural events and removes them from usage events, which still count for the account.
    monitoring_objection_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Staff(IdMixin, TimestampMixin, Base):
    __tablename__ = "staff"
    __table_args__ = ({"info": subject("employee", key="id", kept="staff_access", since="created_at")},)

    name: Mapped[str] = mapped_column(String(200), info=personal("user.name", identifies=True))
    email: Mapped[str] = mapped_column(
        String(254), unique=True, info=personal("user.contact.email", identifies=True)
    )  # stored lower-case
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole))
    status: Mapped[AccountStatus] = mapped_column(_enum(AccountStatus), default=AccountStatus.active)
    password_hash: Mapped[str | None] = mapped_column(
        String(200), info=personal("user.authorization.credentials")
    )
    totp_secret: Mapped[str | None] = mapped_column(
        String(64), info=personal("user.authorization.credentials")
    )
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "web_sessions"
    __table_args__ = (
        Index("ix_web_sessions_principal", "principal_id", "principal_kind"),
        {"info": subject("employee", key="principal_id", kept="contract", since="created_at")},
    )

    token_hash: Mapped[str] = mapped_column(
        String(64), primary_key=True, info=personal("user.authorization.credentials")
    )
    principal_kind: Mapped[PrincipalKind] = mapped_column(_enum(PrincipalKind, 8))
    principal_id: Mapped[uuid.UUID] = mapped_column(Uuid, info=personal("user.unique_id"))
    csrf_token: Mapped[str] = mapped_column(String(64), info=personal("user.authorization.credentials"))
    second_factor_pending: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TokenKind(enum.StrEnum):
    invitation = "invitation"
    password_reset = "password_reset"


class OneTimeToken(Base):
    """A single-use, expiring token sent by e-mail (invitation, password reset); stored hashed."""

    __tablename__ = "one_time_tokens"
    __table_args__ = (
        Index("ix_one_time_tokens_principal", "principal_id", "principal_kind"),
        {"info": subject("employee", key="principal_id", kept="contract", since="created_at")},
    )

    token_hash: Mapped[str] = mapped_column(
        String(64), primary_key=True, info=personal("user.authorization.credentials")
    )
    kind: Mapped[TokenKind] = mapped_column(_enum(TokenKind))
    principal_kind: Mapped[PrincipalKind] = mapped_column(_enum(PrincipalKind, 8))
    principal_id: Mapped[uuid.UUID] = mapped_column(Uuid, info=personal("user.unique_id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginOutcome(enum.StrEnum):
    success = "success"
    bad_password = "bad_password"
    bad_second_factor = "bad_second_factor"
    unknown_account = "unknown_account"
    account_locked = "account_locked"
    ip_throttled = "ip_throttled"
    disabled = "disabled"


class LoginRecord(IdMixin, Base):
    """One attempt to log in: time, account, IP address, outcome (as the statement says)."""

    __tablename__ = "login_records"
    __table_args__ = (
        Index("ix_login_records_principal", "principal_id", "at"),
        Index("ix_login_records_ip", "ip_address", "at"),
        {"info": subject("employee", key="principal_id", kept="contract", since="at")},
    )

    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    principal_kind: Mapped[PrincipalKind] = mapped_column(_enum(PrincipalKind, 8))
    principal_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, info=personal("user.unique_id"))
    ip_address: Mapped[str] = mapped_column(String(45), info=personal("user.device.ip_address"))
    outcome: Mapped[LoginOutcome] = mapped_column(_enum(LoginOutcome, 24))


class ApiToken(IdMixin, Base):
    """A bearer token for staff automation; it acts with its staff member's role."""

    __tablename__ = "api_tokens"
    __table_args__ = ({"info": subject("employee", key="staff_id", kept="staff_access", since="created_at")},)

    staff_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(
        String(100), info=not_personal("what the token is for, e.g. 'ERP sync'")
    )
    token_hash: Mapped[str] = mapped_column(
        String(64), unique=True, info=personal("user.authorization.credentials")
    )
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
