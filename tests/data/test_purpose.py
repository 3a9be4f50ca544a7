"""Purpose-bound access: outside its purpose a statement never reaches the database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete, event, func, insert, select, text, update
from sqlalchemy.orm import Session, aliased
from tests.factories import make_customer

from lawful.customers.models import ContactPerson, Customer
from lawful.data.db import Database
from lawful.data.log import ProcessingRecord
from lawful.data.purpose import Actor
from lawful.errors import PurposeViolation
from lawful.rights.models import SealedRecord

STAFF = Actor.system("tests-job")


@pytest.fixture
def statements(database: Database) -> Iterator[list[str]]:
    """Every SQL statement that actually reached the driver."""
    seen: list[str] = []

    def after(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(database.engine, "after_cursor_execute", after)
    yield seen
    event.remove(database.engine, "after_cursor_execute", after)


def log_entries(db: Database) -> list[ProcessingRecord]:
    with db.unit_of_work("accountability", Actor.system("tests")) as session:
        return list(session.scalars(select(ProcessingRecord).order_by(ProcessingRecord.at)))


def test_read_outside_purpose_raises_before_the_query_runs(database: Database, statements: list[str]) -> None:
    make_customer(database)
    statements.clear()
    with (
        pytest.raises(PurposeViolation, match=r"'monitoring' does not declare user\.contact\.email"),
        database.unit_of_work("monitoring", STAFF) as session,
    ):
        session.execute(select(ContactPerson.email)).all()
    assert not any("contact_persons" in s for s in statements)


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: select(ContactPerson.id).where(ContactPerson.email == "x@y.z"), id="filter"),
        pytest.param(lambda: select(ContactPerson), id="entity"),
        pytest.param(
            lambda: select(func.count()).select_from(select(ContactPerson.name).subquery()), id="subquery"
        ),
        pytest.param(lambda: select(aliased(ContactPerson).phone), id="alias"),
        pytest.param(
            lambda: select(Customer.id).join(ContactPerson).where(ContactPerson.name.like("A%")), id="join"
        ),
    ],
)
def test_every_way_of_reading_is_checked(database: Database, build: object) -> None:
    assert callable(build)
    with pytest.raises(PurposeViolation), database.unit_of_work("monitoring", STAFF) as session:
        session.execute(build()).all()


def test_write_outside_purpose_raises_and_changes_nothing(database: Database) -> None:
    _, (person,) = make_customer(database)
    with (
        pytest.raises(PurposeViolation, match="phone_number"),
        database.unit_of_work("monitoring", STAFF) as session,
    ):
        session.execute(update(ContactPerson).where(ContactPerson.id == person.id).values(phone="+31 6 0"))
    with database.unit_of_work("contract", STAFF) as session:
        assert session.get(ContactPerson, person.id).phone == person.phone  # type: ignore[union-attr]


def test_orm_flush_outside_purpose_raises_at_commit(database: Database) -> None:
    """A purpose that may keep invoices (legal obligation) may not change a contact's phone."""
    customer, _ = make_customer(database)
    with (
        pytest.raises(PurposeViolation, match="legal_obligation"),
        database.unit_of_work("legal_obligation", STAFF) as session,
    ):
        session.add(
            ContactPerson(
                customer_id=customer.id,
                name="X",
                email="x@acme.example",
                phone="1",
                created_at=customer.created_at,
            )
        )
    with database.unit_of_work("contract", STAFF) as session:
        names = session.scalars(select(ContactPerson.name)).all()
    assert "X" not in names


def test_insert_and_delete_outside_purpose(database: Database) -> None:
    customer, (person,) = make_customer(database)
    with pytest.raises(PurposeViolation), database.unit_of_work("monitoring", STAFF) as session:
        session.execute(
            insert(ContactPerson).values(
                customer_id=customer.id, name="Y", email="y@a.b", created_at=customer.created_at
            )
        )
    with (
        pytest.raises(PurposeViolation, match="delete"),
        database.unit_of_work("monitoring", STAFF) as session,
    ):
        session.execute(delete(ContactPerson).where(ContactPerson.id == person.id))
    with database.unit_of_work("contract", STAFF) as session:
        assert session.get(ContactPerson, person.id) is not None


def test_allowed_read_is_in_the_processing_log(database: Database) -> None:
    _, (person,) = make_customer(database)
    with database.unit_of_work("contract", STAFF) as session:
        found = session.get(ContactPerson, person.id)
        assert found is not None and found.email == person.email
    reads = [
        e
        for e in log_entries(database)
        if e.operation == "read" and e.table_name == "contact_persons" and e.actor_id == STAFF.id
    ]
    assert len(reads) == 1
    entry = reads[0]
    assert entry.actor_id == STAFF.id
    assert entry.purpose == "contract"
    assert entry.subject_table == "contact_persons" and entry.subject_id == str(person.id)
    assert set(entry.categories.split(",")) >= {
        "user.name",
        "user.contact.email",
        "user.contact.phone_number",
    }


def test_writes_are_logged_with_their_subject(database: Database) -> None:
    _, (person,) = make_customer(database)
    writes = {(e.table_name, e.subject_id) for e in log_entries(database) if e.operation == "write"}
    assert ("contact_persons", str(person.id)) in writes


def test_processing_is_logged_even_when_the_unit_rolls_back(database: Database) -> None:
    _, (person,) = make_customer(database)
    with pytest.raises(RuntimeError), database.unit_of_work("contract", STAFF) as session:
        session.get(ContactPerson, person.id)
        raise RuntimeError("the request failed after reading")
    assert any(
        e.operation == "read" and e.subject_id == str(person.id) and e.actor_id == STAFF.id
        for e in log_entries(database)
    )


def test_non_personal_columns_need_no_purpose_and_leave_no_log(database: Database) -> None:
    make_customer(database)
    before = len(log_entries(database))
    with database.unit_of_work("monitoring", STAFF) as session:
        assert session.scalar(select(func.count()).select_from(ContactPerson)) == 1
    after = list(log_entries(database))
    # the only new entries are the reads of the log itself, under accountability
    assert all(e.purpose == "accountability" for e in after[before:])


def test_personal_data_without_a_purpose_is_refused(database: Database) -> None:
    make_customer(database)
    with Session(database.engine) as session, pytest.raises(PurposeViolation, match="without a purpose"):
        session.execute(select(ContactPerson.email)).all()


def test_raw_sql_is_refused_under_a_purpose(database: Database) -> None:
    with (
        pytest.raises(PurposeViolation, match="raw SQL"),
        database.unit_of_work("contract", STAFF) as session,
    ):
        session.execute(text("SELECT email FROM contact_persons")).all()


def test_an_undeclared_purpose_is_refused(database: Database) -> None:
    with pytest.raises(PurposeViolation, match="'marketing' is not declared"):
        database.session("marketing", STAFF)


def test_a_parent_category_covers_its_children(database: Database) -> None:
    """contract declares user.contact.address; the columns are user.contact.address.street etc."""
    customer, _ = make_customer(database)
    with database.unit_of_work("contract", STAFF) as session:
        assert session.scalar(select(Customer.street).where(Customer.id == customer.id)) == "Kerkstraat 1"
    with (
        pytest.raises(PurposeViolation, match="user.contact.address.street"),
        database.unit_of_work("accountability", STAFF) as session,
    ):
        session.scalar(select(Customer.street))


@pytest.mark.parametrize(
    ("role", "purpose", "allowed"),
    [
        ("support", "contract", True),
        ("support", "monitoring", False),
        ("support", "accountability", False),
        ("finance", "legal_obligation", True),
        ("analyst", "contract", False),
        ("analyst", "monitoring", True),
        ("privacy_officer", "accountability", True),
        ("privacy_officer", "contract", False),
        ("nobody", "contract", False),
    ],
)
def test_a_staff_role_acts_only_under_the_purposes_the_policy_grants(
    database: Database, role: str, purpose: str, allowed: bool
) -> None:
    actor = Actor.staff("5c8b9d0e-0000-7000-8000-000000000002", role)
    if allowed:
        database.session(purpose, actor).close()
    else:
        with pytest.raises(PurposeViolation, match="may not act under"):
            database.session(purpose, actor)


def test_a_customers_user_acts_only_under_the_portal_purposes(database: Database) -> None:
    user = Actor.user("7d1e2f30-0000-7000-8000-000000000003")
    database.session("contract", user).close()
    with pytest.raises(PurposeViolation, match="may not act under"):
        database.session("legal_obligation", user)


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: select(func.count()).select_from(SealedRecord), id="count"),
        pytest.param(lambda: select(SealedRecord.held_until), id="non-personal column"),
        pytest.param(lambda: delete(SealedRecord), id="delete"),
        pytest.param(
            lambda: select(Customer.id).join(SealedRecord, SealedRecord.subject_id == Customer.id), id="join"
        ),
    ],
)
def test_a_table_only_under_one_purpose_refuses_every_other(
    database: Database, statements: list[str], build: object
) -> None:
    assert callable(build)
    statements.clear()
    for purpose in ("contract", "accountability", "monitoring"):
        with (
            pytest.raises(PurposeViolation, match="only under purpose legal_obligation"),
            database.unit_of_work(purpose, STAFF) as session,
        ):
            session.execute(build())
    assert not any("sealed_records" in s for s in statements)
    with database.unit_of_work("legal_obligation", STAFF) as session:
        session.execute(build())


def test_one_transaction_across_purposes_checks_and_logs_each_statement(database: Database) -> None:
    customer, _ = make_customer(database)
    with pytest.raises(PurposeViolation), database.purposes(STAFF, "monitoring", "contract") as work:
        work.execute("contract", update(Customer).where(Customer.id == customer.id).values(city="Delft"))
        work.execute("monitoring", select(ContactPerson.email))
    with database.unit_of_work("contract", STAFF) as session:
        assert (
            session.scalar(select(Customer.city).where(Customer.id == customer.id)) == "Amsterdam"
        )  # rolled back
    with (
        pytest.raises(PurposeViolation, match="not for 'accountability'"),
        database.purposes(STAFF, "contract") as work,
    ):
        work.execute("accountability", select(ProcessingRecord.actor_id))
    with database.purposes(STAFF, "contract", "accountability") as work:
        work.execute("contract", update(Customer).where(Customer.id == customer.id).values(city="Delft"))
        work.execute("accountability", select(ProcessingRecord.actor_id).limit(1))
    logged = {
        (e.purpose, e.operation, e.table_name) for e in log_entries(database) if e.actor_id == "tests-job"
    }
    assert {("contract", "write", "customers"), ("accountability", "read", "processing_log")} <= logged
    with pytest.raises(PurposeViolation, match="may not act under"):
        with database.purposes(Actor.staff("5", "support"), "accountability"):
            pass
