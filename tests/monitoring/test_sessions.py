"""Visits, bounces and visit length on a fixed event sequence, against figures worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest

from lawful.monitoring.sessions import (
    DAY_MS,
    Figures,
    Hit,
    Visit,
    breakdown,
    daily,
    day_of_ms,
    day_start_ms,
    figures,
    sessionize,
    split_visits,
)

S = 1000
MIN = 60 * S
TIMEOUT = 30 * MIN
DAY = date(2026, 3, 10)
T0 = day_start_ms(DAY) + 9 * 60 * MIN  # 09:00 UTC

A, B, C = 101, 202, 303


def view(visitor: int, ts: int, path: str, referrer: str | None = None) -> Hit:
    return Hit(visitor, ts, "pageview", path, None, referrer, "Firefox", "Linux", "desktop")


def engaged(visitor: int, ts: int, ms: int, path: str = "/") -> Hit:
    return Hit(visitor, ts, "engagement", path, ms)


def event(visitor: int, ts: int, name: str, path: str = "/") -> Hit:
    return Hit(visitor, ts, name, path)


# Visitor A: a visit of three pages whose third page comes after a 29-minute pause (no split),
# with an outbound link; then, after a 31-minute pause, a new visit: one page, 9 s (a bounce).
# Visitor B: one page with 12 s of engagement (not a bounce), then an engagement that arrives
# 45 minutes later, after the visit timed out: no visit, counted nowhere.
# Visitor C: one page and nothing else (a bounce of length 0).
SEQUENCE = [
    view(A, T0, "/"),
    engaged(A, T0 + 40 * S, 40 * S, "/"),
    view(A, T0 + 1 * MIN, "/pricing"),
    engaged(A, T0 + 3 * MIN, 120 * S, "/pricing"),
    view(A, T0 + 3 * MIN + 29 * MIN, "/docs"),  # 29 minutes after A's last event
    event(A, T0 + 32 * MIN + 30 * S, "outbound", "/docs"),
    engaged(A, T0 + 33 * MIN, 60 * S, "/docs"),
    view(A, T0 + 33 * MIN + 31 * MIN, "/"),  # 31 minutes after A's last event: a new visit
    engaged(A, T0 + 64 * MIN + 9 * S, 9 * S, "/"),
    view(B, T0 + 5 * MIN, "/blog", "news.example"),
    engaged(B, T0 + 5 * MIN + 12 * S, 12 * S, "/blog"),
    engaged(B, T0 + 5 * MIN + 12 * S + 45 * MIN, 45 * MIN, "/blog"),  # the engagement-only tail
    view(C, T0 + 10 * MIN, "/"),
]

# Worked out by hand:
A1_LENGTH = 33 * MIN  # 09:00 to 09:33
A2_LENGTH = 9 * S
B1_LENGTH = 12 * S
C1_LENGTH = 0
VISITS = 4  # A1, A2, B1, C1
PAGEVIEWS = 3 + 1 + 1 + 1
BOUNCES = 2  # A2 (9 s engaged), C1 (0 s)
DURATION = A1_LENGTH + A2_LENGTH + B1_LENGTH + C1_LENGTH


def visits() -> list[Visit]:
    return list(sessionize(SEQUENCE, TIMEOUT))


def test_the_sequence_splits_into_the_hand_counted_visits() -> None:
    found = visits()
    assert [(v.visitor_id, v.start, v.end) for v in found] == [
        (A, T0, T0 + 33 * MIN),
        (A, T0 + 64 * MIN, T0 + 64 * MIN + 9 * S),
        (B, T0 + 5 * MIN, T0 + 5 * MIN + 12 * S),
        (C, T0 + 10 * MIN, T0 + 10 * MIN),
    ]
    a1, a2, b1, _ = found
    assert [v.length_ms for v in found] == [A1_LENGTH, A2_LENGTH, B1_LENGTH, C1_LENGTH]
    assert [v.pageviews for v in found] == [3, 1, 1, 1]
    assert [v.bounce for v in found] == [False, True, False, True]
    assert (a1.entry.path, a1.exit.path) == ("/", "/docs")
    assert (a2.entry.path, a2.exit.path) == ("/", "/")
    assert (b1.entry.path, b1.exit.path) == ("/blog", "/blog")
    assert a1.engaged_ms == (40 + 120 + 60) * S
    assert [h.name for h in a1.custom_events] == ["outbound"]
    # the tail's 45 minutes are attached to no visit
    assert b1.engaged_ms == 12 * S
    assert sum(len(v.hits) for v in found) == len(SEQUENCE) - 1


def test_the_figures_equal_the_hand_computed_values() -> None:
    f = figures(visits())
    assert f == Figures(
        visitors=3, visits=VISITS, pageviews=PAGEVIEWS, events=1, bounces=BOUNCES, duration_ms=DURATION
    )
    assert f.views_per_visit == pytest.approx(6 / 4)
    assert f.bounce_rate == pytest.approx(2 / 4)
    assert f.average_visit_ms == pytest.approx((33 * 60 + 9 + 12 + 0) * S / 4)


def test_a_bounce_needs_one_page_and_under_ten_seconds() -> None:
    just_under = [view(A, T0, "/"), engaged(A, T0 + 9_999, 9_999)]
    ten = [view(A, T0, "/"), engaged(A, T0 + 10 * S, 10 * S)]
    two_pages = [view(A, T0, "/"), view(A, T0 + 2 * S, "/b")]
    assert [v.bounce for v in split_visits(just_under, TIMEOUT)] == [True]
    assert [v.bounce for v in split_visits(ten, TIMEOUT)] == [False]
    assert [v.bounce for v in split_visits(two_pages, TIMEOUT)] == [False]


def test_exactly_the_timeout_does_not_end_a_visit_but_a_millisecond_more_does() -> None:
    at_timeout = [view(A, T0, "/"), view(A, T0 + TIMEOUT, "/b")]
    beyond = [view(A, T0, "/"), view(A, T0 + TIMEOUT + 1, "/b")]
    assert len(list(split_visits(at_timeout, TIMEOUT))) == 1
    assert len(list(split_visits(beyond, TIMEOUT))) == 2


def test_an_engagement_before_the_first_page_view_counts_with_its_visit() -> None:
    # A late engagement that is followed by a page view within the timeout opens that visit.
    hits = [engaged(A, T0, 5 * S), view(A, T0 + 10 * MIN, "/x")]
    [visit] = split_visits(hits, TIMEOUT)
    assert (visit.start, visit.length_ms, visit.entry.path) == (T0, 10 * MIN, "/x")


def test_the_breakdown_per_dimension() -> None:
    rows = breakdown(visits())
    page = {value: f for (_, dim, value), f in rows.items() if dim == "page"}
    # "/" was viewed in A1, A2 and C1: 3 views by 2 visitors in 3 visits
    assert (page["/"].pageviews, page["/"].visitors, page["/"].visits) == (3, 2, 3)
    assert {p: f.pageviews for p, f in page.items()} == {"/": 3, "/pricing": 1, "/docs": 1, "/blog": 1}
    entry = {value: f.visits for (_, dim, value), f in rows.items() if dim == "entry"}
    exit_ = {value: f.visits for (_, dim, value), f in rows.items() if dim == "exit"}
    assert entry == {"/": 3, "/blog": 1}
    assert exit_ == {"/docs": 1, "/": 2, "/blog": 1}
    entry_home = rows[(DAY, "entry", "/")]
    assert (entry_home.bounces, entry_home.duration_ms) == (2, A1_LENGTH + A2_LENGTH + C1_LENGTH)
    referrer = {value: (f.visits, f.visitors) for (_, dim, value), f in rows.items() if dim == "referrer"}
    assert referrer == {"": (3, 2), "news.example": (1, 1)}
    assert rows[(DAY, "event", "outbound")] == Figures(visitors=1, visits=1, events=1)
    assert rows[(DAY, "browser", "Firefox")].visits == VISITS
    assert rows[(DAY, "device", "desktop")].visitors == 3
    assert daily(rows) == {DAY: figures(visits())}


def test_visitors_are_counted_per_day_and_summed() -> None:
    # The same visitor code on two days is two daily visitors (codes change daily; a clash of
    # codes on two days says nothing about the person).
    next_day = T0 + DAY_MS
    hits = [view(A, T0, "/"), view(A, next_day, "/")]
    found = list(split_visits(hits, TIMEOUT))
    assert [day_of_ms(v.start) for v in found] == [DAY, date(2026, 3, 11)]
    assert figures(found).visitors == 2
    per_day = daily(breakdown(found))
    assert sum(f.visitors for f in per_day.values()) == 2
