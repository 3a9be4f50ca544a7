"""The console pages of the register of disclosures (SQLite): the privacy officer registers a
disclosure through the form, sees it in the register and on its page, and downloads the bundle;
a form with an error says what is wrong, keeps the input and stores nothing; other roles are
refused; the record of processing lists the authority."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from tests.authorities.helpers import OFFICER_EMAIL, TAX, counts, make_officer, today, unzip, yesterday
from tests.factories import make_customer, make_staff, make_user
from tests.web.test_console import assert_accessible, console_client, csrf, post, sign_in

from lawful.authorities import bundle, service
from lawful.data.db import Database
from lawful.users.models import StaffRole

BASE = "/console/disclosures"


@dataclass
class World:
    db: Database
    user: uuid.UUID
    contact: uuid.UUID


@pytest.fixture
def world(sqlite_db: Database) -> World:
    company, [contact] = make_customer(sqlite_db, legal_name="Alpha Trading B.V.", contacts=1)
    user = make_user(sqlite_db, customer_id=company.id, email="mia@alpha.example", name="Mia Jansen")
    make_officer(sqlite_db)
    return World(sqlite_db, user.id, contact.id)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with console_client(world.db) as client:
        yield client


@pytest.fixture
def officer(client: TestClient) -> TestClient:
    assert sign_in(client, OFFICER_EMAIL).status_code == 303
    return client


def form(world: World, **changes: str) -> dict[str, str]:
    fields = {
        "authority": TAX,
        "legal_ground": "AWR art. 47",
        "order_reference": "",
        "disclosed_on": yesterday().isoformat(),
        "subjects": f"user:{world.user}\n\ncontact_person:{world.contact}\n",
        "description": "Asked for the e-mail addresses",
        "confidential_until": "",
    }
    fields.update(changes)
    return fields


def register(client: TestClient, fields: dict[str, str], categories: list[str]) -> Response:
    # the categories are checkboxes: the same field several times
    data: dict[str, str | list[str]] = {**fields, "categories": categories, "csrf_token": csrf(client)}
    return client.post(BASE, data=data)


def text_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:dl|table|ul|p)>', html, re.S)
    assert found, element_id
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def test_the_officer_registers_a_disclosure_and_downloads_the_bundle(
    world: World, officer: TestClient
) -> None:
    nav = officer.get("/console/processing-log").text
    assert f'href="{BASE}"' in nav  # the navigation offers the register to the privacy officer

    empty = officer.get(BASE)
    assert empty.status_code == 200
    assert "No disclosures registered." in empty.text
    assert_accessible(empty.text)

    page = officer.get(f"{BASE}/new")
    assert page.status_code == 200
    assert_accessible(page.text)
    for recipient in service.authorities(world.db.policy):
        assert f'<option value="{recipient.name}"' in page.text
    assert 'value="user.financial"' in page.text and 'value="user.contact.email"' in page.text

    response = register(officer, form(world), ["user.contact.email"])
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    disclosure_id = uuid.UUID(location.removeprefix(f"{BASE}/").split("?")[0])
    detail = officer.get(location)
    assert detail.status_code == 200
    assert_accessible(detail.text)
    assert "The disclosure was registered." in detail.text
    facts = text_of(detail.text, "facts")
    assert TAX in facts and "AWR art. 47" in facts and yesterday().isoformat() in facts
    assert "Requesting officer you" in facts
    assert "not confidential" in facts
    people = text_of(detail.text, "people")
    assert str(world.user) in people and str(world.contact) in people
    assert "no bundle generated yet" in text_of(detail.text, "bundle")

    register_page = officer.get(BASE).text
    row = text_of(register_page, "register")
    assert TAX in row and "user.contact.email" in row and yesterday().isoformat() in row

    download = post(officer, f"{BASE}/{disclosure_id}/bundle")
    assert download.status_code == 200
    assert download.headers["content-type"] == bundle.MEDIA_TYPE
    files = unzip(download.content)
    digest = hashlib.sha256(files[bundle.MANIFEST]).hexdigest()
    assert "mia@alpha.example" in files[bundle.DATA].decode()
    assert "Mia Jansen" not in b"".join(files.values()).decode()
    assert digest in text_of(officer.get(location).text, "bundle")
    # without the form's token, no bundle
    assert post(officer, f"{BASE}/{disclosure_id}/bundle", token=False).status_code == 403


def test_another_authority_named_in_the_form(world: World, officer: TestClient) -> None:
    until = today() + timedelta(days=30)
    fields = form(
        world,
        authority="other",
        authority_name="FIOD",
        authority_kind="authority",
        legal_ground="",
        order_reference="F-2026-1",
        confidential_until=until.isoformat(),
    )
    response = register(officer, fields, ["user.contact.email", "user.name"])
    assert response.status_code == 303
    detail = officer.get(response.headers["location"]).text
    facts = text_of(detail, "facts")
    assert "FIOD (authority)" in facts and "F-2026-1" in facts
    assert f"{until.isoformat()}: left out of the people's access reports until then" in facts
    assert "(confidential)" in text_of(officer.get(BASE).text, "register")


@pytest.mark.parametrize(
    ("changes", "categories", "message"),
    [
        ({"legal_ground": ""}, ["user.contact.email"], "give the legal ground or the reference"),
        (
            {"disclosed_on": (today() + timedelta(days=1)).isoformat()},
            ["user.contact.email"],
            "before it happened",
        ),
        ({"disclosed_on": "15-01-2026"}, ["user.contact.email"], "write a date as YYYY-MM-DD"),
        ({}, [], "name the kinds of data"),
        ({"subjects": "user:nobody"}, ["user.contact.email"], "is not a person"),
        ({"subjects": f"user:{uuid.uuid4()}"}, ["user.contact.email"], "no such person"),
        ({"authority": "other", "authority_name": ""}, ["user.contact.email"], "name the authority"),
    ],
)
def test_a_form_with_an_error_keeps_the_input_and_stores_nothing(
    world: World, officer: TestClient, changes: dict[str, str], categories: list[str], message: str
) -> None:
    fields = form(world, **changes)
    response = register(officer, fields, categories)
    assert response.status_code == 422
    page: str = response.text
    assert message in text_of(page, "form-error")
    assert "Asked for the e-mail addresses" in page  # the input as given
    for category in categories:
        assert re.search(rf'value="{re.escape(category)}"[^>]*checked', page)
    assert counts(world.db) == (0, 0)


@pytest.mark.parametrize("role", [StaffRole.finance, StaffRole.support, StaffRole.admin])
def test_other_roles_are_refused(world: World, client: TestClient, role: StaffRole) -> None:
    entry = service.register(
        world.db,
        officer=make_officer(world.db, email="another.officer@lawful.example"),
        authority=TAX,
        legal_ground="AWR art. 47",
        disclosed_on=yesterday(),
        categories=["user.contact.email"],
        subjects=[service.parse_subject(f"user:{world.user}")],
    )
    make_staff(world.db, role=role, email=f"{role.value}@lawful.example")
    assert sign_in(client, f"{role.value}@lawful.example").status_code == 303
    assert f'href="{BASE}"' not in client.get("/console/profile").text
    for path in (BASE, f"{BASE}/new", f"{BASE}/{entry.disclosure.id}"):
        assert client.get(path).status_code == 403, path
    assert post(client, f"{BASE}/{entry.disclosure.id}/bundle").status_code == 403
    assert register(client, form(world), ["user.contact.email"]).status_code == 403
    assert counts(world.db) == (1, 1)


def test_the_record_of_processing_page_lists_the_authority(world: World, officer: TestClient) -> None:
    assert "FIOD" not in officer.get("/console/record").text
    fields = form(world, authority="other", authority_name="FIOD", authority_kind="authority")
    assert register(officer, fields, ["user.contact.email"]).status_code == 303
    page = officer.get("/console/record").text
    assert re.search(r"FIOD \(authority, NL\): named in the register of disclosures.*disclosed to once", page)
