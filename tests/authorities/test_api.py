"""The API of the register of disclosures (SQLite: the SQL is covered by the service and bundle
tests on both backends): the privacy officer registers, lists, reads and downloads the bundle;
bad input is refused with the error body and stores nothing; no other role reaches it; the
record of processing lists the authority."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from tests.authorities.helpers import OFFICER_EMAIL, TAX, counts, make_officer, today, unzip, yesterday
from tests.factories import FAST, api_sign_in, make_customer, make_staff, make_user

from lawful.authorities import bundle
from lawful.data.db import Database
from lawful.users.models import StaffRole
from lawful.web.app import create_app

API = "/api/v1/disclosures"


@dataclass
class World:
    db: Database
    app: FastAPI
    user: uuid.UUID
    contact: uuid.UUID
    officer: TestClient


@pytest.fixture
def world(sqlite_db: Database) -> Iterator[World]:
    company, [contact] = make_customer(sqlite_db, legal_name="Alpha Trading B.V.", contacts=1)
    user = make_user(sqlite_db, customer_id=company.id, email="mia@alpha.example", name="Mia Jansen")
    make_officer(sqlite_db)
    app = create_app(FAST, db=sqlite_db)
    with TestClient(app, raise_server_exceptions=False) as officer:
        api_sign_in(officer, email=OFFICER_EMAIL, staff=True)
        yield World(sqlite_db, app, user.id, contact.id, officer)


@pytest.fixture
def others(world: World) -> Iterator[dict[str, TestClient]]:
    """Finance, support and admin staff, a customer's user, and nobody signed in."""
    clients: dict[str, TestClient] = {}
    for role in (StaffRole.finance, StaffRole.support, StaffRole.admin):
        make_staff(world.db, role=role, email=f"{role.value}@lawful.example")
        clients[role.value] = TestClient(world.app, raise_server_exceptions=False)
        api_sign_in(clients[role.value], email=f"{role.value}@lawful.example", staff=True)
    clients["user"] = TestClient(world.app, raise_server_exceptions=False)
    api_sign_in(clients["user"], email="mia@alpha.example")
    clients["nobody"] = TestClient(world.app, raise_server_exceptions=False)
    yield clients
    for client in clients.values():
        client.close()


def body(world: World, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "authority": TAX,
        "legal_ground": "AWR art. 47",
        "disclosed_on": yesterday().isoformat(),
        "categories": ["user.contact.email"],
        "subjects": [
            {"kind": "user", "id": str(world.user)},
            {"kind": "contact_person", "id": str(world.contact)},
        ],
    }
    fields.update(changes)
    return fields


def refused(response: Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["status"] == status and error["message"] and error["code"]
    return error


def test_the_officer_registers_lists_reads_and_downloads(world: World) -> None:
    until = today() + timedelta(days=30)
    created = world.officer.post(
        API,
        json=body(
            world,
            order_reference="2026/7",
            description="Asked for the users' addresses",
            confidential_until=until.isoformat(),
        ),
    )
    assert created.status_code == 201, created.text
    out = created.json()
    assert out["authority"] == TAX and out["authority_kind"] == "authority"
    assert out["confidential"] is True and out["confidential_until"] == until.isoformat()
    assert out["subject_count"] == 2
    assert {(s["kind"], s["id"]) for s in out["subjects"]} == {
        ("user", str(world.user)),
        ("contact_person", str(world.contact)),
    }
    assert out["bundle_sha256"] is None
    listed = world.officer.get(API).json()
    assert [i["id"] for i in listed["items"]] == [out["id"]]
    assert listed["items"][0]["subject_count"] == 2 and "subjects" not in listed["items"][0]
    assert world.officer.get(f"{API}/{out['id']}").json() == out

    download = world.officer.get(f"{API}/{out['id']}/bundle")
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == bundle.MEDIA_TYPE
    assert (
        f'filename="disclosure-{yesterday().isoformat()}-{out["id"]}.zip"'
        in download.headers["content-disposition"]
    )
    files = unzip(download.content)
    digest = hashlib.sha256(files[bundle.MANIFEST]).hexdigest()
    assert download.headers["x-manifest-sha256"] == digest
    assert world.officer.get(f"{API}/{out['id']}").json()["bundle_sha256"] == digest
    assert "mia@alpha.example" in files[bundle.DATA].decode()
    assert "Mia Jansen" not in b"".join(files.values()).decode()
    assert json.loads(files[bundle.MANIFEST])["disclosure"]["description"] == "Asked for the users' addresses"


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"disclosed_on": (today() + timedelta(days=2)).isoformat()}, "disclosed_on"),
        ({"legal_ground": "", "order_reference": ""}, "legal_ground"),
        ({"categories": ["user.unknown_thing"]}, "categories"),
        ({"categories": []}, "categories"),
        ({"subjects": [{"kind": "user", "id": str(uuid.uuid4())}]}, "subjects"),
        ({"subjects": [{"kind": "visitor", "id": str(uuid.uuid4())}]}, "subjects"),
        ({"authority": "FIOD"}, "authority_kind"),
        ({"authority": "FIOD", "authority_kind": "processor"}, "authority_kind"),
        ({"disclosed_on": "yesterday"}, "disclosed_on"),
        ({"authority": "Bad\x00name"}, "authority"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(
    world: World, changes: dict[str, Any], where: str
) -> None:
    error = refused(world.officer.post(API, json=body(world, **changes)), 422)
    detail = error["detail"]
    if isinstance(detail, dict):  # the service's refusal
        assert detail["field"] == where
    else:  # the schema's
        assert any(where in d["loc"] for d in detail), detail
    assert counts(world.db) == (0, 0)


def test_no_one_but_the_privacy_officer_reaches_the_register(
    world: World, others: dict[str, TestClient]
) -> None:
    made = world.officer.post(API, json=body(world)).json()
    for who, client in others.items():
        status = 401 if who == "nobody" else 403
        refused(client.get(API), status)
        refused(client.post(API, json=body(world)), status)
        refused(client.get(f"{API}/{made['id']}"), status)
        refused(client.get(f"{API}/{made['id']}/bundle"), status)
    error = refused(others["admin"].get(API), 403)  # accountability, but no legal obligation
    assert "accountability and legal_obligation" in error["message"]
    refused(world.officer.get(f"{API}/{uuid.uuid4()}"), 404)
    refused(world.officer.get(f"{API}/{uuid.uuid4()}/bundle"), 404)
    assert counts(world.db) == (1, 2)


def legal_obligation_recipients(world: World) -> dict[str, dict[str, Any]]:
    """The recipients of the legal obligation in the record, as the privacy officer reads it (the
    public record is the policy's: which authorities received data is not public)."""
    with TestClient(world.app, raise_server_exceptions=False) as public:
        assert "register_of_disclosures" not in public.get("/api/v1/policy/record").json()["generated_from"]
    record = world.officer.get("/api/v1/policy/record").json()
    assert record["generated_from"]["register_of_disclosures"] is True
    [activity] = [a for a in record["activities"] if a["purpose_key"] == "legal_obligation"]
    return {r["name"]: r for r in activity["recipients"]}


def test_the_record_of_processing_lists_the_authority_disclosed_to(world: World) -> None:
    assert "FIOD" not in legal_obligation_recipients(world)
    made = world.officer.post(API, json=body(world, authority="FIOD", authority_kind="authority"))
    assert made.status_code == 201, made.text
    fiod = legal_obligation_recipients(world)["FIOD"]
    assert fiod["kind"] == "authority"
    assert fiod["disclosed"] == {
        "count": 1,
        "first": yesterday().isoformat(),
        "last": yesterday().isoformat(),
    }


def test_a_disclosure_kept_confidential_is_left_out_of_the_public_record(world: World) -> None:
    until = (today() + timedelta(days=5)).isoformat()
    made = world.officer.post(
        API, json=body(world, authority="FIOD", authority_kind="authority", confidential_until=until)
    )
    assert made.status_code == 201, made.text
    assert "FIOD" not in legal_obligation_recipients(world)
    assert counts(world.db) == (1, 2)
