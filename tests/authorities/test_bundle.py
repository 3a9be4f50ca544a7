"""The bundle handed to an authority, on both backends: the files in their order, every SHA-256
recomputed, the CSV parsed, only the disclosed categories' columns, the manifest's SHA-256 in the
register, and the reading recorded in the processing log."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from tests.authorities.helpers import TAX, disclose, make_officer, make_role, unzip
from tests.factories import SYSTEM
from tests.rights.world import World, build

from lawful.authorities import bundle, service
from lawful.data.annotations import column_category
from lawful.data.db import Database
from lawful.data.log import ProcessingRecord
from lawful.data.purpose import Actor
from lawful.errors import NotFound, PurposeViolation
from lawful.rights.erasure import erase
from lawful.rights.models import SubjectKind
from lawful.rights.subjects import Subject
from lawful.schema import metadata
from lawful.users.models import StaffRole

PERSON_COLUMNS = ("subject_kind", "subject_id")


def subjects_of(world: World) -> list[Subject]:
    return [
        Subject(SubjectKind.user, world.user.id),
        Subject(SubjectKind.contact_person, world.contact.id),
        Subject(SubjectKind.sole_proprietor, world.customer.id),
    ]


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def tables_in(files: dict[str, bytes]) -> dict[str, list[dict[str, str]]]:
    """Each CSV file of the bundle, parsed: table name -> rows."""
    return {
        name.removeprefix("tables/").removesuffix(".csv"): list(csv.DictReader(io.StringIO(content.decode())))
        for name, content in files.items()
        if name.startswith("tables/")
    }


def covered(category: str | None, keys: list[str]) -> bool:
    return category is not None and any(category == k or category.startswith(k + ".") for k in keys)


def assert_only(files: dict[str, bytes], keys: list[str]) -> None:
    """Every column of every CSV file is the person, the row key, or of a disclosed category."""
    for table_name, rows in tables_in(files).items():
        table = metadata.tables[table_name]
        primary = {c.name for c in table.primary_key.columns}
        assert rows, table_name
        for column in rows[0]:
            if column in PERSON_COLUMNS or column in primary:
                continue
            assert covered(column_category(table.c[column]), keys), (table_name, column)


def test_the_bundle_holds_the_disclosed_email_addresses_and_nothing_else(database: Database) -> None:
    world = build(database)
    officer = make_officer(database)
    entry = disclose(database, officer, subjects_of(world), categories=["user.contact.email"])
    made = bundle.build(database, entry.disclosure.id, officer=officer)
    files = unzip(made.content)
    names = list(files)

    # the order: the data, the tables by name, the manifest, the sums
    tables = [n for n in names if n.startswith("tables/")]
    assert names == [bundle.DATA, *sorted(tables), bundle.MANIFEST, bundle.SUMS]
    assert {"tables/users.csv", "tables/contact_persons.csv", "tables/customers.csv"} <= set(tables)

    # every SHA-256, recomputed: the manifest's per file, SHA256SUMS for every file and the manifest
    manifest = json.loads(files[bundle.MANIFEST])
    listed = {f["name"]: f for f in manifest["files"]}
    assert list(listed) == [n for n in names if n not in (bundle.MANIFEST, bundle.SUMS)]
    for name, described in listed.items():
        assert described["sha256"] == sha(files[name]), name
        assert described["bytes"] == len(files[name]), name
    sums = [line.split("  ", 1) for line in files[bundle.SUMS].decode().splitlines()]
    assert [name for _, name in sums] == names[:-1]
    assert all(digest == sha(files[name]) for digest, name in sums)

    # the manifest's SHA-256 is in the register and in the answer
    assert made.manifest_sha256 == sha(files[bundle.MANIFEST])
    assert (
        service.get_for(database, officer, entry.disclosure.id).disclosure.bundle_sha256
        == made.manifest_sha256
    )

    # the disclosure's facts and the controller
    assert manifest["disclosure"]["authority"] == TAX
    assert manifest["disclosure"]["id"] == str(entry.disclosure.id)
    assert manifest["disclosure"]["officer_id"] == officer.id
    assert {(s["kind"], s["id"]) for s in manifest["disclosure"]["subjects"]} == {
        (s.kind.value, str(s.id)) for s in subjects_of(world)
    }
    assert manifest["controller"]["name"] == database.policy.organisation.name
    assert manifest["generated_at"]

    # only e-mail addresses (and row keys): no names, addresses, phone numbers or IP addresses
    assert_only(files, ["user.contact.email"])
    content = b"".join(files.values()).decode()
    for person in (world.user, world.contact, world.customer):
        email, *others = person.identifiers
        assert email in content
        for needle in others:
            assert needle not in content, needle
    # nor anything of the other customer's user
    assert not any(needle in content for needle in world.other_user.identifiers)

    # the CSV and the JSON say the same
    data = json.loads(files[bundle.DATA])
    parsed = tables_in(files)
    users = parsed["users"]
    assert [(r["subject_kind"], r["subject_id"], r["email"]) for r in users] == [
        ("user", str(world.user.id), world.user.identifiers[0])
    ]
    from_json = [
        (p["kind"], t["table"], row["email"])
        for p in data["subjects"]
        for t in p["tables"]
        if t["table"] == "users"
        for row in t["rows"]
    ]
    assert from_json == [("user", "users", world.user.identifiers[0])]
    assert all(p["found"] for p in data["subjects"])


def test_a_broader_category_takes_its_narrower_columns(database: Database) -> None:
    world = build(database, tag="-addr")
    officer = make_officer(database)
    shop = Subject(SubjectKind.sole_proprietor, world.customer.id)
    entry = disclose(database, officer, [shop], categories=["user.contact.address"])
    files = unzip(bundle.build(database, entry.disclosure.id, officer=officer).content)
    assert_only(files, ["user.contact.address"])
    [row] = tables_in(files)["customers"]
    assert set(row) == {*PERSON_COLUMNS, "id", "street", "postal_code", "city", "country"}
    assert (row["street"], row["postal_code"], row["city"]) == ("Prinsengracht 268", "1016 GV", "Zaandam")
    assert "jan-addr@devries.example" not in b"".join(files.values()).decode()


def test_generating_again_records_the_new_manifest(sqlite_db: Database) -> None:
    world = build(sqlite_db, tag="-again")
    officer = make_officer(sqlite_db)
    entry = disclose(sqlite_db, officer, [Subject(SubjectKind.user, world.user.id)])
    assert entry.disclosure.bundle_sha256 is None
    first = bundle.build(sqlite_db, entry.disclosure.id, officer=officer)
    second = bundle.build(sqlite_db, entry.disclosure.id, officer=officer)
    assert first.manifest_sha256 != second.manifest_sha256  # generated at another moment
    stored = service.get_for(sqlite_db, officer, entry.disclosure.id).disclosure.bundle_sha256
    assert stored == second.manifest_sha256
    assert (
        first.filename
        == second.filename
        == (f"disclosure-{entry.disclosure.disclosed_on.isoformat()}-{entry.disclosure.id}.zip")
    )


def test_a_person_erased_since_is_listed_as_not_found(sqlite_db: Database) -> None:
    world = build(sqlite_db, tag="-gone")
    officer = make_officer(sqlite_db)
    user = Subject(SubjectKind.user, world.user.id)
    entry = disclose(sqlite_db, officer, [user], categories=["user.contact.email", "user.name"])
    assert erase(sqlite_db, user, actor=Actor.system("tests:erasure")) is not None
    files = unzip(bundle.build(sqlite_db, entry.disclosure.id, officer=officer).content)
    data: dict[str, Any] = json.loads(files[bundle.DATA])
    assert data["subjects"] == [{"kind": "user", "id": str(user.id), "found": False, "tables": []}]
    assert not [n for n in files if n.startswith("tables/")]
    assert not any(needle in b"".join(files.values()).decode() for needle in world.user.identifiers)


def test_the_reading_is_logged_and_only_the_officer_may_generate(database: Database) -> None:
    world = build(database, tag="-log")
    officer = make_officer(database)
    entry = disclose(database, officer, [Subject(SubjectKind.user, world.user.id)])
    for role in (StaffRole.finance, StaffRole.support):
        with pytest.raises(PurposeViolation):
            bundle.build(database, entry.disclosure.id, officer=make_role(database, role))
    with pytest.raises(NotFound):
        bundle.build(database, uuid.uuid4(), officer=officer)
    assert service.get_for(database, officer, entry.disclosure.id).disclosure.bundle_sha256 is None
    bundle.build(database, entry.disclosure.id, officer=officer)
    with database.unit_of_work("accountability", SYSTEM) as session:
        logged = session.scalars(
            select(ProcessingRecord).where(ProcessingRecord.actor_id == f"disclosure:{entry.disclosure.id}")
        ).all()
    assert {(r.purpose, r.table_name) for r in logged} >= {("contract", "users")}
    assert all(r.actor_kind == "system" and r.operation == "read" for r in logged)
