"""The API of data-subject requests: deadlines and their extension, identity verification, the
same answer for an address Lawful knows and one it does not, the answer about an unknown person,
the queue's order, and a user's own requests in the portal. Where SQL is involved, on both
databases; mail that must leave is checked at a real SMTP server on loopback.

The ``matrix_*`` helpers make the requests and restrictions the access matrix
(tests/web/test_access_matrix.py) calls the routes with.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select, update
from tests.factories import FAST, SYSTEM, api_sign_in, make_customer, make_staff, make_user
from tests.users.test_mail import Inbox
from tests.users.test_mail import smtp as smtp

from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.mail.models import MailStatus, OutboundMail
from lawful.rights import service
from lawful.rights.models import RequestKind, RightsRequest
from lawful.settings import Settings
from lawful.users.models import StaffRole, User, UserRole
from lawful.web.app import create_app

BASE_URL = "http://testserver"
SETTINGS = FAST.model_copy(update={"base_url": BASE_URL})
OFFICER = "privacy.officer@lawful.example"
SUPPORT = "support@lawful.example"
ADA = "ada@acme.example"  # a user of Acme
BEN = "ben@acme.example"  # another user of Acme
OLGA = "olga@other.example"  # a user of another customer
STRANGER = "nobody@nowhere.example"  # an address Lawful does not know
TODAY = datetime.now(UTC).date()
REASON = "Forty requests arrived in the same week; we need more time to search every system."
TOKEN = re.compile(r"/rights/verify\?token=([A-Za-z0-9_-]+)")


# --- helpers (the other rights tests use them too) -----------------------------------------------


def people(db: Database) -> dict[str, uuid.UUID]:
    """Acme with two users, another customer with one, the privacy officer and a support agent."""
    acme, _ = make_customer(db, contacts=0)
    other, _ = make_customer(db, legal_name="Other B.V.", billing_email="ap@other.example", contacts=0)
    ids = {
        "acme": acme.id,
        "other": other.id,
        ADA: make_user(db, customer_id=acme.id, email=ADA, name="Ada Jansen", role=UserRole.admin).id,
        BEN: make_user(db, customer_id=acme.id, email=BEN, name="Ben de Boer").id,
        OLGA: make_user(db, customer_id=other.id, email=OLGA, name="Olga Other").id,
    }
    ids[OFFICER] = make_staff(db, role=StaffRole.privacy_officer, email=OFFICER, name="Pia Officer").id
    ids[SUPPORT] = make_staff(db, role=StaffRole.support, email=SUPPORT, name="Sam Support").id
    return ids


def client_for(db: Database, settings: Settings = SETTINGS) -> TestClient:
    return TestClient(create_app(settings, db=db), raise_server_exceptions=False)


def officer_api(db: Database, settings: Settings = SETTINGS) -> TestClient:
    client = client_for(db, settings)
    api_sign_in(client, email=OFFICER, staff=True)
    return client


def user_api(db: Database, email: str, settings: Settings = SETTINGS) -> TestClient:
    client = client_for(db, settings)
    api_sign_in(client, email=email)
    return client


def smtp_settings(port: int) -> Settings:
    return SETTINGS.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False})


def assert_error(response: Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert error["status"] == status and error["code"] and error["message"]
    return error


def rights_mail(db: Database, to: str) -> list[OutboundMail]:
    """The rights mail to ``to``, oldest first."""
    with db.unit_of_work("contract", SYSTEM) as session:
        found = session.scalars(
            select(OutboundMail)
            .where(OutboundMail.to_address == to, OutboundMail.kind == service.MAIL_KIND)
            .order_by(OutboundMail.created_at)
        ).all()
        session.expunge_all()
        return list(found)


def token_in(text: str) -> str:
    found = TOKEN.search(text)
    assert found, text
    return found.group(1)


def verification_token(db: Database, to: str) -> str:
    """The token of the newest verification link mailed to ``to`` (kept while the mail is pending)."""
    return token_in(rights_mail(db, to)[-1].body)


def record(client: TestClient, email: str, kind: str = "access", **extra: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/rights/requests", json={"kind": kind, "channel": "email", "email": email, **extra}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def recorded_and_confirmed(
    db: Database, client: TestClient, email: str, kind: str, inbox: Inbox | None = None
) -> dict[str, Any]:
    """A request recorded by the officer and confirmed by the link mailed for it (read from the
    outbox, or from ``inbox`` when the mail was sent: a sent mail's body is not kept)."""
    created = record(client, email, kind)
    if inbox is None:
        token = verification_token(db, email)
    else:
        token = token_in([m for rcpt, m in inbox.messages if rcpt == [email]][-1].get_content())
    assert service.verify(db, token)
    return created


def file_as(db: Database, user_id: uuid.UUID, kind: RequestKind, details: str = "") -> uuid.UUID:
    """A request a user files in the portal (through the service)."""
    with db.unit_of_work("contract", SYSTEM) as session:
        user = session.get(User, user_id)
        assert user is not None
        session.expunge(user)
    return service.file_from_portal(db, user, kind=kind, details=details).id


def stored(db: Database, request_id: uuid.UUID | str) -> RightsRequest:
    with db.unit_of_work("accountability", SYSTEM) as session:
        found = session.get(RightsRequest, uuid.UUID(str(request_id)))
        assert found is not None
        session.expunge(found)
        return found


# --- the access matrix's objects -------------------------------------------------------------------

MATRIX_OFFICER = Actor.system("tests:matrix")


def matrix_recorded(world: Any) -> dict[str, Any]:
    """A request the officer recorded for an address of customer A (not confirmed)."""
    if "rights_recorded" not in world.ids:
        world.ids["rights_recorded"] = service.record_request(
            world.db,
            officer=MATRIX_OFFICER,
            kind="access",
            channel="letter",
            email="carla@alpha.example",
            settings=SETTINGS,
        ).id
    return {"request_id": world.ids["rights_recorded"]}


def matrix_open(world: Any) -> dict[str, Any]:
    """A fresh confirmed request still to be answered (extending, refusing, completing use one up)."""
    user_id = world.ids["victim"]
    return {"request_id": file_as(world.db, user_id, RequestKind.rectification, "My name is misspelt")}


def matrix_access(world: Any) -> dict[str, Any]:
    """An access request of the member of customer A, answered at once."""
    if "rights_access" not in world.ids:
        world.ids["rights_access"] = file_as(world.db, world.ids["member of A"], RequestKind.access)
    return {"request_id": world.ids["rights_access"]}


def matrix_restriction(world: Any) -> dict[str, Any]:
    """A fresh restriction in force, of a user of its own (lifting uses it up)."""
    request_id = file_as(world.db, world.fresh_user(), RequestKind.restriction)
    service.complete(world.db, request_id, actor=MATRIX_OFFICER)
    with world.db.unit_of_work("accountability", SYSTEM) as session:
        found = session.get(RightsRequest, request_id)
        assert found is not None and found.subject_id is not None
        restriction = service.restriction_of(session, found.subject_id)
        assert restriction is not None
        return {"restriction_id": restriction.id}


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def ids(database: Database) -> dict[str, uuid.UUID]:
    return people(database)


@pytest.fixture
def officer(database: Database, ids: dict[str, uuid.UUID]) -> Iterator[TestClient]:
    with officer_api(database) as client:
        yield client


# --- deadlines --------------------------------------------------------------------------------------


def test_the_deadline_is_a_month_after_receipt_and_extends_once_by_two_months(
    database: Database, officer: TestClient
) -> None:
    received = TODAY - timedelta(days=3)
    created = record(officer, ADA, "erasure", received_on=received.isoformat(), name="Ada Jansen")
    assert created["received_at"].startswith(received.isoformat())
    assert created["due_on"] == (received + relativedelta(months=1)).isoformat()
    assert created["deadline"] == created["due_on"] and created["extended_to"] is None
    assert created["days_left"] == (received + relativedelta(months=1) - TODAY).days
    assert created["overdue"] is False and created["status"] == "unverified"
    url = f"/api/v1/rights/requests/{created['id']}/extend"

    # no reason, or no real one: 422, and nothing changes
    assert assert_error(officer.post(url, json={}), 422)["detail"][0]["loc"][-1] == "reason"
    error = assert_error(officer.post(url, json={"reason": "busy"}), 422)
    assert error["detail"] == {"field": "reason"} and "reason" in error["message"]
    assert stored(database, created["id"]).extended_to is None
    assert len(rights_mail(database, ADA)) == 1  # only the verification link so far

    extended = officer.post(url, json={"reason": REASON})
    assert extended.status_code == 200, extended.text
    body = extended.json()
    due = date.fromisoformat(created["due_on"])
    assert body["status"] == "extended" and body["extension_reason"] == REASON
    assert body["extended_to"] == (due + relativedelta(months=2)).isoformat() == body["deadline"]
    assert body["due_on"] == created["due_on"]
    mail = rights_mail(database, ADA)[-1]
    assert "more time" in mail.subject_line and REASON in mail.body
    assert body["extended_to"][:4] in mail.body

    # once only
    again = assert_error(officer.post(url, json={"reason": REASON}), 409)
    assert "once" in again["message"]
    assert stored(database, created["id"]).extended_to == due + relativedelta(months=2)


def test_a_deadline_that_has_passed_cannot_be_extended(database: Database, officer: TestClient) -> None:
    created = record(officer, ADA, received_on=(TODAY - timedelta(days=40)).isoformat())
    assert created["overdue"] is True and created["days_left"] < 0
    error = assert_error(
        officer.post(f"/api/v1/rights/requests/{created['id']}/extend", json={"reason": REASON}), 409
    )
    assert "passed" in error["message"]


def test_the_extension_mail_reaches_the_requester(
    database: Database, ids: dict[str, uuid.UUID], smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    with officer_api(database, smtp_settings(port)) as client:
        created = record(client, BEN, "rectification", details="My surname is Boer, not Boor")
        extended = client.post(f"/api/v1/rights/requests/{created['id']}/extend", json={"reason": REASON})
        assert extended.status_code == 200, extended.text
    to_ben = [m for rcpt, m in inbox.messages if rcpt == [BEN] and "request" in m["Subject"]]
    assert [m["Subject"] for m in to_ben] == [
        "Please confirm your request about your personal data",
        "Your request about your personal data needs more time",
    ]
    text = to_ben[1].get_content()
    assert REASON in text and date.fromisoformat(extended.json()["extended_to"]).strftime("%d %B %Y") in text
    assert all(m.status is MailStatus.sent for m in rights_mail(database, BEN))


def test_refusing_needs_a_ground_and_tells_the_requester(database: Database, officer: TestClient) -> None:
    created = record(officer, ADA, "erasure")
    url = f"/api/v1/rights/requests/{created['id']}/refuse"
    assert_error(officer.post(url, json={"reason": "no"}), 422)
    ground = "Manifestly unfounded: the same request was answered last week (art. 12(5))."
    refused = officer.post(url, json={"reason": ground})
    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "refused" and refused.json()["refusal_reason"] == ground
    assert ground in rights_mail(database, ADA)[-1].body
    # a refused request is no longer pending: it cannot be extended, refused or carried out
    for action, body in (("extend", {"reason": REASON}), ("refuse", {"reason": ground}), ("complete", {})):
        assert_error(officer.post(f"/api/v1/rights/requests/{created['id']}/{action}", json=body), 409)


# --- identity verification -----------------------------------------------------------------------------


def test_a_recorded_request_waits_for_the_requester_to_confirm_it(
    database: Database, officer: TestClient
) -> None:
    created = record(officer, ADA, "access")
    assert created["status"] == "unverified" and created["verified"] is False
    assert created["subject"] is None and created["restriction"] is None
    url = f"/api/v1/rights/requests/{created['id']}"
    error = assert_error(officer.post(f"{url}/complete", json={}), 409)
    assert "confirmed" in error["message"]
    assert "confirmed" in assert_error(officer.get(f"{url}/package"), 409)["message"]

    token = verification_token(database, ADA)
    assert not service.verify(database, "")
    assert not service.verify(database, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    assert not service.verify(database, "x" * 500)
    assert officer.get(url).json()["status"] == "unverified"

    assert service.verify(database, token)
    assert not service.verify(database, token)  # used
    confirmed = officer.get(url).json()
    assert confirmed["status"] == "open" and confirmed["verified"] is True
    assert confirmed["subject"] == {"kind": "user", "id": str(people_id(database, ADA))}

    package = officer.get(f"{url}/package")
    assert package.status_code == 200, package.text
    assert package.json()["format"] == "lawful-access-package/1"
    assert ADA in package.text
    done = officer.post(f"{url}/complete", json={})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed" and done.json()["completed_at"]
    answer = rights_mail(database, ADA)[-1]
    assert answer.attachment == f"rights:{created['id']}"
    assert "Attached is the personal data we hold about you" in answer.body


def people_id(db: Database, email: str) -> uuid.UUID:
    with db.unit_of_work("contract", SYSTEM) as session:
        found = session.scalar(select(User.id).where(User.email == email))
        assert found is not None
        return found


def test_an_expired_link_confirms_nothing(database: Database, officer: TestClient) -> None:
    created = record(officer, ADA, "erasure")
    token = verification_token(database, ADA)
    with database.unit_of_work("accountability", SYSTEM) as session:
        session.execute(
            update(RightsRequest)
            .where(RightsRequest.id == uuid.UUID(created["id"]))
            .values(verify_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert not service.verify(database, token)
    assert stored(database, created["id"]).status.value == "unverified"


def _same_shape(known: dict[str, Any], unknown: dict[str, Any]) -> None:
    assert known.keys() == unknown.keys()
    for key in known:
        assert type(known[key]) is type(unknown[key]), key
    differ = {k for k in known if known[k] != unknown[k]}
    assert differ <= {"id", "requester_email", "received_at"}, differ


def test_the_answer_for_an_unknown_address_is_the_same_as_for_a_known_one(
    database: Database, ids: dict[str, uuid.UUID], smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    with officer_api(database, smtp_settings(port)) as client:
        answers = [
            client.post(
                "/api/v1/rights/requests",
                json={"kind": "erasure", "channel": "phone", "email": email, "name": "A Caller"},
            )
            for email in (ADA, STRANGER)
        ]
        listed = client.get("/api/v1/rights/requests").json()["items"]
        shown = [client.get(f"/api/v1/rights/requests/{a.json()['id']}").json() for a in answers]
    known, unknown = answers
    assert known.status_code == unknown.status_code == 201
    _same_shape(known.json(), unknown.json())
    _same_shape(*shown)
    assert len(listed) == 2
    _same_shape(*listed)
    assert known.json()["subject"] is None and unknown.json()["subject"] is None

    mails = {rcpt[0]: m for rcpt, m in inbox.messages if "request" in m["Subject"]}
    assert set(mails) == {ADA, STRANGER}
    bodies = {to: m.get_content() for to, m in mails.items()}
    tokens = {to: token_in(body) for to, body in bodies.items()}
    assert tokens[ADA] != tokens[STRANGER]
    assert bodies[ADA].replace(tokens[ADA], "T") == bodies[STRANGER].replace(tokens[STRANGER], "T")
    assert mails[ADA]["Subject"] == mails[STRANGER]["Subject"]
    assert f"{BASE_URL}/rights/verify?token=" in bodies[ADA]


def test_a_request_about_an_unknown_person_is_answered_without_revealing(
    database: Database, ids: dict[str, uuid.UUID], smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    with officer_api(database, smtp_settings(port)) as client:
        created = recorded_and_confirmed(database, client, STRANGER, "access", inbox)
        url = f"/api/v1/rights/requests/{created['id']}"
        confirmed = client.get(url).json()
        assert confirmed["subject"] == {"kind": "unknown", "id": None}
        package = client.get(f"{url}/package").json()
        assert package["data"] == [] and "no personal data" in package["note"]
        done = client.post(f"{url}/complete", json={})
        assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    assert done.json()["outcome"] == {"kind": "access", "found": False}
    answer = [m for rcpt, m in inbox.messages if rcpt == [STRANGER]][-1]
    text = answer.get_content()
    assert "we hold no personal data" in text
    assert not any(part.get_filename() for part in answer.iter_attachments())
    for name in ("Ada", "Acme", "Olga"):
        assert name not in text


# --- the queue --------------------------------------------------------------------------------------------


def test_the_queue_lists_overdue_requests_first(database: Database, officer: TestClient) -> None:
    ages = {"fresh": 0, "week": 7, "late": 40, "later": 70}
    made = {
        label: record(
            officer, f"{label}@nowhere.example", received_on=(TODAY - timedelta(days=age)).isoformat()
        )
        for label, age in ages.items()
    }
    # an extended request whose extension ends later than everything else, and a finished one
    extended = record(officer, "slow@nowhere.example", received_on=(TODAY - timedelta(days=20)).isoformat())
    assert officer.post(
        f"/api/v1/rights/requests/{extended['id']}/extend", json={"reason": REASON}
    ).is_success
    refused = record(officer, "done@nowhere.example", "erasure")
    officer.post(
        f"/api/v1/rights/requests/{refused['id']}/refuse", json={"reason": "Not a data request at all."}
    )

    items = officer.get("/api/v1/rights/requests").json()["items"]
    order = [i["id"] for i in items]
    expected = [
        made["later"]["id"],
        made["late"]["id"],
        made["week"]["id"],
        made["fresh"]["id"],
        extended["id"],
    ]
    assert order == expected
    assert [i["overdue"] for i in items] == [True, True, False, False, False]
    assert items[0]["days_left"] < items[1]["days_left"] < 0 <= items[2]["days_left"]

    everything = officer.get("/api/v1/rights/requests", params={"show": "all"}).json()["items"]
    assert [i["id"] for i in everything if i["id"] != refused["id"]] == expected
    refused_row = next(i for i in everything if i["id"] == refused["id"])
    assert refused_row["overdue"] is False and refused_row["days_left"] is None
    erasures = officer.get("/api/v1/rights/requests", params={"show": "all", "kind": "erasure"}).json()
    assert [i["id"] for i in erasures["items"]] == [refused["id"]]
    page = officer.get("/api/v1/rights/requests", params={"limit": 2, "offset": 1}).json()
    assert [i["id"] for i in page["items"]] == expected[1:3]
    assert_error(officer.get("/api/v1/rights/requests", params={"show": "some"}), 422)
    assert_error(officer.get("/api/v1/rights/requests", params={"kind": "gossip"}), 422)


def test_recording_refuses_bad_input_with_the_error_body(database: Database, officer: TestClient) -> None:
    url = "/api/v1/rights/requests"
    good = {"kind": "access", "channel": "email", "email": ADA}
    for change, field in (
        ({"email": "not an address"}, "email"),
        ({"channel": "portal"}, "channel"),
        ({"kind": "gossip"}, "kind"),
        ({"received_on": (TODAY + timedelta(days=2)).isoformat()}, "received_at"),
        ({"details": "x\x00y"}, "details"),
    ):
        error = assert_error(officer.post(url, json={**good, **change}), 422)
        where = error["detail"] if isinstance(error["detail"], dict) else error["detail"][0]
        assert field in str(where), (change, error)
    assert officer.get(url, params={"show": "all"}).json()["items"] == []
    assert rights_mail(database, ADA) == []


def test_only_staff_acting_under_accountability_may_use_the_officers_api(
    database: Database, ids: dict[str, uuid.UUID]
) -> None:
    with client_for(database) as support:
        api_sign_in(support, email=SUPPORT, staff=True)
        error = assert_error(support.get("/api/v1/rights/requests"), 403)
        assert "accountability" in error["message"]
    with user_api(database, ADA) as ada:
        assert_error(ada.get("/api/v1/rights/requests"), 403)
    with client_for(database) as nobody:
        assert_error(nobody.get("/api/v1/rights/requests"), 401)


# --- the portal ----------------------------------------------------------------------------------------------


def test_a_user_files_an_access_request_and_downloads_only_their_own_package(
    database: Database, ids: dict[str, uuid.UUID]
) -> None:
    with user_api(database, BEN) as ben, user_api(database, ADA) as ada, user_api(database, OLGA) as olga:
        filed = ben.post("/api/v1/portal/rights", json={"kind": "access"})
        assert filed.status_code == 201, filed.text
        request = filed.json()
        assert request["status"] == "completed" and request["kind"] == "access"
        assert request["package_url"] == f"/api/v1/portal/rights/{request['id']}/package"
        package = ben.get(request["package_url"])
        assert package.status_code == 200, package.text
        assert package.json()["format"] == "lawful-access-package/1"
        assert BEN in package.text and "Ben de Boer" in package.text and ADA not in package.text
        assert "attachment" in package.headers["content-disposition"]
        assert [r["id"] for r in ben.get("/api/v1/portal/rights").json()["items"]] == [request["id"]]
        assert ben.get(f"/api/v1/portal/rights/{request['id']}").json() == request

        # neither a colleague (even an admin of the same customer) nor another customer's user sees it
        for other in (ada, olga):
            assert other.get("/api/v1/portal/rights").json()["items"] == []
            for path in (f"/api/v1/portal/rights/{request['id']}", request["package_url"]):
                assert_error(other.get(path), 404)

        # there is no way to ask about someone else: naming them is refused, nothing is stored
        error = assert_error(
            ada.post("/api/v1/portal/rights", json={"kind": "access", "subject_id": str(ids[BEN])}), 422
        )
        assert error["detail"][0]["loc"][-1] == "subject_id"
        assert ada.get("/api/v1/portal/rights").json()["items"] == []


def test_a_pending_portal_request_reaches_the_officer_and_its_outcome_the_user(
    database: Database, officer: TestClient
) -> None:
    with user_api(database, BEN) as ben:
        filed = ben.post(
            "/api/v1/portal/rights", json={"kind": "rectification", "details": "My surname is Boer"}
        )
        assert filed.status_code == 201, filed.text
        mine = filed.json()
        assert mine["status"] == "open" and mine["package_url"] is None
        assert_error(ben.get(f"/api/v1/portal/rights/{mine['id']}/package"), 409)
        assert_error(ben.post("/api/v1/portal/rights", json={"kind": "rectification"}), 422)

        queued = officer.get("/api/v1/rights/requests").json()["items"]
        assert [q["id"] for q in queued] == [mine["id"]]
        assert queued[0]["subject"] == {"kind": "user", "id": str(people_id(database, BEN))}
        assert queued[0]["channel"] == "portal" and queued[0]["verified"] is True
        done = officer.post(
            f"/api/v1/rights/requests/{mine['id']}/complete", json={"note": "Surname corrected"}
        )
        assert done.status_code == 200, done.text
        assert done.json()["outcome"] == {"kind": "rectification", "note": "Surname corrected"}
        assert ben.get(f"/api/v1/portal/rights/{mine['id']}").json()["status"] == "completed"


def test_a_request_made_in_a_users_name_shows_in_their_portal_and_its_package_once_answered(
    database: Database, officer: TestClient
) -> None:
    created = record(officer, BEN, "access", name="Ben de Boer")
    with user_api(database, BEN) as ben, user_api(database, ADA) as ada:
        [listed] = ben.get("/api/v1/portal/rights").json()["items"]
        assert listed["id"] == created["id"] and listed["status"] == "unverified"
        assert ada.get("/api/v1/portal/rights").json()["items"] == []
        url = f"/api/v1/portal/rights/{created['id']}/package"
        assert "confirmed" in assert_error(ben.get(url), 409)["message"]
        assert service.verify(database, verification_token(database, BEN))
        assert "answered" in assert_error(ben.get(url), 409)["message"]
        assert officer.post(f"/api/v1/rights/requests/{created['id']}/complete", json={}).is_success
        package = ben.get(url)
        assert package.status_code == 200, package.text
        assert BEN in package.text
        assert_error(ada.get(url), 404)
