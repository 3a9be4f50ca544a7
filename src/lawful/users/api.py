"""JSON API of customers' users, authentication (users and staff) and staff API tokens.

Users act under ``contract``: a customer's admin manages their own team, staff whose role acts
under ``contract`` manage every customer's users. Signing in is JSON too: the answer sets the
session cookie and gives the CSRF token that every later unsafe request sends as X-CSRF-Token.
A failed sign-in is committed with its login record before the error is raised, so throttling
counts it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from lawful.customers import service as customers
from lawful.data.db import Database
from lawful.errors import Forbidden, Invalid, LawfulError, NotFound, Unauthorized
from lawful.policy.model import Policy
from lawful.settings import Settings
from lawful.users import repository as repo
from lawful.users import service
from lawful.users.models import ApiToken, PrincipalKind, User
from lawful.users.schemas import (
    CodeIn,
    InviteIn,
    LoginIn,
    Message,
    NewPasswordIn,
    ProfilePatch,
    ResetIn,
    SignedIn,
    TokenCreated,
    TokenIn,
    TokenList,
    TokenOut,
    UserOut,
    UserPage,
    UserPatch,
)
from lawful.web.api import Caller, Page, SearchQuery, caller_api, errors, staff_api, user_api
from lawful.web.auth import (
    AUTH,
    STAFF_COOKIE,
    USER_COOKIE,
    CurrentStaff,
    CurrentUser,
    auth_config,
    clear_session_cookie,
    client_ip,
    csrf_protect,
    csrf_token,
    set_session_cookie,
)
from lawful.web.deps import get_db, get_policy, get_settings
from lawful.web.errors import ERROR_RESPONSES
from lawful.web.mail import deliver_after_response

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, dependencies=[Depends(csrf_protect)])

COOKIE = {PrincipalKind.user: USER_COOKIE, PrincipalKind.staff: STAFF_COOKIE}
NO_SUCH_USER = "no user with that id"
RESET_ANSWER = "If an account with that e-mail address exists, a link to choose a new password is on its way."
NO_CONTENT: dict[int | str, dict[str, Any]] = {204: {"description": "done"}}

T = TypeVar("T")


def user_out(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


def token_out(token: ApiToken) -> TokenOut:
    return TokenOut.model_validate(token, from_attributes=True)


def committed(db: Database, kind: PrincipalKind, attempt: Callable[[Session], T]) -> T:
    """Run ``attempt(session)`` in an unrecorded authentication unit of work that commits even
    when the attempt fails (its login record must count), then raise the failure."""
    failure: LawfulError | None = None
    result: T | None = None
    with db.unit_of_work(service.purpose_of(kind), AUTH, record=False) as session:
        try:
            result = attempt(session)
        except LawfulError as exc:
            failure = exc
    if failure is not None:
        raise failure
    assert result is not None
    return result


# --- users ------------------------------------------------------------------------------------


def _target(session: Session, caller: Caller, user_id: uuid.UUID) -> User:
    """The user ``user_id`` as ``caller`` may see them: staff any, a user only their own team."""
    if caller.user is not None:
        found = repo.user_at(session, user_id, caller.user.customer_id)
    else:
        found = session.get(User, user_id)
    if found is None:
        raise NotFound(NO_SUCH_USER)
    return found


def _manager(caller: Caller) -> None:
    """Only staff and a customer's admin manage users."""
    if caller.user is not None and not caller.user.is_admin:
        raise Forbidden("only an admin of your company may do this")


@router.get("/users", tags=["users"], summary="Users (staff: all; a customer's admin: the team)")
def list_users(
    caller: Caller = caller_api("contract"),
    db: Database = Depends(get_db),
    q: SearchQuery = "",
    customer_id: uuid.UUID | None = None,
    page: Page = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> UserPage:
    _manager(caller)
    if caller.user is not None:
        if customer_id is not None and customer_id != caller.user.customer_id:
            raise NotFound("no customer with that id")
        customer_id = caller.user.customer_id
    with db.unit_of_work("contract", caller.actor) as session:
        found, total = repo.search_users(
            session, query=q, customer_id=customer_id, page=page, per_page=per_page
        )
        items = [user_out(u) for u in found]
    return UserPage(items=items, total=total, page=page, per_page=per_page)


@router.post(
    "/users",
    tags=["users"],
    summary="Invite a user; the invitation goes out by e-mail",
    status_code=201,
    responses=errors(409),
)
def invite(
    body: InviteIn,
    request: Request,
    tasks: BackgroundTasks,
    caller: Caller = caller_api("contract"),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
) -> UserOut:
    _manager(caller)
    if caller.user is not None:
        if body.customer_id is not None and body.customer_id != caller.user.customer_id:
            raise NotFound("no customer with that id")
        customer_id = caller.user.customer_id
        invited_by = f"{caller.user.user.name} of your company"
    else:
        if body.customer_id is None:
            raise Invalid("staff name the customer (customer_id)", detail={"field": "customer_id"})
        customer_id = body.customer_id
        invited_by = policy.organisation.name
    with db.unit_of_work("contract", caller.actor) as session:
        customers.get_customer(session, customer_id)
        user, _ = service.invite_user(
            session,
            customer_id=customer_id,
            email=body.email,
            name=body.name,
            role=body.role,
            invited_by=invited_by,
            cfg=auth_config(request),
        )
        session.flush()
        out = user_out(user)
    deliver_after_response(request, tasks)
    return out


@router.get("/users/me", tags=["users"], summary="The signed-in user")
def me(caller: CurrentUser = Depends(user_api)) -> UserOut:
    return user_out(caller.user)


@router.patch("/users/me", tags=["users"], summary="Change your own name")
def update_me(
    body: ProfilePatch, caller: CurrentUser = Depends(user_api), db: Database = Depends(get_db)
) -> UserOut:
    with db.unit_of_work("contract", caller.actor) as session:
        user = session.get(User, caller.id)
        if user is None:
            raise NotFound(NO_SUCH_USER)
        if "name" in body.model_fields_set:
            user.name = body.name
        session.flush()
        out = user_out(user)
    return out


@router.get("/users/{user_id}", tags=["users"], summary="One user (staff; your team's admin; yourself)")
def get_user(
    user_id: uuid.UUID, caller: Caller = caller_api("contract"), db: Database = Depends(get_db)
) -> UserOut:
    if caller.user is not None and user_id != caller.user.id:
        _manager(caller)
    with db.unit_of_work("contract", caller.actor) as session:
        out = user_out(_target(session, caller, user_id))
    return out


@router.patch(
    "/users/{user_id}",
    tags=["users"],
    summary="Change a user's role (a customer keeps at least one active admin)",
    responses=errors(409),
)
def update_user(
    user_id: uuid.UUID,
    body: UserPatch,
    caller: Caller = caller_api("contract"),
    db: Database = Depends(get_db),
) -> UserOut:
    _manager(caller)
    with db.unit_of_work("contract", caller.actor) as session:
        user = _target(session, caller, user_id)
        service.change_role(session, user, body.role)
        session.flush()
        out = user_out(user)
    return out


@router.delete(
    "/users/{user_id}",
    tags=["users"],
    summary="Disable a user and end their sessions (a customer keeps at least one active admin)",
    status_code=204,
    response_class=Response,
    responses={**NO_CONTENT, **errors(409)},
)
def disable_user(
    user_id: uuid.UUID, caller: Caller = caller_api("contract"), db: Database = Depends(get_db)
) -> Response:
    _manager(caller)
    with db.unit_of_work("contract", caller.actor) as session:
        service.remove_user(session, _target(session, caller, user_id))
    return Response(status_code=204)


# --- signing in -------------------------------------------------------------------------------


def _sign_in(request: Request, db: Database, kind: PrincipalKind, body: LoginIn) -> service.SignIn:
    previous = request.cookies.get(COOKIE[kind])

    def attempt(session: Session) -> service.SignIn:
        signed = service.sign_in(
            session,
            kind=kind,
            email=body.email,
            password=body.password,
            ip=client_ip(request),
            cfg=auth_config(request),
        )
        if previous:
            service.end_session(session, previous)
        return signed

    return committed(db, kind, attempt)


def _second_factor(request: Request, db: Database, kind: PrincipalKind, code: str) -> None:
    token = request.cookies.get(COOKIE[kind])
    cfg = auth_config(request)

    def attempt(session: Session) -> bool:
        web = service.resolve_session(session, token, kind, cfg) if token else None
        if web is None:
            raise Unauthorized("sign in first")
        service.second_factor(session, web, code=code, ip=client_ip(request), cfg=cfg)
        return True

    committed(db, kind, attempt)


def _signed_in(
    request: Request, response: Response, settings: Settings, kind: PrincipalKind, signed: service.SignIn
) -> SignedIn:
    set_session_cookie(response, COOKIE[kind], signed.token, settings)
    return SignedIn(second_factor_required=signed.needs_second_factor, csrf_token=csrf_token(request))


def _end(db: Database, kind: PrincipalKind, token: str | None, principal_id: uuid.UUID | None) -> Response:
    """End one session (``token``) or all of a principal's sessions; clear the cookie."""
    with db.unit_of_work(service.purpose_of(kind), AUTH, record=False) as session:
        if principal_id is not None:
            service.end_all_sessions(session, kind, principal_id)
        elif token:
            service.end_session(session, token)
    response = Response(status_code=204)
    clear_session_cookie(response, COOKIE[kind])
    return response


@router.post(
    "/auth/login",
    tags=["authentication"],
    summary="Sign in as a customer's user (sets the lawful_portal cookie)",
    responses=errors(429),
)
def login(
    body: LoginIn,
    request: Request,
    response: Response,
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> SignedIn:
    return _signed_in(
        request, response, settings, PrincipalKind.user, _sign_in(request, db, PrincipalKind.user, body)
    )


@router.post(
    "/auth/second-factor",
    tags=["authentication"],
    summary="Complete the sign-in with the code from the authenticator app",
    responses=errors(429),
)
def second_factor(body: CodeIn, request: Request, db: Database = Depends(get_db)) -> SignedIn:
    _second_factor(request, db, PrincipalKind.user, body.code)
    return SignedIn(second_factor_required=False, csrf_token=csrf_token(request))


@router.post(
    "/auth/logout",
    tags=["authentication"],
    summary="Sign out this session",
    status_code=204,
    response_class=Response,
    responses=NO_CONTENT,
)
def logout(caller: CurrentUser = Depends(user_api), db: Database = Depends(get_db)) -> Response:
    return _end(db, PrincipalKind.user, caller.session_token, None)


@router.post(
    "/auth/logout-everywhere",
    tags=["authentication"],
    summary="Sign out every session of the signed-in user",
    status_code=204,
    response_class=Response,
    responses=NO_CONTENT,
)
def logout_everywhere(caller: CurrentUser = Depends(user_api), db: Database = Depends(get_db)) -> Response:
    return _end(db, PrincipalKind.user, None, caller.id)


@router.post(
    "/auth/password-reset",
    tags=["authentication"],
    summary="Ask for a link to choose a new password (the same answer whether the account exists or not)",
    status_code=202,
    responses={202: {"description": "accepted"}},
)
def request_reset(
    body: ResetIn, request: Request, tasks: BackgroundTasks, db: Database = Depends(get_db)
) -> Message:
    with db.unit_of_work("contract", AUTH) as session:
        service.request_password_reset(
            session, kind=PrincipalKind.user, email=body.email, cfg=auth_config(request)
        )
    deliver_after_response(request, tasks)
    return Message(message=RESET_ANSWER)


@router.post(
    "/auth/password-reset/confirm",
    tags=["authentication"],
    summary="Choose a new password with the link's token (ends every session)",
    status_code=204,
    response_class=Response,
    responses={**NO_CONTENT, **errors(410)},
)
def confirm_reset(body: NewPasswordIn, request: Request, db: Database = Depends(get_db)) -> Response:
    with db.unit_of_work("contract", AUTH) as session:
        service.reset_password(
            session,
            kind=PrincipalKind.user,
            token=body.token,
            password=body.password,
            cfg=auth_config(request),
        )
    return Response(status_code=204)


@router.post(
    "/auth/invitations/accept",
    tags=["authentication"],
    summary="Accept an invitation: choose a password with the token from the invitation mail",
    responses=errors(410),
)
def accept_invitation(body: NewPasswordIn, request: Request, db: Database = Depends(get_db)) -> UserOut:
    with db.unit_of_work("contract", AUTH) as session:
        user = service.accept_invitation(
            session, token=body.token, password=body.password, cfg=auth_config(request)
        )
        out = user_out(user)
    return out


# --- staff ------------------------------------------------------------------------------------


def _session_only(caller: CurrentStaff) -> CurrentStaff:
    if caller.via != "session":
        raise Forbidden("an API token cannot do this; sign in to the console")
    return caller


@router.post(
    "/staff-auth/login",
    tags=["authentication"],
    summary="Sign in as staff (sets the lawful_console cookie)",
    responses=errors(429),
)
def staff_login(
    body: LoginIn,
    request: Request,
    response: Response,
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> SignedIn:
    signed = _sign_in(request, db, PrincipalKind.staff, body)
    return _signed_in(request, response, settings, PrincipalKind.staff, signed)


@router.post(
    "/staff-auth/second-factor",
    tags=["authentication"],
    summary="Complete the staff sign-in with the code from the authenticator app",
    responses=errors(429),
)
def staff_second_factor(body: CodeIn, request: Request, db: Database = Depends(get_db)) -> SignedIn:
    _second_factor(request, db, PrincipalKind.staff, body.code)
    return SignedIn(second_factor_required=False, csrf_token=csrf_token(request))


@router.post(
    "/staff-auth/logout",
    tags=["authentication"],
    summary="Sign out this console session",
    status_code=204,
    response_class=Response,
    responses=NO_CONTENT,
)
def staff_logout(caller: CurrentStaff = staff_api(None), db: Database = Depends(get_db)) -> Response:
    _session_only(caller)
    return _end(db, PrincipalKind.staff, caller.session_token, None)


@router.post(
    "/staff-auth/logout-everywhere",
    tags=["authentication"],
    summary="Sign out every console session of the signed-in staff member",
    status_code=204,
    response_class=Response,
    responses=NO_CONTENT,
)
def staff_logout_everywhere(
    caller: CurrentStaff = staff_api(None), db: Database = Depends(get_db)
) -> Response:
    _session_only(caller)
    return _end(db, PrincipalKind.staff, None, caller.staff.id)


# --- API tokens -------------------------------------------------------------------------------
# A staff member manages their own tokens; the authentication actor writes them (any role may
# have tokens, while only admins act under staff_access for other staff members' accounts).


@router.get("/tokens", tags=["tokens"], summary="Your API tokens")
def list_tokens(caller: CurrentStaff = staff_api(None), db: Database = Depends(get_db)) -> TokenList:
    with db.unit_of_work("staff_access", AUTH) as session:
        items = [token_out(t) for t in repo.api_tokens_of(session, caller.staff.id)]
    return TokenList(items=items)


@router.post(
    "/tokens",
    tags=["tokens"],
    summary="Create an API token (shown once); it acts with your role",
    status_code=201,
)
def create_token(
    body: TokenIn, caller: CurrentStaff = staff_api(None), db: Database = Depends(get_db)
) -> TokenCreated:
    _session_only(caller)
    with db.unit_of_work("staff_access", AUTH) as session:
        secret, record = service.create_api_token(session, caller.staff, label=body.label, days=body.days)
        session.flush()
        out = TokenCreated(**token_out(record).model_dump(), token=secret)
    return out


@router.delete(
    "/tokens/{token_id}",
    tags=["tokens"],
    summary="Revoke one of your API tokens",
    status_code=204,
    response_class=Response,
    responses=NO_CONTENT,
)
def revoke_token(
    token_id: uuid.UUID, caller: CurrentStaff = staff_api(None), db: Database = Depends(get_db)
) -> Response:
    with db.unit_of_work("staff_access", AUTH) as session:
        service.revoke_api_token(session, caller.staff, token_id)
    return Response(status_code=204)
