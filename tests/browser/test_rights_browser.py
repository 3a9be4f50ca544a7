"""Data-subject rights in Chromium against a live server.

(a) A user signs in, files an access request on "My requests" and downloads the package (JSON)
and the PDF report.
(b) A signed-in user visits a measured page of another origin on the same host (the tracker's
beacons carry the portal cookie, as on a company's own site); the events are stored under the
visitor code of their browser. They object on "My requests": the events their browser can still
be linked to are deleted, their usage events lose the link to them, and the tracker's further
events are dropped at ingestion and only counted as an objection. Withdrawing the objection lets
events be stored again.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import func, select
from tests.billing.helpers import usage_by
from tests.browser.conftest import LiveServer
from tests.browser.sites import PagesHandler, chrome_user_agent, serving
from tests.browser.test_category_a import portal_sign_in, watch
from tests.browser.test_tracker import DOMAIN, turned_away, wait_until
from tests.factories import SYSTEM, make_customer, make_site, make_user

from lawful.data.db import Database
from lawful.monitoring.models import PageEvent, UsageEvent
from lawful.rights.visitors import codes_for
from lawful.users.models import User, UserRole

pytestmark = pytest.mark.browser

TESTS = SYSTEM


def tag() -> str:
    return uuid.uuid4().hex[:8]


def a_user(live_server: LiveServer, name: str) -> User:
    word = tag()
    customer, _ = make_customer(
        live_server.db,
        legal_name=f"Rights {word} B.V.",
        billing_email=f"billing-{word}@acme.example",
        contacts=0,
    )
    email = f"{name.split()[0].lower()}-{word}@acme.example"
    return make_user(live_server.db, customer_id=customer.id, email=email, name=name, role=UserRole.member)


# --- (a) access -------------------------------------------------------------------------------------


def test_a_user_files_an_access_request_and_downloads_the_package_and_the_pdf(
    live_server: LiveServer, page: Page, tmp_path: Path
) -> None:
    errors = watch(page)
    user = a_user(live_server, "Ria Visser")
    portal_sign_in(page, live_server, email=user.email, name="Ria Visser")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My requests").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My requests")
    page.get_by_role("button", name="Get my data").click()
    expect(page.get_by_role("status")).to_contain_text("Your data is ready")
    row = page.get_by_role("row").filter(has_text="Access to your data")
    expect(row).to_contain_text("done")

    with page.expect_download() as json_download:
        row.get_by_role("link", name="Your data (JSON)").click()
    saved = tmp_path / json_download.value.suggested_filename
    json_download.value.save_as(saved)
    assert saved.suffix == ".json"
    package = json.loads(saved.read_text(encoding="utf-8"))
    users = next(t for t in package["data"] if t["table"] == "users")
    assert [(r["id"], r["email"], r["name"]) for r in users["rows"]] == [
        (str(user.id), user.email, "Ria Visser")
    ]
    assert user.email in saved.read_text(encoding="utf-8")

    with page.expect_download() as pdf_download:
        row.get_by_role("link", name="Readable report (PDF)").click()
    pdf = tmp_path / pdf_download.value.suggested_filename
    pdf_download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert errors == []


# --- (b) objection ------------------------------------------------------------------------------------


@pytest.fixture
def measured(live_server: LiveServer) -> Iterator[str]:
    """A measured site on 127.0.0.1 (another port: another origin, the same site as Lawful)."""
    make_site(live_server.db, domain=DOMAIN, name="The shop")
    tag_html = f'<script defer data-site="{DOMAIN}" src="{live_server.url}/js/lawful.js"></script>'
    pages = {
        path: f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<link rel="icon" href="data:,">{tag_html}</head><body><h1>{title}</h1></body></html>'
        for path, title in (("/", "Shop"), ("/pricing.html", "Pricing"), ("/about.html", "About"))
    }
    with serving(type("Shop", (PagesHandler,), {"pages": pages}), "measured-site") as server:
        yield f"http://127.0.0.1:{server.server_address[1]}"


def stored_codes(db: Database) -> list[int]:
    """The visitor codes of the events stored for the measured site, oldest first."""
    with db.unit_of_work("monitoring", TESTS) as session:
        return list(session.scalars(select(PageEvent.visitor_id).order_by(PageEvent.id)))


def linked_usage(db: Database, user_id: uuid.UUID) -> tuple[int, int]:
    """(usage events linked to the user, usage events in all)."""
    with db.unit_of_work("monitoring", TESTS) as session:
        linked = session.scalar(
            select(func.count()).select_from(UsageEvent).where(UsageEvent.user_id == user_id)
        )
        total = session.scalar(select(func.count()).select_from(UsageEvent))
    return int(linked or 0), int(total or 0)


def codes_of_this_browser(db: Database, user_agent: str) -> set[int]:
    with db.purposes(TESTS, "monitoring") as work:
        return set(codes_for(work, "127.0.0.1", user_agent))


def test_a_user_objects_and_the_trackers_events_stop_being_linked_to_them(
    live_server: LiveServer, measured: str, visitor: BrowserContext, tracked_browser: Browser
) -> None:
    db = live_server.db
    user = a_user(live_server, "Sem de Boer")
    usage_by(db, user, minutes_ago=1)
    page = visitor.new_page()
    errors = watch(page)
    portal_sign_in(page, live_server, email=user.email, name="Sem de Boer")

    # Signed in, the user's visits are measured under their browser's code of the day.
    page.goto(f"{measured}/")
    page.goto(f"{measured}/pricing.html")  # leaving the first page sends its engagement too
    wait_until(lambda: len(stored_codes(db)) >= 3, lambda: stored_codes(db), page)
    codes = set(stored_codes(db))
    user_agent = chrome_user_agent(tracked_browser.version.split(".")[0])
    assert codes <= codes_of_this_browser(db, user_agent), "the events are linked to this browser"
    assert linked_usage(db, user.id) == (1, 1)

    # The objection, on "My requests" (once the engagement sent on leaving the site is stored).
    page.goto(f"{live_server.url}/portal/rights")
    wait_until(lambda: len(stored_codes(db)) >= 4, lambda: stored_codes(db), page)
    page.get_by_role("button", name="Object to this").click()
    expect(page.get_by_role("status")).to_contain_text("Your objection is recorded")
    row = page.get_by_role("row").filter(has_text="Objection to monitoring")
    expect(row).to_contain_text("done")
    expect(row).to_contain_text("1 usage event no longer linked to you")
    assert stored_codes(db) == [], "the events linkable to the user are deleted"
    assert linked_usage(db, user.id) == (0, 1), "the usage still counts, without the person"

    # The tracker still sends; ingestion drops the events and only counts the objection.
    before = turned_away(db, "objection")
    page.goto(f"{measured}/about.html")
    page.goto(f"{measured}/")
    wait_until(lambda: turned_away(db, "objection") >= before + 2, lambda: turned_away(db, "objection"), page)
    page.wait_for_timeout(500)
    assert stored_codes(db) == []

    # Withdrawn, the user's visits are measured again from now on (nothing comes back).
    page.goto(f"{live_server.url}/portal/rights")
    page.get_by_role("button", name="Withdraw my objection").click()
    expect(page.get_by_role("status")).to_contain_text("Your objection is withdrawn")
    expect(page.get_by_role("button", name="Object to this")).to_be_visible()
    page.goto(f"{measured}/pricing.html")
    wait_until(lambda: len(stored_codes(db)) >= 1, lambda: stored_codes(db), page)
    assert set(stored_codes(db)) <= codes_of_this_browser(db, user_agent)
    assert linked_usage(db, user.id) == (0, 1)
    assert errors == []
