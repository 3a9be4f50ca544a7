"""JSON API of the analytics (purpose ``monitoring``): sites, figures, top lists, raw export.

Figures and sites are totals or carry no personal data, so an aggregates-only role (analyst)
reaches them; the raw export is per-event data, for roles that may see individual rows. A
range is ``from``/``to`` (ISO dates, both included, UTC days; by default the last 30 days).
Visitors over a range are the sum of the daily visitors: visitor codes change every day.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.errors import Forbidden
from lawful.monitoring import stats
from lawful.monitoring.models import Site
from lawful.monitoring.rollups import PURPOSE, timeout_ms_of
from lawful.monitoring.sessions import Figures
from lawful.policy.model import Policy
from lawful.web.api import NO_NUL, Input, errors, staff_api
from lawful.web.auth import CurrentStaff, csrf_protect
from lawful.web.deps import get_db, get_policy
from lawful.web.errors import ERROR_RESPONSES

router = APIRouter(
    prefix="/api/v1", tags=["analytics"], responses=ERROR_RESPONSES, dependencies=[Depends(csrf_protect)]
)


def monitoring_staff(*, individual: bool) -> Any:
    """A dependency: a staff member whose role acts under ``monitoring``.

    ``individual``: the route shows per-event data, which an aggregates-only role may not see.
    Nobody signed in gets 401, a customer's user 403.
    """

    def dependency(
        caller: CurrentStaff = staff_api(None), policy: Policy = Depends(get_policy)
    ) -> CurrentStaff:
        if not policy.role_may(caller.role, PURPOSE):
            raise Forbidden(
                f"your role ({caller.role}) does not act under the purpose {PURPOSE!r}",
                detail={"purpose": PURPOSE, "role": caller.role},
            )
        role = policy.roles.get(caller.role)
        if individual and role is not None and role.aggregates_only:
            raise Forbidden(f"your role ({caller.role}) sees totals only")
        return caller

    return Depends(dependency)


TOTALS = monitoring_staff(individual=False)
ROWS = monitoring_staff(individual=True)


# --- models -----------------------------------------------------------------------------------


class SiteIn(Input):
    domain: str = Field(
        max_length=253, pattern=NO_NUL, description="the host name the tracker tag names (data-site)"
    )
    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL)


class SiteOut(BaseModel):
    id: uuid.UUID
    domain: str
    name: str
    active: bool
    created_at: datetime


class SiteList(BaseModel):
    items: list[SiteOut]


class FiguresOut(BaseModel):
    visitors: int = Field(description="distinct visitors per day, summed over the days")
    visits: int
    pageviews: int
    events: int = Field(description="custom events and outbound links")
    bounces: int = Field(description="visits with one page view and under 10 s of engaged time")
    bounce_rate: float = Field(description="bounces / visits, 0 to 1")
    views_per_visit: float
    average_visit_seconds: float = Field(description="from first to last event of a visit")


class Summary(FiguresOut):
    site_id: uuid.UUID
    start: date
    end: date


class DayOut(FiguresOut):
    day: date


class Timeseries(BaseModel):
    site_id: uuid.UUID
    start: date
    end: date
    days: list[DayOut]


class ItemOut(FiguresOut):
    value: str = Field(description='the page, host, browser…; "" is a direct visit or an unknown value')


class TopList(BaseModel):
    site_id: uuid.UUID
    start: date
    end: date
    dimension: str
    items: list[ItemOut]


class Realtime(BaseModel):
    site_id: uuid.UUID
    visitors: int = Field(description="distinct visitors with an event in the last minutes")
    minutes: int
    at: datetime


def figures_out(f: Figures) -> dict[str, Any]:
    return {
        "visitors": f.visitors,
        "visits": f.visits,
        "pageviews": f.pageviews,
        "events": f.events,
        "bounces": f.bounces,
        "bounce_rate": round(f.bounce_rate, 4),
        "views_per_visit": round(f.views_per_visit, 2),
        "average_visit_seconds": round(f.average_visit_ms / 1000, 1),
    }


def forget_sites(request: Request) -> None:
    """Make this process's tracker look sites up again (one was registered or removed)."""
    tracker = getattr(request.app.state, "tracker", None)
    forget = getattr(tracker, "forget_sites", None)
    if callable(forget):
        forget()


def site_out(site: Site) -> SiteOut:
    return SiteOut.model_validate(site, from_attributes=True)


# --- sites ------------------------------------------------------------------------------------


@router.get("/sites", summary="The measured sites", response_model=SiteList)
def list_sites(caller: CurrentStaff = TOTALS, db: Database = Depends(get_db)) -> SiteList:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        return SiteList(items=[site_out(s) for s in stats.list_sites(session)])


@router.post(
    "/sites",
    summary="Register a site to measure",
    status_code=201,
    response_model=SiteOut,
    responses=errors(409),
)
def register_site(
    request: Request, body: SiteIn, caller: CurrentStaff = TOTALS, db: Database = Depends(get_db)
) -> SiteOut:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        site = stats.register_site(session, domain=body.domain, name=body.name)
        out = site_out(site)
    forget_sites(request)
    return out


@router.delete(
    "/sites/{site_id}",
    summary="Remove a site with its raw events and rollups",
    status_code=204,
    response_class=Response,
)
def remove_site(
    request: Request, site_id: uuid.UUID, caller: CurrentStaff = TOTALS, db: Database = Depends(get_db)
) -> Response:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        stats.remove_site(session, site_id)
    forget_sites(request)
    return Response(status_code=204)


# --- figures ----------------------------------------------------------------------------------

From = Annotated[date | None, Query(alias="from", description="first day (UTC), default 29 days before to")]
To = Annotated[date | None, Query(alias="to", description="last day (UTC), included; default today")]
TopLimit = Annotated[int, Query(ge=1, le=1000)]


def _stats(
    db: Database, session: Any, site_id: uuid.UUID, start: date | None, end: date | None
) -> stats.Stats:
    at = stats.now()
    days = stats.date_range(start, end, today=at.date())
    stats.get_site(session, site_id)
    return stats.Stats(
        session,
        site_id,
        days,
        now=at,
        timeout_ms=timeout_ms_of(db),
        live_within=db.policy.monitoring.raw_event_days,
    )


@router.get("/stats/{site_id}/summary", summary="The figures of a site over a range", response_model=Summary)
def summary(
    site_id: uuid.UUID,
    start: From = None,
    end: To = None,
    caller: CurrentStaff = TOTALS,
    db: Database = Depends(get_db),
) -> Summary:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        s = _stats(db, session, site_id, start, end)
        return Summary(site_id=site_id, start=s.range.start, end=s.range.end, **figures_out(s.totals()))


@router.get("/stats/{site_id}/timeseries", summary="The figures of a site per day", response_model=Timeseries)
def timeseries(
    site_id: uuid.UUID,
    start: From = None,
    end: To = None,
    caller: CurrentStaff = TOTALS,
    db: Database = Depends(get_db),
) -> Timeseries:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        s = _stats(db, session, site_id, start, end)
        days = [DayOut(day=d.day, **figures_out(d.figures)) for d in s.series()]
        return Timeseries(site_id=site_id, start=s.range.start, end=s.range.end, days=days)


def _top_route(path: str, dimension: str, summary: str) -> None:
    def top(
        site_id: uuid.UUID,
        start: From = None,
        end: To = None,
        limit: TopLimit = stats.TOP,
        caller: CurrentStaff = TOTALS,
        db: Database = Depends(get_db),
    ) -> TopList:
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            s = _stats(db, session, site_id, start, end)
            items = [ItemOut(value=i.value, **figures_out(i.figures)) for i in s.top(dimension, limit)]
            return TopList(
                site_id=site_id, start=s.range.start, end=s.range.end, dimension=dimension, items=items
            )

    top.__name__ = f"top_{dimension}"
    router.add_api_route(
        f"/stats/{{site_id}}/{path}", top, methods=["GET"], summary=summary, response_model=TopList
    )


for _path, _dimension, _summary in (
    ("pages", "page", "Top pages by page views"),
    ("entry-pages", "entry", "Top entry pages by visits"),
    ("exit-pages", "exit", "Top exit pages by visits"),
    ("referrers", "referrer", 'Top referrer hosts by visits ("" is direct)'),
    ("browsers", "browser", "Browsers by visits"),
    ("os", "os", "Operating systems by visits"),
    ("devices", "device", "Device types by visits"),
    ("events", "event", "Custom events and outbound links by count"),
):
    _top_route(_path, _dimension, _summary)


@router.get(
    "/stats/{site_id}/realtime",
    summary="Visitors in the last five minutes",
    response_model=Realtime,
)
def realtime(site_id: uuid.UUID, caller: CurrentStaff = TOTALS, db: Database = Depends(get_db)) -> Realtime:
    at = stats.now()
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        stats.get_site(session, site_id)
        count = stats.realtime(session, site_id, now=at)
    return Realtime(site_id=site_id, visitors=count, minutes=stats.REALTIME_MINUTES, at=at)


# --- raw export -------------------------------------------------------------------------------

MEDIA = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}


def _csv_chunks(chunks: Iterator[list[tuple[Any, ...]]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(stats.EXPORT_FIELDS)
    yield buffer.getvalue()
    for rows in chunks:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(rows)
        yield buffer.getvalue()


def _ndjson_chunks(chunks: Iterator[list[tuple[Any, ...]]]) -> Iterator[str]:
    for rows in chunks:
        yield "".join(
            json.dumps(dict(zip(stats.EXPORT_FIELDS, row, strict=True)), ensure_ascii=False) + "\n"
            for row in rows
        )


@router.get(
    "/stats/{site_id}/export",
    summary="The raw events of a range, streamed as CSV or NDJSON (roles that see individual rows)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "one row per event, oldest first; ts is milliseconds since the epoch (UTC)",
            "content": {"text/csv": {}, "application/x-ndjson": {}},
        }
    },
)
def export(
    site_id: uuid.UUID,
    start: From = None,
    end: To = None,
    format_: Annotated[Literal["csv", "ndjson"], Query(alias="format")] = "csv",
    caller: CurrentStaff = ROWS,
    db: Database = Depends(get_db),
) -> StreamingResponse:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        days = stats.date_range(start, end, today=stats.now().date())
        domain = stats.get_site(session, site_id).domain
    actor: Actor = caller.actor

    def body() -> Iterator[str]:
        with db.unit_of_work(PURPOSE, actor) as session:
            chunks = stats.raw_events(session, site_id, days)
            yield from (_csv_chunks(chunks) if format_ == "csv" else _ndjson_chunks(chunks))

    filename = f"{domain}-{days.start.isoformat()}-{days.end.isoformat()}.{format_}"
    return StreamingResponse(
        body(),
        media_type=MEDIA[format_],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
