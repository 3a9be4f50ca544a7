"""Accounts and authentication of users and staff. Services never commit.

Users sign in under the ``contract`` purpose, staff under ``staff_access``; the caller opens
the unit of work with the right one (see :func:`purpose_of`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import Session

from lawful.data.base import utcnow
from lawful.errors import Conflict, Forbidden, Gone, Invalid, NotFound, TooManyRequests, Unauthorized
from lawful.mail import service as mail
from lawful.settings import Settings
from lawful.users import repository as repo
from lawful.users.models import (
    AccountStatus,
    ApiToken,
    LoginOutcome,
    LoginRecord,
    OneTimeToken,
    PrincipalKind,
    Staff,
    StaffRole,
    TokenKind,
    User,
    UserRole,
    WebSession,
)
from lawful.users.repository import Principal
from lawful.users.security import (
    hash_password,
    hasher,
    new_token,
    password_problem,
    token_hash,
    totp_ok,
    verify_password,
)

PURPOSE = {PrincipalKind.user: "contract", PrincipalKind.staff: "staff_access"}
API_TOKEN_PREFIX = "lwf_"
BAD_CREDENTIALS = "the e-mail address or the password is wrong"
THROTTLED = "too many failed attempts to sign in; wait a few minutes and try again"


RESTRICTED = (
    "processing of this person's data is restricted (GDPR art. 18): it is only stored until the "
    "privacy officer lifts the restriction"
)
#: The purpose of the privacy officer's own work on a person, which a restriction does not stop.
OFFICER_PURPOSE = "accountability"


def refuse_if_restricted(session: Session, subject_id: uuid.UUID) -> None:
    """Refuse to change a person's data while a restriction of processing is in force (GDPR art. 18).

    The person is a user, a contact person or a sole proprietor (``subject_id`` is their row's id).
    Work done under ``accountability`` (the privacy officer's) goes on.
    """
    access = getattr(session, "access", None)
    if access is not None and access.purpose.key == OFFICER_PURPOSE:
        return
    from lawful.rights.service import restriction_of  # rights builds on this package

    restriction = restriction_of(session, subject_id)
    if restriction is not None:
        raise Conflict(
            RESTRICTED,
            detail={"restriction_id": str(restriction.id), "since": restriction.since.isoformat()},
        )


def purpose_of(kind: PrincipalKind) -> str:
    return PURPOSE[kind]


def kind_of(principal: Principal) -> PrincipalKind:
    return PrincipalKind.staff if isinstance(principal, Staff) else PrincipalKind.user


@dataclass(frozen=True)
class AuthConfig:
    hasher: PasswordHasher
    session_idle: timedelta
    session_max: timedelta
    invitation_ttl: timedelta
    reset_ttl: timedelta
    account_failures: int
    ip_failures: int
    window: timedelta
    base_url: str

    @classmethod
    def from_settings(cls, s: Settings) -> AuthConfig:
        return cls(
            hasher=hasher(s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism),
            session_idle=timedelta(minutes=s.session_idle_minutes),
            session_max=timedelta(hours=s.session_max_hours),
            invitation_ttl=timedelta(days=s.invitation_days),
            reset_ttl=timedelta(minutes=s.password_reset_minutes),
            account_failures=s.login_account_failures,
            ip_failures=s.login_ip_failures,
            window=timedelta(minutes=s.login_window_minutes),
            base_url=s.base_url.rstrip("/"),
        )


def normalise_email(email: str) -> str:
    """The address as stored: validated syntax, lower-case."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise Invalid(f"not a valid e-mail address: {exc}") from None


def check_password(password: str, *, email: str, name: str) -> None:
    problem = password_problem(password, email=email, name=name)
    if problem:
        raise Invalid(problem, detail={"field": "password"})


# --- accounts ---------------------------------------------------------------------------------


def create_staff(
    session: Session, *, email: str, name: str, role: StaffRole, password: str, cfg: AuthConfig
) -> Staff:
    email = normalise_email(email)
    if repo.email_taken(session, PrincipalKind.staff, email):
        raise Conflict("a staff member with that e-mail address exists")
    check_password(password, email=email, name=name)
    staff = Staff(
        email=email,
        name=name.strip(),
        role=role,
        status=AccountStatus.active,
        password_hash=hash_password(password, cfg.hasher),
    )
    session.add(staff)
    return staff


def invite_user(
    session: Session,
    *,
    customer_id: uuid.UUID,
    email: str,
    name: str,
    role: UserRole,
    invited_by: str,
    cfg: AuthConfig,
) -> tuple[User, str]:
    """Create an invited user and queue the invitation mail; returns the user and the token."""
    email = normalise_email(email)
    if not name.strip():
        raise Invalid("a name is needed", detail={"field": "name"})
    if repo.email_taken(session, PrincipalKind.user, email):
        raise Conflict("a user with that e-mail address exists")
    user = User(
        customer_id=customer_id, email=email, name=name.strip(), role=role, status=AccountStatus.invited
    )
    session.add(user)
    session.flush()
    token = _issue_token(session, TokenKind.invitation, PrincipalKind.user, user.id, cfg.invitation_ttl)
    link = f"{cfg.base_url}/portal/invitation/{token}"
    mail.queue(
        session,
        to=email,
        recipient_id=user.id,
        kind="invitation",
        subject="You are invited to our online services",
        body=(
            f"Hello {user.name},\n\n{invited_by} invited you to use our online services.\n"
            f"Choose your password here (the link works once, for {cfg.invitation_ttl.days} days):\n\n"
            f"{link}\n\nIf you did not expect this, you can ignore this message.\n"
        ),
    )
    return user, token


def _issue_token(
    session: Session, kind: TokenKind, principal_kind: PrincipalKind, principal_id: uuid.UUID, ttl: timedelta
) -> str:
    token = new_token()
    now = utcnow()
    session.add(
        OneTimeToken(
            token_hash=token_hash(token),
            kind=kind,
            principal_kind=principal_kind,
            principal_id=principal_id,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    return token


def check_token(session: Session, token: str, kind: TokenKind) -> OneTimeToken:
    """The unused, unexpired token behind a link, without using it (to show its form first)."""
    record = repo.one_time_token(session, token_hash(token))
    if record is None or record.kind != kind:
        raise NotFound("this link is not valid")
    if record.used_at is not None:
        raise Gone("this link was already used")
    if record.expires_at <= utcnow():
        raise Gone("this link has expired; ask for a new one")
    return record


def _redeem(session: Session, token: str, kind: TokenKind) -> OneTimeToken:
    record = check_token(session, token, kind)
    record.used_at = utcnow()
    return record


def accept_invitation(session: Session, *, token: str, password: str, cfg: AuthConfig) -> User:
    record = _redeem(session, token, TokenKind.invitation)
    user = session.get(User, record.principal_id)
    if user is None or user.status == AccountStatus.disabled:
        raise Gone("this invitation is no longer valid")
    check_password(password, email=user.email, name=user.name)
    user.password_hash = hash_password(password, cfg.hasher)
    user.status = AccountStatus.active
    return user


def request_password_reset(session: Session, *, kind: PrincipalKind, email: str, cfg: AuthConfig) -> None:
    """Queue a reset link if the account exists; the answer is the same either way."""
    try:
        email = normalise_email(email)
    except Invalid:
        return
    principal = repo.by_email(session, kind, email)
    if principal is None or principal.status != AccountStatus.active:
        return
    token = _issue_token(session, TokenKind.password_reset, kind, principal.id, cfg.reset_ttl)
    where = "portal" if kind is PrincipalKind.user else "console"
    minutes = int(cfg.reset_ttl.total_seconds() // 60)
    mail.queue(
        session,
        to=principal.email,
        recipient_id=principal.id,
        kind="password_reset",
        subject="Reset your password",
        body=(
            f"Hello {principal.name},\n\nSomeone asked to reset the password of your account.\n"
            f"Choose a new password here (the link works once, for {minutes} minutes):\n\n"
            f"{cfg.base_url}/{where}/reset/{token}\n\nIf it was not you, ignore this message: "
            "your password stays as it is.\n"
        ),
    )


def reset_password(
    session: Session, *, kind: PrincipalKind, token: str, password: str, cfg: AuthConfig
) -> Principal:
    record = _redeem(session, token, TokenKind.password_reset)
    principal = repo.by_id(session, kind, record.principal_id)
    if principal is None or record.principal_kind != kind:
        raise NotFound("this link is not valid")
    check_password(password, email=principal.email, name=principal.name)
    principal.password_hash = hash_password(password, cfg.hasher)
    repo.end_sessions(session, kind, principal.id)
    return principal


def set_password(session: Session, principal: Principal, *, password: str, cfg: AuthConfig) -> None:
    """Set a new password without the old one (an operator's reset); ends every session."""
    check_password(password, email=principal.email, name=principal.name)
    principal.password_hash = hash_password(password, cfg.hasher)
    repo.end_sessions(session, kind_of(principal), principal.id)


def change_password(
    session: Session, principal: Principal, *, current: str, new: str, cfg: AuthConfig
) -> None:
    if not verify_password(principal.password_hash, current, cfg.hasher):
        raise Invalid("the current password is wrong", detail={"field": "current_password"})
    check_password(new, email=principal.email, name=principal.name)
    principal.password_hash = hash_password(new, cfg.hasher)


def enable_totp(principal: Principal, *, secret: str, code: str) -> None:
    if not totp_ok(secret, code):
        raise Invalid("that code does not match; check the time on your device", detail={"field": "code"})
    principal.totp_secret = secret


def set_monitoring_objection(user: User, *, objects: bool) -> None:
    """Record (or withdraw) the user's objection to the monitoring of their use (art. 21 GDPR).

    From then on ingestion drops their behavioural events and removes them from usage events,
    which still count for their company's account.
    """
    if objects and user.monitoring_objection_at is None:
        user.monitoring_objection_at = utcnow()
    elif not objects:
        user.monitoring_objection_at = None


def disable_totp(principal: Principal, *, password: str, cfg: AuthConfig) -> None:
    if not verify_password(principal.password_hash, password, cfg.hasher):
        raise Invalid("the password is wrong", detail={"field": "password"})
    principal.totp_secret = None


# --- signing in -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    principal: Principal
    token: str
    web_session: WebSession

    @property
    def needs_second_factor(self) -> bool:
        return self.web_session.second_factor_pending


def _record(
    session: Session, kind: PrincipalKind, principal_id: uuid.UUID | None, ip: str, outcome: LoginOutcome
) -> None:
    session.add(
        LoginRecord(
            principal_kind=kind, principal_id=principal_id, ip_address=ip, outcome=outcome, at=utcnow()
        )
    )


def throttle(
    session: Session, *, kind: PrincipalKind, principal_id: uuid.UUID | None, ip: str, cfg: AuthConfig
) -> None:
    """Refuse an attempt from an IP address or on an account with too many recent failures."""
    since = utcnow() - cfg.window
    if repo.failures_since(session, ip=ip, since=since) >= cfg.ip_failures:
        _record(session, kind, principal_id, ip, LoginOutcome.ip_throttled)
        raise TooManyRequests(THROTTLED)
    if principal_id is not None and repo.failures_since(session, principal_id=principal_id, since=since) >= (
        cfg.account_failures
    ):
        _record(session, kind, principal_id, ip, LoginOutcome.account_locked)
        raise TooManyRequests(THROTTLED)


def sign_in(
    session: Session, *, kind: PrincipalKind, email: str, password: str, ip: str, cfg: AuthConfig
) -> SignIn:
    """Check the password (throttled) and start a session; the second factor, if any, follows.

    A failed attempt raises after its login record is added: the caller must commit the unit
    of work even then (see ``lawful.web.auth``), or the throttle would not count it.
    """
    try:
        address = normalise_email(email)
    except Invalid:
        address = ""
    principal = repo.by_email(session, kind, address) if address else None
    throttle(session, kind=kind, principal_id=principal.id if principal else None, ip=ip, cfg=cfg)
    if not verify_password(principal.password_hash if principal else None, password, cfg.hasher):
        outcome = LoginOutcome.bad_password if principal else LoginOutcome.unknown_account
        _record(session, kind, principal.id if principal else None, ip, outcome)
        raise Unauthorized(BAD_CREDENTIALS)
    assert principal is not None
    if principal.status != AccountStatus.active:
        _record(session, kind, principal.id, ip, LoginOutcome.disabled)
        raise Unauthorized(BAD_CREDENTIALS)
    pending = principal.totp_secret is not None
    if not pending:
        _record(session, kind, principal.id, ip, LoginOutcome.success)
        principal.last_login_at = utcnow()
    token, web = start_session(session, kind, principal.id, cfg, second_factor_pending=pending)
    return SignIn(principal, token, web)


def start_verified_session(
    session: Session, principal: Principal, *, ip: str, cfg: AuthConfig
) -> tuple[str, WebSession]:
    """Sign in someone who has just proved who they are with a one-time link and set a password
    (an accepted invitation): recorded like a password sign-in; the second factor, if any, follows.
    """
    kind = kind_of(principal)
    pending = principal.totp_secret is not None
    if not pending:
        _record(session, kind, principal.id, ip, LoginOutcome.success)
        principal.last_login_at = utcnow()
    return start_session(session, kind, principal.id, cfg, second_factor_pending=pending)


def second_factor(session: Session, web: WebSession, *, code: str, ip: str, cfg: AuthConfig) -> Principal:
    """Complete a sign-in with the TOTP code; too many wrong codes lock the account like passwords."""
    principal = repo.by_id(session, web.principal_kind, web.principal_id)
    if principal is None or not web.second_factor_pending:
        raise Unauthorized("sign in first")
    throttle(session, kind=web.principal_kind, principal_id=principal.id, ip=ip, cfg=cfg)
    if not totp_ok(principal.totp_secret, code):
        _record(session, web.principal_kind, principal.id, ip, LoginOutcome.bad_second_factor)
        raise Unauthorized("that code is wrong")
    _record(session, web.principal_kind, principal.id, ip, LoginOutcome.success)
    principal.last_login_at = utcnow()
    web.second_factor_pending = False
    return principal


def start_session(
    session: Session,
    kind: PrincipalKind,
    principal_id: uuid.UUID,
    cfg: AuthConfig,
    *,
    second_factor_pending: bool = False,
) -> tuple[str, WebSession]:
    token = new_token()
    now = utcnow()
    web = WebSession(
        token_hash=token_hash(token),
        principal_kind=kind,
        principal_id=principal_id,
        csrf_token=new_token(),
        second_factor_pending=second_factor_pending,
        created_at=now,
        last_seen_at=now,
        expires_at=now + cfg.session_max,
    )
    session.add(web)
    return token, web


def resolve_session(
    session: Session, token: str, kind: PrincipalKind, cfg: AuthConfig, now: datetime | None = None
) -> WebSession | None:
    """The live session behind a cookie token, or None; an expired one is deleted."""
    web = repo.web_session(session, token_hash(token))
    if web is None or web.principal_kind != kind:
        return None
    now = now or utcnow()
    if web.expires_at <= now or web.last_seen_at + cfg.session_idle <= now:
        session.delete(web)
        return None
    if now - web.last_seen_at > timedelta(minutes=1):  # write at most once a minute
        web.last_seen_at = now
    return web


def end_session(session: Session, token: str) -> None:
    web = repo.web_session(session, token_hash(token))
    if web is not None:
        session.delete(web)


def end_all_sessions(session: Session, kind: PrincipalKind, principal_id: uuid.UUID) -> int:
    return repo.end_sessions(session, kind, principal_id)


# --- API tokens -------------------------------------------------------------------------------


def create_api_token(
    session: Session, staff: Staff, *, label: str, days: int | None = 90
) -> tuple[str, ApiToken]:
    if not label.strip():
        raise Invalid("a token needs a label that says what it is for", detail={"field": "label"})
    secret = new_token()
    token = f"{API_TOKEN_PREFIX}{secret}"
    now = utcnow()
    record = ApiToken(
        staff_id=staff.id,
        label=label.strip(),
        token_hash=token_hash(token),
        prefix=token[:12],
        created_at=now,
        expires_at=now + timedelta(days=days) if days else None,
    )
    session.add(record)
    return token, record


def resolve_api_token(session: Session, token: str) -> tuple[ApiToken, Staff] | None:
    if not token.startswith(API_TOKEN_PREFIX):
        return None
    record = repo.api_token(session, token_hash(token))
    now = utcnow()
    if record is None or record.revoked_at is not None or (record.expires_at and record.expires_at <= now):
        return None
    staff = session.get(Staff, record.staff_id)
    if staff is None or staff.status != AccountStatus.active:
        return None
    if record.last_used_at is None or now - record.last_used_at > timedelta(minutes=1):
        record.last_used_at = now
    return record, staff


def revoke_api_token(session: Session, staff: Staff, token_id: uuid.UUID) -> ApiToken:
    record = session.get(ApiToken, token_id)
    if record is None or record.staff_id != staff.id:
        raise NotFound("no such API token")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
    return record


# --- teams ------------------------------------------------------------------------------------


def change_role(session: Session, user: User, role: UserRole) -> None:
    refuse_if_restricted(session, user.id)
    if (
        user.role == UserRole.admin
        and role != UserRole.admin
        and user.status == AccountStatus.active
        and (repo.active_admins(session, user.customer_id) <= 1)
    ):
        raise Conflict("a customer needs at least one active admin")
    user.role = role


def remove_user(session: Session, user: User) -> None:
    refuse_if_restricted(session, user.id)
    if (
        user.role == UserRole.admin
        and user.status == AccountStatus.active
        and (repo.active_admins(session, user.customer_id) <= 1)
    ):
        raise Conflict("a customer needs at least one active admin")
    repo.end_sessions(session, PrincipalKind.user, user.id)
    user.status = AccountStatus.disabled


def ensure_same_customer(user: User, customer_id: uuid.UUID) -> None:
    if user.customer_id != customer_id:
        raise Forbidden("that user belongs to another customer")
