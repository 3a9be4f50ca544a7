"""Visits from raw tracker events, and the figures of the dashboards, as pure functions.

The events of one site are split into visits per visitor code: a visit ends when more than the
policy's ``session_timeout_minutes`` pass without an event of that visitor. Its length is its last
event minus its first one; an engagement event is sent when a page is left, so its timestamp
counts as the moment the visitor was last there. A visit without a page view (an engagement
that arrived after the visit had already timed out) is no visit: it is counted nowhere.

A bounce is a visit with exactly one page view and under 10 seconds of engaged time (the sum of
its engagement events). The entry page is the first page view's path, the exit page the last's.

Visitor codes change every day (their salt rotates at midnight, UTC), so "visitors" is the number
of distinct codes per day; over a range it is the sum of the daily numbers. A visit belongs to
the UTC day of its first event.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

PAGEVIEW = "pageview"
ENGAGEMENT = "engagement"
BOUNCE_ENGAGED_MS = 10_000
DAY_MS = 86_400_000
MINUTE_MS = 60_000
DEFAULT_TIMEOUT_MS = 30 * MINUTE_MS
EPOCH = date(1970, 1, 1)

# The dimensions of the daily rollups. "page": page views per path; "entry"/"exit": visits per
# first/last page; "referrer": visits per referrer host of the entry page view ("" = direct);
# "browser"/"os"/"device": visits per the entry page view's device; "event": custom events
# (outbound links included) per name.
TOTAL = "total"
PAGE = "page"
ENTRY = "entry"
EXIT = "exit"
REFERRER = "referrer"
BROWSER = "browser"
OS = "os"
DEVICE = "device"
EVENT = "event"
DIMENSIONS = (TOTAL, PAGE, ENTRY, EXIT, REFERRER, BROWSER, OS, DEVICE, EVENT)
VISIT_DIMENSIONS = (ENTRY, EXIT, REFERRER, BROWSER, OS, DEVICE)


def day_start_ms(day: date) -> int:
    """Milliseconds since the epoch at 00:00 UTC of ``day``."""
    return (day - EPOCH).days * DAY_MS


def day_of_ms(ts: int) -> date:
    """The UTC day of a timestamp in milliseconds."""
    return EPOCH + timedelta(days=ts // DAY_MS)


def to_ms(moment: datetime) -> int:
    """A timezone-aware moment in milliseconds since the epoch."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are refused: pass a timezone-aware UTC time")
    return int(moment.timestamp() * 1000)


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


class Hit(NamedTuple):
    """One raw event, as far as visits and rollups need it."""

    visitor_id: int
    ts: int
    name: str
    path: str
    engaged_ms: int | None = None
    referrer_host: str | None = None
    browser: str | None = None
    os: str | None = None
    device: str | None = None


@dataclass(slots=True)
class Visit:
    """The events of one visitor without a pause longer than the timeout, with a page view."""

    hits: list[Hit]
    views: list[Hit]

    @property
    def visitor_id(self) -> int:
        return self.hits[0].visitor_id

    @property
    def start(self) -> int:
        return self.hits[0].ts

    @property
    def end(self) -> int:
        return self.hits[-1].ts

    @property
    def day(self) -> date:
        return day_of_ms(self.start)

    @property
    def length_ms(self) -> int:
        return self.end - self.start

    @property
    def pageviews(self) -> int:
        return len(self.views)

    @property
    def engaged_ms(self) -> int:
        return sum(h.engaged_ms or 0 for h in self.hits if h.name == ENGAGEMENT)

    @property
    def bounce(self) -> bool:
        return len(self.views) == 1 and self.engaged_ms < BOUNCE_ENGAGED_MS

    @property
    def entry(self) -> Hit:
        return self.views[0]

    @property
    def exit(self) -> Hit:
        return self.views[-1]

    @property
    def custom_events(self) -> list[Hit]:
        return [h for h in self.hits if h.name not in (PAGEVIEW, ENGAGEMENT)]


def _visit(group: list[Hit]) -> Visit | None:
    views = [h for h in group if h.name == PAGEVIEW]
    return Visit(group, views) if views else None


def split_visits(hits: Iterable[Hit], timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Iterator[Visit]:
    """The visits of one visitor's events (ordered by time)."""
    group: list[Hit] = []
    for hit in hits:
        if group and hit.ts - group[-1].ts > timeout_ms:
            visit = _visit(group)
            if visit is not None:
                yield visit
            group = []
        group.append(hit)
    if group:
        visit = _visit(group)
        if visit is not None:
            yield visit


def sessionize(hits: Iterable[Hit], timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Iterator[Visit]:
    """The visits of a site's events, which come ordered by visitor code, then time."""
    for _, events in itertools.groupby(hits, key=lambda h: h.visitor_id):
        yield from split_visits(events, timeout_ms)


@dataclass(frozen=True, slots=True)
class Figures:
    """The counts of a day, a range or one dimension value; rates are derived from them."""

    visitors: int = 0
    visits: int = 0
    pageviews: int = 0
    events: int = 0
    bounces: int = 0
    duration_ms: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.visitors + other.visitors,
            self.visits + other.visits,
            self.pageviews + other.pageviews,
            self.events + other.events,
            self.bounces + other.bounces,
            self.duration_ms + other.duration_ms,
        )

    @property
    def views_per_visit(self) -> float:
        return self.pageviews / self.visits if self.visits else 0.0

    @property
    def bounce_rate(self) -> float:
        """Bounced visits as a fraction of visits (0 to 1)."""
        return self.bounces / self.visits if self.visits else 0.0

    @property
    def average_visit_ms(self) -> float:
        return self.duration_ms / self.visits if self.visits else 0.0


def figures(visits: Iterable[Visit]) -> Figures:
    """The figures of some visits; visitors are distinct codes per day, summed over the days."""
    visitors: set[tuple[date, int]] = set()
    count = pageviews = events = bounces = duration = 0
    for v in visits:
        visitors.add((v.day, v.visitor_id))
        count += 1
        pageviews += v.pageviews
        events += len(v.custom_events)
        bounces += v.bounce
        duration += v.length_ms
    return Figures(len(visitors), count, pageviews, events, bounces, duration)


@dataclass(slots=True)
class _Tally:
    visitors: set[int] = field(default_factory=set)
    visits: int = 0
    pageviews: int = 0
    events: int = 0
    bounces: int = 0
    duration_ms: int = 0

    def figures(self) -> Figures:
        return Figures(
            len(self.visitors), self.visits, self.pageviews, self.events, self.bounces, self.duration_ms
        )


Key = tuple[date, str, str]
"""(day, dimension, value)"""


def _value(text: str | None) -> str:
    return text or ""


def breakdown(visits: Iterable[Visit]) -> dict[Key, Figures]:
    """The rollup rows of some visits: figures per (day, dimension, value).

    ``total`` and the visit dimensions (entry, exit, referrer, browser, os, device) carry every
    figure of the visits with that value; ``page`` carries visitors, visits and page views of a
    path; ``event`` carries visitors, visits and the number of events of a name. Every day with a
    visit has a ``total`` row.
    """
    tallies: dict[Key, _Tally] = defaultdict(_Tally)
    for v in visits:
        day = v.day
        custom = v.custom_events
        entry, exit_ = v.entry, v.exit
        values = {
            TOTAL: "",
            ENTRY: entry.path,
            EXIT: exit_.path,
            REFERRER: _value(entry.referrer_host),
            BROWSER: _value(entry.browser),
            OS: _value(entry.os),
            DEVICE: _value(entry.device),
        }
        for dimension, value in values.items():
            t = tallies[(day, dimension, value)]
            t.visitors.add(v.visitor_id)
            t.visits += 1
            t.pageviews += v.pageviews
            t.events += len(custom)
            t.bounces += v.bounce
            t.duration_ms += v.length_ms
        for path in {h.path for h in v.views}:
            t = tallies[(day, PAGE, path)]
            t.visitors.add(v.visitor_id)
            t.visits += 1
        for view in v.views:
            tallies[(day, PAGE, view.path)].pageviews += 1
        for name in {h.name for h in custom}:
            t = tallies[(day, EVENT, name)]
            t.visitors.add(v.visitor_id)
            t.visits += 1
        for hit in custom:
            tallies[(day, EVENT, hit.name)].events += 1
    return {key: t.figures() for key, t in tallies.items()}


def daily(rows: dict[Key, Figures]) -> dict[date, Figures]:
    """The ``total`` figures per day of a breakdown."""
    return {day: f for (day, dimension, _), f in rows.items() if dimension == TOTAL}
