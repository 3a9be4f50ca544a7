"""Portal pages of users: signing in (with the second factor), signing out, accepting an
invitation, resetting a password, the profile, and team management for customer admins.

Everything a signed-in user does runs in a unit of work under ``contract`` with the user as the
actor; signing in and the one-time links run under ``contract`` as the authentication system. A
failed sign-in still commits its login record (the throttle counts it). Forms post, then redirect
(303); a refused form is shown again with the message and what was typed, never a password.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from lawful.data.db import Database
from lawful.errors import Conflict, Gone, Invalid, LawfulError, NotFound
from lawful.policy.model import Policy
from lawful.rights import service as rights
from lawful.rights.service import Browser
from lawful.settings import Settings
from lawful.users import repository as repo
from lawful.users import service
from lawful.users.models import AccountStatus, PrincipalKind, TokenKind, User, UserRole, WebSession
from lawful.users.security import new_totp_secret, totp_qr_svg, totp_uri
from lawful.web.auth import (
    AUTH,
    USER_COOKIE,
    CurrentUser,
    auth_config,
    clear_session_cookie,
    client_ip,
    csrf_protect,
    current_user,
    customer_admin,
    optional_user,
    set_session_cookie,
)
from lawful.web.deps import get_db, get_policy, get_settings
from lawful.web.mail import deliver_after_response
from lawful.web.portal import HOME, portal_context, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

KIND = PrincipalKind.user
PURPOSE = "contract"
TOTP_SECRET = re.compile(r"[A-Z2-7]{16,64}")
MISMATCH = "the two passwords are not the same"

FormStr = Annotated[str, Form()]


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(value: str) -> str:
    """Where to go after signing in: only a local portal path, else the overview."""
    if (
        value.startswith("/portal/")
        and "//" not in value
        and "\\" not in value
        and value.isprintable()
        and " " not in value
    ):
        return value
    return HOME


def _signed_in(url: str, token: str, settings: Settings) -> RedirectResponse:
    response = _see_other(url)
    set_session_cookie(response, USER_COOKIE, token, settings)
    return response


def _after_password(target: str, pending: bool) -> str:
    if not pending:
        return target
    return "/portal/second-factor" + ("" if target == HOME else f"?next={quote(target)}")


def signed_in_by_link(target: str, token: str, web: WebSession, settings: Settings) -> RedirectResponse:
    """The answer once a one-time link and a new password signed a user in (an accepted invitation,
    a confirmed sign-up; :func:`lawful.users.service.start_verified_session`): the session cookie,
    and on to ``target``, by the second factor if the account has one."""
    return _signed_in(_after_password(target, web.second_factor_pending), token, settings)


# --- signing in and out -----------------------------------------------------------------------


def _login_page(
    request: Request, *, email: str = "", next_: str = "", error: LawfulError | None = None
) -> HTMLResponse:
    context = portal_context(
        request,
        None,
        title="Sign in",
        email=email,
        next=next_ if safe_next(next_) != HOME else "",
        flashes=[("error", error.message)] if error else [],
    )
    return render(request, "login.html", context, error.status if error else 200)


@router.get("/portal/login", response_class=HTMLResponse)
def login_form(
    request: Request,
    next_: Annotated[str, Query(alias="next")] = "",
    caller: CurrentUser | None = Depends(optional_user),
) -> Response:
    if caller is not None:
        return _see_other(safe_next(next_))
    return _login_page(request, next_=next_)


@router.post("/portal/login", response_class=HTMLResponse)
def login(
    request: Request,
    email: FormStr = "",
    password: FormStr = "",
    next_: Annotated[str, Form(alias="next")] = "",
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> Response:
    failure: LawfulError | None = None
    result: service.SignIn | None = None
    with db.unit_of_work(PURPOSE, AUTH) as session:
        previous = request.cookies.get(USER_COOKIE)
        if previous:
            service.end_session(session, previous)
        try:
            result = service.sign_in(
                session,
                kind=KIND,
                email=email,
                password=password,
                ip=client_ip(request),
                cfg=auth_config(request),
            )
        except LawfulError as exc:  # commit the login record all the same
            failure = exc
    if result is None:
        return _login_page(request, email=email, next_=next_, error=failure)
    target = _after_password(safe_next(next_), result.needs_second_factor)
    return _signed_in(target, result.token, settings)


def _second_factor_page(request: Request, *, next_: str, error: LawfulError | None = None) -> HTMLResponse:
    context = portal_context(
        request,
        None,
        title="Two-step sign-in",
        next=next_ if safe_next(next_) != HOME else "",
        flashes=[("error", error.message)] if error else [],
    )
    return render(request, "second_factor.html", context, error.status if error else 200)


def _pending(request: Request, db: Database) -> bool | None:
    """None: no live session; True: waiting for the second factor; False: signed in."""
    token = request.cookies.get(USER_COOKIE)
    if not token:
        return None
    with db.unit_of_work(PURPOSE, AUTH, record=False) as session:
        web = service.resolve_session(session, token, KIND, auth_config(request))
        return None if web is None else web.second_factor_pending


@router.get("/portal/second-factor", response_class=HTMLResponse)
def second_factor_form(
    request: Request,
    next_: Annotated[str, Query(alias="next")] = "",
    db: Database = Depends(get_db),
) -> Response:
    pending = _pending(request, db)
    if pending is None:
        return _see_other("/portal/login")
    if not pending:
        return _see_other(safe_next(next_))
    return _second_factor_page(request, next_=next_)


@router.post("/portal/second-factor", response_class=HTMLResponse)
def second_factor(
    request: Request,
    code: FormStr = "",
    next_: Annotated[str, Form(alias="next")] = "",
    db: Database = Depends(get_db),
) -> Response:
    token = request.cookies.get(USER_COOKIE)
    failure: LawfulError | None = None
    with db.unit_of_work(PURPOSE, AUTH) as session:
        web = service.resolve_session(session, token, KIND, auth_config(request)) if token else None
        if web is None:
            return _see_other("/portal/login")
        if web.second_factor_pending:
            try:
                service.second_factor(
                    session, web, code=code, ip=client_ip(request), cfg=auth_config(request)
                )
            except LawfulError as exc:  # commit the login record all the same
                failure = exc
    if failure is not None:
        return _second_factor_page(request, next_=next_, error=failure)
    return _see_other(safe_next(next_))


@router.post("/portal/logout")
def logout(request: Request, db: Database = Depends(get_db)) -> Response:
    token = request.cookies.get(USER_COOKIE)
    if token:
        with db.unit_of_work(PURPOSE, AUTH) as session:
            service.end_session(session, token)
    response = _see_other("/portal/login?ok=signed_out")
    clear_session_cookie(response, USER_COOKIE)
    return response


@router.post("/portal/logout-everywhere")
def logout_everywhere(
    caller: CurrentUser = Depends(current_user), db: Database = Depends(get_db)
) -> Response:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        service.end_all_sessions(session, KIND, caller.id)
    response = _see_other("/portal/login?ok=signed_out_everywhere")
    clear_session_cookie(response, USER_COOKIE)
    return response


# --- invitation and password reset ------------------------------------------------------------


def _invitee(db: Database, token: str) -> User:
    """The user an unused invitation link is for (404 unknown, 410 used or expired)."""
    with db.unit_of_work(PURPOSE, AUTH) as session:
        record = service.check_token(session, token, TokenKind.invitation)
        user = repo.by_id(session, KIND, record.principal_id)
        if not isinstance(user, User) or user.status == AccountStatus.disabled:
            raise Gone("this invitation is no longer valid")
        return user


def _invitation_page(request: Request, user: User, *, error: LawfulError | None = None) -> HTMLResponse:
    context = portal_context(
        request,
        None,
        title="Activate your account",
        name=user.name,
        email=user.email,
        flashes=[("error", error.message)] if error else [],
    )
    return render(request, "invitation.html", context, error.status if error else 200)


@router.get("/portal/invitation/{token}", response_class=HTMLResponse)
def invitation_form(request: Request, token: str, db: Database = Depends(get_db)) -> Response:
    return _invitation_page(request, _invitee(db, token))


@router.post("/portal/invitation/{token}", response_class=HTMLResponse)
def accept_invitation(
    request: Request,
    token: str,
    password: FormStr = "",
    password_repeat: FormStr = "",
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> Response:
    invitee = _invitee(db, token)
    if password != password_repeat:
        return _invitation_page(request, invitee, error=Invalid(MISMATCH))
    cfg = auth_config(request)
    try:
        with db.unit_of_work(PURPOSE, AUTH) as session:
            user = service.accept_invitation(session, token=token, password=password, cfg=cfg)
            session_token, web = service.start_verified_session(session, user, ip=client_ip(request), cfg=cfg)
    except Invalid as exc:  # rolled back: the link still works
        return _invitation_page(request, invitee, error=exc)
    return signed_in_by_link(HOME, session_token, web, settings)


def _forgot_page(request: Request, *, error: LawfulError | None = None) -> HTMLResponse:
    context = portal_context(
        request, None, title="Forgot your password?", flashes=[("error", error.message)] if error else []
    )
    return render(request, "forgot.html", context, error.status if error else 200)


@router.get("/portal/forgot", response_class=HTMLResponse)
def forgot_form(request: Request) -> Response:
    return _forgot_page(request)


@router.post("/portal/forgot")
def forgot(
    request: Request,
    background_tasks: BackgroundTasks,
    email: FormStr = "",
    db: Database = Depends(get_db),
) -> Response:
    """The same answer whether or not the address has an account."""
    with db.unit_of_work(PURPOSE, AUTH) as session:
        service.request_password_reset(session, kind=KIND, email=email, cfg=auth_config(request))
    deliver_after_response(request, background_tasks)
    return _see_other("/portal/forgot?ok=reset_sent")


def _check_reset(db: Database, token: str) -> None:
    with db.unit_of_work(PURPOSE, AUTH) as session:
        record = service.check_token(session, token, TokenKind.password_reset)
        if record.principal_kind != KIND:
            raise NotFound("this link is not valid")


def _reset_page(request: Request, *, error: LawfulError | None = None) -> HTMLResponse:
    context = portal_context(
        request, None, title="Choose a new password", flashes=[("error", error.message)] if error else []
    )
    return render(request, "reset.html", context, error.status if error else 200)


@router.get("/portal/reset/{token}", response_class=HTMLResponse)
def reset_form(request: Request, token: str, db: Database = Depends(get_db)) -> Response:
    _check_reset(db, token)
    return _reset_page(request)


@router.post("/portal/reset/{token}", response_class=HTMLResponse)
def reset(
    request: Request,
    token: str,
    password: FormStr = "",
    password_repeat: FormStr = "",
    db: Database = Depends(get_db),
) -> Response:
    _check_reset(db, token)
    if password != password_repeat:
        return _reset_page(request, error=Invalid(MISMATCH))
    try:
        with db.unit_of_work(PURPOSE, AUTH) as session:
            service.reset_password(
                session, kind=KIND, token=token, password=password, cfg=auth_config(request)
            )
    except Invalid as exc:  # rolled back: the link still works
        return _reset_page(request, error=exc)
    response = _see_other("/portal/login?ok=password_set")
    clear_session_cookie(response, USER_COOKIE)  # every session of the account has ended
    return response


# --- profile ----------------------------------------------------------------------------------


def _profile_page(
    request: Request,
    caller: CurrentUser,
    policy: Policy,
    *,
    secret: str | None = None,
    error: LawfulError | None = None,
    action: str = "",
) -> HTMLResponse:
    user = caller.user
    totp = None
    if user.totp_secret is None:
        secret = secret if secret and TOTP_SECRET.fullmatch(secret) else new_totp_secret()
        uri = totp_uri(secret, account=user.email, issuer=policy.organisation.name)
        totp = {"secret": secret, "qr": Markup(totp_qr_svg(uri))}  # segno's own SVG, no user text
    context = portal_context(
        request,
        caller,
        current="/portal/profile",
        title="Profile",
        user=user,
        totp=totp,
        action=action,
        flashes=[("error", error.message)] if error else [],
    )
    return render(request, "profile.html", context, error.status if error else 200)


@router.get("/portal/profile", response_class=HTMLResponse)
def profile(
    request: Request, caller: CurrentUser = Depends(current_user), policy: Policy = Depends(get_policy)
) -> Response:
    return _profile_page(request, caller, policy)


@router.post("/portal/profile", response_class=HTMLResponse)
def change_profile(
    request: Request,
    action: FormStr = "",
    current_password: FormStr = "",
    new_password: FormStr = "",
    secret: FormStr = "",
    code: FormStr = "",
    password: FormStr = "",
    caller: CurrentUser = Depends(current_user),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
) -> Response:
    """One form per ``action``: ``password``, ``totp_on``, ``totp_off``, ``object`` or ``withdraw``."""
    cfg = auth_config(request)
    done = {
        "password": "password_changed",
        "totp_on": "totp_on",
        "totp_off": "totp_off",
        "object": "objection_recorded",
        "withdraw": "objection_withdrawn",
    }
    if action == "object":  # a request under GDPR art. 21, answered at once (lawful.rights)
        browser = Browser(client_ip(request), request.headers.get("user-agent", "")[:512])
        rights.file_from_portal(db, caller.user, kind="objection", browser=browser)
        return _see_other(f"/portal/profile?ok={done[action]}")
    if action == "withdraw":
        rights.withdraw_objection(db, caller.id, actor=caller.actor)
        return _see_other(f"/portal/profile?ok={done[action]}")
    try:
        if action not in done:
            raise Invalid("that is not something this page can do")
        if action == "totp_on" and not TOTP_SECRET.fullmatch(secret):
            raise Invalid("the form is damaged; reload the page and scan the new code")
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            user = repo.by_id(session, KIND, caller.id)
            assert isinstance(user, User)
            if action == "password":
                service.change_password(session, user, current=current_password, new=new_password, cfg=cfg)
            elif action == "totp_on":
                service.enable_totp(user, secret=secret, code=code)
            else:
                service.disable_totp(user, password=password, cfg=cfg)
    except Invalid as exc:
        return _profile_page(request, caller, policy, secret=secret, error=exc, action=action)
    return _see_other(f"/portal/profile?ok={done[action]}")


# --- team -------------------------------------------------------------------------------------


def _team_page(
    request: Request,
    caller: CurrentUser,
    db: Database,
    *,
    error: LawfulError | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        members = [
            {
                "id": str(u.id),
                "name": u.name,
                "email": u.email,
                "role": u.role.value,
                "status": u.status.value,
                "me": u.id == caller.id,
            }
            for u in repo.users_of(session, caller.customer_id)
        ]
    context = portal_context(
        request,
        caller,
        current="/portal/team",
        title="Team",
        members=members,
        roles=[r.value for r in UserRole],
        form=form or {"name": "", "email": "", "role": UserRole.member.value},
        flashes=[("error", error.message)] if error else [],
    )
    return render(request, "team.html", context, error.status if error else 200)


def _teammate(session: Session, caller: CurrentUser, user_id: uuid.UUID) -> User:
    """A user of the caller's own customer; any other id is not found."""
    user = repo.by_id(session, KIND, user_id)
    if not isinstance(user, User) or user.customer_id != caller.customer_id:
        raise NotFound("no user with that id in your team")
    return user


@router.get("/portal/team", response_class=HTMLResponse)
def team(
    request: Request, caller: CurrentUser = Depends(customer_admin), db: Database = Depends(get_db)
) -> Response:
    return _team_page(request, caller, db)


@router.post("/portal/team/invite", response_class=HTMLResponse)
def invite(
    request: Request,
    background_tasks: BackgroundTasks,
    name: FormStr = "",
    email: FormStr = "",
    role: Annotated[UserRole, Form()] = UserRole.member,
    caller: CurrentUser = Depends(customer_admin),
    db: Database = Depends(get_db),
) -> Response:
    try:
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            service.invite_user(
                session,
                customer_id=caller.customer_id,
                email=email,
                name=name,
                role=role,
                invited_by=caller.user.name,
                cfg=auth_config(request),
            )
    except (Conflict, Invalid) as exc:
        form = {"name": name, "email": email, "role": role.value}
        return _team_page(request, caller, db, error=exc, form=form)
    deliver_after_response(request, background_tasks)
    return _see_other("/portal/team?ok=invited")


@router.post("/portal/team/{user_id}/role", response_class=HTMLResponse)
def change_role(
    request: Request,
    user_id: uuid.UUID,
    role: Annotated[UserRole, Form()],
    caller: CurrentUser = Depends(customer_admin),
    db: Database = Depends(get_db),
) -> Response:
    try:
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            service.change_role(session, _teammate(session, caller, user_id), role)
    except Conflict as exc:
        return _team_page(request, caller, db, error=exc)
    if user_id == caller.id and role != UserRole.admin:
        return _see_other("/portal/?ok=role_changed")  # no longer an admin: the team page is closed
    return _see_other("/portal/team?ok=role_changed")


@router.post("/portal/team/{user_id}/remove", response_class=HTMLResponse)
def remove(
    request: Request,
    user_id: uuid.UUID,
    caller: CurrentUser = Depends(customer_admin),
    db: Database = Depends(get_db),
) -> Response:
    try:
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            service.remove_user(session, _teammate(session, caller, user_id))
    except Conflict as exc:
        return _team_page(request, caller, db, error=exc)
    if user_id == caller.id:  # removed themselves: their sessions have ended
        response = _see_other("/portal/login?ok=signed_out")
        clear_session_cookie(response, USER_COOKIE)
        return response
    return _see_other("/portal/team?ok=removed")
