"""`lawful staff create | reset-password | list` on the embedded database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.factories import FAST, SYSTEM
from typer.testing import CliRunner

from lawful.cli import app
from lawful.data.db import Database
from lawful.policy.loader import load_policy
from lawful.users import repository
from lawful.users.models import PrincipalKind, Staff, StaffRole
from lawful.users.security import hasher, verify_password
from lawful.users.service import AuthConfig, start_session

runner = CliRunner()
GOOD = "a perfectly fine secret 1"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAWFUL_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LAWFUL_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("LAWFUL_ARGON2_MEMORY_KIB", "8192")
    monkeypatch.delenv("LAWFUL_DATABASE_URL", raising=False)
    monkeypatch.delenv("LAWFUL_POLICY", raising=False)
    return tmp_path


@pytest.fixture
def db(isolated: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{isolated / 'var' / 'lawful.db'}", load_policy())
    yield database
    database.dispose()


def staff_by_email(db: Database, email: str) -> Staff | None:
    with db.unit_of_work("staff_access", SYSTEM) as session:
        found = repository.by_email(session, PrincipalKind.staff, email)
    assert found is None or isinstance(found, Staff)
    return found


def password_works(staff: Staff | None, password: str) -> bool:
    assert staff is not None
    return verify_password(staff.password_hash, password, hasher(1, 8192, 1))


def test_create_migrates_first_and_makes_the_first_admin(isolated: Path, db: Database) -> None:
    assert not (isolated / "var" / "lawful.db").exists()
    result = runner.invoke(
        app,
        [
            "staff",
            "create",
            "--email",
            "Ria@Lawful.example",
            "--name",
            "Ria Root",
            "--role",
            "admin",
            "--password",
            GOOD,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ria@lawful.example" in result.output and GOOD not in result.output
    staff = staff_by_email(db, "ria@lawful.example")
    assert staff is not None and staff.role == StaffRole.admin and staff.name == "Ria Root"
    assert password_works(staff, GOOD)


def test_create_asks_for_the_password_twice_without_showing_it(db: Database) -> None:
    result = runner.invoke(
        app,
        ["staff", "create", "--email", "sam@lawful.example", "--name", "Sam Agent", "--role", "support"],
        input=f"{GOOD}\n{GOOD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Password" in result.output and GOOD not in result.output
    assert password_works(staff_by_email(db, "sam@lawful.example"), GOOD)


def test_create_refuses_two_different_passwords(db: Database) -> None:
    result = runner.invoke(
        app,
        ["staff", "create", "--email", "sam@lawful.example", "--name", "Sam Agent", "--role", "support"],
        input=f"{GOOD}\nsomething else entirely\n",
    )
    assert result.exit_code != 0
    assert "do not match" in result.output
    assert staff_by_email(db, "sam@lawful.example") is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "boss", "--password", GOOD], "unknown role 'boss'"),
        (["--role", "admin", "--password", "short"], "at least 12 characters"),
        (["--role", "admin", "--password", "ria root is my password"], "must not contain your name"),
    ],
)
def test_create_says_clearly_what_is_wrong(db: Database, args: list[str], message: str) -> None:
    result = runner.invoke(
        app, ["staff", "create", "--email", "ria@lawful.example", "--name", "Ria Root", *args]
    )
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_create_refuses_an_address_that_exists(db: Database) -> None:
    args = ["staff", "create", "--email", "ria@lawful.example", "--name", "Ria Root", "--role", "admin"]
    assert runner.invoke(app, [*args, "--password", GOOD]).exit_code == 0
    again = runner.invoke(app, [*args[:-2], "--role", "support", "--password", "another fine secret 2"])
    assert again.exit_code == 1
    assert "exists" in again.output and "Traceback" not in again.output
    staff = staff_by_email(db, "ria@lawful.example")
    assert staff is not None and staff.role == StaffRole.admin and password_works(staff, GOOD)


def test_reset_password_sets_a_new_one_and_ends_sessions(db: Database) -> None:
    args = ["staff", "create", "--email", "ria@lawful.example", "--name", "Ria Root", "--role", "admin"]
    assert runner.invoke(app, [*args, "--password", GOOD]).exit_code == 0
    staff = staff_by_email(db, "ria@lawful.example")
    assert staff is not None
    with db.unit_of_work("staff_access", SYSTEM) as session:
        start_session(session, PrincipalKind.staff, staff.id, AuthConfig.from_settings(FAST))
    new = "the new staff secret 3"
    result = runner.invoke(
        app, ["staff", "reset-password", "--email", "RIA@lawful.example"], input=f"{new}\n{new}\n"
    )
    assert result.exit_code == 0, result.output
    assert new not in result.output
    staff = staff_by_email(db, "ria@lawful.example")
    assert staff is not None
    assert password_works(staff, new) and not password_works(staff, GOOD)
    with db.unit_of_work("staff_access", SYSTEM) as session:
        assert repository.sessions_of(session, PrincipalKind.staff, staff.id) == []
    weak = runner.invoke(
        app, ["staff", "reset-password", "--email", "ria@lawful.example", "--password", "short"]
    )
    assert weak.exit_code == 1 and "at least 12" in weak.output
    assert password_works(staff_by_email(db, "ria@lawful.example"), new)


def test_reset_password_of_nobody(db: Database) -> None:
    result = runner.invoke(
        app, ["staff", "reset-password", "--email", "ghost@lawful.example", "--password", GOOD]
    )
    assert result.exit_code == 1
    assert "ghost@lawful.example" in result.output and "Traceback" not in result.output


def test_list_shows_every_staff_member(db: Database) -> None:
    for email, role in (("ria@lawful.example", "admin"), ("fin@lawful.example", "finance")):
        result = runner.invoke(
            app,
            ["staff", "create", "--email", email, "--name", "Some Body", "--role", role, "--password", GOOD],
        )
        assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["staff", "list"])
    assert listed.exit_code == 0, listed.output
    rows = [line for line in listed.output.splitlines() if "@lawful.example" in line]
    assert len(rows) == 2
    assert "fin@lawful.example" in rows[0] and "finance" in rows[0] and "never" in rows[0]
    assert "ria@lawful.example" in rows[1] and "admin" in rows[1]
    assert "$argon2" not in listed.output
