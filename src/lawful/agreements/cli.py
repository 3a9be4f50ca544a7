"""``lawful documents``: the published versions of the privacy statement and the terms of service.

``lawful documents list`` shows every publication (when, which version, whether customers were
mailed); ``lawful documents publish`` publishes the documents this installation runs now, as the
server does when it starts, and mails customers the changes of a new version; ``lawful documents
diff`` prints what changed between two versions (the latest against its predecessor by default).
"""

from __future__ import annotations

import enum
import sys
from typing import Annotated

import typer
from rich.table import Table

from lawful.agreements import documents
from lawful.agreements.models import DocumentKind, DocumentVersion
from lawful.cli_support import PolicyOption, fail, table_console
from lawful.data.purpose import Actor
from lawful.errors import LawfulError

app = typer.Typer(
    help="The published privacy statement and terms of service: versions, publication, changes.",
    no_args_is_help=True,
)
CLI = Actor.system("cli")
USAGE = 2


class Kind(enum.StrEnum):
    statement = "statement"
    terms = "terms"


KindOption = Annotated[Kind, typer.Option("--kind", "-k", help="statement or terms")]


@app.command("list")
def list_versions(kind: KindOption = Kind.statement, policy: PolicyOption = None) -> None:
    """Every published version, newest first."""
    from lawful.cli import _staff_database

    _, db = _staff_database(policy)
    try:
        with db.unit_of_work("contract", CLI) as session:
            rows = documents.history(session, DocumentKind(kind.value))
            table = Table(title=f"Published versions of the {documents.TITLES[DocumentKind(kind.value)]}")
            for column in ("published", "label", "version", "customers mailed"):
                table.add_column(column)
            for row in rows:
                table.add_row(
                    f"{row.published_at:%Y-%m-%d %H:%M} UTC",
                    row.label or "—",
                    row.digest,
                    f"{row.notified_at:%Y-%m-%d %H:%M}" if row.notified_at else "—",
                )
    finally:
        db.dispose()
    if not rows:
        typer.echo(
            "nothing is published yet: the server publishes when it starts, or run `lawful documents publish`"
        )
        return
    table_console().print(table)


@app.command("publish")
def publish(policy: PolicyOption = None) -> None:
    """Publish the statement (from the policy) and the terms (LAWFUL_TERMS) as the server does at start."""
    from lawful.agreements.publication import Publication
    from lawful.cli import _staff_database

    settings, db = _staff_database(policy)
    try:
        docs = [
            documents.statement_document(settings.loaded_policy),
            documents.terms_document(settings.terms),
        ]
        with db.unit_of_work("contract", CLI) as session:
            before = {kind: documents.current(session, kind) for kind in DocumentKind}
            before_ids = {kind: row.id if row else None for kind, row in before.items()}
        versions = Publication(
            db, docs, base_url=settings.base_url, organisation=settings.loaded_policy.organisation.name
        ).ensure()
    except LawfulError as exc:
        raise fail(exc.message) from None
    finally:
        db.dispose()
    for kind, version in versions.items():
        state = "unchanged" if before_ids[kind] == version.id else "published"
        typer.echo(
            f"{documents.TITLES[kind]}: {version.digest} ({state}, since {version.published_at:%Y-%m-%d})"
        )


@app.command("diff")
def diff(
    kind: KindOption = Kind.statement,
    to: Annotated[str | None, typer.Option("--to", help="the newer version (a digest or its start)")] = None,
    since: Annotated[
        str | None, typer.Option("--from", help="the older version; its predecessor by default")
    ] = None,
    policy: PolicyOption = None,
) -> None:
    """What changed between two versions: ``- `` removed, ``+ `` added, paragraph by paragraph."""
    from lawful.cli import _staff_database

    _, db = _staff_database(policy)
    try:
        with db.unit_of_work("contract", CLI) as session:
            rows = documents.history(session, DocumentKind(kind.value))
            newer = _pick(rows, to) if to else (rows[0] if rows else None)
            if newer is None:
                raise fail(f"no published version {to or ''} of the {kind.value}".replace("  ", " "), USAGE)
            if since:
                older = _pick(rows, since)
            else:
                older = next((r for r in rows if r.id == newer.previous_id), None)
            if older is None:
                raise fail("no earlier version to compare with", USAGE)
            text = documents.diff_text(older.text, newer.text)
    finally:
        db.dispose()
    sys.stdout.write(f"{older.digest} → {newer.digest}\n\n" + (text or "no change in the text\n"))


def _pick(rows: list[DocumentVersion], prefix: str) -> DocumentVersion | None:
    found = [r for r in rows if r.digest.startswith(prefix.strip().lower())]
    if len({r.digest for r in found}) > 1:
        raise fail(f"{prefix!r} names more than one version; give more of it", USAGE)
    return found[0] if found else None
