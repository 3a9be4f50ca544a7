"""``lawful retention``: apply the policy's retention by hand, or see what expires next.

``lawful retention run`` does what the server does every day (``--dry-run`` only says what it would
do, and logs that; ``--at`` acts as if it were another moment, to test a policy); ``lawful
retention next`` lists, per rule, the next day something expires and how many rows by then.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from lawful.cli_support import PolicyOption, fail, progress_bar, table_console
from lawful.data.purpose import Actor
from lawful.errors import Invalid, LawfulError

if TYPE_CHECKING:
    from lawful.data.db import Database

app = typer.Typer(
    help="Retention: apply the policy's retention periods and legal holds, see what expires next.",
    no_args_is_help=True,
)
CLI = Actor.system("cli")
USAGE = 2  # the exit status of bad input

AtOption = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="act as if it were this moment, ISO 8601, UTC unless it names its zone (e.g. 2027-06-01T03:00)",
    ),
]


def parse_moment(text: str | None) -> datetime | None:
    """An ISO 8601 moment (UTC when it names no zone); None for None; :class:`Invalid` otherwise."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(f"--at {text!r} is not an ISO 8601 moment such as 2027-06-01T03:00") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _moment_and_database(at: str | None, policy: Path | None) -> tuple[datetime | None, Database]:
    """The moment ``--at`` names (bad input ends the command with the usage status), and the database."""
    from lawful.cli import _staff_database

    try:
        moment = parse_moment(at)
    except LawfulError as exc:
        raise fail(exc.message, USAGE) from None
    _, db = _staff_database(policy)
    return moment, db


@app.command("run")
def run(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="say what would expire, and log it, but change nothing")
    ] = False,
    at: AtOption = None,
    policy: PolicyOption = None,
) -> None:
    """Apply every retention rule of the policy now (or --at a moment) and print what was done."""
    from lawful.retention import sweeper

    moment, db = _moment_and_database(at, policy)
    try:
        with progress_bar() as bar:
            task = bar.add_task("dry run" if dry_run else "applying the retention rules", total=None)
            report = sweeper.run(
                db,
                now=moment,
                dry_run=dry_run,
                actor=CLI,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except LawfulError as exc:
        raise fail(exc.message, USAGE if isinstance(exc, Invalid) else 1) from None
    finally:
        db.dispose()
    title = f"Retention {'dry run' if dry_run else 'run'} at {report.clock:%Y-%m-%d %H:%M} UTC"
    table = Table("table", "kind of data", "purpose", "kept", "action", "cut-off", "rows", title=title)
    for action in report.actions:
        table.add_row(
            action.table,
            action.data,
            action.purpose,
            action.rule,
            action.action,
            action.cutoff,
            f"{action.rows:,}",
            style=None if action.rows else "dim",
        )
    out = table_console()
    out.print(table)
    verb = "would be changed (dry run: nothing was)" if dry_run else "changed"
    out.print(f"{report.rows:,} rows {verb}; logged as run {report.run_id}", highlight=False)


@app.command("next")
def next_(
    at: AtOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="show at most this many rules")] = 100,
    policy: PolicyOption = None,
) -> None:
    """List what expires next: per rule, the next day something expires and how many rows by then."""
    from lawful.retention import sweeper

    moment, db = _moment_and_database(at, policy)
    try:
        found = sweeper.upcoming(db, now=moment, limit=limit, actor=CLI)
    except LawfulError as exc:
        raise fail(exc.message) from None
    finally:
        db.dispose()
    table = Table(
        "next",
        "table",
        "kind of data",
        "purpose",
        "kept",
        "action",
        "rows by then",
        title="What expires next",
    )
    for item in found:
        table.add_row(
            item.on.isoformat() if item.on else "nothing held",
            item.table,
            item.data,
            item.purpose,
            item.rule,
            item.action,
            f"{item.rows:,}" if item.on else "",
            style=None if item.on else "dim",
        )
    table_console().print(table)
