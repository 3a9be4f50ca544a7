"""Fixtures shared by the whole suite: the policy, and a clean database per test on each backend.

``database`` runs a test on SQLite (a fresh file) and on PostgreSQL (a database the session
creates and drops; tables emptied after every test). Where no PostgreSQL is reachable the
PostgreSQL variants skip and say why; under ``CI=true`` they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from lawful.data.db import Database
from lawful.data.migrate import upgrade
from lawful.policy.loader import load_policy
from lawful.policy.model import Policy
from lawful.schema import metadata

PG_ADMIN_URL = os.environ.get("LAWFUL_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy()


def _postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        return f"PostgreSQL at {make_url(PG_ADMIN_URL).render_as_string()} is not reachable ({type(exc).__name__})"
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped at the end."""
    reason = _postgres_reachable()
    if reason:
        if IN_CI:
            pytest.fail(f"{reason}; under CI=true the PostgreSQL tests must run")
        pytest.skip(reason)
    name = f"lawful_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _empty(db: Database) -> None:
    """Delete every row, dependents first. On the few rows a test leaves, a DELETE per table takes
    about 12 ms where one TRUNCATE of every table takes about 170 ms (it makes new files)."""
    with db.internal() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
        conn.commit()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (a migration per test would be slow)."""
    path = tmp_path_factory.mktemp("template") / "lawful.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(
    request: pytest.FixtureRequest, policy: Policy, tmp_path: Path, sqlite_template: Path
) -> Iterator[Database]:
    """A clean, migrated database under the default policy, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "lawful.db"
        path.write_bytes(sqlite_template.read_bytes())
        db = Database(f"sqlite:///{path}", policy)
        yield db
        db.dispose()
        return
    url = request.getfixturevalue("postgres_url")
    db = Database(url, policy)
    try:
        yield db
    finally:
        _empty(db)
        db.dispose()


@pytest.fixture
def sqlite_db(policy: Policy, tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    """A clean SQLite database, for tests that are about behaviour rather than backends."""
    path = tmp_path / "lawful.db"
    path.write_bytes(sqlite_template.read_bytes())
    db = Database(f"sqlite:///{path}", policy)
    yield db
    db.dispose()
