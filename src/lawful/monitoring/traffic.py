"""Demo traffic: a month of realistic visits to two demo sites, and usage for the demo customers.

Everything goes through the real pipeline. Page views, engagement, outbound clicks and custom
events are built as a browser would send them (the tracker's JSON, an IP address, a real
user-agent string, Global Privacy Control for some visitors, a few bots) and handed to
:meth:`lawful.monitoring.ingest.Tracker.ingest` in chunks, each event with its own time as
``at``: the pipeline validates, drops, pseudonymises under the salt of that day (creating the
salts of past days) and stores. Afterwards the salts are rotated as the daily job would, so the
salts of past days are gone as in real life. Usage events for the demo customers go through
:func:`lawful.monitoring.usage.record`, with timestamps inside the window it accepts.

The traffic follows a daily rhythm (busy office hours, quiet nights, calmer weekends), comes in
visits of several page views from search engines, social networks, campaigns (``utm_*``) and
direct, on a realistic mix of browsers, systems and devices. The same seed and ``now`` give the
same events.
"""

from __future__ import annotations

import ipaddress
import math
import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lawful.customers.models import Customer, CustomerStatus
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.monitoring import usage
from lawful.monitoring.ingest import PURPOSE, Client, Tracker
from lawful.monitoring.models import PageEvent, Site, UsageService
from lawful.monitoring.salts import rotate
from lawful.users.models import AccountStatus, User

ACTOR = Actor.system("demo")
CHUNK = 4000
USAGE_BATCH = 1000
USAGE_SERVICE = "Lawful app (demo)"
DAY_MS = 86_400_000
MINUTE_MS = 60_000

Event = tuple[dict[str, Any], Client, int]

# --- what the traffic looks like ------------------------------------------------------------------

#: Real user-agent strings and their share of human visits: (user agent, weight).
BROWSERS: list[tuple[str, int]] = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        26,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.0.0 Safari/537.36",
        6,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        9,
    ),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", 5),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        10,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
        7,
    ),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0", 2),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", 2),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        1,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1.1 Mobile/15E148 Safari/604.1",
        12,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
        4,
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
        9,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
        3,
    ),
    ("Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", 1),
    (
        "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Mobile/15E148 Safari/604.1",
        2,
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        1,
    ),
]
#: Automated clients (the pipeline drops them as bots).
BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 "
    "Safari/537.36",
    "python-requests/2.32.3",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
]
#: Address blocks that visitors come from (IPv4 and IPv6).
NETWORKS = [
    ipaddress.ip_network(n)
    for n in (
        "77.160.0.0/12",
        "84.80.0.0/13",
        "86.80.0.0/12",
        "145.128.0.0/11",
        "31.20.0.0/14",
        "62.194.0.0/15",
        "94.208.0.0/12",
        "178.84.0.0/14",
        "2a02:a440::/29",
        "2001:1c00::/23",
    )
]
NETWORK_WEIGHTS = [14, 10, 9, 8, 7, 6, 6, 5, 9, 6]


@dataclass(frozen=True)
class SiteSpec:
    domain: str
    name: str
    share: float  # of the visits
    pages: list[tuple[str, int]]  # (path, weight as an entry or next page)
    events: dict[str, list[tuple[str, float]]]  # path prefix -> (custom event, chance per view)
    outbound: list[str]
    one_page: float  # chance that a visit has one page view
    more_pages: float  # chance of one more page view after the second
    dwell_s: float  # median seconds on a page
    referrers: bool  # whether visits come from elsewhere (the app is mostly direct)


SITES = [
    SiteSpec(
        domain="www.lawful.demo",
        name="Lawful website",
        share=0.68,
        pages=[
            ("/", 30),
            ("/pricing", 14),
            ("/features", 9),
            ("/features/analytics", 5),
            ("/features/invoicing", 5),
            ("/features/privacy", 4),
            ("/blog", 6),
            ("/blog/privacy-friendly-analytics", 7),
            ("/blog/usage-based-pricing", 5),
            ("/blog/gdpr-for-saas-teams", 4),
            ("/blog/no-more-cookie-banners", 6),
            ("/docs", 5),
            ("/docs/getting-started", 4),
            ("/docs/api", 4),
            ("/docs/tracker-script", 3),
            ("/about", 3),
            ("/careers", 2),
            ("/contact", 3),
            ("/signup", 5),
            ("/legal/privacy", 1),
        ],
        events={
            "/signup": [("signup", 0.35)],
            "/pricing": [("plan_selected", 0.12)],
            "/contact": [("contact_form", 0.2)],
            "/blog/": [("newsletter_subscribed", 0.03), ("whitepaper_download", 0.02)],
            "/docs": [("copy_snippet", 0.08)],
        },
        outbound=[
            "https://github.com/lawful-demo/lawful",
            "https://www.linkedin.com/company/lawful-demo",
            "https://status.lawful.demo/",
            "https://app.lawful.demo/login",
            "https://mastodon.social/@lawful",
        ],
        one_page=0.44,
        more_pages=0.55,
        dwell_s=28,
        referrers=True,
    ),
    SiteSpec(
        domain="app.lawful.demo",
        name="Lawful app",
        share=0.32,
        pages=[
            ("/dashboard", 30),
            ("/customers", 14),
            *[(f"/customers/{n}", 1) for n in (1042, 1187, 1203, 1311, 1420, 1577, 1603, 1789)],
            ("/invoices", 12),
            ("/invoices/new", 5),
            *[(f"/invoices/2026-{n:06d}", 1) for n in (117, 118, 121, 125, 130, 133)],
            ("/reports", 7),
            ("/reports/revenue", 4),
            ("/settings", 3),
            ("/settings/team", 2),
            ("/settings/billing", 2),
            ("/help", 2),
        ],
        events={
            "/invoices/new": [("invoice_created", 0.55)],
            "/customers": [("customer_added", 0.05), ("search", 0.18)],
            "/reports": [("report_exported", 0.15)],
            "/settings/team": [("teammate_invited", 0.12)],
        },
        outbound=["https://www.lawful.demo/docs", "https://status.lawful.demo/"],
        one_page=0.12,
        more_pages=0.8,
        dwell_s=45,
        referrers=False,
    ),
]

SEARCH = [("https://www.google.com/", 78), ("https://www.bing.com/", 8), ("https://duckduckgo.com/", 8)]
SEARCH += [("https://www.ecosia.org/", 4), ("https://search.brave.com/", 2)]
SOCIAL = [
    ("https://www.linkedin.com/", 40),
    ("https://t.co/", 18),
    ("https://www.facebook.com/", 10),
    ("https://www.reddit.com/", 12),
    ("https://news.ycombinator.com/", 12),
    ("https://mastodon.social/", 8),
]
ELSEWHERE = [
    ("https://dev.to/", 25),
    ("https://www.producthunt.com/", 20),
    ("https://github.com/", 30),
    ("https://tweakers.net/", 15),
    ("https://emerce.nl/", 10),
]
#: Campaigns: (utm_source, utm_medium, utm_campaign, landing page, weight).
CAMPAIGNS = [
    ("newsletter", "email", "november-update", "/blog/usage-based-pricing", 30),
    ("linkedin", "social", "privacy-launch", "/features/privacy", 25),
    ("google", "cpc", "brand", "/", 20),
    ("google", "cpc", "analytics-without-cookies", "/features/analytics", 15),
    ("partner", "referral", "accountants-2026", "/pricing", 10),
]
#: Where a campaign's visitors come from (a newsletter's links carry no referrer).
CAMPAIGN_REFERRERS: dict[str, str | None] = {
    "newsletter": None,
    "linkedin": "https://www.linkedin.com/",
    "google": "https://www.google.com/",
}
#: Hour-of-day weights (UTC) for a site used in the Netherlands: quiet nights, busy office hours.
HOURS = [2, 1, 1, 1, 1, 2, 5, 12, 20, 24, 25, 24, 21, 23, 24, 22, 18, 13, 10, 11, 12, 10, 7, 4]
#: Weekday weights, Monday first.
WEEKDAYS = [1.0, 1.05, 1.0, 0.97, 0.85, 0.45, 0.4]


# --- the plan --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Visitor:
    ip: str
    user_agent: str
    objects: bool  # Global Privacy Control (or the opt-out flag)
    bot: bool


@dataclass
class Plan:
    """The events to send, in time order, and who sent them."""

    events: list[Event]
    visits: int
    visitors: list[Visitor]


def _address(rng: random.Random) -> str:
    network = rng.choices(NETWORKS, weights=NETWORK_WEIGHTS)[0]
    host = rng.randrange(1, network.num_addresses - 1)
    return str(network.network_address + host)


def _visitors(rng: random.Random, count: int) -> list[Visitor]:
    agents, weights = zip(*BROWSERS, strict=True)
    people = []
    for _ in range(count):
        bot = rng.random() < 0.02
        people.append(
            Visitor(
                ip=_address(rng),
                user_agent=rng.choice(BOTS) if bot else rng.choices(agents, weights=weights)[0],
                objects=not bot and rng.random() < 0.04,
                bot=bot,
            )
        )
    return people


def _pick(rng: random.Random, choices: Sequence[tuple[str, int]]) -> str:
    return rng.choices([c[0] for c in choices], weights=[c[1] for c in choices])[0]


def _start(rng: random.Random, now_ms: int, days: int, day_weights: list[float]) -> int:
    """A visit's first moment: a day of the range (weighted by weekday) and an hour of that day."""
    today_start = now_ms - now_ms % DAY_MS
    for _ in range(20):
        day = rng.choices(range(days), weights=day_weights)[0]
        hour = rng.choices(range(24), weights=HOURS)[0]
        at = today_start - (days - 1 - day) * DAY_MS + hour * 3_600_000 + rng.randrange(3_600_000)
        if at < now_ms - 10 * MINUTE_MS:
            return at
    return now_ms - rng.randrange(15, 24 * 60) * MINUTE_MS  # early in the day: some time before now


def _referrer(rng: random.Random, site: SiteSpec) -> tuple[str | None, str, str]:
    """(referrer, landing path, kept and dropped query string) of a visit's first page view."""
    path = _pick(rng, site.pages)
    if not site.referrers:
        roll = rng.random()
        referrer = "https://www.lawful.demo/" if roll < 0.2 else None
        return referrer, "/login" if rng.random() < 0.3 else path, ""
    roll = rng.random()
    if roll < 0.11:
        source, medium, campaign, landing, _ = rng.choices(CAMPAIGNS, weights=[c[4] for c in CAMPAIGNS])[0]
        query = f"utm_source={source}&utm_medium={medium}&utm_campaign={campaign}"
        if medium == "cpc":
            query += f"&gclid={rng.getrandbits(64):x}"  # a click id: the pipeline drops it
        elif source == "linkedin":
            query += f"&li_fat_id={rng.getrandbits(48):x}"
        return CAMPAIGN_REFERRERS.get(source, "https://partner.example/"), landing, query
    if roll < 0.55:
        return _pick(rng, SEARCH), path, ""
    if roll < 0.68:
        referrer = _pick(rng, SOCIAL)
        query = f"fbclid={rng.getrandbits(64):x}" if "facebook" in referrer else ""
        return referrer, path, query
    if roll < 0.76:
        return _pick(rng, ELSEWHERE), path, ""
    return None, path, ""  # direct: typed, bookmarked, or from an app that sends no referrer


def _dwell(rng: random.Random, median_s: float) -> int:
    """Milliseconds on a page: log-normal around the site's median, at most 20 minutes."""
    return int(min(1_200_000, max(800, rng.lognormvariate(math.log(median_s * 1000), 1.0))))


def _visit(rng: random.Random, site: SiteSpec, visitor: Visitor, start: int, now_ms: int) -> list[Event]:
    client = Client(visitor.ip, visitor.user_agent, visitor.objects)
    base = f"https://{site.domain}"
    referrer, path, query = _referrer(rng, site)
    pages = 1
    if visitor.bot:
        pages = rng.randint(1, 6)
    elif rng.random() >= site.one_page:
        pages = 2
        while pages < 25 and rng.random() < site.more_pages:
            pages += 1
    events: list[Event] = []
    at = start
    previous_url: str | None = None
    for n in range(pages):
        if n:
            path = _pick(rng, site.pages)
        url = f"{base}{path}" + (f"?{query}" if query and n == 0 else "")
        first: dict[str, Any] = {"n": "pageview", "s": site.domain, "u": url}
        first["r"] = referrer if n == 0 else previous_url
        events.append((_clean(first), client, at))
        if visitor.bot:
            at += rng.randint(300, 4000)
            previous_url = url
            continue
        dwell = _dwell(rng, site.dwell_s)
        if pages == 1 and rng.random() < 0.7:
            dwell = rng.randint(900, 9_500)  # most one-page visits are bounces
        for prefix, custom in site.events.items():
            if path.startswith(prefix):
                for name, chance in custom:
                    if rng.random() < chance:
                        events.append(({"n": name, "s": site.domain, "u": url}, client, at + dwell // 2))
        leaves = n == pages - 1
        if rng.random() < 0.035 and site.outbound:
            target = rng.choice(site.outbound)
            events.append(({"n": "outbound", "s": site.domain, "u": url, "t": target}, client, at + dwell))
            leaves = True
        visible = int(dwell * rng.uniform(0.75, 1.0))
        events.append(
            ({"n": "engagement", "s": site.domain, "u": url, "e": visible}, client, at + dwell + 50)
        )
        if leaves:
            break
        previous_url = url
        at += dwell + rng.randint(150, 1500)
    return [e for e in events if e[2] <= now_ms]


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def plan(*, days: int, events: int, seed: int, now: datetime) -> Plan:
    """Exactly ``events`` events over the ``days`` days up to ``now``, in time order (pure)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    rng = random.Random(seed)
    now_ms = int(now.timestamp() * 1000)
    first_day = datetime.fromtimestamp(now_ms / 1000, UTC).date() - timedelta(days=days - 1)
    growth = [1 + 0.006 * d for d in range(days)]  # a growing product
    day_weights = [WEEKDAYS[(first_day + timedelta(days=d)).weekday()] * growth[d] for d in range(days)]
    visitors = _visitors(rng, max(1, events // 14))
    regulars = visitors[: max(1, len(visitors) // 8)]  # people who come back often
    made: list[Event] = []
    visits = 0
    while len(made) < events:
        site = SITES[0] if rng.random() < SITES[0].share else SITES[1]
        visitor = rng.choice(regulars) if rng.random() < 0.3 else rng.choice(visitors)
        start = _start(rng, now_ms, days, day_weights)
        made.extend(_visit(rng, site, visitor, start, now_ms))
        visits += 1
    del made[events:]
    made.sort(key=lambda e: e[2])
    return Plan(made, visits, visitors)


# --- generation ----------------------------------------------------------------------------------


@dataclass
class TrafficResult:
    """What a run sent and what the pipeline made of it."""

    generated: int = 0
    stored: int = 0
    dropped: int = 0
    visits: int = 0
    salts_removed: int = 0
    usage_accepted: int = 0
    usage_duplicates: int = 0
    usage_rejected: int = 0
    traffic_seconds: float = 0.0
    usage_seconds: float = 0.0
    sites: list[str] = field(default_factory=list)


def ensure_sites(db: Database) -> list[uuid.UUID]:
    """The demo sites, registered (and active) if they were not."""
    ids = []
    with db.unit_of_work(PURPOSE, ACTOR) as session:
        for spec in SITES:
            site = session.scalar(select(Site).where(Site.domain == spec.domain))
            if site is None:
                site = Site(domain=spec.domain, name=spec.name)
                session.add(site)
                session.flush()
            site.active = True
            ids.append(site.id)
    return ids


def has_traffic(db: Database) -> bool:
    """Whether the demo sites have raw events already (a second demo run adds none)."""
    with db.unit_of_work(PURPOSE, ACTOR) as session:
        found = session.scalar(
            select(func.count())
            .select_from(PageEvent)
            .join(Site, Site.id == PageEvent.site_id)
            .where(Site.domain.in_([s.domain for s in SITES]))
        )
    return bool(found)


def _chunks(items: Sequence[Event], size: int) -> Iterator[Sequence[Event]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def generate(
    db: Database,
    *,
    days: int = 30,
    events: int = 200_000,
    seed: int = 2026,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    usage_progress: Callable[[int], None] | None = None,
    with_usage: bool = True,
) -> TrafficResult:
    """Send ``events`` tracker events over ``days`` days through the pipeline, rotate the salts,
    and report ``days`` days of usage for the active demo customers.

    Calls ``progress(n)`` after each chunk of ``n`` tracker events and ``usage_progress(n)``
    after each batch of ``n`` usage events.
    """
    clock = time.perf_counter()
    now = now or datetime.now(UTC)
    result = TrafficResult(sites=[s.domain for s in SITES])
    ensure_sites(db)
    planned = plan(days=days, events=events, seed=seed, now=now)
    result.generated, result.visits = len(planned.events), planned.visits
    tracker = Tracker(db)
    for chunk in _chunks(planned.events, CHUNK):
        stored, dropped = tracker.ingest(chunk)
        result.stored += stored
        result.dropped += dropped
        if progress:
            progress(len(chunk))
    with db.unit_of_work(PURPOSE, ACTOR) as session:
        result.salts_removed = rotate(
            session, now=now, lifetime_hours=db.policy.monitoring.salt_lifetime_hours
        )
    result.traffic_seconds = time.perf_counter() - clock
    if with_usage:
        clock = time.perf_counter()
        outcomes = report_usage(
            db, usage_events(db, days=days, seed=seed, now=now), now=now, progress=usage_progress
        )
        result.usage_accepted = sum(o.status == "accepted" for o in outcomes)
        result.usage_duplicates = sum(o.status == "duplicate" for o in outcomes)
        result.usage_rejected = sum(o.status == "rejected" for o in outcomes)
        result.usage_seconds = time.perf_counter() - clock
    return result


# --- usage for fees --------------------------------------------------------------------------------


def _service(session: Session) -> UsageService:
    found = session.scalar(select(UsageService).where(UsageService.name == USAGE_SERVICE))
    if found is not None:
        return found
    service, _ = usage.create_service(session, name=USAGE_SERVICE)  # the key is not needed here
    return service


def usage_plan(
    customers: Sequence[uuid.UUID],
    seats: dict[uuid.UUID, list[uuid.UUID]],
    *,
    days: int,
    seed: int,
    now: datetime,
) -> list[dict[str, Any]]:
    """Usage events of ``days`` days up to ``now`` (never after it), as the services send them:
    API calls in four reports a day, storage once a day, a seat per user active that day."""
    rng = random.Random(seed + 1)
    today = now.date()
    made: list[dict[str, Any]] = []

    def add(key: str, customer: uuid.UUID, code: str, at: datetime, value: str, **extra: Any) -> None:
        if at <= now:
            made.append(
                {
                    "idempotency_key": key,
                    "customer_id": str(customer),
                    "code": code,
                    "timestamp": at.isoformat().replace("+00:00", "Z"),
                    "value": value,
                    **extra,
                }
            )

    for customer in customers:
        size = rng.lognormvariate(math.log(400), 1.1)  # API calls on an ordinary weekday
        storage = rng.uniform(0.5, 40)
        tag = customer.hex
        for back in range(days - 1, -1, -1):
            day = today - timedelta(days=back)
            midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
            factor = WEEKDAYS[day.weekday()]
            for window, share in enumerate((0.08, 0.47, 0.38, 0.07)):
                calls = int(rng.gauss(size * factor * share, size * share * 0.15))
                if calls > 0:
                    at = midnight + timedelta(hours=6 * window + 5, minutes=59, seconds=rng.randrange(60))
                    add(f"demo:{tag}:{day}:api:{window}", customer, "api.call", at, str(calls))
            storage = max(0.1, storage * rng.uniform(0.995, 1.02))
            at = midnight + timedelta(hours=2, minutes=rng.randrange(30))
            add(
                f"demo:{tag}:{day}:storage",
                customer,
                "storage.gb",
                at,
                f"{storage:.3f}",
                properties={"tier": "standard"},
            )
            for user in seats.get(customer, []):
                if rng.random() < 0.65 * factor:
                    at = midnight + timedelta(hours=rng.choice(range(7, 18)), minutes=rng.randrange(60))
                    add(
                        f"demo:{tag}:{day}:seat:{user.hex}",
                        customer,
                        "seat.active",
                        at,
                        "1",
                        user_id=str(user),
                    )
    return made


def usage_events(
    db: Database, *, days: int = 30, seed: int = 2026, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The usage events of ``days`` days (at most 34: older ones would be refused) for every
    active customer and its active users, in customer order (the same for the same database)."""
    now = now or datetime.now(UTC)
    days = min(days, usage.MAX_AGE.days - 1)
    with db.unit_of_work("contract", ACTOR) as session:
        customers = sorted(
            session.scalars(select(Customer.id).where(Customer.status == CustomerStatus.active)), key=str
        )
        seats: dict[uuid.UUID, list[uuid.UUID]] = {}
        for user_id, customer_id in session.execute(
            select(User.id, User.customer_id).where(User.status == AccountStatus.active)
        ):
            seats.setdefault(customer_id, []).append(user_id)
    for people in seats.values():
        people.sort(key=str)
    return usage_plan(customers, seats, days=days, seed=seed, now=now)


def report_usage(
    db: Database,
    events: Sequence[dict[str, Any]],
    *,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[usage.Outcome]:
    """Send usage events as the demo app's service, in batches of :data:`USAGE_BATCH`."""
    now = now or datetime.now(UTC)
    outcomes: list[usage.Outcome] = []
    with db.unit_of_work(PURPOSE, ACTOR) as session:
        service_id = _service(session).id
    for start in range(0, len(events), USAGE_BATCH):
        batch = events[start : start + USAGE_BATCH]
        with db.unit_of_work(PURPOSE, ACTOR) as session:
            service = session.get(UsageService, service_id)
            assert service is not None
            outcomes.extend(usage.record(session, service, batch, now=now))
        if progress:
            progress(len(batch))
    return outcomes
