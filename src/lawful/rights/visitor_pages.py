"""A website visitor's rights, from their own browser: see, download and erase their visits.

Visitors are known to Lawful only by a code of the day computed from their IP address and
browser under a random key that is destroyed after ``salt_lifetime_hours``. The page computes
the codes of the browser that opens it and shows the raw events still stored under them; the
visitor may download them (art. 15/20) or erase them (art. 17). Older events can no longer be
linked to anyone, and the page says so. To object (art. 21), a visitor turns on Global Privacy
Control or Do Not Track: ingestion then stores nothing of theirs. Each use is recorded as a
request (without any identifier, there being none).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.policy.model import Policy
from lawful.rights.access import FORMAT, monitoring_note
from lawful.rights.models import Channel, RequestKind, RequestStatus, RightsRequest, SubjectKind
from lawful.rights.service import PURPOSE, due_on
from lawful.rights.visitors import codes_for, delete_events, events_of
from lawful.web.auth import client_ip, csrf_protect
from lawful.web.deps import get_db, get_policy
from lawful.web.downloads import json_download
from lawful.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
VISITOR = Actor.system("rights:visitor")
PAGE = "/privacy/my-visits"


def _events(db: Database, request: Request) -> tuple[list[int], list[dict[str, Any]]]:
    with db.purposes(VISITOR, "monitoring") as work:
        codes = codes_for(work, client_ip(request), request.headers.get("user-agent", ""))
        return codes, events_of(work, codes)


def _record(db: Database, kind: RequestKind, outcome: dict[str, object]) -> None:
    now = datetime.now(UTC)
    with db.unit_of_work(PURPOSE, VISITOR) as session:
        session.add(
            RightsRequest(
                kind=kind,
                status=RequestStatus.completed,
                channel=Channel.website,
                subject_kind=SubjectKind.visitor,
                received_at=now,
                due_on=due_on(now),
                verified_at=now,
                completed_at=now,
                outcome=json.dumps(outcome),
            )
        )


@router.get(PAGE, response_class=HTMLResponse)
def my_visits(
    request: Request, db: Database = Depends(get_db), policy: Policy = Depends(get_policy)
) -> HTMLResponse:
    _, events = _events(db, request)
    context = {
        "title": "Your visits",
        "area_name": "Privacy",
        "nav": [],
        "current": PAGE,
        "who": None,
        "flashes": [("ok", "Erased.")] if request.query_params.get("erased") else [],
        "events": events,
        "explanation": monitoring_note(policy),
        "measures": policy.monitoring,
        "organisation": policy.organisation,
    }
    return templates.TemplateResponse(request, "visitor/my_visits.html", context)


@router.get(PAGE + ".json")
def my_visits_json(
    request: Request, db: Database = Depends(get_db), policy: Policy = Depends(get_policy)
) -> Response:
    _, events = _events(db, request)
    _record(db, RequestKind.access, {"events": len(events)})
    body = {
        "format": FORMAT,
        "scope": "access",
        "subject": {"kind": SubjectKind.visitor.value, "data_subject": "anonymous_user"},
        "generated_at": datetime.now(UTC).isoformat(),
        "monitoring": {"explanation": monitoring_note(policy), "linked_events": events},
    }
    return json_download(body, "my-visits.json")


@router.post(PAGE + "/erase")
def erase_my_visits(request: Request, db: Database = Depends(get_db)) -> Response:
    codes, _ = _events(db, request)
    with db.purposes(VISITOR, "monitoring") as work:
        removed = delete_events(work, codes)
    _record(db, RequestKind.erasure, {"page_events_deleted": removed})
    return RedirectResponse(PAGE + "?erased=1", status_code=303)
