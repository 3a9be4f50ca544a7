"""The staff member's own account in the console: password, two-step sign-in and API tokens.

A staff member manages their own account under the internal ``staff_access`` purpose. Most roles
are not granted that purpose (it would open other staff members' accounts to them), so the
authentication system acts for them here, as it does when they sign in; the processing log
records it with the staff member as the subject.
"""

from __future__ import annotations

import re
import uuid

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from lawful.data.db import Database
from lawful.errors import Invalid, LawfulError
from lawful.users import repository as users_repository
from lawful.users import service
from lawful.users.models import PrincipalKind, Staff
from lawful.users.security import new_totp_secret, totp_qr_svg, totp_uri
from lawful.web.auth import AUTH, CurrentStaff, auth_config, csrf_protect, current_staff
from lawful.web.console import redirect, render
from lawful.web.deps import get_db

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

SECRET = re.compile(r"[A-Z2-7]{16,64}")


def _profile(
    request: Request,
    caller: CurrentStaff,
    db: Database,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    setup_secret: str | None = None,
    new_token: str | None = None,
) -> HTMLResponse:
    with db.unit_of_work("staff_access", AUTH) as session:
        staff = users_repository.by_id(session, PrincipalKind.staff, caller.staff.id)
        assert isinstance(staff, Staff)
        tokens = users_repository.api_tokens_of(session, staff.id)
        totp_on = staff.totp_secret is not None
    qr: Markup | None = None
    if setup_secret is not None:
        issuer = f"{request.app.state.policy.organisation.name} console"
        qr = Markup(totp_qr_svg(totp_uri(setup_secret, account=staff.email, issuer=issuer)))
    return render(
        request,
        "console/profile.html",
        caller,
        current="/console/profile",
        title="Profile",
        status_code=status_code,
        staff=staff,
        tokens=tokens,
        totp_on=totp_on,
        setup_secret=setup_secret,
        qr=qr,
        errors=errors or {},
        new_token=new_token,
    )


@router.get("/console/profile", response_class=HTMLResponse)
def profile(
    request: Request,
    setup: str | None = None,
    caller: CurrentStaff = Depends(current_staff),
    db: Database = Depends(get_db),
) -> Response:
    secret = new_totp_secret() if setup == "totp" else None
    return _profile(request, caller, db, setup_secret=secret)


@router.post("/console/profile/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    current_password: str = Form(""),
    new_password: str = Form(""),
    caller: CurrentStaff = Depends(current_staff),
    db: Database = Depends(get_db),
) -> Response:
    error: LawfulError | None = None
    with db.unit_of_work("staff_access", AUTH) as session:
        staff = users_repository.by_id(session, PrincipalKind.staff, caller.staff.id)
        assert staff is not None
        try:
            service.change_password(
                session, staff, current=current_password, new=new_password, cfg=auth_config(request)
            )
        except LawfulError as exc:
            error = exc
    if error is not None:
        return _profile(request, caller, db, status_code=error.status, errors={"password": error.message})
    return redirect("/console/profile?done=password")


@router.post("/console/profile/totp", response_class=HTMLResponse)
def turn_on_totp(
    request: Request,
    secret: str = Form(""),
    code: str = Form(""),
    caller: CurrentStaff = Depends(current_staff),
    db: Database = Depends(get_db),
) -> Response:
    error: LawfulError | None = None
    if not SECRET.fullmatch(secret):
        error = Invalid("the set-up expired; start again")
    else:
        with db.unit_of_work("staff_access", AUTH) as session:
            staff = users_repository.by_id(session, PrincipalKind.staff, caller.staff.id)
            assert staff is not None
            try:
                service.enable_totp(staff, secret=secret, code=code)
            except LawfulError as exc:
                error = exc
    if error is not None:
        return _profile(
            request,
            caller,
            db,
            status_code=error.status,
            errors={"totp": error.message},
            setup_secret=secret if SECRET.fullmatch(secret) else new_totp_secret(),
        )
    return redirect("/console/profile?done=totp-on")


@router.post("/console/profile/totp/off", response_class=HTMLResponse)
def turn_off_totp(
    request: Request,
    password: str = Form(""),
    caller: CurrentStaff = Depends(current_staff),
    db: Database = Depends(get_db),
) -> Response:
    error: LawfulError | None = None
    with db.unit_of_work("staff_access", AUTH) as session:
        staff = users_repository.by_id(session, PrincipalKind.staff, caller.staff.id)
        assert staff is not None
        try:
            service.disable_totp(staff, password=password, cfg=auth_config(request))
        except LawfulError as exc:
            error = exc
    if error is not None:
        return _profile(request, caller, db, status_code=error.status, errors={"totp_off": error.message})
    return redirect("/console/profile?done=totp-off")


@router.post("/console/profile/tokens", response_class=HTMLResponse)
def create_token(
    request: Request,
    label: str = Form(""),
    caller: CurrentStaff = Depends(current_staff),
    db: Database = Depends(get_db),
) -> Response:
    error: LawfulError | None = None
    token: str | None = None
    with db.unit_of_work("staff_access", AUTH) as session:
        staff = users_repository.by_id(session, PrincipalKind.staff, caller.staff.id)
        assert isinstance(staff, Staff)
        try:
            token, _ = service.create_api_token(session, staff, label=label)
        except LawfulError as exc:
            error = exc
    if error is not None:
        return _profile(request, caller, db, status_code=error.status, errors={"token": error.message})
    # Shown once, in this response; only its hash is stored.
    return _profile(request, caller, db, status_code=201, new_token=token)


@router.post("/console/profile/tokens/{token_id}/revoke")
def revoke_token(
    token_id: uuid.UUID, caller: CurrentStaff = Depends(current_staff), db: Database = Depends(get_db)
) -> Response:
    with db.unit_of_work("staff_access", AUTH) as session:
        staff = users_repository.by_id(session, PrincipalKind.staff, caller.staff.id)
        assert isinstance(staff, Staff)
        service.revoke_api_token(session, staff, token_id)
    return redirect("/console/profile?done=token-revoked")
