"""The register of disclosures: registering, reading back, what is refused (and then nothing is
stored), who may register, the subject's access report, and the authorities in the Art. 30
record. The register's reading and writing runs on both backends; checks of input that reach no
SQL run on SQLite only."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from tests.authorities.helpers import (
    REGULATORS,
    TAX,
    counts,
    disclose,
    make_officer,
    make_role,
    today,
    yesterday,
)
from tests.factories import SYSTEM, make_customer, make_user

from lawful.authorities import service
from lawful.customers.models import CustomerKind
from lawful.data.db import Database
from lawful.data.log import ProcessingRecord
from lawful.data.purpose import Actor
from lawful.errors import Invalid, NotFound, PurposeViolation
from lawful.policy.render import ropa_record
from lawful.rights import access
from lawful.rights.models import SubjectKind
from lawful.rights.subjects import Subject
from lawful.users.models import StaffRole


def people(db: Database) -> dict[str, Subject]:
    """A company with a contact person and a user, and a sole proprietor."""
    company, [contact] = make_customer(db, legal_name="Alpha Trading B.V.", contacts=1)
    shop, _ = make_customer(
        db,
        kind=CustomerKind.sole_proprietor,
        legal_name="Jan de Vries Advies",
        billing_email="jan@devries.example",
        contacts=0,
    )
    user = make_user(db, customer_id=company.id, email="mia@alpha.example", name="Mia Jansen")
    return {
        "company": Subject(SubjectKind.sole_proprietor, company.id),  # not a person: a B.V.
        "contact": Subject(SubjectKind.contact_person, contact.id),
        "shop": Subject(SubjectKind.sole_proprietor, shop.id),
        "user": Subject(SubjectKind.user, user.id),
    }


# --- registering and reading back ---------------------------------------------------------------


def test_a_disclosure_is_registered_with_its_facts_and_people(database: Database) -> None:
    officer = make_officer(database)
    who = people(database)
    entry = disclose(
        database,
        officer,
        [who["user"], who["shop"], who["contact"], who["user"]],  # a person named twice counts once
        authority="  belastingdienst (DUTCH tax administration) ",
        order_reference="  2026/0042 ",
        categories=["user.financial", "user.contact.email", "user.financial"],
        description="Invoices of 2025 and the addresses they were sent to.",
        confidential_until=today() + timedelta(days=90),
    )
    with database.unit_of_work("legal_obligation", SYSTEM) as session:
        stored = service.get(session, entry.disclosure.id)
        rows = service.listing(session)
    d = stored.disclosure
    assert d.authority == TAX  # the policy's recipient, as the policy spells it
    assert d.authority_kind == "authority"
    assert d.order_reference == "2026/0042"
    assert d.disclosed_on == yesterday()
    assert d.officer_id == uuid.UUID(officer.id)
    assert stored.categories == ["user.contact.email", "user.financial"]
    assert set(stored.subjects) == {who["user"], who["shop"], who["contact"]}
    assert len(stored.subjects) == 3
    assert service.is_confidential(d)
    assert not service.is_confidential(d, d.confidential_until)
    assert [(r.id, n) for r, n in rows] == [(d.id, 3)]
    assert counts(database) == (1, 3)


def test_the_register_lists_the_latest_first_with_its_people(database: Database) -> None:
    officer = make_officer(database)
    who = people(database)
    older = disclose(database, officer, [who["user"]], disclosed_on=today() - timedelta(days=30))
    newer = disclose(
        database,
        officer,
        [who["user"], who["contact"]],
        authority=REGULATORS,
        legal_ground="",
        order_reference="AP-2026-17",
    )
    assert newer.disclosure.authority_kind == "regulator"
    rows = service.list_for(database, officer)
    assert [(d.id, n) for d, n in rows] == [(newer.disclosure.id, 2), (older.disclosure.id, 1)]
    assert [d.id for d, _ in service.list_for(database, officer, limit=1, offset=1)] == [older.disclosure.id]
    with pytest.raises(NotFound):
        service.get_for(database, officer, uuid.uuid4())


def test_only_the_privacy_officer_registers_and_reads(database: Database) -> None:
    who = people(database)
    for role in (StaffRole.finance, StaffRole.support, StaffRole.admin, StaffRole.analyst):
        actor = make_role(database, role)
        with pytest.raises(PurposeViolation):
            disclose(database, actor, [who["user"]])
        with pytest.raises(PurposeViolation):
            service.list_for(database, actor)
    assert counts(database) == (0, 0)


def test_registering_is_recorded_in_the_processing_log(database: Database) -> None:
    officer = make_officer(database)
    who = people(database)
    disclose(database, officer, [who["user"]])
    with database.unit_of_work("accountability", SYSTEM) as session:
        logged = session.scalars(
            select(ProcessingRecord).where(
                ProcessingRecord.actor_id == officer.id, ProcessingRecord.table_name == "disclosure_subjects"
            )
        ).all()
    assert [(r.purpose, r.operation) for r in logged] == [("legal_obligation", "write")]


# --- what is refused ----------------------------------------------------------------------------


def test_people_must_exist_and_be_people(database: Database) -> None:
    officer = make_officer(database)
    who = people(database)
    stranger = Subject(SubjectKind.user, uuid.uuid4())
    with pytest.raises(Invalid) as caught:
        disclose(database, officer, [who["user"], stranger])
    assert caught.value.detail == {"field": "subjects", "unknown": [str(stranger)]}
    # a company (legal entity) is not a sole proprietor; its id names no person
    with pytest.raises(Invalid) as caught:
        disclose(database, officer, [who["company"]])
    assert caught.value.detail["unknown"] == [str(who["company"])]
    # a contact person's id is not a user's
    with pytest.raises(Invalid):
        disclose(database, officer, [Subject(SubjectKind.user, who["contact"].id)])
    with pytest.raises(Invalid, match="a disclosure is about"):
        disclose(database, officer, [Subject(SubjectKind.visitor, uuid.uuid4())])
    with pytest.raises(Invalid, match="name the people"):
        disclose(database, officer, [])
    assert counts(database) == (0, 0)


@pytest.mark.parametrize(
    ("categories", "detail"),
    [
        (["user.favourite_colour"], {"field": "categories", "unknown": ["user.favourite_colour"]}),
        (["user.biometric"], {"field": "categories", "undeclared": ["user.biometric"]}),
        (["user"], {"field": "categories", "undeclared": ["user"]}),
        ([" "], {"field": "categories"}),
    ],
)
def test_categories_are_fideslang_keys_the_policy_declares(
    sqlite_db: Database, categories: list[str], detail: dict[str, Any]
) -> None:
    officer = make_officer(sqlite_db)
    who = people(sqlite_db)
    with pytest.raises(Invalid) as caught:
        disclose(sqlite_db, officer, [who["user"]], categories=categories)
    assert caught.value.detail == detail
    assert counts(sqlite_db) == (0, 0)


@pytest.mark.parametrize(
    "category",
    [
        "user.financial",  # declared by the legal obligation
        "user.contact.email",  # declared by other purposes only
        "user.contact.address.city",  # narrower than a declared key
        "user.device.ip_address",
    ],
)
def test_any_category_the_policy_declares_may_be_disclosed(sqlite_db: Database, category: str) -> None:
    officer = make_officer(sqlite_db)
    who = people(sqlite_db)
    assert disclose(sqlite_db, officer, [who["user"]], categories=[category]).categories == [category]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"legal_ground": "", "order_reference": "  "}, "legal_ground"),
        ({"legal_ground": "x" * 301}, "legal_ground"),
        ({"disclosed_on": today() + timedelta(days=1)}, "disclosed_on"),
        ({"confidential_until": yesterday() - timedelta(days=1)}, "confidential_until"),
        ({"authority": "   "}, "authority"),
        ({"authority": "FIOD"}, "authority_kind"),  # not in the policy: its kind must be given
        ({"authority": "FIOD", "authority_kind": "processor"}, "authority_kind"),
        ({"authority": TAX, "authority_kind": "regulator"}, "authority_kind"),  # the policy says otherwise
        ({"description": "x" * 2001}, "description"),
    ],
)
def test_incomplete_or_impossible_facts_are_refused(
    sqlite_db: Database, changes: dict[str, Any], field: str
) -> None:
    officer = make_officer(sqlite_db)
    who = people(sqlite_db)
    with pytest.raises(Invalid) as caught:
        disclose(sqlite_db, officer, [who["user"]], **changes)
    assert caught.value.detail["field"] == field
    assert counts(sqlite_db) == (0, 0)


def test_an_authority_the_policy_does_not_name_is_registered_with_its_kind(sqlite_db: Database) -> None:
    officer = make_officer(sqlite_db)
    who = people(sqlite_db)
    entry = disclose(
        sqlite_db,
        officer,
        [who["user"]],
        authority="Fiscale Inlichtingen- en Opsporingsdienst",
        authority_kind="authority",
    )
    assert (entry.disclosure.authority, entry.disclosure.authority_kind) == (
        "Fiscale Inlichtingen- en Opsporingsdienst",
        "authority",
    )
    # the day itself may be today, not tomorrow
    assert (
        disclose(sqlite_db, officer, [who["user"]], disclosed_on=today()).disclosure.disclosed_on == today()
    )


def test_subjects_are_written_kind_colon_id() -> None:
    person = uuid.uuid4()
    assert service.parse_subject(f" contact_person : {person} ") == Subject(
        SubjectKind.contact_person, person
    )
    for text in ("user", f"customer:{person}", "user:not-an-id", str(person)):
        with pytest.raises(Invalid):
            service.parse_subject(text)


# --- the subject's access report -----------------------------------------------------------------


def test_the_access_report_shows_a_disclosure_unless_an_order_keeps_it_confidential(
    database: Database,
) -> None:
    officer = make_officer(database)
    who = people(database)
    until = today() + timedelta(days=60)
    disclose(
        database,
        officer,
        [who["user"]],
        authority=REGULATORS,
        order_reference="AP-1",
        confidential_until=until,
    )
    disclose(database, officer, [who["user"], who["contact"]], categories=["user.contact.email", "user.name"])
    job = Actor.system("tests:access")

    def shown(subject: Subject, day: Any) -> list[tuple[str, list[str]]]:
        found = access.package(database, subject, actor=job, today=day)
        assert found is not None
        return sorted((d["authority"], d["categories"]) for d in found["disclosures"])

    tax = (TAX, ["user.contact.email", "user.name"])
    assert shown(who["user"], today()) == [tax]
    assert shown(who["user"], until - timedelta(days=1)) == [tax]
    assert shown(who["user"], until) == [tax, (REGULATORS, ["user.contact.email"])]
    assert shown(who["contact"], until) == [tax]
    # someone the disclosures were not about sees none
    assert shown(who["shop"], until) == []


# --- the record of processing ----------------------------------------------------------------------


def test_the_record_lists_the_authorities_disclosed_to(database: Database, policy: Any) -> None:
    officer = make_officer(database)
    who = people(database)
    first, last = today() - timedelta(days=40), today() - timedelta(days=3)
    disclose(database, officer, [who["user"]], disclosed_on=first)
    disclose(database, officer, [who["contact"]], disclosed_on=last)
    disclose(
        database, officer, [who["user"]], authority="FIOD", authority_kind="authority", order_reference="F-9"
    )
    until = today() + timedelta(days=10)
    disclose(
        database,
        officer,
        [who["user"]],
        authority="Secret Service Agency",
        authority_kind="authority",
        confidential_until=until,
    )

    def recipients(day: Any) -> dict[str, dict[str, Any]]:
        record = ropa_record(policy, service.disclosed_recipients(database, on=day))
        [activity] = [a for a in record["activities"] if a["purpose_key"] == "legal_obligation"]
        for other in record["activities"]:
            if other is not activity:
                assert all("disclosed" not in r for r in other["recipients"])
        return {r["name"]: r for r in activity["recipients"]}

    now = recipients(today())
    declared = {r.name for r in policy.purpose("legal_obligation").recipients}
    assert set(now) == declared | {"FIOD"}  # the confidential one is not in the record yet
    assert now[TAX]["disclosed"] == {"count": 2, "first": first.isoformat(), "last": last.isoformat()}
    assert "disclosed to 2 times" in now[TAX]["condition"]
    assert now["FIOD"]["kind"] == "authority" and now["FIOD"]["disclosed"]["count"] == 1
    assert now[REGULATORS].get("disclosed") is None
    later = recipients(until)
    assert later["Secret Service Agency"]["disclosed"]["count"] == 1
    # without the register, the policy alone
    alone = ropa_record(policy)
    [activity] = [a for a in alone["activities"] if a["purpose_key"] == "legal_obligation"]
    assert {r["name"] for r in activity["recipients"]} == declared
