"""The privacy officer's console pages of data-subject requests: the queue with overdue requests
first, recording a request (the same words whether or not the address is known), a request's
page with extending, refusing and carrying it out, the erasure's confirmation page and its
result, the package of an access request, corrections, and restrictions with lifting them."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select
from tests.factories import SYSTEM, make_staff
from tests.rights.test_api import (
    ADA,
    BEN,
    OFFICER,
    REASON,
    SETTINGS,
    STRANGER,
    file_as,
    people,
    rights_mail,
    verification_token,
)
from tests.rights.world import World, build, where_found
from tests.web.test_console import assert_accessible, console_client, post, sign_in

from lawful.billing.models import Invoice
from lawful.data.base import table_of
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.retention.holds import hold_of
from lawful.rights import service
from lawful.rights.models import RequestKind, RightsRequest
from lawful.users.models import StaffRole

TODAY = datetime.now(UTC).date()
OFFICER_ACTOR = Actor.system("tests:console")


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def section_html(page: str, element_id: str) -> str:
    """The markup of the element with ``element_id`` (up to its table, list, dl or p closing)."""
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:table|ul|dl|p|dd)>', page, re.S)
    assert found, element_id
    return found.group(1)


def section(page: str, element_id: str) -> str:
    """The text of the element with ``element_id``."""
    return text_of(section_html(page, element_id))


def signed_in(db: Database, email: str = OFFICER) -> TestClient:
    client = console_client(db, base_url="http://testserver")
    assert sign_in(client, email).status_code == 303
    return client


def count_requests(db: Database) -> int:
    with db.unit_of_work("accountability", SYSTEM) as session:
        return int(session.scalar(select(func.count()).select_from(RightsRequest)) or 0)


def recorded(db: Database, email: str, kind: str, *, days_ago: int = 0) -> uuid.UUID:
    received = datetime.now(UTC) - timedelta(days=days_ago)
    return service.record_request(
        db,
        officer=OFFICER_ACTOR,
        kind=kind,
        channel="email",
        email=email,
        received_at=received,
        settings=SETTINGS,
    ).id


def confirmed(db: Database, email: str, kind: str) -> uuid.UUID:
    request_id = recorded(db, email, kind)
    assert service.verify(db, verification_token(db, email))
    return request_id


@pytest.fixture
def ids(sqlite_db: Database) -> dict[str, uuid.UUID]:
    return people(sqlite_db)


@pytest.fixture
def officer(sqlite_db: Database, ids: dict[str, uuid.UUID]) -> Iterator[TestClient]:
    with signed_in(sqlite_db) as client:
        yield client


def status_of(db: Database, request_id: uuid.UUID) -> str:
    with db.unit_of_work("accountability", SYSTEM) as session:
        return service.get(session, request_id).status.value


@pytest.fixture
def world(sqlite_db: Database) -> World:
    """The customer world of tests/rights/world.py (a sole proprietor with a contact person and a
    user, and their invoice)."""
    return build(sqlite_db)


@pytest.fixture
def world_officer(sqlite_db: Database, world: World) -> Iterator[TestClient]:
    """The privacy officer signed in, in that world."""
    make_staff(sqlite_db, role=StaffRole.privacy_officer, email=OFFICER)
    with signed_in(sqlite_db) as client:
        yield client


@pytest.fixture
def plain_world(sqlite_db: Database) -> World:
    """That world without its invoices (no billing run), for tests that never look at them."""
    return build(sqlite_db, invoices=False)


@pytest.fixture
def plain_world_officer(sqlite_db: Database, plain_world: World) -> Iterator[TestClient]:
    """The privacy officer signed in, in the world without invoices."""
    make_staff(sqlite_db, role=StaffRole.privacy_officer, email=OFFICER)
    with signed_in(sqlite_db) as client:
        yield client


def follow(client: TestClient, response: Response) -> str:
    assert response.status_code == 303, response.text
    page = client.get(response.headers["location"])
    assert page.status_code == 200, page.text
    assert_accessible(page.text)
    return page.text


# --- who may open the pages ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (StaffRole.privacy_officer, 200),
        (StaffRole.admin, 200),
        (StaffRole.support, 403),
        (StaffRole.finance, 403),
        (StaffRole.analyst, 403),
    ],
)
def test_the_pages_are_for_roles_acting_under_accountability(
    sqlite_db: Database, role: StaffRole, status: int
) -> None:
    email = f"{role.value}@lawful.example"
    make_staff(sqlite_db, role=role, email=email)
    request_id = recorded(sqlite_db, STRANGER, "access")
    with signed_in(sqlite_db, email) as client:
        for path in ("/console/rights", f"/console/rights/{request_id}"):
            response = client.get(path)
            assert response.status_code == status, (role, path)
            if status == 200:
                assert_accessible(response.text)
                assert '<a href="/console/rights" aria-current="page">Requests</a>' in response.text
        refused = post(client, f"/console/rights/{request_id}/refuse", {"reason": REASON})
        assert refused.status_code == (303 if status == 200 else 403)


# --- the queue ------------------------------------------------------------------------------------------


def test_the_queue_shows_overdue_requests_first_and_marks_them(database: Database) -> None:
    people(database)
    fresh = recorded(database, "fresh@nowhere.example", "access")
    late = recorded(database, "late@nowhere.example", "erasure", days_ago=45)
    later = recorded(database, ADA, "rectification", days_ago=50)
    done = recorded(database, "done@nowhere.example", "objection", days_ago=60)
    service.refuse(database, done, officer=OFFICER_ACTOR, reason="Not a request about personal data.")
    with signed_in(database) as client:
        page = client.get("/console/rights")
        assert page.status_code == 200
        assert_accessible(page.text)
        table = page.text.split('id="queue"')[1].split("</table>")[0]
        order = re.findall(r'<a href="/console/rights/([0-9a-f-]{36})">', table)
        assert order == [str(later), str(late), str(fresh)]
        texts = [text_of(r) for r in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]]
        assert 'class="overdue"' in table
        assert "overdue by" in texts[0] and "overdue by" in texts[1] and "overdue" not in texts[2]
        late_by = re.search(r"overdue by (\d+) days", texts[1])
        assert late_by and 10 <= int(late_by.group(1)) <= 16  # 45 days ago, due a month later
        assert "days left" in texts[2]
        assert "2 overdue requests" in text_of(page.text)
        # whom a request is about stays hidden until it is confirmed; Ada's address is known
        assert all("not shown until confirmed" in t for t in texts)
        assert ADA not in page.text

        everything = client.get("/console/rights", params={"show": "all"}).text
        assert str(done) in everything
        erasures = client.get("/console/rights", params={"kind": "erasure"}).text
        assert str(late) in erasures and str(fresh) not in erasures and str(later) not in erasures
        none = client.get("/console/rights", params={"kind": "portability"}).text
        assert "No pending requests for portability." in text_of(none)


def test_recording_says_the_same_whether_or_not_the_address_is_known(
    sqlite_db: Database, officer: TestClient
) -> None:
    pages = {}
    for email in (ADA, STRANGER):
        response = post(
            officer,
            "/console/rights",
            {
                "kind": "erasure",
                "channel": "letter",
                "email": email,
                "name": "A Writer",
                "details": "Please erase everything",
                "received_on": (TODAY - timedelta(days=2)).isoformat(),
            },
        )
        pages[email] = follow(officer, response)
    flash = "A link to confirm it was sent to the address given"
    texts = {
        email: re.sub(
            r"[0-9a-f-]{36}|\d{4}-\d{2}-\d{2}( \d{2}:\d{2})?", "X", text_of(page).replace(email, "E")
        )
        for email, page in pages.items()
    }
    assert flash in texts[ADA]
    assert texts[ADA] == texts[STRANGER]
    assert "About not shown until confirmed" in texts[ADA]
    assert "The requester has not confirmed the request yet" in texts[ADA]
    assert "/complete" not in pages[ADA]  # nothing can be carried out before confirmation
    known, unknown = rights_mail(sqlite_db, ADA), rights_mail(sqlite_db, STRANGER)
    assert [m.subject_line for m in known] == [m.subject_line for m in unknown]


def test_a_form_error_is_shown_and_nothing_is_recorded(sqlite_db: Database, officer: TestClient) -> None:
    for data, message in (
        ({"kind": "access", "channel": "email", "email": "no address"}, "not an e-mail address"),
        ({"kind": "gossip", "channel": "email", "email": ADA}, "kind of request"),
        ({"kind": "access", "channel": "portal", "email": ADA}, "filed by the user there"),
        ({"kind": "access", "channel": "email", "email": ADA, "received_on": "yesterday"}, "not a date"),
        (
            {
                "kind": "access",
                "channel": "email",
                "email": ADA,
                "received_on": (TODAY + timedelta(3)).isoformat(),
            },
            "future",
        ),
    ):
        response = post(officer, "/console/rights", {"name": "Kept Name", **data})
        assert response.status_code == 422, data
        assert message in text_of(response.text), data
        assert 'value="Kept Name"' in response.text
        assert_accessible(response.text)
    assert count_requests(sqlite_db) == 0
    assert rights_mail(sqlite_db, ADA) == []


# --- a request ----------------------------------------------------------------------------------------------


def test_extending_and_refusing_from_the_request_page(sqlite_db: Database, officer: TestClient) -> None:
    request_id = recorded(sqlite_db, BEN, "access", days_ago=3)
    url = f"/console/rights/{request_id}"
    missing = post(officer, f"{url}/extend", {"reason": "soon"})
    assert missing.status_code == 422
    assert "give the reason for the extension" in text_of(missing.text)
    assert ">soon</textarea>" in missing.text

    page = follow(officer, post(officer, f"{url}/extend", {"reason": REASON}))
    assert "The deadline is extended by two months" in page
    assert REASON in section(page, "request-extension")
    assert (
        "The deadline was extended already" in page
        and 'action="/console/rights/' + str(request_id) + '/extend"' not in page
    )
    again = post(officer, f"{url}/extend", {"reason": REASON})
    assert again.status_code == 409 and "once" in text_of(again.text)

    page = follow(
        officer, post(officer, f"{url}/refuse", {"reason": "The same request was answered last week."})
    )
    assert section(page, "request-status") == "refused"
    assert "The same request was answered last week." in text_of(page)
    assert "Carry it out" not in page


def test_a_confirmed_access_request_offers_its_package_and_sends_it(
    sqlite_db: Database, officer: TestClient, ids: dict[str, uuid.UUID]
) -> None:
    request_id = confirmed(sqlite_db, BEN, "access")
    url = f"/console/rights/{request_id}"
    page = officer.get(url).text
    assert section(page, "request-about") == "a user of a customer"
    assert f'href="{url}/package.json"' in page and f'href="{url}/package.html"' in page
    package = officer.get(f"{url}/package.json")
    assert package.status_code == 200 and package.json()["format"] == "lawful-access-package/1"
    assert BEN in package.text
    report = officer.get(f"{url}/package.html")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert "Ben de Boer" in report.text

    page = follow(officer, post(officer, f"{url}/complete"))
    assert section(page, "request-status") == "completed"
    assert rights_mail(sqlite_db, BEN)[-1].attachment == f"rights:{request_id}"
    # an unconfirmed request has no package
    waiting = recorded(sqlite_db, ADA, "access")
    assert officer.get(f"/console/rights/{waiting}/package.json").status_code == 409
    assert officer.get(f"/console/rights/{waiting}/package.html").status_code == 409


def test_an_unconfirmed_request_cannot_be_carried_out(sqlite_db: Database, officer: TestClient) -> None:
    request_id = recorded(sqlite_db, ADA, "restriction")
    response = post(officer, f"/console/rights/{request_id}/complete")
    assert response.status_code == 409
    assert "has not confirmed the request yet" in text_of(response.text)


def test_an_unknown_person_is_answered_that_nothing_is_held(sqlite_db: Database, officer: TestClient) -> None:
    request_id = confirmed(sqlite_db, STRANGER, "erasure")
    page = officer.get(f"/console/rights/{request_id}").text
    assert section(page, "request-about") == "nobody we hold data about"
    assert "Answer: we hold no personal data" in page
    page = follow(officer, post(officer, f"/console/rights/{request_id}/complete"))
    assert "We hold no personal data about this person" in section(page, "outcome-none")
    assert "we hold no personal data" in rights_mail(sqlite_db, STRANGER)[-1].body


def test_a_correction_links_to_where_the_data_is_kept(
    sqlite_db: Database, plain_world: World, plain_world_officer: TestClient
) -> None:
    world, officer = plain_world, plain_world_officer
    contact_request = confirmed(sqlite_db, "marieke@devries.example", "rectification")
    page = officer.get(f"/console/rights/{contact_request}").text
    assert f'href="/console/customers/{world.customer.id}/contacts/{world.contact.id}"' in page
    user_request = file_as(sqlite_db, world.user.id, RequestKind.rectification, "My name is Johan Smid")
    page = officer.get(f"/console/rights/{user_request}").text
    assert 'href="/console/users?q=jan.user%40devries.example"' in page
    page = follow(
        officer, post(officer, f"/console/rights/{user_request}/complete", {"note": "Name corrected"})
    )
    assert "Note: Name corrected" in text_of(page)


def test_a_restriction_is_shown_on_its_request_and_lifted(sqlite_db: Database, officer: TestClient) -> None:
    request_id = confirmed(sqlite_db, ADA, "restriction")
    url = f"/console/rights/{request_id}"
    page = follow(officer, post(officer, f"{url}/complete"))
    assert "only stored" in section(page, "restriction")
    queue = officer.get("/console/rights").text
    assert "A user of a customer, since" in section(queue, "restrictions")
    assert f'(<a href="/console/rights/{request_id}">the request</a>)' in queue
    restriction = re.search(r'action="/console/rights/restrictions/([0-9a-f-]{36})/lift"', page)
    assert restriction
    lifted = post(officer, f"/console/rights/restrictions/{restriction.group(1)}/lift", {"back": url})
    assert lifted.headers["location"] == f"{url}?done=lifted"
    page = follow(officer, lifted)
    assert "The restriction is lifted" in page and 'id="restriction"' not in page
    assert 'id="restrictions">None.' in officer.get("/console/rights").text
    # a second click, and a foreign target, go back to the queue without harm
    again = post(
        officer,
        f"/console/rights/restrictions/{restriction.group(1)}/lift",
        {"back": "https://evil.example/"},
    )
    assert again.headers["location"] == "/console/rights?done=lifted"


# --- erasure ---------------------------------------------------------------------------------------------


def test_erasure_is_confirmed_on_a_page_that_shows_what_is_erased_and_kept(
    sqlite_db: Database, world_officer: TestClient
) -> None:
    officer = world_officer
    request_id = confirmed(sqlite_db, "jan@devries.example", "erasure")
    url = f"/console/rights/{request_id}"
    page = officer.get(url).text
    assert f'href="{url}/erase"' in page and section(page, "request-about") == "a sole proprietor"
    # posting without the confirmation only leads to the confirmation page
    skipped = post(officer, f"{url}/complete")
    assert skipped.headers["location"] == f"{url}/erase"
    assert status_of(sqlite_db, request_id) == "open"

    confirm = officer.get(f"{url}/erase")
    assert confirm.status_code == 200
    assert_accessible(confirm.text)
    planned = {
        (row[0], row[1]): row
        for row in (
            [text_of(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)]
            for tr in re.findall(r"<tr>(.*?)</tr>", section_html(confirm.text, "erased"), re.S)
        )
        if len(row) > 1
    }
    assert ("customers", "anonymised") in planned and ("login_records", "deleted") in planned
    assert ("invoices", "sealed") in planned and ("rights_requests", "anonymised") in planned
    hold = hold_of(sqlite_db.policy, table_of(Invoice), TODAY)
    assert hold.held and hold.until is not None
    kept = section(confirm.text, "kept")
    assert "invoices" in kept and hold.why in kept and "legal obligation" in kept
    assert "users and contact persons are erased too" in text_of(confirm.text)
    # the preview was rolled back: nothing is erased yet
    assert status_of(sqlite_db, request_id) == "open"
    assert "jan@devries.example" in str(where_found(sqlite_db, ("jan@devries.example",)))

    done = post(officer, f"{url}/complete", {"confirm": "erase"})
    page = follow(officer, done)
    assert section(page, "request-status") == "completed" == status_of(sqlite_db, request_id)
    erased = section(page, "erased")
    assert "customers anonymised" in erased and "login_records deleted" in erased
    kept = section(page, "kept")
    assert "invoices" in kept and "2033-12-31" in kept
    assert "jan@devries.example" not in page and "Jan de Vries" not in page
