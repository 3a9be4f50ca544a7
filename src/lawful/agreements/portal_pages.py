"""The portal's page of changes to the privacy statement (``/portal/privacy-changes``).

Every portal page shows a banner while a signed-in user has not read the changes to the
statement in force (:func:`lawful.web.portal.portal_context`). This page shows them: the statement
in force with what changed since the version the user last saw (removed words struck through,
added ones marked, the unchanged paragraphs muted; ``?only=changes`` shows the changed paragraphs
only). Opening it records the notice as shown; "I have read the changes" records it as read, and
the banner goes away. Everything is read and written under ``contract`` as the signed-in user,
about that user only (:mod:`lawful.agreements.notices`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from lawful.agreements import documents, notices
from lawful.agreements.models import DocumentKind, DocumentVersion
from lawful.data.db import Database
from lawful.web import portal
from lawful.web.auth import CurrentUser, csrf_protect, current_user
from lawful.web.deps import get_db

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

PURPOSE = "contract"
PAGE = "/portal/privacy-changes"
NEWER = "The privacy statement changed again while you were reading. These are all the changes."


@dataclass(frozen=True, slots=True)
class VersionView:
    digest: str
    published_at: datetime

    @property
    def short(self) -> str:
        return self.digest[:12]

    @classmethod
    def of(cls, row: DocumentVersion) -> VersionView:
        return cls(row.digest, row.published_at)


@dataclass(frozen=True, slots=True)
class ChangesView:
    since: VersionView
    current: VersionView
    diff: Markup
    changed: int


def _page(
    request: Request,
    caller: CurrentUser,
    *,
    changes: ChangesView | None,
    current: VersionView | None,
    only: bool,
    flashes: list[tuple[str, str]] | None = None,
) -> HTMLResponse:
    context = portal.portal_context(
        request,
        caller,
        title="Changes to our privacy statement",
        flashes=flashes or [],
        statement_notice=False,
        changes=changes,
        version=current,
        only=only,
        page=PAGE,
    )
    return portal.render(request, "privacy/changes.html", context)


@router.get(PAGE, response_class=HTMLResponse)
def changes_page(
    request: Request,
    only: str = "",
    newer: str = "",
    caller: CurrentUser = Depends(current_user),
    db: Database = Depends(get_db),
) -> Response:
    changes_only = only == "changes"
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        notice = notices.notice_for(session, caller.user)
        if notice is None:
            row = documents.current(session, DocumentKind.statement)
            current = VersionView.of(row) if row is not None else None
            changes = None
        else:
            notices.mark_shown(session, caller.user, notice)
            current = VersionView.of(notice.current)
            changes = ChangesView(
                since=VersionView.of(notice.since),
                current=current,
                diff=notice.html(context=not changes_only),
                changed=notice.changed,
            )
    flashes = [("error", NEWER)] if newer and changes is not None else []
    return _page(request, caller, changes=changes, current=current, only=changes_only, flashes=flashes)


@router.post(PAGE)
def read_changes(
    request: Request,
    version: str = Form(""),
    caller: CurrentUser = Depends(current_user),
    db: Database = Depends(get_db),
) -> Response:
    """Record the changes as read, if they are the ones the page showed (``version``: its digest);
    a version published since is shown first."""
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        notice = notices.notice_for(session, caller.user)
        if notice is not None and notice.current.digest != version:
            return RedirectResponse(f"{PAGE}?newer=1", status_code=303)
        if notice is not None:
            notices.mark_read(session, caller.user, notice)
    return RedirectResponse(f"{portal.HOME}?ok=statement_read", status_code=303)
