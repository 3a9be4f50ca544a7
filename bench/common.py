"""What the benchmarks share: the commit measured, and the databases they create and drop.

Imported by the scripts of ``bench/`` (run as ``python bench/<name>.py``, so this folder is on
the import path). PostgreSQL: ``LAWFUL_TEST_POSTGRES`` names the admin URL, as for the tests.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, make_url, text

from lawful.data.migrate import upgrade

PG_ADMIN_URL = os.environ.get("LAWFUL_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def revision() -> str:
    """The commit measured, and whether src/ had changes not yet committed."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%h %s"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "commit unknown"
    return f"commit {commit[:90]}" + (" (with uncommitted changes in src/)" if dirty else "")


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL as libpq (psycopg, psql) takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_unreachable() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        where = make_url(PG_ADMIN_URL).render_as_string()
        return f"PostgreSQL at {where} is not reachable ({type(exc).__name__})"
    finally:
        engine.dispose()


@contextmanager
def sqlite_url(workdir: Path, name: str) -> Iterator[str]:
    """A migrated SQLite file ``<workdir>/<name>.db``, deleted afterwards."""
    path = workdir / f"{name}.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    try:
        yield url
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextmanager
def postgres_url() -> Iterator[str]:
    """A fresh, migrated database ``lawful_bench_<random>``, dropped afterwards."""
    name = f"lawful_bench_{uuid.uuid4().hex[:10]}"
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


# --- the tables every benchmark prints ------------------------------------------------------------

Justify = Callable[[int, str], bool]  # (column index, column name) -> right-aligned?


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """A table as Markdown, for bench/README.md."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def show(
    out: Console, title: str, header: list[str], rows: list[list[str]], right: Justify | None = None
) -> None:
    """A table on the terminal; a row whose goal was missed (or whose sides disagree) in red."""
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(header):
        table.add_column(name, justify="right" if right is not None and right(i, name) else "left")
    for row in rows:
        bad = "MISSED" in row[-1] or "MISMATCH" in " ".join(row)
        table.add_row(*row, style="red" if bad else None)
    out.print(table)


def report(
    out: Console, tables: Sequence[tuple[str, list[str], list[list[str]], Justify | None]], notes: list[str]
) -> None:
    """The tables and notes on the terminal, then the same as Markdown to paste into bench/README.md."""
    for title, header, rows, right in tables:
        show(out, title, header, rows, right)
    for note in notes:
        out.print(note)
    print("\nMarkdown:\n")
    for _, header, rows, _ in tables:
        print(markdown(header, rows))
        print()
    for note in notes:
        print(f"_{note}_")
