"""Queries over users, staff, sessions, tokens and login records."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lawful.data.log import ProcessingRecord
from lawful.users.models import (
    AccountStatus,
    ApiToken,
    LoginOutcome,
    LoginRecord,
    OneTimeToken,
    PrincipalKind,
    Staff,
    StaffRole,
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


def login_records_of(session: Session, principal_id: uuid.UUID, *, limit: int = 100) -> list[LoginRecord]:
    """The newest login records of one account."""
    stmt = (
        select(LoginRecord)
        .where(LoginRecord.principal_id == principal_id)
        .order_by(LoginRecord.at.desc(), LoginRecord.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def sessions_of(session: Session, kind: PrincipalKind, principal_id: uuid.UUID) -> list[WebSession]:
    stmt = (
        select(WebSession)
        .where(WebSession.principal_kind == kind, WebSession.principal_id == principal_id)
        .order_by(WebSession.created_at.desc())
    )
    return list(session.scalars(stmt))


def processing_about(
    session: Session, *, subject_table: str, subject_id: str, limit: int = 50, offset: int = 0
) -> tuple[list[ProcessingRecord], int]:
    """Processing-log entries whose subject is one row, newest first, and how many there are."""
    where = (ProcessingRecord.subject_table == subject_table, ProcessingRecord.subject_id == subject_id)
    total = session.scalar(select(func.count()).select_from(ProcessingRecord).where(*where)) or 0
    stmt = (
        select(ProcessingRecord)
        .where(*where)
        .order_by(ProcessingRecord.at.desc(), ProcessingRecord.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(session.scalars(stmt)), total


def staff_roles(session: Session, staff_ids: set[uuid.UUID]) -> dict[uuid.UUID, StaffRole]:
    """The role of each of these staff members (no personal column is read)."""
    if not staff_ids:
        return {}
    return dict(session.execute(select(Staff.id, Staff.role).where(Staff.id.in_(staff_ids))).all())


def search_users(
    session: Session,
    *,
    query: str = "",
    page: int = 1,
    per_page: int = 50,
    customer_id: uuid.UUID | None = None,
) -> tuple[list[User], int]:
    """Users of every customer (or of one) whose name or e-mail address matches ``query``, and how
    many match."""
    stmt = select(User)
    if customer_id is not None:
        stmt = stmt.where(User.customer_id == customer_id)
    if query.strip():
        like = f"%{query.strip().lower()}%"
        stmt = stmt.where(func.lower(User.name).like(like) | User.email.like(like))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(User.name, User.id).offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


def user_names(session: Session, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not user_ids:
        return {}
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(user_ids))).all())


def staff_names(session: Session, staff_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not staff_ids:
        return {}
    rows = session.execute(select(Staff.id, Staff.name).where(Staff.id.in_(staff_ids)))
    return dict(rows.all())


def user_at(session: Session, user_id: uuid.UUID, customer_id: uuid.UUID) -> User | None:
    """A user of one customer only: another customer's user is not even read."""
    stmt = select(User).where(User.id == user_id, User.customer_id == customer_id)
    return session.scalars(stmt).one_or_none()


def staff_members(session: Session) -> list[Staff]:
    """Every staff account, by e-mail address."""
    return list(session.scalars(select(Staff).order_by(Staff.email)))
