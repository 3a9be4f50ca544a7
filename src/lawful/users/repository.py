"""Queries over users, staff, sessions, tokens and login records."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lawful.users.models import (
    AccountStatus,
    ApiToken,
    LoginOutcome,
    LoginRecord,
    OneTimeToken,
    PrincipalKind,
    Staff,
    User,
    WebSession,
)

Principal = User | Staff
FAILURES = (
    LoginOutcome.bad_password,
    LoginOutcome.bad_second_factor,
    LoginOutcome.unknown_account,
)


def by_email(session: Session, kind: PrincipalKind, email: str) -> Principal | None:
    if kind is PrincipalKind.user:
        return session.scalars(select(User).where(User.email == email)).one_or_none()
    return session.scalars(select(Staff).where(Staff.email == email)).one_or_none()


def by_id(session: Session, kind: PrincipalKind, principal_id: uuid.UUID) -> Principal | None:
    if kind is PrincipalKind.user:
        return session.get(User, principal_id)
    return session.get(Staff, principal_id)


def email_taken(session: Session, kind: PrincipalKind, email: str) -> bool:
    column = User.email if kind is PrincipalKind.user else Staff.email
    return session.scalar(select(func.count()).where(column == email)) != 0


def users_of(session: Session, customer_id: uuid.UUID) -> list[User]:
    stmt = select(User).where(User.customer_id == customer_id).order_by(User.name)
    return list(session.scalars(stmt))


def active_admins(session: Session, customer_id: uuid.UUID) -> int:
    stmt = (
        select(func.count())
        .select_from(User)
        .where(User.customer_id == customer_id, User.role == "admin", User.status == AccountStatus.active)
    )
    return session.scalar(stmt) or 0


def failures_since(
    session: Session, *, principal_id: uuid.UUID | None = None, ip: str | None = None, since: datetime
) -> int:
    stmt = (
        select(func.count())
        .select_from(LoginRecord)
        .where(LoginRecord.at >= since, LoginRecord.outcome.in_(FAILURES))
    )
    if principal_id is not None:
        last_success = (
            select(func.max(LoginRecord.at))
            .where(LoginRecord.principal_id == principal_id, LoginRecord.outcome == LoginOutcome.success)
            .scalar_subquery()
        )
        stmt = stmt.where(
            LoginRecord.principal_id == principal_id,
            LoginRecord.at > func.coalesce(last_success, since),
        )
    if ip is not None:
        stmt = stmt.where(LoginRecord.ip_address == ip)
    return session.scalar(stmt) or 0


def web_session(session: Session, token_hash: str) -> WebSession | None:
    return session.get(WebSession, token_hash)


def end_sessions(session: Session, kind: PrincipalKind, principal_id: uuid.UUID) -> int:
    result = session.execute(
        delete(WebSession).where(WebSession.principal_kind == kind, WebSession.principal_id == principal_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def one_time_token(session: Session, token_hash: str) -> OneTimeToken | None:
    return session.get(OneTimeToken, token_hash)


def api_token(session: Session, token_hash: str) -> ApiToken | None:
    return session.scalars(select(ApiToken).where(ApiToken.token_hash == token_hash)).one_or_none()


def api_tokens_of(session: Session, staff_id: uuid.UUID) -> list[ApiToken]:
    stmt = select(ApiToken).where(ApiToken.staff_id == staff_id).order_by(ApiToken.created_at.desc())
    return list(session.scalars(stmt))
