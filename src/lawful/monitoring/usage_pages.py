"""Pages of usage for fees, and of the services that report it.

- ``/console/usage``: every customer's usage per event code in a month, sortable, for staff who
  work on fees (finance); ``/console/usage/{customer_id}``: one customer's month with a daily chart.
- ``/console/usage-services``: the services that report usage and their keys (admin): register
  one (its key is shown once), give it a new key, revoke it.
- ``/portal/usage``: a customer's admin sees their own company's month with a daily chart.

Usage totals touch no personal column and are read under ``contract``; the services are managed
under ``monitoring``. The charts are inline SVG drawn here: no JavaScript, and every bar has its
figure as a tooltip and in a table beside the chart.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape

from lawful.data.db import Database
from lawful.errors import LawfulError, NotFound
from lawful.monitoring import usage
from lawful.monitoring import usage_repository as repo
from lawful.monitoring.usage_api import SERVICES_PURPOSE, check_fees
from lawful.policy.model import Policy
from lawful.web import portal
from lawful.web.auth import CurrentStaff, CurrentUser, csrf_protect, customer_admin, staff_under
from lawful.web.console import page_url, redirect, render
from lawful.web.deps import get_db, get_policy

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

ROWS_PER_PAGE = 100
SORTS = ("total", "events", "customer", "code")
ORDERS = ("desc", "asc")


def fees_console(
    caller: CurrentStaff = staff_under("contract"), policy: Policy = Depends(get_policy)
) -> CurrentStaff:
    """A dependency: a staff member whose role works on fees (finance)."""
    check_fees(policy, caller)
    return caller


# --- formatting and the chart ----------------------------------------------------------------


def amount(value: Decimal) -> str:
    """A decimal with thousands separators and no trailing zeros: ``1,234.5``."""
    text = format(value.normalize(), ",f")
    return "0" if text in ("-0", "") else text


def _nice_ceiling(top: Decimal) -> Decimal:
    """The smallest of 1, 2, 5 × 10^k that is at least ``top`` (> 0)."""
    base = Decimal(10) ** top.adjusted()
    for step in (1, 2, 5, 10):
        if top <= base * step:
            return base * step
    return base * 10  # pragma: no cover - 10 × base always holds


def _px(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.1')):f}"


def daily_chart(points: Sequence[repo.Point], *, label: str, chart_id: str) -> Markup:
    """A bar chart of the daily values, as inline SVG with a title and a tooltip per bar."""
    width, height, left, right, top, bottom = 720, 180, 56, 8, 10, 24
    plot_w, plot_h = Decimal(width - left - right), Decimal(height - top - bottom)
    highest = max((p.value for p in points), default=Decimal(0))
    ceiling = _nice_ceiling(highest) if highest > 0 else Decimal(1)
    slot = plot_w / max(len(points), 1)
    gap = min(Decimal(2), slot / 5)
    total = sum((p.value for p in points), Decimal(0))
    parts = [
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title">',
        f'<title id="{chart_id}-title">{escape(label)}: {amount(total)} in total</title>',
    ]
    for fraction in (Decimal(0), Decimal("0.5"), Decimal(1)):
        y = Decimal(top) + plot_h - plot_h * fraction
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{_px(y)}" y2="{_px(y)}"></line>'
            f'<text class="axis" x="{left - 6}" y="{_px(y + 4)}" text-anchor="end">'
            f"{amount(ceiling * fraction)}</text>"
        )
    for index, point in enumerate(points):
        x = Decimal(left) + slot * index
        if point.value > 0:
            bar = plot_h * point.value / ceiling
            parts.append(
                f'<rect class="bar" x="{_px(x + gap / 2)}" y="{_px(Decimal(top) + plot_h - bar)}" '
                f'width="{_px(slot - gap)}" height="{_px(bar)}">'
                f"<title>{point.day.isoformat()}: {amount(point.value)} "
                f"({point.events} event{'' if point.events == 1 else 's'})</title></rect>"
            )
        if point.day.day == 1 or point.day.day % 5 == 0 or len(points) <= 10:
            parts.append(
                f'<text class="axis" x="{_px(x + slot / 2)}" y="{height - 6}" text-anchor="middle">'
                f"{point.day.day}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # every text in it is escaped or a number


@dataclass(frozen=True)
class CodeUsage:
    """One event code's month for one customer: its totals, its chart and its daily figures."""

    code: str
    events: int
    value: str
    chart: Markup
    days: list[tuple[date, int, str]]


def code_usage(series: dict[str, list[repo.Point]], month: date) -> list[CodeUsage]:
    result = []
    for n, (code, points) in enumerate(series.items()):
        label = f"{code} per day, {month:%B %Y}"
        result.append(
            CodeUsage(
                code=code,
                events=sum(p.events for p in points),
                value=amount(sum((p.value for p in points), Decimal(0))),
                chart=daily_chart(points, label=label, chart_id=f"chart-{n}"),
                days=[(p.day, p.events, amount(p.value)) for p in points if p.events],
            )
        )
    return result


def _month(value: str) -> tuple[date, date]:
    """The first and last day of the month ``YYYY-MM`` (default: this month, UTC)."""
    first = repo.parse_month(value) if value.strip() else repo.month_start(datetime.now(UTC).date())
    return first, repo.month_end(first)


def _neighbours(first: date) -> tuple[str, str]:
    previous = repo.month_start(first - timedelta(days=1))
    return f"{previous:%Y-%m}", f"{repo.next_month(first):%Y-%m}"


# --- the console: usage for fees ----------------------------------------------------------------


def _sort_key(sort: str, names: dict[uuid.UUID, str]) -> Any:
    def key(row: repo.Summary) -> tuple[Any, ...]:
        name = names.get(row.customer_id, "").casefold()
        if sort == "events":
            return (row.events, name, row.code)
        if sort == "customer":
            return (name, row.code)
        if sort == "code":
            return (row.code, name)
        return (row.value_micros, name, row.code)

    return key


@router.get("/console/usage", response_class=HTMLResponse)
def usage_overview(
    request: Request,
    month: str = "",
    code: str = "",
    sort: str = "total",
    order: str = "desc",
    page: int = 1,
    caller: CurrentStaff = Depends(fees_console),
    db: Database = Depends(get_db),
) -> Response:
    first, last = _month(month)
    sort = sort if sort in SORTS else "total"
    order = order if order in ORDERS else "desc"
    page = max(1, page)
    with db.unit_of_work("contract", caller.actor) as session:
        everything = repo.summarise(repo.totals(session, start=first, end=last, period="month"))
        names = repo.customer_names(session, {r.customer_id for r in everything})
    codes = sorted({r.code for r in everything})
    per_code = [
        (
            c,
            sum(r.events for r in everything if r.code == c),
            amount(repo.to_decimal(sum(r.value_micros for r in everything if r.code == c))),
        )
        for c in codes
    ]
    rows = [r for r in everything if not code or r.code == code]
    rows.sort(key=_sort_key(sort, names), reverse=order == "desc")
    pages = max(1, -(-len(rows) // ROWS_PER_PAGE))
    page = min(page, pages)
    shown = rows[(page - 1) * ROWS_PER_PAGE : page * ROWS_PER_PAGE]
    filters = {"month": f"{first:%Y-%m}", "code": code, "sort": sort, "order": order}
    previous_month, next_month = _neighbours(first)

    def sort_url(column: str) -> str:
        flipped = "asc" if sort == column and order == "desc" else "desc"
        return page_url("/console/usage", {**filters, "sort": column, "order": flipped})

    return render(
        request,
        "console/usage/overview.html",
        caller,
        current="/console/usage",
        title=f"Usage · {first:%B %Y}",
        month=first,
        filters=filters,
        codes=codes,
        per_code=per_code,
        rows=[
            {
                "customer_id": r.customer_id,
                "customer": names.get(r.customer_id, "a removed customer"),
                "code": r.code,
                "events": r.events,
                "value": amount(r.value),
            }
            for r in shown
        ],
        total_rows=len(rows),
        page=page,
        pages=pages,
        sort=sort,
        order=order,
        sort_urls={column: sort_url(column) for column in SORTS},
        previous_month_url=page_url("/console/usage", {**filters, "month": previous_month, "page": 1}),
        next_month_url=page_url("/console/usage", {**filters, "month": next_month, "page": 1}),
        previous_url=page_url("/console/usage", {**filters, "page": page - 1}) if page > 1 else None,
        next_url=page_url("/console/usage", {**filters, "page": page + 1}) if page < pages else None,
    )


@router.get("/console/usage/{customer_id}", response_class=HTMLResponse)
def customer_usage(
    request: Request,
    customer_id: uuid.UUID,
    month: str = "",
    caller: CurrentStaff = Depends(fees_console),
    db: Database = Depends(get_db),
) -> Response:
    first, last = _month(month)
    with db.unit_of_work("contract", caller.actor) as session:
        name = repo.customer_names(session, [customer_id]).get(customer_id)
        if name is None:
            raise NotFound("no customer with that id")
        series = repo.daily_series(session, customer_id=customer_id, start=first, end=last)
    previous_month, next_month = _neighbours(first)
    base = f"/console/usage/{customer_id}"
    return render(
        request,
        "console/usage/customer.html",
        caller,
        current="/console/usage",
        title=f"Usage of {name} · {first:%B %Y}",
        customer_id=customer_id,
        customer=name,
        month=first,
        usage=code_usage(series, first),
        previous_month_url=page_url(base, {"month": previous_month}),
        next_month_url=page_url(base, {"month": next_month}),
        overview_url=page_url("/console/usage", {"month": f"{first:%Y-%m}"}),
    )


# --- the console: usage services ----------------------------------------------------------------


def _services_page(
    request: Request,
    caller: CurrentStaff,
    db: Database,
    *,
    status_code: int = 200,
    error: str | None = None,
    name: str = "",
    new_key: tuple[str, str] | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    with db.unit_of_work(SERVICES_PURPOSE, caller.actor) as session:
        services = usage.list_services(session)
    return render(
        request,
        "console/usage/services.html",
        caller,
        current="/console/usage-services",
        title="Usage services",
        status_code=status_code,
        services=services,
        error=error,
        name=name,
        new_key=new_key,
        flashes=[("ok", notice)] if notice else [],
        base_url=str(request.base_url).rstrip("/"),
    )


@router.get("/console/usage-services", response_class=HTMLResponse)
def usage_services(
    request: Request,
    revoked: str = "",
    caller: CurrentStaff = staff_under(SERVICES_PURPOSE),
    db: Database = Depends(get_db),
) -> Response:
    notice = "The key is revoked; the usage it reported stays counted." if revoked == "1" else None
    return _services_page(request, caller, db, notice=notice)


@router.post("/console/usage-services", response_class=HTMLResponse)
def create_usage_service(
    request: Request,
    name: str = Form(""),
    caller: CurrentStaff = staff_under(SERVICES_PURPOSE),
    db: Database = Depends(get_db),
) -> Response:
    error: LawfulError | None = None
    created: tuple[str, str] | None = None
    with db.unit_of_work(SERVICES_PURPOSE, caller.actor) as session:
        try:
            service, key = usage.create_service(session, name=name)
            created = (service.name, key)
        except LawfulError as exc:
            error = exc
    if error is not None or created is None:
        status = error.status if error else 400
        message = error.message if error else "the service could not be registered"
        return _services_page(request, caller, db, status_code=status, error=message, name=name)
    # Shown once, in this response; only the key's hash is stored.
    return _services_page(request, caller, db, status_code=201, new_key=created)


@router.post("/console/usage-services/{service_id}/rotate", response_class=HTMLResponse)
def rotate_usage_service_key(
    request: Request,
    service_id: uuid.UUID,
    caller: CurrentStaff = staff_under(SERVICES_PURPOSE),
    db: Database = Depends(get_db),
) -> Response:
    with db.unit_of_work(SERVICES_PURPOSE, caller.actor) as session:
        service, key = usage.rotate_key(session, service_id)
        rotated = (service.name, key)
    return _services_page(request, caller, db, new_key=rotated)


@router.post("/console/usage-services/{service_id}/revoke")
def revoke_usage_service(
    service_id: uuid.UUID,
    caller: CurrentStaff = staff_under(SERVICES_PURPOSE),
    db: Database = Depends(get_db),
) -> Response:
    with db.unit_of_work(SERVICES_PURPOSE, caller.actor) as session:
        usage.revoke_service(session, service_id)
    return redirect("/console/usage-services?revoked=1")


# --- the portal ------------------------------------------------------------------------------------


@router.get("/portal/usage", response_class=HTMLResponse)
def portal_usage(
    request: Request,
    month: str = "",
    caller: CurrentUser = Depends(customer_admin),
    db: Database = Depends(get_db),
) -> Response:
    first, last = _month(month)
    with db.unit_of_work("contract", caller.actor) as session:
        series = repo.daily_series(session, customer_id=caller.customer_id, start=first, end=last)
    previous_month, next_month = _neighbours(first)
    context = portal.portal_context(
        request,
        caller,
        current="/portal/usage",
        title=f"Usage · {first:%B %Y}",
        month=first,
        usage=code_usage(series, first),
        previous_month_url=page_url("/portal/usage", {"month": previous_month}),
        next_month_url=page_url("/portal/usage", {"month": next_month}),
    )
    return portal.render(request, "usage.html", context)
