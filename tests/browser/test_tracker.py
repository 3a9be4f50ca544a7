"""The tracker script in Chromium on a measured site of its own origin, against a live Lawful server.

A small shop site is served by a second HTTP server on 127.0.0.1 (another port: another origin,
as when a company's site includes the tag of its Lawful server). It has a multi-page part and a
single-page app. The tests drive it and read what Lawful stored in ``page_events``: page views,
SPA navigations, a marked click, an outbound link and the engaged time on leaving; and that
Global Privacy Control, the opt-out flag and ``Sec-GPC: 1`` leave nothing behind, and that the
script keeps nothing in the browser.

Chromium runs with ``--disable-blink-features=AutomationControlled`` and an ordinary desktop
Chrome user agent: the script sends nothing when ``navigator.webdriver`` is true, and the server
drops ``HeadlessChrome`` as a bot.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request
from sqlalchemy import func, select
from tests.browser.conftest import LiveServer
from tests.browser.sites import WAIT_S, PagesHandler, serving, visitor_context

from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.monitoring.models import IngestCount, PageEvent, Site

pytestmark = pytest.mark.browser

DOMAIN = "shop.test"
TESTS = Actor.system("tests")
QUIET_S = 1.5  # how long nothing more may arrive after the expected events (or none) did
EVENT_PATH = "/api/event"


# --- the measured site ------------------------------------------------------------------------


def site_pages(lawful_url: str, partner_url: str) -> dict[str, str]:
    """The shop's pages by path; ``/app/`` and everything under it is the single-page app."""
    tag = f'<script defer data-site="{DOMAIN}" src="{lawful_url}/js/lawful.js"></script>'

    def page(title: str, body: str, *, tracked: bool = True) -> str:
        return (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f'<link rel="icon" href="data:,">{tag if tracked else ""}</head><body>{body}</body></html>'
        )

    spa = f"""
<h1 id="title">Shop app</h1>
<button id="settings" onclick="history.pushState({{}}, '', '/app/settings');
  document.getElementById('title').textContent = 'Settings'">Settings</button>
<button id="hash" onclick="history.pushState({{}}, '', '#details')">Details</button>
<button id="same" onclick="history.replaceState(history.state, '', location.href)">Refresh</button>
<p><a id="signup" href="/signup.html" data-lawful-event="signup"><span>Sign up</span></a></p>
<p><a id="pricing" href="/pricing.html">Pricing</a></p>
<p><button id="newsletter" data-lawful-event="newsletter">Subscribe</button></p>
<p><a id="partner-tab" href="{partner_url}/partner.html?ref=app" target="_blank">Our partner</a></p>
"""
    return {
        "/": page("Shop", '<h1>Shop</h1><p><a href="/app/">Open the app</a></p>'),
        "/app/": page("Shop app", spa),
        "/signup.html": page(
            "Sign up",
            f'<h1>Sign up</h1><p><a id="partner" href="{partner_url}/partner.html?ref=shop">Our partner</a></p>',
        ),
        "/pricing.html": page("Pricing", "<h1>Pricing</h1>"),
        "/plain.html": page("No tag", "<h1>A page without the tag</h1>", tracked=False),
        "/unregistered.html": page("Elsewhere", "<h1>Tagged for a site nobody registered</h1>").replace(
            f'data-site="{DOMAIN}"', 'data-site="elsewhere.test"'
        ),
        "/partner.html": page("Partner", "<h1>The partner's site</h1>", tracked=False),
    }


@dataclass
class ShopSite:
    url: str  # http://127.0.0.1:port
    partner: str  # the same server as http://localhost:port: another host for outbound links
    pages: dict[str, str]


class _Handler(PagesHandler):
    def page(self, path: str) -> str | None:
        return self.pages.get("/app/" if path.startswith("/app/") else path)


@pytest.fixture
def shop(live_server: LiveServer) -> Iterator[ShopSite]:
    """The shop's site on its own HTTP server, registered in Lawful as ``shop.test``."""
    with live_server.db.unit_of_work("monitoring", TESTS) as session:
        session.add(Site(domain=DOMAIN, name="The shop"))
    with serving(_Handler, "shop-site") as server:
        port = server.server_address[1]
        url, partner = f"http://127.0.0.1:{port}", f"http://localhost:{port}"
        pages = site_pages(live_server.url, partner)
        server.RequestHandlerClass = type("ShopHandler", (_Handler,), {"pages": pages})
        yield ShopSite(url, partner, pages)


@dataclass
class Traffic:
    """What the pages of one context sent to and got from Lawful's server."""

    lawful_url: str
    events: list[str]  # the bodies posted to /api/event
    statuses: list[int]  # the answers to them
    set_cookies: list[str]  # any Set-Cookie header from Lawful's server
    errors: list[str]  # errors the pages logged or threw

    def watch(self, page: Page) -> Page:
        def on_request(request: Request) -> None:
            if request.url.startswith(self.lawful_url + EVENT_PATH):
                self.events.append(request.post_data or "")

        def on_finished(request: Request) -> None:
            response = request.response()
            if response is None or not request.url.startswith(self.lawful_url):
                return
            if request.url.startswith(self.lawful_url + EVENT_PATH):
                self.statuses.append(response.status)
            cookie = response.all_headers().get("set-cookie")
            if cookie:
                self.set_cookies.append(f"{request.url}: {cookie}")

        page.on("request", on_request)
        page.on("requestfinished", on_finished)
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        return page


def traffic(live_server: LiveServer) -> Traffic:
    return Traffic(live_server.url, [], [], [], [])


# --- what Lawful stored -------------------------------------------------------------------------


class Stored(NamedTuple):
    name: str
    path: str
    target: str | None
    engaged_ms: int | None
    referrer_host: str | None
    browser: str | None
    browser_version: str | None
    device: str | None


def stored(db: Database) -> list[Stored]:
    with db.unit_of_work("monitoring", TESTS) as session:
        rows = session.execute(
            select(
                PageEvent.name,
                PageEvent.path,
                PageEvent.target,
                PageEvent.engaged_ms,
                PageEvent.referrer_host,
                PageEvent.browser,
                PageEvent.browser_version,
                PageEvent.device,
            )
            .join(Site, Site.id == PageEvent.site_id)
            .where(Site.domain == DOMAIN)
            .order_by(PageEvent.id)
        ).all()
    return [Stored(*row) for row in rows]


def turned_away(db: Database, reason: str) -> int:
    with db.unit_of_work("monitoring", TESTS) as session:
        total = session.scalar(
            select(func.coalesce(func.sum(IngestCount.count), 0))
            .join(Site, Site.id == IngestCount.site_id)
            .where(Site.domain == DOMAIN, IngestCount.reason == reason)
        )
    return int(total or 0)


def pause(page: Page | None, seconds: float) -> None:
    """Wait; through an open page, so that Playwright reports the page's requests meanwhile."""
    if page is not None and not page.is_closed():
        page.wait_for_timeout(seconds * 1000)
    else:
        time.sleep(seconds)


def wait_until(
    check: Callable[[], bool], what: Callable[[], object], page: Page | None, *, timeout: float = WAIT_S
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s; have: {what()}")
        pause(page, 0.05)


def link(url: str) -> str:
    """A link's address as Lawful stores it: scheme, host, port and path (no query or fragment)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def kinds(events: list[Stored]) -> Counter[tuple[str, str]]:
    return Counter((e.name, e.path) for e in events)


def wait_for_events(db: Database, expected: Counter[tuple[str, str]], page: Page | None) -> list[Stored]:
    """Wait until at least ``expected`` arrived, then a little more: nothing else may follow."""
    wait_until(lambda: kinds(stored(db)) >= expected, lambda: sorted(kinds(stored(db)).items()), page)
    pause(page, QUIET_S)
    events = stored(db)
    assert kinds(events) == expected
    return events


# Headless tabs are always visible; these stand-ins let a test hide and show its page.
VISIBILITY = (
    "window.__hidden = false;"
    "Object.defineProperty(document, 'hidden', {get: () => window.__hidden});"
    "Object.defineProperty(document, 'visibilityState', {get: () => window.__hidden ? 'hidden' : 'visible'});"
)
HIDE = "window.__hidden = true; document.dispatchEvent(new Event('visibilitychange'))"
SHOW = "window.__hidden = false; document.dispatchEvent(new Event('visibilitychange'))"


# --- the tests ----------------------------------------------------------------------------------


def test_page_views_spa_navigation_clicks_outbound_and_engagement_arrive(
    live_server: LiveServer, shop: ShopSite, visitor: BrowserContext, tracked_browser: Browser
) -> None:
    seen = traffic(live_server)
    page = seen.watch(visitor.new_page())
    started = time.monotonic()

    page.goto(f"{shop.url}/app/")
    assert page.evaluate("navigator.webdriver") is False
    assert page.evaluate("typeof window.lawful") == "function"  # the script ran
    wait_for_events(live_server.db, Counter({("pageview", "/app/"): 1}), page)

    # A single-page navigation, then a hash-only change and a replaceState to the same address,
    # which are not page views; then back to /app/ (popstate): a page view.
    page.click("#settings")
    page.wait_for_url(f"{shop.url}/app/settings")
    page.click("#hash")
    page.click("#same")
    page.wait_for_url(f"{shop.url}/app/settings#details")
    page.evaluate("history.back()")
    page.wait_for_url(f"{shop.url}/app/settings")
    page.evaluate("history.back()")
    page.wait_for_url(f"{shop.url}/app/")
    expected = Counter(
        {
            ("pageview", "/app/"): 2,
            ("pageview", "/app/settings"): 1,
            ("engagement", "/app/"): 1,  # left for /app/settings
            ("engagement", "/app/settings"): 1,  # left by going back
        }
    )
    wait_for_events(live_server.db, expected, page)

    # The marked link (clicked on its inner <span>): the custom event, then the next page.
    page.click("#signup span")
    page.wait_for_url(f"{shop.url}/signup.html")
    expected += Counter({("signup", "/app/"): 1, ("engagement", "/app/"): 1, ("pageview", "/signup.html"): 1})
    wait_for_events(live_server.db, expected, page)

    # The outbound link: the event, the page's engagement on leaving, and nothing from the partner.
    page.click("#partner")
    page.wait_for_url(f"{shop.partner}/partner.html?ref=shop")
    expected += Counter({("outbound", "/signup.html"): 1, ("engagement", "/signup.html"): 1})
    events = wait_for_events(live_server.db, expected, page)
    elapsed_ms = (time.monotonic() - started) * 1000

    signup = next(e for e in events if e.name == "signup")
    assert signup.target == link(f"{shop.url}/signup.html")  # the link's address
    outbound = next(e for e in events if e.name == "outbound")
    assert outbound.target == link(f"{shop.partner}/partner.html")  # without its query string
    engaged = [e.engaged_ms for e in events if e.name == "engagement"]
    assert all(ms is not None and ms > 0 for ms in engaged), engaged
    assert sum(ms or 0 for ms in engaged) <= elapsed_ms  # visible time, never counted twice
    assert all(e.engaged_ms is None for e in events if e.name != "engagement")
    assert all(e.referrer_host is None for e in events)  # no referrer, or the shop itself
    major = tracked_browser.version.split(".")[0]
    assert {(e.browser, e.browser_version, e.device) for e in events} == {("Chrome", major, "desktop")}
    assert set(seen.statuses) <= {202}, seen.statuses
    assert not seen.errors, seen.errors

    # The script kept nothing in the browser: no cookie (from either server) and no storage entry.
    assert not seen.set_cookies, seen.set_cookies
    assert visitor.cookies() == []
    check = visitor.new_page()
    check.goto(f"{shop.url}/plain.html")
    assert check.evaluate("[localStorage.length, sessionStorage.length]") == [0, 0]


def test_engaged_time_skips_hidden_periods_and_is_sent_once_per_hidden_period(
    live_server: LiveServer, shop: ShopSite, visitor: BrowserContext
) -> None:
    seen = traffic(live_server)
    page = seen.watch(visitor.new_page())
    page.add_init_script(VISIBILITY)

    before = time.monotonic()
    page.goto(f"{shop.url}/pricing.html")
    wait_for_events(live_server.db, Counter({("pageview", "/pricing.html"): 1}), page)
    page.evaluate(HIDE)
    first_bound = (time.monotonic() - before) * 1000
    # Leaving while hidden (pagehide after visibilitychange) sends no second engagement.
    page.evaluate("window.dispatchEvent(new PageTransitionEvent('pagehide', {persisted: false}))")
    events = wait_for_events(
        live_server.db, Counter({("pageview", "/pricing.html"): 1, ("engagement", "/pricing.html"): 1}), page
    )
    first = events[-1].engaged_ms
    assert first is not None and 0 < first <= first_bound

    hidden_for = 1.0
    pause(page, hidden_for)
    shown_at = time.monotonic()
    page.evaluate(SHOW)
    pause(page, 0.3)
    page.close()  # closing the tab: pagehide sends the rest
    second_bound = (time.monotonic() - shown_at) * 1000
    events = wait_for_events(
        live_server.db, Counter({("pageview", "/pricing.html"): 1, ("engagement", "/pricing.html"): 2}), None
    )
    second = events[-1].engaged_ms
    assert second is not None and 0 < second <= second_bound
    assert not seen.errors, seen.errors


@pytest.mark.parametrize("signal", ["global-privacy-control", "opt-out-flag"])
def test_gpc_and_the_opt_out_flag_send_nothing(
    live_server: LiveServer, shop: ShopSite, tracked_browser: Browser, signal: str
) -> None:
    ctx = visitor_context(tracked_browser)
    try:
        if signal == "global-privacy-control":
            ctx.add_init_script(
                "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"
            )
        seen = traffic(live_server)
        page = seen.watch(ctx.new_page())
        if signal == "opt-out-flag":
            page.goto(f"{shop.url}/plain.html")  # the site's opt-out link sets this on its origin
            page.evaluate("localStorage.lawful_ignore = 'true'")
        visit_everything(page, shop)
        pause(page, QUIET_S)
    finally:
        ctx.close()
    assert seen.events == []  # nothing left the browser
    assert stored(live_server.db) == []
    assert turned_away(live_server.db, "objection") == 0
    assert not seen.errors, seen.errors


def test_a_sec_gpc_header_is_honoured_by_the_server(
    live_server: LiveServer, shop: ShopSite, tracked_browser: Browser
) -> None:
    """The script sends; the server sees ``Sec-GPC: 1`` and stores nothing, it only counts.

    Every event here leaves a page that is still open: Playwright adds its extra headers to the
    requests of live pages only, not to a beacon that outlives its page (a browser with GPC
    switched on sends the header on those too).
    """
    ctx = visitor_context(tracked_browser, extra_http_headers={"Sec-GPC": "1"})
    try:
        seen = traffic(live_server)
        page = seen.watch(ctx.new_page())
        page.add_init_script(VISIBILITY)
        page.goto(f"{shop.url}/app/")  # a page view
        page.click("#settings")  # an SPA navigation: the engagement of /app/ and a page view
        page.wait_for_url(f"{shop.url}/app/settings")
        page.click("#newsletter")  # a marked element
        with ctx.expect_page() as opened:
            page.click("#partner-tab")  # an outbound link, opened in a new tab
        opened.value.close()
        page.evaluate(HIDE)  # an engagement
        sent = 6
        wait_until(lambda: turned_away(live_server.db, "objection") >= sent, lambda: seen.events, page)
        pause(page, QUIET_S)
    finally:
        ctx.close()
    assert len(seen.events) == sent
    assert {json.loads(body)["n"] for body in seen.events} == {
        "pageview",
        "engagement",
        "newsletter",
        "outbound",
    }
    assert turned_away(live_server.db, "objection") == sent
    assert stored(live_server.db) == []
    assert not seen.errors, seen.errors


def visit_everything(page: Page, shop: ShopSite) -> None:
    """A page view, an SPA navigation, the marked link and the outbound link."""
    page.goto(f"{shop.url}/app/")
    assert page.evaluate("typeof window.lawful") == "function"  # the script is there and ran
    page.click("#settings")
    page.wait_for_url(f"{shop.url}/app/settings")
    page.click("#signup")
    page.wait_for_url(f"{shop.url}/signup.html")
    page.click("#partner")
    page.wait_for_url(f"{shop.partner}/partner.html?ref=shop")


def test_an_unregistered_site_stores_nothing(
    live_server: LiveServer, shop: ShopSite, visitor: BrowserContext
) -> None:
    """Control: the same tag under a domain nobody registered sends, and the server refuses it."""
    seen = traffic(live_server)
    page = seen.watch(visitor.new_page())
    page.goto(f"{shop.url}/unregistered.html")
    wait_until(lambda: len(seen.statuses) >= 1, lambda: seen.events, page)
    assert seen.statuses == [404]
    assert json.loads(seen.events[0])["s"] == "elsewhere.test"
    assert stored(live_server.db) == []
