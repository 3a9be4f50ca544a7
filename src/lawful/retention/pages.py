"""Retention in the console and the API: what expires next, and the log of runs.

``/console/retention`` (and ``/console/retention/runs/{id}``), ``GET /api/v1/retention/next`` and
``GET /api/v1/retention/runs`` are for staff acting under ``accountability`` (the administrator and
the privacy officer): the retention log is how the company accounts for what it deleted. The
forecast of what expires next reads only dates and counts, under each rule's own purpose, as the
retention job itself (``system:retention``): no person's data reaches the page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from lawful.data.db import Database
from lawful.errors import NotFound
from lawful.retention import sweeper
from lawful.retention.models import RetentionAction, RetentionRun
from lawful.web.api import Limit, Offset, staff_api
from lawful.web.auth import CurrentStaff, csrf_protect, staff_under
from lawful.web.console import render
from lawful.web.deps import get_db
from lawful.web.errors import ERROR_RESPONSES

pages = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api = APIRouter(
    prefix="/api/v1/retention",
    tags=["retention"],
    responses=ERROR_RESPONSES,
    dependencies=[Depends(csrf_protect)],
)

PURPOSE = "accountability"
RUNS_SHOWN = 20
HERE = "/console/retention"


@dataclass(frozen=True)
class RunView:
    run: RetentionRun
    actions: list[RetentionAction]

    @property
    def changed(self) -> list[RetentionAction]:
        return [a for a in self.actions if a.rows]

    @property
    def quiet(self) -> int:
        """Rules that found nothing to expire in this run."""
        return len(self.actions) - len(self.changed)


def recent_runs(session: Session, *, limit: int = RUNS_SHOWN, offset: int = 0) -> list[RunView]:
    """The newest runs (by when they really started) with their actions."""
    runs = list(
        session.scalars(
            select(RetentionRun)
            .order_by(RetentionRun.started_at.desc(), RetentionRun.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
    return [RunView(run, actions_of(session, run.id)) for run in runs]


def actions_of(session: Session, run_id: uuid.UUID) -> list[RetentionAction]:
    return list(
        session.scalars(
            select(RetentionAction)
            .where(RetentionAction.run_id == run_id)
            .order_by(RetentionAction.rows.desc(), RetentionAction.table_name, RetentionAction.id)
        )
    )


@pages.get(HERE, response_class=HTMLResponse)
def overview(
    request: Request,
    caller: CurrentStaff = staff_under(PURPOSE),
    db: Database = Depends(get_db),
) -> Response:
    now = datetime.now(UTC)
    upcoming = sweeper.upcoming(db, now=now)
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        runs = recent_runs(session)
    return render(
        request,
        "console/retention/overview.html",
        caller,
        current=HERE,
        title="Retention",
        today=now.date(),
        upcoming=upcoming,
        runs=runs,
    )


@pages.get(HERE + "/runs/{run_id}", response_class=HTMLResponse)
def run_detail(
    request: Request,
    run_id: uuid.UUID,
    caller: CurrentStaff = staff_under(PURPOSE),
    db: Database = Depends(get_db),
) -> Response:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        run = session.get(RetentionRun, run_id)
        if run is None:
            raise NotFound("no retention run with that id")
        view = RunView(run, actions_of(session, run_id))
    return render(
        request,
        "console/retention/run.html",
        caller,
        current=HERE,
        title=f"Retention run of {run.clock:%Y-%m-%d %H:%M} UTC",
        view=view,
    )


# --- the API ----------------------------------------------------------------------------------


class UpcomingOut(BaseModel):
    table: str
    data: str = Field(description="the kind of data, in the policy's words")
    categories: list[str] = Field(description="fideslang keys")
    purpose: str
    rule: str = Field(description="how long it is kept, e.g. '30 days after it was collected'")
    action: str = Field(description="delete, anonymise, unlink or erase")
    on: date | None = Field(description="the next day something expires; null: nothing held now")
    rows: int = Field(description="how many rows will have expired by then")


class UpcomingList(BaseModel):
    at: datetime
    items: list[UpcomingOut]


class ActionOut(BaseModel):
    table: str
    data: str
    categories: list[str]
    purpose: str
    rule: str
    action: str
    cutoff: str
    rows: int


class RunOut(BaseModel):
    id: uuid.UUID
    clock: datetime = Field(description="the moment the rules were applied at")
    started_at: datetime
    finished_at: datetime | None
    dry_run: bool
    actor: str
    rows: int
    actions: list[ActionOut]


class RunList(BaseModel):
    items: list[RunOut]
    limit: int
    offset: int


def _keys(text: str) -> list[str]:
    return [k for k in text.split(",") if k]


def _described(table: str, item: sweeper.Upcoming | RetentionAction) -> dict[str, Any]:
    """The fields a rule's forecast and a run's action share, for :class:`UpcomingOut` and :class:`ActionOut`."""
    return {
        "table": table,
        "data": item.data,
        "categories": _keys(item.category),
        "purpose": item.purpose,
        "rule": item.rule,
        "action": item.action,
        "rows": item.rows,
    }


@api.get("/next", summary="What expires next, per retention rule (purpose: accountability)")
def next_expiring(
    caller: CurrentStaff = staff_api(PURPOSE),
    db: Database = Depends(get_db),
    limit: Limit = 100,
) -> UpcomingList:
    now = datetime.now(UTC)
    items = [
        UpcomingOut(**_described(u.table, u), on=u.on) for u in sweeper.upcoming(db, now=now, limit=limit)
    ]
    return UpcomingList(at=now, items=items)


@api.get("/runs", summary="The retention runs and what each did, newest first (purpose: accountability)")
def runs(
    caller: CurrentStaff = staff_api(PURPOSE),
    db: Database = Depends(get_db),
    limit: Limit = 20,
    offset: Offset = 0,
) -> RunList:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        views = recent_runs(session, limit=limit, offset=offset)
        items = [
            RunOut(
                id=v.run.id,
                clock=v.run.clock,
                started_at=v.run.started_at,
                finished_at=v.run.finished_at,
                dry_run=v.run.dry_run,
                actor=v.run.actor,
                rows=v.run.rows,
                actions=[ActionOut(**_described(a.table_name, a), cutoff=a.cutoff) for a in v.actions],
            )
            for v in views
        ]
    return RunList(items=items, limit=limit, offset=offset)


router = APIRouter()
router.include_router(pages)
router.include_router(api)
