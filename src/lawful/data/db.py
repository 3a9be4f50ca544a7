"""Engine, purpose-bound sessions and units of work.

``Database`` owns one SQLAlchemy engine (SQLite in WAL mode with foreign keys on, or
PostgreSQL) with the purpose check installed. Code never gets a plain session: it asks for
``db.session(purpose, actor)`` or, more usually, ``with db.unit_of_work(purpose, actor) as s:``,
which commits when the block succeeds and rolls back when it raises. Services never commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, CursorResult, make_url
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import Executable

from lawful.data.purpose import ACCESS, INTERNAL, Access, Actor, install
from lawful.errors import PurposeViolation
from lawful.policy.model import Policy


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for ``postgresql://`` URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine configured the way Lawful needs it, without the purpose check."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def dialect_insert(session: Session, target: Any) -> Any:
    """An INSERT for the session's database that can skip conflicts (``ON CONFLICT DO NOTHING``):
    PostgreSQL's, else SQLite's, the two databases Lawful runs on."""
    maker = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return maker(target)


class PurposeSession(Session):
    """A session bound to one purpose and actor; its processing goes to the processing log."""

    access: Access

    def close(self) -> None:
        # Processing that was done but not committed (a read-only unit, a rollback) is still
        # processing: record it in a transaction of its own.
        if getattr(self, "access", None) is not None and self.access.entries:
            bind = self.get_bind()
            assert isinstance(bind, Engine)
            super().close()
            with bind.begin() as conn:
                self.access.write_log(conn)
            return
        super().close()


@event.listens_for(PurposeSession, "after_begin")
def _bind_access(session: Session, _transaction: Any, connection: Connection) -> None:
    # Connection.execution_options() changes the connection in place (SQLAlchemy 2): the
    # statements of this transaction run under the session's purpose.
    access = getattr(session, "access", None)
    if access is not None:
        connection.execution_options(**{ACCESS: access})


@event.listens_for(PurposeSession, "before_commit")
def _log_before_commit(session: Session) -> None:
    access = getattr(session, "access", None)
    if access is not None and access.entries:
        session.flush()
        access.write_log(session.connection())


class Purposes:
    """One transaction whose statements each run under a purpose named with the statement.

    For work that must be atomic across purposes, such as erasing a person: their account is
    held under ``contract``, their linkable events under ``monitoring`` and their invoices under
    ``legal_obligation``. Each statement is checked against its own purpose and logged under it.
    """

    def __init__(self, connection: Connection, accesses: dict[str, Access]) -> None:
        self.connection = connection
        self.accesses = accesses

    def execute(self, purpose: str, statement: Executable, params: Any = None) -> CursorResult[Any]:
        access = self.accesses.get(purpose)
        if access is None:
            raise PurposeViolation(
                f"this unit of work was opened for {', '.join(self.accesses)}, not for {purpose!r}"
            )
        return self.connection.execute(statement, params, execution_options={ACCESS: access})

    def write_log(self, connection: Connection) -> None:
        for access in self.accesses.values():
            access.write_log(connection)


class Database:
    """The database of one Lawful installation, enforcing one policy."""

    def __init__(self, url: str, policy: Policy, **engine_kwargs: Any) -> None:
        self.url = normalise_url(url)
        self.policy = policy
        self.engine = make_engine(self.url, **engine_kwargs)
        install(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self, purpose: str, actor: Actor, *, record: bool = True) -> PurposeSession:
        """A session under ``purpose``; the caller commits or rolls back, and closes it.

        ``record=False`` is for two things only: a request checking its own credentials (the
        session cookie, an API token), and the monitoring ingestion, which sums its writes into
        one processing-log row a minute (``lawful.monitoring.ingest.ProcessingTally``). The
        statements are still checked against the purpose; they are not logged one by one.
        """
        session = PurposeSession(bind=self.engine, expire_on_commit=False)
        session.access = self.access(purpose, actor, record=record)
        return session

    def access(self, purpose: str, actor: Actor, *, record: bool = True) -> Access:
        """The checked purpose and actor of a unit of work."""
        try:
            declared = self.policy.purpose(purpose)
        except KeyError:
            raise PurposeViolation(
                f"purpose {purpose!r} is not declared in the policy ({', '.join(self.policy.keys)})"
            ) from None
        self.authorise(purpose, actor)
        return Access(declared, actor, record)

    def authorise(self, purpose: str, actor: Actor) -> None:
        """Refuse an actor a purpose the policy does not grant them.

        Staff act only under the purposes of their role; a customer's user only under the
        portal's purposes; system jobs under any declared purpose.
        """
        if actor.kind == "staff" and not self.policy.role_may(actor.role, purpose):
            raise PurposeViolation(
                f"the role {actor.role!r} may not act under purpose {purpose!r}",
                detail={"purpose": purpose, "role": actor.role},
            )
        if actor.kind == "user" and purpose not in self.policy.portal_purposes:
            raise PurposeViolation(f"a customer's user may not act under purpose {purpose!r}")

    @contextmanager
    def unit_of_work(self, purpose: str, actor: Actor, *, record: bool = True) -> Iterator[PurposeSession]:
        """Commit when the block succeeds, roll back when it raises; log the processing either way."""
        session = self.session(purpose, actor, record=record)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def purposes(self, actor: Actor, *purposes: str) -> Iterator[Purposes]:
        """One transaction across several purposes (see :class:`Purposes`); commits when the block
        succeeds, rolls back when it raises, and logs the processing either way."""
        accesses = {key: self.access(key, actor) for key in purposes}
        work: Purposes | None = None
        try:
            with self.engine.begin() as connection:
                work = Purposes(connection, accesses)
                yield work
                work.write_log(connection)
        finally:
            if work is not None and any(a.entries for a in accesses.values()):
                with self.engine.begin() as connection:
                    work.write_log(connection)

    @contextmanager
    def internal(self) -> Iterator[Connection]:
        """A connection for infrastructure (migrations, health checks) that touches no personal data."""
        with self.engine.connect() as conn:
            yield conn.execution_options(**{INTERNAL: True})

    def ping(self) -> bool:
        with self.internal() as conn:
            return conn.execute(text("SELECT 1")).scalar() == 1

    def dispose(self) -> None:
        self.engine.dispose()
