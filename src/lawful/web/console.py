"""The staff console shell: signing in and out, the start page, the processing log, the rendered
statement and record of processing, and the outbox (the profile is in ``console_profile``).

Every page checks the purpose it works under with :func:`lawful.web.auth.staff_under` and does
its reading under that purpose as the signed-in staff member, so the processing log says who
looked at what and why. :func:`console_context` gives every console template the layout's
variables; the navigation shows only the pages the staff member's role may open.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape

from lawful.authorities.service import OFFICER_PURPOSES, disclosed_recipients
from lawful.data import log_repository
from lawful.data.db import Database
from lawful.errors import LawfulError
from lawful.mail import repository as mail_repository
from lawful.mail.models import MailStatus
from lawful.policy.model import Policy
from lawful.policy.render import render_ropa, render_statement
from lawful.settings import Settings
from lawful.users import service
from lawful.users.models import PrincipalKind, Staff
from lawful.web.auth import (
    AUTH,
    STAFF_COOKIE,
    CurrentStaff,
    auth_config,
    clear_session_cookie,
    client_ip,
    csrf_protect,
    current_staff,
    optional_staff,
    set_session_cookie,
    staff_under,
)
from lawful.web.deps import get_db, get_policy, get_settings
from lawful.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

AREA = "Lawful console"
HOME = "/console/"
LOGIN = "/console/login"
PER_PAGE = 50

# (href, label, purpose the page works under, or every purpose it needs; None: every signed-in staff member)
NAV: tuple[tuple[str, str, str | tuple[str, ...] | None], ...] = (
    ("/console/customers", "Customers", "contract"),
    ("/console/support", "Support log", "contract"),
    ("/console/users", "Users", "contract"),
    ("/console/outbox", "Outbox", "contract"),
    ("/console/processing-log", "Processing log", "accountability"),
    ("/console/rights", "Requests", "accountability"),
    ("/console/disclosures", "Disclosures", ("accountability", "legal_obligation")),  # privacy officer
    ("/console/retention", "Retention", "accountability"),
    ("/console/analytics", "Analytics", "monitoring"),
    ("/console/usage", "Usage", ("contract", "legal_obligation")),  # fees: finance
    ("/console/billing", "Billing", ("contract", "legal_obligation")),  # invoices: finance
    ("/console/usage-services", "Usage services", "monitoring"),
    ("/console/documents", "Documents", None),
    ("/console/statement", "Statement", None),
    ("/console/record", "Record of processing", None),
    ("/console/profile", "Profile", None),
)

# Pages that show totals only, which an aggregates-only role (analyst) may open too.
AGGREGATE_PAGES = frozenset({"/console/analytics"})

# Messages shown after a redirect (?done=key): fixed texts, never echoing input.
DONE = {
    "password": "Your password was changed.",
    "totp-on": "Two-step sign-in is on.",
    "totp-off": "Two-step sign-in is off.",
    "token-revoked": "The API token was revoked.",
    "contact-added": "The contact person was added.",
    "contact-saved": "The contact person was saved.",
    "contact-removed": "The contact person was removed.",
    "support-logged": "The support contact was logged.",
    "contract-ended": "The end of the contract was recorded.",
    "followed-up": "The follow-up was marked as done.",
}


def role_may(
    policy: Policy, role: str, purpose: str | tuple[str, ...] | None, *, individual: bool = True
) -> bool:
    """Whether a role may open a page working under ``purpose`` (or under every one of a tuple of
    purposes), with individuals' data unless ``individual`` is false."""
    if purpose is None:
        return True
    if not all(policy.role_may(role, p) for p in ((purpose,) if isinstance(purpose, str) else purpose)):
        return False
    declared = policy.roles.get(role)
    return not (individual and declared is not None and declared.aggregates_only)


def home_for(policy: Policy, role: str) -> str:
    """The first page of a role: customers, else the processing log, else analytics, else the profile."""
    for href, _, purpose in NAV:
        if href in ("/console/customers", "/console/processing-log", "/console/analytics") and role_may(
            policy, role, purpose, individual=href not in AGGREGATE_PAGES
        ):
            return href
    return "/console/profile"


def flashes(request: Request, done: Mapping[str, str] = DONE) -> list[tuple[str, str]]:
    """The message shown after a redirect: ``?done=key`` looked up in ``done`` (fixed texts)."""
    message = done.get(request.query_params.get("done", ""))
    return [("ok", message)] if message else []


def console_context(
    request: Request, caller: CurrentStaff | None, *, current: str = "", title: str, **extra: Any
) -> dict[str, Any]:
    """The variables layout.html expects, for a console page."""
    policy: Policy = request.app.state.policy
    nav = (
        [
            (href, label)
            for href, label, purpose in NAV
            if role_may(policy, caller.role, purpose, individual=href not in AGGREGATE_PAGES)
        ]
        if caller is not None
        else []
    )
    context: dict[str, Any] = {
        "area_name": AREA,
        "home": HOME,
        "nav": nav,
        "current": current,
        "who": caller.staff.name if caller is not None else None,
        "logout_url": "/console/logout",
        "flashes": flashes(request),
        "title": title,
    }
    context.update(extra)
    return context


def render(
    request: Request,
    template: str,
    caller: CurrentStaff | None,
    *,
    current: str = "",
    title: str,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        template,
        console_context(request, caller, current=current, title=title, **extra),
        status_code=status_code,
    )


def section_page(
    request: Request,
    template: str,
    caller: CurrentStaff,
    *,
    current: str,
    title: str,
    done: Mapping[str, str],
    status_code: int = 200,
    notes: Iterable[tuple[str, str]] = (),
    **extra: Any,
) -> HTMLResponse:
    """A page of a console section (``current``): its message after a redirect, from ``done``,
    then ``notes``."""
    return render(
        request,
        template,
        caller,
        current=current,
        title=title,
        status_code=status_code,
        flashes=[*flashes(request, done), *notes],
        **extra,
    )


def safe_next(value: str | None) -> str | None:
    """``value`` if it is a local console path (no scheme, no host), else None."""
    if not value or not value.startswith("/console/") or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(c in value for c in "\r\n"):
        return None
    return value


def page_url(path: str, params: dict[str, Any]) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "", False)}
    return f"{path}?{urlencode(kept)}" if kept else path


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --- signing in and out -----------------------------------------------------------------------


@router.get("/console/login", response_class=HTMLResponse)
def login_form(
    request: Request, next: str | None = None, caller: CurrentStaff | None = Depends(optional_staff)
) -> Response:
    policy: Policy = request.app.state.policy
    if caller is not None:
        return redirect(safe_next(next) or home_for(policy, caller.role))
    return render(request, "console/login.html", None, title="Sign in", email="", next=safe_next(next))


@router.post("/console/login", response_class=HTMLResponse)
def login(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    next: str = Form(""),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
    policy: Policy = Depends(get_policy),
) -> Response:
    cfg = auth_config(request)
    error: LawfulError | None = None
    result: service.SignIn | None = None
    with db.unit_of_work("staff_access", AUTH) as session:
        try:
            result = service.sign_in(
                session,
                kind=PrincipalKind.staff,
                email=email,
                password=password,
                ip=client_ip(request),
                cfg=cfg,
            )
        except LawfulError as exc:  # the failed attempt's login record still commits
            error = exc
    if error is not None or result is None:
        return render(
            request,
            "console/login.html",
            None,
            title="Sign in",
            status_code=error.status if error else 401,
            error=error.message if error else service.BAD_CREDENTIALS,
            email=email,
            next=safe_next(next),
        )
    target = safe_next(next)
    if result.needs_second_factor:
        url = page_url("/console/second-factor", {"next": target})
    else:
        assert isinstance(result.principal, Staff)
        url = target or home_for(policy, result.principal.role.value)
    response = redirect(url)
    set_session_cookie(response, STAFF_COOKIE, result.token, settings)
    return response


def _pending(request: Request, db: Database) -> bool:
    token = request.cookies.get(STAFF_COOKIE)
    if not token:
        return False
    with db.unit_of_work("staff_access", AUTH, record=False) as session:
        web = service.resolve_session(session, token, PrincipalKind.staff, auth_config(request))
        return web is not None and web.second_factor_pending


@router.get("/console/second-factor", response_class=HTMLResponse)
def second_factor_form(request: Request, next: str | None = None, db: Database = Depends(get_db)) -> Response:
    if not _pending(request, db):
        return redirect(LOGIN)
    return render(request, "console/second_factor.html", None, title="Two-step sign-in", next=safe_next(next))


@router.post("/console/second-factor", response_class=HTMLResponse)
def second_factor(
    request: Request,
    code: str = Form(""),
    next: str = Form(""),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
) -> Response:
    token = request.cookies.get(STAFF_COOKIE)
    if not token:
        return redirect(LOGIN)
    cfg = auth_config(request)
    error: LawfulError | None = None
    role: str | None = None
    with db.unit_of_work("staff_access", AUTH) as session:
        web = service.resolve_session(session, token, PrincipalKind.staff, cfg)
        if web is not None and web.second_factor_pending:
            try:
                principal = service.second_factor(session, web, code=code, ip=client_ip(request), cfg=cfg)
                assert isinstance(principal, Staff)
                role = principal.role.value
            except LawfulError as exc:  # the failed attempt's login record still commits
                error = exc
    if error is not None:
        return render(
            request,
            "console/second_factor.html",
            None,
            title="Two-step sign-in",
            status_code=error.status,
            error=error.message,
            next=safe_next(next),
        )
    if role is None:
        return redirect(LOGIN)
    return redirect(safe_next(next) or home_for(policy, role))


@router.post("/console/logout")
def logout(request: Request, db: Database = Depends(get_db)) -> Response:
    token = request.cookies.get(STAFF_COOKIE)
    if token:
        with db.unit_of_work("staff_access", AUTH) as session:
            service.end_session(session, token)
    response = redirect(LOGIN)
    clear_session_cookie(response, STAFF_COOKIE)
    return response


@router.post("/console/logout-everywhere")
def logout_everywhere(
    caller: CurrentStaff = Depends(current_staff), db: Database = Depends(get_db)
) -> Response:
    with db.unit_of_work("staff_access", AUTH) as session:
        service.end_all_sessions(session, PrincipalKind.staff, caller.staff.id)
    response = redirect(LOGIN)
    clear_session_cookie(response, STAFF_COOKIE)
    return response


@router.get("/console/")
def start(caller: CurrentStaff = Depends(current_staff), policy: Policy = Depends(get_policy)) -> Response:
    return redirect(home_for(policy, caller.role))


@router.get("/console")
def start_without_slash() -> Response:
    return redirect(HOME)


# --- the processing log -----------------------------------------------------------------------


@router.get("/console/processing-log", response_class=HTMLResponse)
def processing_log(
    request: Request,
    actor: str = "",
    purpose: str = "",
    subject: str = "",
    table: str = "",
    page: int = 1,
    caller: CurrentStaff = staff_under("accountability"),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
) -> Response:
    page = max(1, page)
    with db.unit_of_work("accountability", caller.actor) as session:
        rows = log_repository.search(
            session,
            actor=actor,
            purpose=purpose,
            subject=subject,
            table=table,
            limit=PER_PAGE + 1,
            offset=(page - 1) * PER_PAGE,
        )
    filters = {"actor": actor, "purpose": purpose, "subject": subject, "table": table}
    return render(
        request,
        "console/processing_log.html",
        caller,
        current="/console/processing-log",
        title="Processing log",
        entries=rows[:PER_PAGE],
        filters=filters,
        purposes=policy.keys,
        page=page,
        newer_url=page_url("/console/processing-log", {**filters, "page": page - 1}) if page > 1 else None,
        older_url=(
            page_url("/console/processing-log", {**filters, "page": page + 1})
            if len(rows) > PER_PAGE
            else None
        ),
    )


# --- the statement and the record of processing -----------------------------------------------


def _main_of(document: str) -> str:
    """The content of the <main> element of a standalone page rendered from the policy."""
    start = document.find("<main>")
    end = document.rfind("</main>")
    if start < 0 or end < 0:
        return document
    return document[start + len("<main>") : end]


def _scoped(html: str) -> str:
    """Table headers with scope (columns in <thead>, rows elsewhere), wrapped for small screens."""
    html = re.sub(
        r"<thead>.*?</thead>", lambda m: m.group(0).replace("<th>", '<th scope="col">'), html, flags=re.S
    )
    return html.replace("<th>", '<th scope="row">').replace('class="scroll"', 'class="table-wrap"')


@router.get("/console/statement", response_class=HTMLResponse)
def statement(
    request: Request, caller: CurrentStaff = Depends(current_staff), policy: Policy = Depends(get_policy)
) -> Response:
    # render_statement escapes every policy string and disables raw HTML in the Markdown.
    body = Markup(_main_of(render_statement(policy, "html")))
    return render(
        request, "console/document.html", caller, current="/console/statement", title="Statement", body=body
    )


@router.get("/console/record", response_class=HTMLResponse)
def record(
    request: Request,
    caller: CurrentStaff = Depends(current_staff),
    policy: Policy = Depends(get_policy),
    db: Database = Depends(get_db),
) -> Response:
    # render_ropa's template is autoescaped; the authorities disclosed to come from the register.
    keeps_register = role_may(policy, caller.role, OFFICER_PURPOSES)
    disclosed = disclosed_recipients(db) if keeps_register else None
    body = Markup(_scoped(_main_of(render_ropa(policy, "html", disclosed))))
    return render(
        request,
        "console/document.html",
        caller,
        current="/console/record",
        title="Record of processing",
        body=body,
    )


# --- the outbox -------------------------------------------------------------------------------

_URL = re.compile(r"https?://[^\s<>\"']+")


def linkify(text: str) -> Markup:
    """Escape ``text`` and turn the web addresses in it into links."""
    escaped = str(escape(text))
    return Markup(_URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped))


@router.get("/console/outbox", response_class=HTMLResponse)
def outbox(
    request: Request,
    status: str = "",
    page: int = 1,
    caller: CurrentStaff = staff_under("contract"),
    db: Database = Depends(get_db),
) -> Response:
    page = max(1, page)
    wanted = MailStatus(status) if status in MailStatus.__members__ else None
    with db.unit_of_work("contract", caller.actor) as session:
        rows = mail_repository.recent(
            session, status=wanted, limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE
        )
    show_bodies = request.app.state.mailer is None
    mails = [
        {
            "mail": mail,
            "body": linkify(mail.body)
            if show_bodies and mail.status == MailStatus.pending and mail.body
            else None,
        }
        for mail in rows[:PER_PAGE]
    ]
    return render(
        request,
        "console/outbox.html",
        caller,
        current="/console/outbox",
        title="Outbox",
        mails=mails,
        status=wanted.value if wanted else "",
        statuses=[s.value for s in MailStatus],
        local=show_bodies,
        newer_url=page_url("/console/outbox", {"status": status, "page": page - 1}) if page > 1 else None,
        older_url=(
            page_url("/console/outbox", {"status": status, "page": page + 1})
            if len(rows) > PER_PAGE
            else None
        ),
    )
