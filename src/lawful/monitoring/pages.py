"""Console pages of the analytics (purpose ``monitoring``): the measured sites and a site's
dashboard.

Everything here is totals, so an aggregates-only role (analyst) opens it; the link to the raw
export is shown only to roles that may see individual rows. The daily chart is inline SVG drawn
here on the server; the realtime count refreshes itself with htmx.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape

from lawful.data.db import Database
from lawful.errors import Invalid, LawfulError
from lawful.monitoring import stats
from lawful.monitoring.rollups import PURPOSE, timeout_ms_of
from lawful.monitoring.sessions import Figures
from lawful.monitoring.stats_api import forget_sites
from lawful.policy.model import Policy
from lawful.settings import Settings
from lawful.web.auth import CurrentStaff, csrf_protect, staff_under
from lawful.web.console import flashes, page_url, redirect, render
from lawful.web.deps import get_db, get_policy, get_settings

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

HOME = "/console/analytics"
DONE = {
    "registered": "The site was registered. Put the tracker tag on its pages.",
    "removed": "The site was removed.",
}
TITLES = {
    "page": ("Top pages", "Page", "Page views"),
    "entry": ("Entry pages", "Page", "Visits"),
    "exit": ("Exit pages", "Page", "Visits"),
    "referrer": ("Referrers", "Host", "Visits"),
    "browser": ("Browsers", "Browser", "Visits"),
    "os": ("Operating systems", "Operating system", "Visits"),
    "device": ("Devices", "Device type", "Visits"),
    "event": ("Custom events", "Event", "Events"),
}


def may_see_rows(policy: Policy, role: str) -> bool:
    declared = policy.roles.get(role)
    return policy.role_may(role, PURPOSE) and not (declared is not None and declared.aggregates_only)


# --- formatting -------------------------------------------------------------------------------


def duration(ms: float) -> str:
    """A visit length for people: ``0 s``, ``42 s``, ``3 min 5 s``, ``1 h 2 min``."""
    seconds = round(ms / 1000)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def percent(fraction: float) -> str:
    return f"{fraction * 100:.0f} %"


def number(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f")


def _nice(top: int) -> int:
    """A round number at least ``top`` for the chart's scale (1, 2, 5 × a power of ten)."""
    if top <= 0:
        return 1
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= top:
                return step * scale
        scale *= 10


def chart(series: list[stats.Day]) -> Markup:
    """Visitors per day as bars, page views as a line, in inline SVG (no script)."""
    width, height, left, bottom, top_pad = 720, 220, 48, 24, 10
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    peak = _nice(max([d.figures.pageviews for d in series] + [d.figures.visitors for d in series] + [1]))
    n = max(len(series), 1)
    step = plot_w / n
    bar = max(step * 0.7, 0.5)

    def y(value: int) -> float:
        return top_pad + plot_h - plot_h * value / peak

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-title chart-desc"'
        ' width="100%">',
        '<title id="chart-title">Visitors and page views per day</title>',
        f'<desc id="chart-desc">Bars: visitors per day; line: page views per day; scale 0 to {peak}.'
        " The same figures are in the table below the chart.</desc>",
    ]
    for value in (0, peak // 2, peak):
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - 8}" y1="{y(value):.1f}" y2="{y(value):.1f}"/>'
            f'<text class="axis" x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value}</text>'
        )
    points = []
    for i, d in enumerate(series):
        x = left + i * step
        f = d.figures
        label = escape(
            f"{d.day.isoformat()}: {f.visitors} visitors, {f.visits} visits, {f.pageviews} page views"
        )
        parts.append(
            f'<rect class="bar" x="{x + (step - bar) / 2:.2f}" y="{y(f.visitors):.1f}" width="{bar:.2f}"'
            f' height="{plot_h + top_pad - y(f.visitors):.1f}"><title>{label}</title></rect>'
        )
        points.append(f"{x + step / 2:.2f},{y(f.pageviews):.1f}")
    if points:
        parts.append(f'<polyline class="line" points="{" ".join(points)}"/>')
    if series:
        ticks = sorted({0, (len(series) - 1) // 2, len(series) - 1})
        for i in ticks:
            anchor = "start" if i == 0 else "end" if i == len(series) - 1 else "middle"
            x = left + i * step + step / 2 if anchor == "middle" else left if i == 0 else width - 8
            parts.append(
                f'<text class="axis" x="{x:.1f}" y="{height - 6}" text-anchor="{anchor}">'
                f"{series[i].day.isoformat()}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


# --- the sites --------------------------------------------------------------------------------


def _sites_page(
    request: Request,
    caller: CurrentStaff,
    db: Database,
    *,
    status_code: int = 200,
    error: str | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        sites = stats.list_sites(session)
    return render(
        request,
        "console/analytics/sites.html",
        caller,
        current=HOME,
        title="Analytics",
        status_code=status_code,
        sites=sites,
        error=error,
        values=values or {},
        flashes=flashes(request, DONE),
    )


@router.get(HOME, response_class=HTMLResponse)
def sites(
    request: Request,
    caller: CurrentStaff = staff_under(PURPOSE, individual=False),
    db: Database = Depends(get_db),
) -> Response:
    return _sites_page(request, caller, db)


@router.post(HOME, response_class=HTMLResponse)
def register(
    request: Request,
    domain: str = Form(""),
    name: str = Form(""),
    caller: CurrentStaff = staff_under(PURPOSE, individual=False),
    db: Database = Depends(get_db),
) -> Response:
    try:
        with db.unit_of_work(PURPOSE, caller.actor) as session:
            site = stats.register_site(session, domain=domain[:300], name=name[:300])
            site_id = site.id
    except LawfulError as exc:
        return _sites_page(
            request,
            caller,
            db,
            status_code=exc.status,
            error=exc.message,
            values={"domain": domain, "name": name},
        )
    forget_sites(request)
    return redirect(f"{HOME}/{site_id}?done=registered")


@router.post(HOME + "/{site_id}/remove")
def remove(
    request: Request,
    site_id: uuid.UUID,
    caller: CurrentStaff = staff_under(PURPOSE, individual=False),
    db: Database = Depends(get_db),
) -> Response:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        stats.remove_site(session, site_id)
    forget_sites(request)
    return redirect(f"{HOME}?done=removed")


# --- a site's dashboard -----------------------------------------------------------------------


def _date(value: str, field: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(
            f"{field}: {value[:40]!r} is not a date (YYYY-MM-DD)", detail={"field": field}
        ) from None


def presets(site_id: uuid.UUID, today: date) -> list[tuple[str, str, date]]:
    """(label, url, first day) of the quick ranges, all ending today."""
    path = f"{HOME}/{site_id}"
    firsts = (
        ("Today", today),
        ("7 days", today - timedelta(days=6)),
        ("30 days", today - timedelta(days=29)),
        ("12 months", today - relativedelta(years=1) + timedelta(days=1)),
    )
    return [
        (label, page_url(path, {"from": first.isoformat(), "to": today.isoformat()}), first)
        for label, first in firsts
    ]


@router.get(HOME + "/{site_id}", response_class=HTMLResponse)
def site_dashboard(
    request: Request,
    site_id: uuid.UUID,
    caller: CurrentStaff = staff_under(PURPOSE, individual=False),
    db: Database = Depends(get_db),
    policy: Policy = Depends(get_policy),
    settings: Settings = Depends(get_settings),
) -> Response:
    at = stats.now()
    today = at.date()
    given = {"from": request.query_params.get("from", ""), "to": request.query_params.get("to", "")}
    error: str | None = None
    status_code = 200
    try:
        days = stats.date_range(_date(given["from"], "from"), _date(given["to"], "to"), today=today)
    except LawfulError as exc:
        error, status_code = exc.message, exc.status
        days = stats.date_range(None, None, today=today)
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        board = stats.dashboard(
            session,
            site_id,
            days,
            now=at,
            timeout_ms=timeout_ms_of(db),
            live_within=policy.monitoring.raw_event_days,
        )
    tops = [(dimension, *TITLES[dimension], items) for dimension, items in board.tops.items()]
    export = None
    if may_see_rows(policy, caller.role):
        query = {"from": days.start.isoformat(), "to": days.end.isoformat()}
        export = {
            fmt: page_url(f"/api/v1/stats/{site_id}/export", {**query, "format": fmt})
            for fmt in ("csv", "ndjson")
        }
    base = settings.base_url.rstrip("/")
    tag = f'<script defer data-site="{board.site.domain}" src="{base}/js/lawful.js"></script>'
    notes = flashes(request, DONE)
    if error:
        notes.append(("error", error))
    return render(
        request,
        "console/analytics/dashboard.html",
        caller,
        current=HOME,
        title=f"Analytics · {board.site.name}",
        status_code=status_code,
        board=board,
        site=board.site,
        realtime=board.realtime,
        totals=board.totals,
        tops=tops,
        chart=chart(board.series),
        presets=presets(site_id, today),
        today=today,
        given=given if error else {"from": days.start.isoformat(), "to": days.end.isoformat()},
        export=export,
        tag=tag,
        timeout_minutes=policy.monitoring.session_timeout_minutes,
        raw_event_days=policy.monitoring.raw_event_days,
        realtime_minutes=stats.REALTIME_MINUTES,
        flashes=notes,
        **formatting(),
    )


@router.get(HOME + "/{site_id}/realtime", response_class=HTMLResponse)
def site_realtime(
    request: Request,
    site_id: uuid.UUID,
    caller: CurrentStaff = staff_under(PURPOSE, individual=False),
    db: Database = Depends(get_db),
) -> Response:
    with db.unit_of_work(PURPOSE, caller.actor) as session:
        site = stats.get_site(session, site_id)
        count = stats.realtime(session, site_id, now=stats.now())
    return render(
        request,
        "console/analytics/_realtime.html",
        caller,
        title="Realtime",
        site=site,
        realtime=count,
        realtime_minutes=stats.REALTIME_MINUTES,
        **formatting(),
    )


def formatting() -> dict[str, Any]:
    return {"duration": duration, "percent": percent, "number": number, "empty": Figures()}
