"""Console page of customers' users across all customers, with search."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from lawful.customers import repository as customers_repository
from lawful.data.db import Database
from lawful.users import repository
from lawful.web.auth import CurrentStaff, staff_under
from lawful.web.console import PER_PAGE, page_url, render
from lawful.web.deps import get_db

router = APIRouter(include_in_schema=False)


@router.get("/console/users", response_class=HTMLResponse)
def users(
    request: Request,
    q: str = "",
    page: int = 1,
    caller: CurrentStaff = staff_under("contract"),
    db: Database = Depends(get_db),
) -> Response:
    page = max(1, page)
    with db.unit_of_work("contract", caller.actor) as session:
        found, total = repository.search_users(session, query=q[:200], page=page, per_page=PER_PAGE)
        customers = customers_repository.legal_names(session, {u.customer_id for u in found})
    pages = max(1, -(-total // PER_PAGE))
    return render(
        request,
        "console/users/list.html",
        caller,
        current="/console/users",
        title="Users",
        users=found,
        customers=customers,
        q=q,
        total=total,
        page=page,
        pages=pages,
        previous_url=page_url("/console/users", {"q": q, "page": page - 1}) if page > 1 else None,
        next_url=page_url("/console/users", {"q": q, "page": page + 1}) if page < pages else None,
    )
