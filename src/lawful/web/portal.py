"""The customer portal: its overview and "My data" pages, and the layout context every portal page
shares (signing in, the profile and the team are in ``lawful.users.pages``).

"My data" shows a signed-in user what Lawful holds about them (read under ``contract``), why, on
what basis and for how long (from the policy), and who processed it (the processing log, read
under ``accountability``). It reads only rows about the user themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Table

from lawful.agreements import notices as statement_notices
from lawful.customers import repository as customers_repo
from lawful.data.annotations import column_category, personal_columns
from lawful.data.base import Base
from lawful.data.db import Database
from lawful.data.log import ProcessingRecord
from lawful.policy.model import Policy
from lawful.support import repository as support_repo
from lawful.support.models import SupportContact
from lawful.users import repository as users_repo
from lawful.users.models import LoginOutcome, LoginRecord, PrincipalKind, User, WebSession
from lawful.users.security import token_hash
from lawful.web.auth import CurrentUser, current_user
from lawful.web.deps import get_db, get_policy
from lawful.web.templating import templates

router = APIRouter(include_in_schema=False)

AREA = "Customer portal"
HOME = "/portal/"
LOGOUT = "/portal/logout"
SUBJECT = "employee"  # what a customer's user is, in the policy's terms
LOG_PAGE = 50

# Messages shown after a redirect (``?ok=<key>``): fixed texts, never words taken from the URL.
NOTICES = {
    "signed_out": "You are signed out.",
    "signed_out_everywhere": "You are signed out on every device.",
    "reset_sent": (
        "If an account with that e-mail address exists, we have sent it a link to choose a new "
        "password. The link works once and expires soon."
    ),
    "password_set": "Your new password is set. Sign in with it.",
    "password_changed": "Your password is changed.",
    "objection_recorded": "Your objection is recorded: we no longer measure how you use our services.",
    "objection_withdrawn": "Your objection is withdrawn.",
    "totp_on": "Two-step sign-in is on. You will be asked for a code when you sign in.",
    "totp_off": "Two-step sign-in is off.",
    "invited": "The invitation is on its way.",
    "role_changed": "The role is changed.",
    "removed": "The user is removed and signed out.",
    "statement_read": "Thank you: you have read the changes to our privacy statement.",
}

RIGHTS = [
    ("access", "GDPR art. 15", "to see the personal data we hold about you and get a copy"),
    ("rectification", "GDPR art. 16", "to have incorrect data corrected"),
    ("erasure", "GDPR art. 17", "to have your data erased when we no longer need it"),
    ("restriction", "GDPR art. 18", "to have the processing of your data restricted"),
    ("portability", "GDPR art. 20", "to receive your data in a machine-readable form"),
    ("objection", "GDPR art. 21", "to object to processing based on our legitimate interest"),
]

OUTCOMES = {
    LoginOutcome.success: "signed in",
    LoginOutcome.bad_password: "wrong password",
    LoginOutcome.bad_second_factor: "wrong code from the authenticator app",
    LoginOutcome.unknown_account: "unknown account",
    LoginOutcome.account_locked: "refused: too many failed attempts",
    LoginOutcome.ip_throttled: "refused: too many attempts from this address",
    LoginOutcome.disabled: "refused: the account is disabled",
}

OPERATIONS = {"read": "read", "write": "stored or changed", "delete": "deleted"}


def portal_context(
    request: Request,
    caller: CurrentUser | None,
    *,
    current: str = "",
    title: str,
    flashes: Iterable[tuple[str, str]] = (),
    statement_notice: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """What ``layout.html`` needs on a portal page, plus the page's own variables.

    For a signed-in user who has not read the changes to the privacy statement in force, the
    banner that links to them (``statement_changed``: when it changed); ``statement_notice=False``
    leaves it off (the changes page itself).
    """
    notices = []
    key = request.query_params.get("ok")
    if key in NOTICES:
        notices.append(("ok", NOTICES[key]))
    nav: list[tuple[str, str]] = []
    if caller is not None:
        nav = [(HOME, "Overview"), ("/portal/profile", "Profile")]
        if caller.is_admin:
            nav.append(("/portal/team", "Team"))
            nav.append(("/portal/usage", "Usage"))
            nav.append(("/portal/billing", "Billing"))
        nav.append(("/portal/my-data", "My data"))
        nav.append(("/portal/rights", "My requests"))
    changed_on = statement_changed(request, caller) if caller is not None and statement_notice else None
    return {
        "area_name": AREA,
        "home": HOME,
        "nav": nav,
        "current": current,
        "who": caller.user.name if caller is not None else None,
        "logout_url": LOGOUT,
        "title": title,
        "flashes": [*notices, *flashes],
        "statement_changed": changed_on,
        **extra,
    }


def statement_changed(request: Request, caller: CurrentUser) -> datetime | None:
    """When the privacy statement in force was published, if ``caller`` has not read its changes."""
    db: Database = request.app.state.db
    with db.unit_of_work("contract", caller.actor) as session:
        return statement_notices.changed_on(session, caller.user)


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """A portal page from ``templates/portal/<name>``."""
    return templates.TemplateResponse(request, f"portal/{name}", context, status_code=status)


@router.get("/portal/", response_class=HTMLResponse)
def overview(
    request: Request, caller: CurrentUser = Depends(current_user), db: Database = Depends(get_db)
) -> Response:
    with db.unit_of_work("contract", caller.actor) as session:
        customer = customers_repo.get(session, caller.customer_id)
        company = customer.legal_name if customer is not None else ""
    context = portal_context(
        request, caller, current=HOME, title="Overview", company=company, is_admin=caller.is_admin
    )
    return render(request, "overview.html", context)


# --- My data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldCategory:
    key: str
    label: str
    retention: str
    note: str


@dataclass(frozen=True)
class PurposeView:
    key: str
    title: str
    description: str
    activities: list[str]
    basis: str
    article: str
    basis_explanation: str
    categories: list[HeldCategory]


@dataclass(frozen=True)
class LogEntry:
    at: datetime
    who: str
    purpose: str
    operation: str
    categories: list[str]


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _categories(model: type[Base]) -> set[str]:
    return {c for c in map(column_category, personal_columns(_table(model))) if c}


def held_categories(
    user: User,
    *,
    logins: Sequence[LoginRecord],
    sessions: Sequence[WebSession],
    contacts: Sequence[SupportContact],
    logged: int,
) -> set[str]:
    """The data categories of what is held about ``user`` (from the column annotations)."""
    held = {"user.unique_id"}  # the account's identifier
    for column in personal_columns(_table(User)):
        category = column_category(column)
        if category and getattr(user, column.key) is not None:
            held.add(category)
    for rows, model in ((logins, LoginRecord), (sessions, WebSession), (contacts, SupportContact)):
        if rows:
            held |= _categories(model)
    if logged:
        held |= _categories(ProcessingRecord)
    return held


def purposes_for(policy: Policy, held: set[str], *, subject: str = SUBJECT) -> list[PurposeView]:
    """Per purpose of the statement that covers ``held`` data about ``subject``: why, basis, how long."""
    views = []
    for purpose in policy.public_purposes:
        if subject not in purpose.data_subjects:
            continue
        keys = set()
        for key in held:
            declared = purpose.category(key)
            if declared is not None and subject in declared.subjects:
                keys.add(declared.key)
        if not keys:
            continue
        views.append(
            PurposeView(
                key=purpose.key,
                title=purpose.title,
                description=purpose.description,
                activities=list(purpose.activities),
                basis=purpose.legal_basis.label,
                article=purpose.legal_basis.article,
                basis_explanation=purpose.basis_explanation,
                categories=[
                    HeldCategory(c.key, c.label, c.retention.phrase, c.note)
                    for c in purpose.categories
                    if c.key in keys
                ],
            )
        )
    return views


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _who(record: ProcessingRecord, user_id: uuid.UUID, roles: dict[uuid.UUID, str]) -> str:
    """Who processed, without naming staff: their role only."""
    if record.actor_kind == "staff":
        staff_id = _as_uuid(record.actor_id)
        role = roles.get(staff_id) if staff_id is not None else None
        return f"a staff member ({role.replace('_', ' ')})" if role else "a staff member"
    if record.actor_kind == "user":
        return "you" if record.actor_id == str(user_id) else "another user of your company"
    return f"our system ({record.actor_id})"


def log_entries(
    policy: Policy, records: Sequence[ProcessingRecord], user_id: uuid.UUID, roles: dict[uuid.UUID, str]
) -> list[LogEntry]:
    entries = []
    for record in records:
        try:
            purpose = policy.purpose(record.purpose)
        except KeyError:
            title, labels = record.purpose, record.categories.split(",")
        else:
            title = purpose.title
            labels = []
            for key in filter(None, record.categories.split(",")):
                declared = purpose.category(key)
                labels.append(declared.label if declared is not None else key)
        entries.append(
            LogEntry(
                at=record.at,
                who=_who(record, user_id, roles),
                purpose=title,
                operation=OPERATIONS.get(record.operation, record.operation),
                categories=labels,
            )
        )
    return entries


@router.get("/portal/my-data", response_class=HTMLResponse)
def my_data(
    request: Request,
    page: int = Query(1, ge=1, le=100_000),
    caller: CurrentUser = Depends(current_user),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
) -> Response:
    with db.unit_of_work("contract", caller.actor) as session:
        user = users_repo.by_id(session, PrincipalKind.user, caller.id)
        assert isinstance(user, User)  # current_user found it active a moment ago
        logins = users_repo.login_records_of(session, user.id)
        sessions = users_repo.sessions_of(session, PrincipalKind.user, user.id)
        contacts = support_repo.naming_user(session, user.id)
        person = {
            "name": user.name,
            "email": user.email,
            "role": user.role.value,
            "status": user.status.value,
            "created_at": user.created_at,
            "last_login_at": user.last_login_at,
            "has_password": user.password_hash is not None,
            "has_totp": user.totp_secret is not None,
        }
    with db.unit_of_work("accountability", caller.actor) as session:
        records, total = users_repo.processing_about(
            session,
            subject_table="users",
            subject_id=str(user.id),
            limit=LOG_PAGE,
            offset=(page - 1) * LOG_PAGE,
        )
        staff_ids = {
            i for r in records if r.actor_kind == "staff" and (i := _as_uuid(r.actor_id)) is not None
        }
        roles = {k: v.value for k, v in users_repo.staff_roles(session, staff_ids).items()}
    this_browser = token_hash(caller.session_token)
    held = held_categories(user, logins=logins, sessions=sessions, contacts=contacts, logged=total)
    context = portal_context(
        request,
        caller,
        current="/portal/my-data",
        title="My data",
        person=person,
        logins=[(r.at, r.ip_address, OUTCOMES.get(r.outcome, r.outcome.value)) for r in logins],
        sessions=[(s.created_at, s.last_seen_at, s.token_hash == this_browser) for s in sessions],
        contacts=[(c.occurred_at, c.channel.value, c.summary) for c in contacts],
        purposes=purposes_for(policy, held),
        entries=log_entries(policy, records, user.id, roles),
        total=total,
        page=page,
        pages=max(1, -(-total // LOG_PAGE)),
        rights=RIGHTS,
        organisation=policy.organisation,
    )
    return render(request, "my_data.html", context)
