"""Who is calling: the signed-in user (portal), the signed-in staff member or API token (console,
API), and the CSRF check for every state-changing request that rides on a cookie.

Cookies: ``lawful_portal`` (a customer's user), ``lawful_console`` (staff), both HttpOnly,
SameSite=Lax and Secure over https, holding a random token of which only the hash is stored.
``lawful_csrf`` is a double-submit token: every form carries it in ``csrf_token`` and every
cookie-authenticated API call in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Depends, Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.errors import Forbidden, Unauthorized
from lawful.policy.model import Policy
from lawful.settings import Settings
from lawful.users import repository as repo
from lawful.users import service
from lawful.users.models import AccountStatus, PrincipalKind, Staff, User
from lawful.users.security import new_token, same
from lawful.web.deps import get_db, get_policy

USER_COOKIE = "lawful_portal"
STAFF_COOKIE = "lawful_console"
CSRF_COOKIE = "lawful_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
AUTH = Actor.system("authentication")


class LoginRequired(Unauthorized):
    """Not signed in; a page answers with a redirect to ``login_url``."""

    def __init__(self, message: str, *, login_url: str) -> None:
        super().__init__(message)
        self.login_url = login_url


@dataclass(frozen=True)
class CurrentUser:
    user: User
    session_token: str

    @property
    def actor(self) -> Actor:
        return Actor.user(self.user.id)

    @property
    def id(self) -> uuid.UUID:
        return self.user.id

    @property
    def customer_id(self) -> uuid.UUID:
        return self.user.customer_id

    @property
    def is_admin(self) -> bool:
        return self.user.role == "admin"


@dataclass(frozen=True)
class CurrentStaff:
    staff: Staff
    via: Literal["session", "token"]
    session_token: str | None = None

    @property
    def actor(self) -> Actor:
        return Actor.staff(self.staff.id, self.staff.role.value)

    @property
    def role(self) -> str:
        return self.staff.role.value


def client_ip(request: Request) -> str:
    """The client address; uvicorn has already applied X-Forwarded-For from trusted proxies only."""
    return request.client.host if request.client else "0.0.0.0"


def auth_config(request: Request) -> service.AuthConfig:
    config: service.AuthConfig = request.app.state.auth
    return config


def _resolve(request: Request, db: Database, kind: PrincipalKind, token: str) -> User | Staff | None:
    cfg = auth_config(request)
    with db.unit_of_work(service.purpose_of(kind), AUTH, record=False) as session:
        web = service.resolve_session(session, token, kind, cfg)
        if web is None or web.second_factor_pending:
            return None
        principal = repo.by_id(session, kind, web.principal_id)
        if principal is None or principal.status != AccountStatus.active:
            return None
        session.expunge(principal)
        return principal


def optional_user(request: Request, db: Database = Depends(get_db)) -> CurrentUser | None:
    token = request.cookies.get(USER_COOKIE)
    if not token:
        return None
    user = _resolve(request, db, PrincipalKind.user, token)
    return CurrentUser(user, token) if isinstance(user, User) else None


def current_user(caller: CurrentUser | None = Depends(optional_user)) -> CurrentUser:
    if caller is None:
        raise LoginRequired("sign in to continue", login_url="/portal/login")
    return caller


def customer_admin(caller: CurrentUser = Depends(current_user)) -> CurrentUser:
    if not caller.is_admin:
        raise Forbidden("only an admin of your company may do this")
    return caller


def optional_staff(request: Request, db: Database = Depends(get_db)) -> CurrentStaff | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        with db.unit_of_work("staff_access", AUTH, record=False) as session:
            found = service.resolve_api_token(session, header[7:].strip())
            if found is None:
                raise Unauthorized("the API token is not valid, expired or revoked")
            _, staff = found
            session.expunge(staff)
        return CurrentStaff(staff, "token")
    token = request.cookies.get(STAFF_COOKIE)
    if not token:
        return None
    signed_in = _resolve(request, db, PrincipalKind.staff, token)
    return CurrentStaff(signed_in, "session", token) if isinstance(signed_in, Staff) else None


def current_staff(caller: CurrentStaff | None = Depends(optional_staff)) -> CurrentStaff:
    if caller is None:
        raise LoginRequired("sign in to continue", login_url="/console/login")
    return caller


def staff_under(purpose: str, *, individual: bool = True) -> Any:
    """A dependency: the staff member, if their role may act under ``purpose``.

    ``individual``: the route shows one person's data, which an aggregates-only role may not see.
    """

    def dependency(
        caller: CurrentStaff = Depends(current_staff), policy: Policy = Depends(get_policy)
    ) -> CurrentStaff:
        if not policy.role_may(caller.role, purpose):
            raise Forbidden(f"your role ({caller.role}) does not act under the purpose {purpose!r}")
        role = policy.roles.get(caller.role)
        if individual and role is not None and role.aggregates_only:
            raise Forbidden(f"your role ({caller.role}) sees totals only")
        return caller

    return Depends(dependency)


# --- CSRF -------------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """The token forms must carry (set as a cookie by :class:`CsrfCookieMiddleware`)."""
    token: str = request.state.csrf
    return token


async def csrf_protect(request: Request) -> None:
    """Refuse an unsafe request that rides on a cookie without the matching CSRF token."""
    if request.method in SAFE_METHODS:
        return
    has_session_cookie = USER_COOKIE in request.cookies or STAFF_COOKIE in request.cookies
    content_type = request.headers.get("content-type", "")
    is_form = content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))
    if not has_session_cookie and not is_form:
        return  # a JSON call with no ambient credentials (bearer token, or signing in from a script)
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = request.headers.get(CSRF_HEADER, "")
    if not given and is_form:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else ""
    if not expected or not given or not same(expected, given):
        raise Forbidden("the form has expired or did not come from this site; reload the page and try again")


NO_COOKIE_PREFIXES = ("/js/",)


class CsrfCookieMiddleware:
    """Give every browser a CSRF token cookie and expose it to templates as ``request.state.csrf``."""

    def __init__(self, app: ASGIApp, *, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The tracker script is loaded by other sites' visitors: it must leave no cookie behind.
        if scope["type"] != "http" or scope["path"].startswith(NO_COOKIE_PREFIXES):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        existing = request.cookies.get(CSRF_COOKIE)
        token = existing or new_token()
        scope.setdefault("state", {})["csrf"] = token
        if existing:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                flags = "; Path=/; HttpOnly; SameSite=Strict" + ("; Secure" if self.secure else "")
                headers.append("set-cookie", f"{CSRF_COOKIE}={token}{flags}")
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def set_session_cookie(response: object, name: str, token: str, settings: Settings) -> None:
    from starlette.responses import Response

    assert isinstance(response, Response)
    response.set_cookie(
        name,
        token,
        max_age=settings.session_max_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


def clear_session_cookie(response: object, name: str) -> None:
    from starlette.responses import Response

    assert isinstance(response, Response)
    response.delete_cookie(name, path="/")
