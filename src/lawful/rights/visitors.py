"""Website visitors: known only by the code of the day their browser's events are stored under.

A visitor's code is an HMAC of the site, their IP address and browser under the day's random key
(:func:`lawful.monitoring.privacy.visitor_id`). While that key exists (at most
``salt_lifetime_hours``), the same browser from the same address can be linked to its events; after
that, nobody can. So a visitor's access, erasure and objection work from the browser they use to
ask: :func:`codes_for` computes their codes under every key that still exists.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from lawful.data.base import table_of
from lawful.data.db import Purposes
from lawful.monitoring.models import PageEvent, Salt, Site
from lawful.monitoring.privacy import visitor_id
from lawful.rights.access import jsonable


def codes_for(work: Purposes, ip: str, user_agent: str, *, now: datetime | None = None) -> list[int]:
    """The visitor codes of this browser and address on every site, under every key that still exists."""
    now = now or datetime.now(UTC)
    salts = work.execute(
        "monitoring", select(Salt.value).where(Salt.day >= (now - timedelta(days=3)).date())
    ).scalars()
    keys = list(salts)
    sites = list(work.execute("monitoring", select(Site.id)).scalars())
    return sorted({visitor_id(salt, str(site), ip, user_agent) for salt in keys for site in sites})


def events_of(work: Purposes, codes: list[int], *, limit: int = 1000) -> list[dict[str, Any]]:
    if not codes:
        return []
    table = table_of(PageEvent)
    rows = work.execute(
        "monitoring", select(table).where(table.c.visitor_id.in_(codes)).order_by(table.c.ts).limit(limit)
    ).mappings()
    out = []
    for row in rows:
        item = {k: jsonable(v) for k, v in row.items() if k not in ("id", "site_id")}
        item["at"] = datetime.fromtimestamp(row["ts"] / 1000, UTC).isoformat()
        out.append(item)
    return out


def delete_events(work: Purposes, codes: list[int]) -> int:
    if not codes:
        return 0
    table = table_of(PageEvent)
    return int(work.execute("monitoring", delete(table).where(table.c.visitor_id.in_(codes))).rowcount)
