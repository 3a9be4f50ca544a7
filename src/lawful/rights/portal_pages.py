"""Portal pages where a signed-in user uses their rights, and the page that confirms a request.

- ``/portal/rights``: the user's own requests (kind, received, deadline, status, outcome) and a
  form for each kind. Filing goes through :func:`lawful.rights.service.file_from_portal`, which
  answers access, portability and objection at once; the other kinds wait for the privacy officer.
- ``/portal/rights/{id}/package.json``, ``report.html``, ``report.pdf`` (access) and
  ``package.json``, ``tables.zip`` (portability: JSON, and a CSV per table): made when downloaded
  (:func:`lawful.rights.service.package_of`), so they are current. A request that is not the
  user's own is not found, whatever its id.
- ``/portal/rights/objection/withdraw``: the user withdraws their objection to monitoring.
- ``/rights/verify?token=...``: the link mailed to someone whose request arrived by e-mail, phone
  or letter. Opening it changes nothing (mail scanners open links); the button posts the token.
  The answer is the same for every token that does not confirm a request (unknown, used or
  expired), and never says whether Lawful holds data about anyone.

Requests are read under ``accountability`` as the signed-in user; the package is made by the
rights service as the system. Messages after a redirect are fixed texts chosen by a key.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from lawful.data.db import Database
from lawful.errors import Invalid, LawfulError, NotFound, TooManyRequests
from lawful.policy.model import Policy
from lawful.rights import render as report
from lawful.rights import service
from lawful.rights.models import RequestKind, RequestStatus, RightsRequest, SubjectKind
from lawful.rights.service import Browser
from lawful.web.auth import CurrentUser, client_ip, csrf_protect, current_user
from lawful.web.deps import get_db, get_policy
from lawful.web.downloads import download
from lawful.web.portal import portal_context, render
from lawful.web.ratelimit import RateLimiter
from lawful.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

PURPOSE = service.PURPOSE
PAGE = "/portal/rights"
SHOWN = 100  # requests on the page, newest first
VERIFY = "/rights/verify"
TOKEN = re.compile(r"[A-Za-z0-9_-]{20,200}")
VERIFY_LIMIT = 10  # confirmations tried per address and window
VERIFY_WINDOW_S = 600.0

FormStr = Annotated[str, Form()]

# Messages shown after a redirect (``?done=<key>``): fixed texts, never words taken from the URL.
NOTICES = {
    "access": "Your data is ready: download it below.",
    "portability": "Your copy is ready: download it below.",
    "rectification": "We received your request for a correction and answer it within one month.",
    "erasure": (
        "We received your request for erasure and answer it within one month. "
        "Until then your account stays as it is."
    ),
    "restriction": "We received your request to restrict the processing and answer it within one month.",
    "objection": "Your objection is recorded: we no longer measure how you use our services.",
    "withdrawn": "Your objection is withdrawn: we measure your use of our services again from now on.",
}

STATUS = {
    RequestStatus.unverified: "waiting for your confirmation",
    RequestStatus.open: "received",
    RequestStatus.extended: "extended",
    RequestStatus.completed: "done",
    RequestStatus.refused: "refused",
    RequestStatus.withdrawn: "withdrawn",
}

DOWNLOADS = {
    RequestKind.access: [
        ("package.json", "Your data (JSON)"),
        ("report.html", "Readable report (HTML)"),
        ("report.pdf", "Readable report (PDF)"),
    ],
    RequestKind.portability: [
        ("package.json", "Your data (JSON)"),
        ("tables.zip", "Your data as CSV, a file per table (ZIP)"),
    ],
}

#: What each form says; the order is the order of the forms on the page.
FORMS = [
    (
        RequestKind.access,
        "See your data",
        "Everything we hold about you, why, on what basis, for how long, where it came from, who "
        "received it and who processed it, as a readable report and as a JSON file. Ready at once.",
        "Get my data",
    ),
    (
        RequestKind.portability,
        "Take your data elsewhere",
        "The data you gave us that we process to perform our agreement, in a machine-readable "
        "form (JSON, and CSV per table), to take to another service. Ready at once.",
        "Get a copy",
    ),
    (
        RequestKind.rectification,
        "Correct your data",
        "Tell us what is wrong and what it should be. We correct it and let you know.",
        "Ask for the correction",
    ),
    (
        RequestKind.erasure,
        "Erase your data",
        "",
        "Ask for erasure",
    ),
    (
        RequestKind.restriction,
        "Restrict the processing",
        "While you contest the accuracy of your data or the lawfulness of its processing, we only "
        "store your data and do nothing else with it. Tell us why, if you like.",
        "Ask for the restriction",
    ),
]


def browser_of(request: Request) -> Browser:
    """The address (from trusted proxies only: see :func:`client_ip`) and browser of a request."""
    return Browser(client_ip(request), request.headers.get("user-agent", "")[:512])


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --- the user's requests --------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestRow:
    id: uuid.UUID
    kind: str
    title: str
    article: str
    received: datetime
    deadline: date
    extended: bool
    status: str
    outcome: str
    downloads: list[tuple[str, str]]


def _count(value: object) -> int:
    return value if isinstance(value, int) else 0


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def outcome_summary(found: RightsRequest) -> str:
    """What became of a request, in a sentence (from its outcome, which holds no personal data)."""
    if found.status is RequestStatus.refused:
        return f"Refused: {found.refusal_reason or 'see our e-mail'}."
    if found.status is RequestStatus.extended and found.extended_to is not None:
        reason = f" {found.extension_reason}" if found.extension_reason else ""
        return f"We need more time: you will have our answer by {found.extended_to:%d %B %Y}.{reason}"
    if found.status.pending:
        return "We are working on it."
    if found.status is RequestStatus.withdrawn:
        return "Withdrawn."
    try:
        outcome: dict[str, Any] = json.loads(found.outcome or "{}")
    except ValueError:
        outcome = {}
    if outcome.get("found") is False:
        return "We hold no personal data about you."
    kind = found.kind
    if kind in (RequestKind.access, RequestKind.portability):
        return "Ready: download it (it is made afresh each time, so it is always current)."
    if kind is RequestKind.objection:
        text = (
            "We stopped measuring how you use our services; "
            f"{_plural(_count(outcome.get('usage_events_unlinked')), 'usage event')} no longer linked to you, "
            f"{_plural(_count(outcome.get('page_events_removed')), 'page event')} deleted."
        )
        if found.withdrawn_at is not None:
            text += f" You withdrew the objection on {found.withdrawn_at:%d %B %Y}."
        return text
    if kind is RequestKind.erasure:
        erased = outcome.get("erased") or []
        kept = outcome.get("kept") or []
        text = f"Erased: {_plural(sum(_count(e.get('rows')) for e in erased), 'record')}."
        if kept:
            text += " Kept because a law obliges us: " + "; ".join(
                f"{k.get('table')} until {k.get('until') or 'the law allows'}" for k in kept
            )
        return text
    if kind is RequestKind.restriction:
        return "The processing of your data is restricted: we only store it."
    return str(outcome.get("note") or "Done.")


def _row(found: RightsRequest) -> RequestRow:
    done = found.status is RequestStatus.completed
    return RequestRow(
        id=found.id,
        kind=found.kind.value,
        title=found.kind.label[0].upper() + found.kind.label[1:],
        article=found.kind.article,
        received=found.received_at,
        deadline=found.deadline,
        extended=found.extended_to is not None,
        status=STATUS[found.status],
        outcome=outcome_summary(found),
        downloads=[(f"{PAGE}/{found.id}/{name}", label) for name, label in DOWNLOADS.get(found.kind, [])]
        if done
        else [],
    )


def requests_of(db: Database, caller: CurrentUser) -> list[RequestRow]:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        found = session.scalars(
            select(RightsRequest)
            .where(RightsRequest.subject_kind == SubjectKind.user, RightsRequest.subject_id == caller.id)
            .order_by(RightsRequest.received_at.desc())
            .limit(SHOWN)
        ).all()
        return [_row(r) for r in found]


def _rights_page(
    request: Request,
    caller: CurrentUser,
    db: Database,
    policy: Policy,
    *,
    error: LawfulError | None = None,
    form: Mapping[str, str] | None = None,
) -> HTMLResponse:
    flashes: list[tuple[str, str]] = []
    done = request.query_params.get("done")
    if done in NOTICES:
        flashes.append(("ok", NOTICES[done]))
    if error is not None:
        flashes.append(("error", error.message))
    try:
        kept = policy.purpose("legal_obligation").basis_explanation
    except KeyError:
        kept = ""
    context = portal_context(
        request,
        caller,
        current=PAGE,
        title="My requests",
        flashes=flashes,
        requests=requests_of(db, caller),
        forms=[(kind.value, heading, text, button, kind.article) for kind, heading, text, button in FORMS],
        objected_at=caller.user.monitoring_objection_at,
        tax_law=kept,
        organisation=policy.organisation,
        form=dict(form or {}),
    )
    return render(request, "rights/requests.html", context, error.status if error else 200)


@router.get(PAGE, response_class=HTMLResponse)
def rights_page(
    request: Request,
    caller: CurrentUser = Depends(current_user),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
) -> Response:
    return _rights_page(request, caller, db, policy)


@router.post(PAGE, response_class=HTMLResponse)
def file_request(
    request: Request,
    kind: FormStr = "",
    details: FormStr = "",
    confirm: FormStr = "",
    caller: CurrentUser = Depends(current_user),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
) -> Response:
    """File a request about oneself; access, portability and objection are answered at once."""
    try:
        if kind == RequestKind.erasure and confirm != "yes":
            raise Invalid(
                "tick the box to confirm that you understand what erasure does", detail={"field": "confirm"}
            )
        filed = service.file_from_portal(
            db, caller.user, kind=kind, details=details, browser=browser_of(request)
        )
    except Invalid as exc:
        return _rights_page(request, caller, db, policy, error=exc, form={"kind": kind, "details": details})
    return _see_other(f"{PAGE}?done={filed.kind.value}#request-{filed.id}")


@router.post(f"{PAGE}/objection/withdraw")
def withdraw(caller: CurrentUser = Depends(current_user), db: Database = Depends(get_db)) -> Response:
    service.withdraw_objection(db, caller.id, actor=caller.actor)
    return _see_other(f"{PAGE}?done=withdrawn")


# --- downloads ------------------------------------------------------------------------------------


def own_request(
    db: Database, caller: CurrentUser, request_id: uuid.UUID, kind: RequestKind | None
) -> RightsRequest:
    """The caller's own completed access or portability request; anything else is not found."""
    kinds = [kind] if kind is not None else list(DOWNLOADS)
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        found = session.scalar(
            select(RightsRequest).where(
                RightsRequest.id == request_id,
                RightsRequest.subject_kind == SubjectKind.user,
                RightsRequest.subject_id == caller.id,
                RightsRequest.kind.in_(kinds),
                RightsRequest.status == RequestStatus.completed,
            )
        )
        if found is None:
            raise NotFound("you have no such request ready to download")
        session.expunge(found)
    return found


Packaged = tuple[RightsRequest, dict[str, Any]]


def packaged(kind: RequestKind | None) -> Any:
    """A dependency: the caller's own completed request of ``kind`` (None: either kind that is
    downloaded) from the path's ``request_id``, and its package, made now."""

    def dependency(
        request: Request,
        request_id: uuid.UUID,
        caller: CurrentUser = Depends(current_user),
        db: Database = Depends(get_db),
    ) -> Packaged:
        found = own_request(db, caller, request_id, kind)
        return found, service.package_of(db, found, browser=browser_of(request))

    return Depends(dependency)


def _download(
    content: bytes, media_type: str, found: RightsRequest, suffix: str, *, inline: bool = False
) -> Response:
    return download(content, media_type, f"personal-data-{found.id}.{suffix}", inline=inline, nosniff=True)


@router.get(f"{PAGE}/{{request_id}}/package.json")
def package_json(made: Packaged = packaged(None)) -> Response:
    found, package = made
    content = json.dumps(package, indent=2, ensure_ascii=False).encode()
    return _download(content, "application/json", found, "json")


@router.get(f"{PAGE}/{{request_id}}/report.html")
def report_html(
    made: Packaged = packaged(RequestKind.access), policy: Policy = Depends(get_policy)
) -> Response:
    found, package = made
    response = _download(
        report.to_html(package, policy=policy).encode(),
        "text/html; charset=utf-8",
        found,
        "html",
        inline=True,
    )
    # The report is the person's own data shown as a page: it runs nothing and loads nothing.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


@router.get(f"{PAGE}/{{request_id}}/report.pdf")
def report_pdf(
    made: Packaged = packaged(RequestKind.access), policy: Policy = Depends(get_policy)
) -> Response:
    found, package = made
    return _download(report.to_pdf(package, policy=policy), "application/pdf", found, "pdf")


def csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def table_csv(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """One table's rows as CSV (UTF-8 with a byte-order mark, which spreadsheets need)."""
    rows = list(rows)
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_value(row.get(c)) for c in columns])
    return ("\ufeff" + out.getvalue()).encode()


def package_zip(package: Mapping[str, Any]) -> bytes:
    """The package as JSON with a CSV file per table, in one ZIP."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("personal-data.json", json.dumps(package, indent=2, ensure_ascii=False))
        for entry in package.get("data") or []:
            archive.writestr(f"{entry['table']}.csv", table_csv(entry.get("rows") or []))
    return buffer.getvalue()


@router.get(f"{PAGE}/{{request_id}}/tables.zip")
def tables_zip(made: Packaged = packaged(RequestKind.portability)) -> Response:
    found, package = made
    return _download(package_zip(package), "application/zip", found, "zip")


# --- confirming a request from its mailed link ------------------------------------------------------


def verify_throttle(request: Request) -> RateLimiter:
    """At most :data:`VERIFY_LIMIT` confirmations per address in a sliding window (in this process)."""
    throttle = getattr(request.app.state, "rights_verify_throttle", None)
    if not isinstance(throttle, RateLimiter):
        throttle = RateLimiter(VERIFY_LIMIT, VERIFY_WINDOW_S)
        request.app.state.rights_verify_throttle = throttle
    return throttle


def _verify_page(
    request: Request, policy: Policy, *, token: str, state: str, status: int = 200
) -> HTMLResponse:
    """``state``: ``ask`` (the button), ``confirmed`` or ``invalid``."""
    context = portal_context(
        request,
        None,
        title="Confirm your request",
        area_name=policy.organisation.name,
        home="/privacy",
        token=token if state == "ask" else "",
        state=state,
        organisation=policy.organisation,
        months=service.DEADLINE.months,
    )
    response = templates.TemplateResponse(request, "rights/verify.html", context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the address
    return response


@router.get(VERIFY, response_class=HTMLResponse)
def verify_form(
    request: Request,
    token: Annotated[str, Query(max_length=1000)] = "",
    policy: Policy = Depends(get_policy),
) -> Response:
    """The page the mailed link opens: it only offers the button (GET changes nothing)."""
    if not TOKEN.fullmatch(token):
        return _verify_page(request, policy, token="", state="invalid", status=410)
    return _verify_page(request, policy, token=token, state="ask")


@router.post(VERIFY, response_class=HTMLResponse)
def verify(
    request: Request,
    token: FormStr = "",
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
) -> Response:
    if not verify_throttle(request).allow(client_ip(request)):
        raise TooManyRequests("too many attempts from this address; try again in a few minutes")
    if TOKEN.fullmatch(token) and service.verify(db, token):
        return _verify_page(request, policy, token="", state="confirmed")
    return _verify_page(request, policy, token="", state="invalid", status=410)
