"""The ingestion pipeline of the tracker: validate, drop what must not be measured, pseudonymise, store.

``Tracker.prepare`` turns one event as a browser sent it into the row that is stored (or into
the reason it is not stored); ``Tracker.store`` writes rows in one transaction under the
monitoring purpose. The web endpoint batches many requests into one ``store`` through
:class:`lawful.monitoring.writer.WriteBehind`; the demo generator and the benchmark call
``store`` directly. Nothing here keeps a full IP address, a user-agent string or a query string.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lawful.data.annotations import column_category, personal_columns
from lawful.data.db import Database
from lawful.data.purpose import Access, Actor, LogKey
from lawful.errors import LawfulError, NotFound
from lawful.monitoring.models import IngestCount, PageEvent, Site
from lawful.monitoring.privacy import UrlReducer, device_of, ip_prefix, link_target, referrer_host, visitor_id
from lawful.monitoring.salts import Salts
from lawful.monitoring.sessions import day_start_ms
from lawful.policy.model import Policy

PURPOSE = "monitoring"
INGEST = Actor.system("ingestion")
MAX_BODY = 4096  # bytes of one tracker event
MAX_NAME = 64
SITE_TTL_S = 10.0

IP_ADDRESS = "user.device.ip_address"
PAGE_EVENTS = cast(Table, PageEvent.__table__)
PAGEVIEW = "pageview"
ENGAGEMENT = "engagement"
OUTBOUND = "outbound"


class BadEvent(LawfulError):
    status = 400
    code = "bad_event"


class TooLarge(LawfulError):
    status = 413
    code = "too_large"


class UnknownSite(NotFound):
    code = "unknown_site"


@dataclass(frozen=True, slots=True)
class Client:
    """What the request says about the browser; used for the visitor code and then forgotten."""

    ip: str
    user_agent: str
    objected: bool = False  # Sec-GPC: 1, DNT: 1, or a signed-in user who objected


Row = dict[str, Any]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def parse_body(body: bytes) -> dict[str, Any]:
    """The JSON object of a tracker request (sent as text/plain, so no CORS preflight)."""
    if len(body) > MAX_BODY:
        raise TooLarge(f"an event may be at most {MAX_BODY} bytes; this one is {len(body)}")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadEvent(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadEvent("the body must be a JSON object")
    return data


def _text(data: Mapping[str, Any], key: str, *, required: bool = False, limit: int = 2048) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise BadEvent(f"field {key!r} is required")
        return None
    if not isinstance(value, str):
        raise BadEvent(f"field {key!r} must be a string")
    if len(value) > limit:
        raise BadEvent(f"field {key!r} may be at most {limit} characters")
    return value


class Tracker:
    """The tracker's pipeline for one database and policy; one per process."""

    def __init__(self, db: Database, policy: Policy | None = None) -> None:
        self.db = db
        self.policy = policy or db.policy
        measures = self.policy.monitoring
        self.timeout_ms = measures.session_timeout_minutes * 60_000
        self.ipv4_prefix = measures.ipv4_prefix
        self.ipv6_prefix = measures.ipv6_prefix
        # Only where the policy says so and names the IP address among monitoring's categories
        # (a broader "user.device" does not count); otherwise the column is not even written.
        self.store_ip = measures.store_truncated_ip and any(
            c.key == IP_ADDRESS for c in self.policy.purpose(PURPOSE).categories
        )
        self.urls = UrlReducer(measures.kept_query_parameters)
        self.salts = Salts(measures.salt_lifetime_hours)
        self._sites: dict[str, tuple[uuid.UUID | None, float]] = {}
        # Visits that were live at midnight keep yesterday's visitor code while they go on:
        # (site, yesterday's code) -> time of its last event; None = looked up, not live.
        self._carried: dict[tuple[uuid.UUID, int], int | None] = {}
        self._carried_day: date | None = None
        self._carried_complete = False
        self.tally = ProcessingTally(self.policy)

    # --- sites --------------------------------------------------------------------------------

    def site_id(self, session: Session, domain: str) -> uuid.UUID:
        """The registered, active site for ``domain`` (cached for a few seconds)."""
        key = domain.strip().lower()
        cached = self._sites.get(key)
        clock = time.monotonic()
        if (
            cached is None
            or (cached[0] is None and clock - cached[1] > SITE_TTL_S)
            or clock - cached[1] > 300
        ):
            found = session.execute(select(Site.id, Site.active).where(Site.domain == key)).first()
            cached = (found.id if found is not None and found.active else None, clock)
            if len(self._sites) > 10_000:
                self._sites.clear()
            self._sites[key] = cached
        if cached[0] is None:
            raise UnknownSite(f"no active site {key!r} is registered; register it in the console first")
        return cached[0]

    def forget_sites(self) -> None:
        self._sites.clear()

    # --- the pipeline ---------------------------------------------------------------------------

    def prepare(self, session: Session, data: Mapping[str, Any], client: Client, *, at: int) -> Row | str:
        """The row to store for one event, or the reason it is dropped (``objection``, ``bot``).

        Raises :class:`BadEvent` for input that is not an event and :class:`UnknownSite` for a
        site nobody registered: neither is stored.
        """
        name = _text(data, "n", required=True, limit=MAX_NAME)
        domain = _text(data, "s", required=True, limit=253)
        url = _text(data, "u", required=True)
        assert name is not None and domain is not None and url is not None
        site = self.site_id(session, domain)
        reduced = self.urls.reduce(url)
        if reduced is None:
            raise BadEvent("field 'u' must be an http or https address")
        host, path, query = reduced
        engaged = data.get("e")
        if name == ENGAGEMENT:
            if (
                isinstance(engaged, bool)
                or not isinstance(engaged, int | float)
                or not 0 <= engaged < 86_400_000
            ):
                raise BadEvent("an engagement event needs 'e', the engaged milliseconds (0 to one day)")
            engaged = int(engaged)
        else:
            engaged = None
        referrer = _text(data, "r")
        target = _text(data, "t")
        if client.objected:
            return "objection"
        device = device_of(client.user_agent)
        if device.bot:
            return "bot"
        visitor = self.visitor(session, site, client, at)
        row = {
            "site_id": site,
            "ts": at,
            "visitor_id": visitor,
            "name": name,
            "path": path,
            "query": query,
            "referrer_host": referrer_host(referrer, host) if name == PAGEVIEW else None,
            "target": link_target(target),
            "engaged_ms": engaged,
            "browser": device.browser,
            "browser_version": device.browser_version,
            "os": device.os,
            "device": device.device,
        }
        if self.store_ip:
            row["ip_prefix"] = ip_prefix(
                client.ip, ipv4_prefix=self.ipv4_prefix, ipv6_prefix=self.ipv6_prefix
            )
        return row

    def visitor(self, session: Session, site: uuid.UUID, client: Client, at: int) -> int:
        """Today's visitor code, or yesterday's while a visit that was live at midnight goes on."""
        today, current, previous = self.salts.pair(session, at)
        if today != self._carried_day:
            self._carried = {}
            self._carried_day = today
            self._carried_complete = False
        if previous is None:
            return visitor_id(current, str(site), client.ip, client.user_agent)
        before = visitor_id(previous, str(site), client.ip, client.user_agent)
        key = (site, before)
        if key not in self._carried and not self._carried_complete:
            midnight = day_start_ms(today)
            if at - midnight < self.timeout_ms:
                # Shortly after midnight: was this visitor active in the last half hour?
                self._carried[key] = session.scalar(
                    select(func.max(PageEvent.ts)).where(
                        PageEvent.site_id == site,
                        PageEvent.ts >= at - self.timeout_ms,
                        PageEvent.visitor_id == before,
                    )
                )
            else:
                self._load_carried(session, midnight)
        last = self._carried.get(key)
        if last is not None and at - last < self.timeout_ms:
            self._carried[key] = at
            return before
        return visitor_id(current, str(site), client.ip, client.user_agent)

    def _load_carried(self, session: Session, midnight: int) -> None:
        """Every visit that went on past midnight (once per day and process, e.g. after a restart)."""
        before_midnight = (
            select(PageEvent.visitor_id)
            .where(PageEvent.ts >= midnight - self.timeout_ms, PageEvent.ts < midnight)
            .scalar_subquery()
        )
        rows = session.execute(
            select(PageEvent.site_id, PageEvent.visitor_id, func.max(PageEvent.ts))
            .where(PageEvent.ts >= midnight, PageEvent.visitor_id.in_(before_midnight))
            .group_by(PageEvent.site_id, PageEvent.visitor_id)
        )
        for site, visitor, last in rows:
            self._carried.setdefault((site, visitor), last)
        self._carried_complete = True

    # --- storing ----------------------------------------------------------------------------------

    def store(
        self, session: Session, rows: Sequence[Row], dropped: Iterable[tuple[uuid.UUID, int, str]] = ()
    ) -> None:
        """Insert ``rows`` and count the ``dropped`` (site, ms, reason) in the caller's transaction."""
        if rows:
            # A Core insert of the table (every row has the same keys): one executemany, without
            # the ORM's per-row bookkeeping, still checked against the purpose like any statement.
            session.connection().execute(insert(PAGE_EVENTS), list(rows))
        counts = Counter(
            (site, datetime.fromtimestamp(ms / 1000, UTC).date(), reason) for site, ms, reason in dropped
        )
        if counts:
            count_dropped(session, counts)

    def ingest(self, events: Iterable[tuple[Mapping[str, Any], Client, int]]) -> tuple[int, int]:
        """Prepare and store events in one transaction (the demo and the benchmark); (stored, dropped)."""
        with self.db.unit_of_work(PURPOSE, INGEST) as session:
            rows: list[Row] = []
            dropped: list[tuple[uuid.UUID, int, str]] = []
            for data, client, at in events:
                result = self.prepare(session, data, client, at=at)
                if isinstance(result, str):
                    dropped.append((self.site_id(session, str(data["s"])), at, result))
                else:
                    rows.append(result)
            self.store(session, rows, dropped)
        return len(rows), len(dropped)


def count_dropped(session: Session, counts: Mapping[tuple[uuid.UUID, date, str], int]) -> None:
    """Add to the anonymous daily counts of events turned away (an upsert on both backends)."""
    values = [{"site_id": s, "day": d, "reason": r, "count": n} for (s, d, r), n in counts.items()]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt = postgresql.insert(IngestCount)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["site_id", "day", "reason"],
                set_={"count": IngestCount.count + stmt.excluded["count"]},
            ),
            values,
        )
    else:
        lite = sqlite.insert(IngestCount)
        session.execute(
            lite.on_conflict_do_update(
                index_elements=["site_id", "day", "reason"],
                set_={"count": IngestCount.count + lite.excluded["count"]},
            ),
            values,
        )


def objection_from_headers(headers: Mapping[str, str]) -> bool:
    """Global Privacy Control and Do Not Track count as an objection to monitoring."""
    return headers.get("sec-gpc", "").strip() == "1" or headers.get("dnt", "").strip() == "1"


def store_batch(tracker: Tracker, rows: Sequence[Row], dropped: Sequence[tuple[uuid.UUID, int, str]]) -> None:
    """One group commit of the write-behind: every row and count in one transaction.

    At hundreds of commits a second, one processing-log row per commit would make the log the
    biggest table; the commits are summed instead and logged at most once a minute (and by
    ``ProcessingTally.flush``), as writes of the page events' categories by the ingestion job.
    """
    with tracker.db.unit_of_work(PURPOSE, INGEST, record=False) as session:
        tracker.store(session, rows, dropped)
        if rows:
            tracker.tally.add(session, len(rows))


class ProcessingTally:
    """The processing log of ingestion, summed: one row per minute instead of one per commit."""

    def __init__(self, policy: Policy, *, every_s: float = 60.0) -> None:
        table = PageEvent.__table__
        assert isinstance(table, Table)
        self.key: LogKey = (
            "write",
            table.name,
            ",".join(sorted({c for col in personal_columns(table) if (c := column_category(col))})),
            None,
            None,
        )
        self.purpose = policy.purpose(PURPOSE)
        self.every_s = every_s
        self.pending = 0
        self.since = time.monotonic()

    def add(self, session: Session, statements: int) -> None:
        self.pending += statements
        if time.monotonic() - self.since >= self.every_s:
            self.flush(session)

    def flush(self, session: Session) -> None:
        if self.pending:
            access = Access(self.purpose, INGEST)
            access.entries[self.key] = self.pending
            access.write_log(session.connection())
        self.pending = 0
        self.since = time.monotonic()
