"""The portal's requests page, its downloads, and the public page that confirms a mailed request.

A signed-in user sees only their own requests and files each kind; access and portability are
ready at once and download as JSON, HTML, PDF or CSV; another user's request, a pending one or a
made-up id is not found. The confirmation link changes nothing when opened, the button confirms,
and every link that does not confirm a request gets the same answer.
"""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select, update
from tests.billing.helpers import usage_by
from tests.factories import FAST, SYSTEM, csrf_token, make_customer, make_staff, make_user, post_form
from tests.web.test_console import assert_accessible

from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.mail.models import OutboundMail
from lawful.monitoring.models import UsageEvent
from lawful.rights import service
from lawful.rights.models import RequestKind, RequestStatus, RightsRequest
from lawful.rights.portal_pages import outcome_summary
from lawful.users.models import AccountStatus, StaffRole, User, UserRole
from lawful.web.app import create_app
from lawful.web.ratelimit import RateLimiter

PASSWORD = "correct horse battery staple"
HTML = {"accept": "text/html"}


@dataclass
class World:
    db: Database
    ada: User  # a member of Acme
    eve: User  # a user of another customer


def build_world(db: Database) -> World:
    acme, _ = make_customer(db, legal_name="Acme B.V.", contacts=0)
    globex, _ = make_customer(
        db, legal_name="Globex B.V.", billing_email="billing@globex.example", contacts=0
    )
    ada = make_user(db, customer_id=acme.id, email="ada@acme.example", name="Ada Jansen", role=UserRole.admin)
    eve = make_user(db, customer_id=globex.id, email="eve@globex.example", name="Eve Globex")
    return World(db, ada, eve)


@pytest.fixture
def world(database: Database) -> World:
    return build_world(database)


@pytest.fixture
def sqlite_world(sqlite_db: Database) -> World:
    return build_world(sqlite_db)


def browser(db: Database) -> TestClient:
    client = TestClient(create_app(FAST, db=db), raise_server_exceptions=False, follow_redirects=False)
    client.headers.update(HTML)
    return client


@pytest.fixture
def client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    name = "sqlite_world" if "sqlite_world" in request.fixturenames else "world"
    built: World = request.getfixturevalue(name)
    with browser(built.db) as client:
        yield client


def csrf(client: TestClient) -> str:
    return csrf_token(client, "/portal/login")


def post(client: TestClient, url: str, data: dict[str, str] | None = None, *, token: bool = True) -> Response:
    return post_form(client, url, data, page="/portal/login", token=token)


def sign_in(client: TestClient, email: str) -> TestClient:
    response = post(client, "/portal/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 303, response.text
    return client


def file(client: TestClient, kind: str, **fields: str) -> Response:
    return post(client, "/portal/rights", {"kind": kind, **fields})


def requests_about(db: Database, user_id: uuid.UUID) -> list[RightsRequest]:
    with db.unit_of_work("accountability", SYSTEM) as session:
        found = session.scalars(
            select(RightsRequest)
            .where(RightsRequest.subject_id == user_id)
            .order_by(RightsRequest.received_at)
        ).all()
        session.expunge_all()
        return list(found)


def filed_id(response: Response) -> uuid.UUID:
    assert response.status_code == 303, response.text
    found = re.search(r"#request-([0-9a-f-]{36})$", response.headers["location"])
    assert found, response.headers["location"]
    return uuid.UUID(found.group(1))


def load_user(db: Database, user_id: uuid.UUID) -> User:
    with db.unit_of_work("contract", SYSTEM) as session:
        user = session.get(User, user_id)
        assert user is not None
        session.expunge(user)
        return user


# --- the page -------------------------------------------------------------------------------------


def test_the_page_lists_the_users_own_requests_and_offers_every_kind(
    world: World, client: TestClient
) -> None:
    with browser(world.db) as other:
        sign_in(other, world.eve.email)
        eves = filed_id(file(other, "rectification", details="My name is Eve Globe, not Eve Globex"))
    sign_in(client, world.ada.email)
    mine = filed_id(file(client, "restriction", details="I contest the accuracy"))

    response = client.get("/portal/rights")
    assert response.status_code == 200
    page = response.text
    assert_accessible(page)
    assert f'id="request-{mine}"' in page
    assert f'id="request-{eves}"' not in page  # never another user's request
    assert "Eve Globe" not in page
    row = re.search(rf'id="request-{mine}".*?</tr>', page, re.S)
    assert row is not None
    received = requests_about(world.db, world.ada.id)[0].received_at
    due = received.date() + relativedelta(months=1)
    assert f'datetime="{due.isoformat()}"' in row.group(0)  # the deadline: one month after receipt
    assert "received" in row.group(0) and "We are working on it." in row.group(0)
    for kind in ("access", "portability", "rectification", "erasure", "restriction", "objection"):
        assert f'name="kind" value="{kind}"' in page, kind
    nav = re.search(r'<nav aria-label="Main">.*?</nav>', page, re.S)
    assert nav is not None and 'href="/portal/rights" aria-current="page">My requests' in nav.group(0)


def test_signed_out_the_page_sends_to_the_sign_in(sqlite_world: World, client: TestClient) -> None:
    response = client.get("/portal/rights")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/portal/login")


def test_an_access_request_is_ready_at_once_as_json_html_and_pdf(world: World, client: TestClient) -> None:
    sign_in(client, world.ada.email)
    response = file(client, "access")
    request_id = filed_id(response)
    assert response.headers["location"].startswith("/portal/rights?done=access")
    [filed] = requests_about(world.db, world.ada.id)
    assert (filed.id, filed.kind, filed.status) == (request_id, RequestKind.access, RequestStatus.completed)

    page = client.get(response.headers["location"].split("#")[0]).text
    assert "Your data is ready: download it below." in page
    for name in ("package.json", "report.html", "report.pdf"):
        assert f'href="/portal/rights/{request_id}/{name}"' in page
    assert f"/portal/rights/{request_id}/tables.zip" not in page

    package = client.get(f"/portal/rights/{request_id}/package.json")
    assert package.status_code == 200
    assert package.headers["content-type"] == "application/json"
    assert "attachment" in package.headers["content-disposition"]
    data = package.json()
    assert data["subject"]["id"] == str(world.ada.id)
    users = next(t for t in data["data"] if t["table"] == "users")
    assert [row["email"] for row in users["rows"]] == ["ada@acme.example"]
    assert "eve@globex.example" not in package.text

    report = client.get(f"/portal/rights/{request_id}/report.html")
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/html")
    assert report.headers["content-security-policy"].startswith("default-src 'none'")
    assert "ada@acme.example" in report.text and "Ada Jansen" in report.text
    assert "<script" not in report.text


def test_the_pdf_report_downloads(sqlite_world: World, client: TestClient) -> None:
    sign_in(client, sqlite_world.ada.email)
    request_id = filed_id(file(client, "access"))
    pdf = client.get(f"/portal/rights/{request_id}/report.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert f"personal-data-{request_id}.pdf" in pdf.headers["content-disposition"]


def test_portability_gives_json_and_a_csv_per_table_but_no_report(
    sqlite_world: World, client: TestClient
) -> None:
    sign_in(client, sqlite_world.ada.email)
    request_id = filed_id(file(client, "portability"))
    package = client.get(f"/portal/rights/{request_id}/package.json").json()
    assert package["scope"] == "portability"
    assert {t["purpose"] for t in package["data"]} == {"contract"}
    assert package["processing_log"] == []  # what is processed under contract only

    archive = client.get(f"/portal/rights/{request_id}/tables.zip")
    assert archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
        names = set(z.namelist())
        assert names == {"personal-data.json"} | {f"{t['table']}.csv" for t in package["data"]}
        users_csv = z.read("users.csv").decode("utf-8-sig")
    header, row = users_csv.splitlines()[:2]
    assert "email" in header.split(",") and "ada@acme.example" in row
    for name in ("report.html", "report.pdf"):
        assert client.get(f"/portal/rights/{request_id}/{name}").status_code == 404


def test_a_user_asking_for_another_users_data_is_refused(world: World, client: TestClient) -> None:
    with browser(world.db) as other:
        sign_in(other, world.eve.email)
        eves = filed_id(file(other, "access"))
        eves_portable = filed_id(file(other, "portability"))
        assert other.get(f"/portal/rights/{eves}/package.json").status_code == 200
    sign_in(client, world.ada.email)
    for url in (
        f"/portal/rights/{eves}/package.json",
        f"/portal/rights/{eves}/report.html",
        f"/portal/rights/{eves}/report.pdf",
        f"/portal/rights/{eves_portable}/tables.zip",
        f"/portal/rights/{uuid.uuid4()}/package.json",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "eve@globex.example" not in response.text
    assert client.get("/portal/rights/not-a-uuid/package.json").status_code == 422
    signed_out = TestClient(client.app, follow_redirects=False)
    assert signed_out.get(f"/portal/rights/{eves}/package.json").status_code == 401


def test_a_request_still_pending_has_nothing_to_download(sqlite_world: World, client: TestClient) -> None:
    sign_in(client, sqlite_world.ada.email)
    request_id = filed_id(file(client, "restriction"))
    assert client.get(f"/portal/rights/{request_id}/package.json").status_code == 404
    assert "/package.json" not in client.get("/portal/rights").text


def test_a_correction_needs_the_correction_text(sqlite_world: World, client: TestClient) -> None:
    sign_in(client, sqlite_world.ada.email)
    refused = file(client, "rectification", details="   ")
    assert refused.status_code == 422
    assert "say what is wrong and what it should be" in refused.text
    assert requests_about(sqlite_world.db, sqlite_world.ada.id) == []

    request_id = filed_id(file(client, "rectification", details="My name is Ada Janssen"))
    [filed] = requests_about(sqlite_world.db, sqlite_world.ada.id)
    assert (filed.id, filed.status, filed.details) == (
        request_id,
        RequestStatus.open,
        "My name is Ada Janssen",
    )
    assert "We received your request for a correction" in client.get("/portal/rights?done=rectification").text


def test_erasure_warns_and_needs_the_confirmation(sqlite_world: World, client: TestClient) -> None:
    sign_in(client, sqlite_world.ada.email)
    page = client.get("/portal/rights").text
    assert "Erasure closes your account." in page
    tax_law = sqlite_world.db.policy.purpose("legal_obligation").basis_explanation
    assert str(tax_law) in page.replace("&#39;", "'")

    refused = file(client, "erasure")
    assert refused.status_code == 422
    assert "tick the box" in refused.text
    assert requests_about(sqlite_world.db, sqlite_world.ada.id) == []

    request_id = filed_id(file(client, "erasure", confirm="yes"))
    [filed] = requests_about(sqlite_world.db, sqlite_world.ada.id)
    assert (filed.id, filed.kind, filed.status) == (request_id, RequestKind.erasure, RequestStatus.open)
    # the privacy officer carries it out: until then nothing is erased
    assert load_user(sqlite_world.db, sqlite_world.ada.id).status == AccountStatus.active
    assert client.get("/portal/rights").status_code == 200


def test_an_unknown_kind_and_a_missing_csrf_token_are_refused(
    sqlite_world: World, client: TestClient
) -> None:
    sign_in(client, sqlite_world.ada.email)
    unknown = file(client, "everything")
    assert unknown.status_code == 422
    assert "the kind of request must be one of" in unknown.text
    forged = post(client, "/portal/rights", {"kind": "access"}, token=False)
    assert forged.status_code == 403
    assert post(client, "/portal/rights/objection/withdraw", token=False).status_code == 403
    assert requests_about(sqlite_world.db, sqlite_world.ada.id) == []


def linked_usage(db: Database, user_id: uuid.UUID) -> int:
    with db.unit_of_work("monitoring", SYSTEM) as session:
        return len(session.scalars(select(UsageEvent.id).where(UsageEvent.user_id == user_id)).all())


def test_an_objection_stops_monitoring_at_once_and_can_be_withdrawn(world: World, client: TestClient) -> None:
    usage_by(world.db, world.ada)
    usage_by(world.db, world.eve)
    assert linked_usage(world.db, world.ada.id) == 1
    sign_in(client, world.ada.email)
    assert "Object to this" in client.get("/portal/rights").text

    request_id = filed_id(file(client, "objection"))
    assert load_user(world.db, world.ada.id).monitoring_objection_at is not None
    assert linked_usage(world.db, world.ada.id) == 0  # still counted for the account, without her
    assert linked_usage(world.db, world.eve.id) == 1
    [filed] = requests_about(world.db, world.ada.id)
    assert (filed.id, filed.status) == (request_id, RequestStatus.completed)
    page = client.get("/portal/rights?done=objection").text
    assert "Your objection is recorded" in page
    assert "1 usage event no longer linked to you" in page
    assert "Withdraw my objection" in page

    withdrawn = post(client, "/portal/rights/objection/withdraw")
    assert withdrawn.status_code == 303
    assert load_user(world.db, world.ada.id).monitoring_objection_at is None
    [filed] = requests_about(world.db, world.ada.id)
    assert filed.withdrawn_at is not None
    assert "You withdrew the objection on" in client.get("/portal/rights").text


def test_the_profile_page_objects_through_a_rights_request(sqlite_world: World, client: TestClient) -> None:
    db = sqlite_world.db
    usage_by(db, sqlite_world.ada)
    sign_in(client, sqlite_world.ada.email)
    response = post(client, "/portal/profile", {"action": "object"})
    assert response.headers["location"] == "/portal/profile?ok=objection_recorded"
    [filed] = requests_about(db, sqlite_world.ada.id)
    assert (filed.kind, filed.status) == (RequestKind.objection, RequestStatus.completed)
    assert linked_usage(db, sqlite_world.ada.id) == 0
    response = post(client, "/portal/profile", {"action": "withdraw"})
    assert response.headers["location"] == "/portal/profile?ok=objection_withdrawn"
    assert load_user(db, sqlite_world.ada.id).monitoring_objection_at is None
    assert requests_about(db, sqlite_world.ada.id)[0].withdrawn_at is not None


def test_outcome_summaries_say_what_became_of_a_request() -> None:
    now = datetime.now(UTC)
    request = RightsRequest(
        kind=RequestKind.erasure,
        status=RequestStatus.completed,
        received_at=now,
        due_on=now.date(),
        outcome=json.dumps(
            {"erased": [{"rows": 3}, {"rows": 2}], "kept": [{"table": "invoices", "until": "2034-12-31"}]}
        ),
    )
    assert outcome_summary(request) == (
        "Erased: 5 records. Kept because a law obliges us: invoices until 2034-12-31"
    )
    request.status, request.refusal_reason = RequestStatus.refused, "manifestly unfounded (art. 12(5))"
    assert outcome_summary(request) == "Refused: manifestly unfounded (art. 12(5))."
    request.status, request.extended_to, request.extension_reason = (
        RequestStatus.extended,
        now.date(),
        "Many requests at once.",
    )
    assert outcome_summary(request).startswith("We need more time: you will have our answer by ")
    request.status, request.outcome = RequestStatus.completed, json.dumps({"found": False})
    assert outcome_summary(request) == "We hold no personal data about you."


# --- confirming a request from the mailed link -------------------------------------------------------


def recorded(db: Database, email: str) -> tuple[uuid.UUID, str]:
    """A request recorded by the privacy officer for ``email``, and the token mailed to it."""
    officer = make_staff(
        db, role=StaffRole.privacy_officer, email=f"po-{uuid.uuid4().hex[:6]}@lawful.example"
    )
    filed = service.record_request(
        db,
        officer=Actor.staff(officer.id, officer.role.value),
        kind="access",
        channel="email",
        email=email,
        settings=FAST,
    )
    with db.unit_of_work("contract", SYSTEM) as session:
        body = session.scalars(
            select(OutboundMail.body)
            .where(OutboundMail.to_address == email, OutboundMail.kind == service.MAIL_KIND)
            .order_by(OutboundMail.created_at.desc())
            .limit(1)
        ).one()
    token = re.search(r"/rights/verify\?token=([A-Za-z0-9_-]+)", body)
    assert token, body
    return filed.id, token.group(1)


def status_of(db: Database, request_id: uuid.UUID) -> RequestStatus:
    with db.unit_of_work("accountability", SYSTEM) as session:
        return service.get(session, request_id).status


def confirm(client: TestClient, token: str) -> Response:
    client.get(f"/rights/verify?token={token}")  # the CSRF cookie, as a browser gets it
    return post(client, "/rights/verify", {"token": token})


def test_opening_the_link_changes_nothing_and_the_button_confirms(world: World, client: TestClient) -> None:
    request_id, token = recorded(world.db, world.ada.email)
    opened = client.get(f"/rights/verify?token={token}")
    assert opened.status_code == 200
    assert "Confirm my request" in opened.text
    assert opened.headers["referrer-policy"] == "no-referrer"
    assert_accessible(opened.text)
    client.get(f"/rights/verify?token={token}")  # a mail scanner opens it again
    assert status_of(world.db, request_id) is RequestStatus.unverified

    confirmed = post(client, "/rights/verify", {"token": token})
    assert confirmed.status_code == 200
    assert "your request is confirmed" in confirmed.text
    assert "Confirm my request" not in confirmed.text
    assert status_of(world.db, request_id) is RequestStatus.open


def test_the_answer_is_the_same_for_used_expired_unknown_and_malformed_links(
    world: World, client: TestClient
) -> None:
    _, used = recorded(world.db, world.ada.email)
    expired_id, expired = recorded(world.db, world.eve.email)
    with world.db.unit_of_work("accountability", SYSTEM) as session:
        session.execute(
            update(RightsRequest)
            .where(RightsRequest.id == expired_id)
            .values(verify_expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    assert confirm(client, used).status_code == 200
    answers = {
        "used": confirm(client, used),
        "expired": confirm(client, expired),
        "unknown": confirm(client, "x" * 43),
        "too long": confirm(client, "y" * 400),
        "malformed": confirm(client, "not a token!"),
    }
    assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(answers, 410)
    bodies = {a.text for a in answers.values()}
    assert len(bodies) == 1, "the answers differ"
    [body] = bodies
    assert "This link is no longer valid." in body
    assert status_of(world.db, expired_id) is RequestStatus.unverified
    assert client.get("/rights/verify?token=" + "z" * 300).status_code == 410  # no button for it


def test_a_request_about_an_unknown_person_confirms_like_any_other(world: World, client: TestClient) -> None:
    known_id, known = recorded(world.db, world.ada.email)
    unknown_id, unknown = recorded(world.db, "nobody@nowhere.example")
    assert client.get(f"/rights/verify?token={unknown}").text == client.get(
        f"/rights/verify?token={known}"
    ).text.replace(known, unknown)
    first, second = confirm(client, known), confirm(client, unknown)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.text == second.text  # nothing says whether we hold data about the address
    assert status_of(world.db, known_id) is status_of(world.db, unknown_id) is RequestStatus.open


def test_confirmations_are_throttled_per_address(sqlite_world: World, client: TestClient) -> None:
    client.app.state.rights_verify_throttle = RateLimiter(2, 600)  # type: ignore[attr-defined]
    assert confirm(client, "a" * 43).status_code == 410
    assert confirm(client, "b" * 43).status_code == 410
    _, token = recorded(sqlite_world.db, sqlite_world.ada.email)
    throttled = confirm(client, token)
    assert throttled.status_code == 429
    assert "too many attempts" in throttled.text


def test_the_throttle_forgets_attempts_outside_its_window() -> None:
    clock = [0.0]
    throttle = RateLimiter(2, 10, clock=lambda: clock[0])

    def allow(key: str, now: float) -> bool:
        clock[0] = now
        return throttle.allow(key)

    assert allow("a", 0) and allow("a", 1)
    assert not allow("a", 2)
    assert allow("b", 2)  # per key
    assert allow("a", 10.5)  # the first attempt left the window
    assert not allow("a", 10.6)
