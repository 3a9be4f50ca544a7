"""The published documents: the privacy statement and the terms of service, their versions and diffs.

The statement is rendered from the enforced policy; its version is the policy's content hash (the
one the statement prints at its end). The terms are the Markdown file the company supplies
(``LAWFUL_TERMS``; a shipped example otherwise); their version is the SHA-256 of the file's text.
Both are read once, when the app starts: what is published is what runs.

:func:`publish` records a version the first time it is in force (``document_versions``), which is
where "last changed" comes from, and keeps its text for the diffs that :func:`diff_html` and
:func:`diff_text` make, paragraph by paragraph and word by word within a changed paragraph.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from lawful.agreements.models import DocumentKind, DocumentVersion
from lawful.data.base import Base, new_id, utcnow
from lawful.data.db import dialect_insert
from lawful.errors import Conflict, Invalid
from lawful.policy.loader import policy_hash
from lawful.policy.model import Policy
from lawful.policy.render import render_statement

TITLES = {DocumentKind.statement: "privacy statement", DocumentKind.terms: "terms of service"}
_BLOCKS = re.compile(r"\n\s*\n")


@dataclass(frozen=True, slots=True)
class Document:
    """A document as this installation publishes it now."""

    kind: DocumentKind
    digest: str  # the version
    label: str  # the author's own label, if any
    text: str  # Markdown

    @property
    def short(self) -> str:
        return self.digest[:12]

    @property
    def title(self) -> str:
        return TITLES[self.kind]


def statement_document(policy: Policy) -> Document:
    return Document(
        DocumentKind.statement, policy_hash(policy), policy.version, render_statement(policy, "md")
    )


def default_terms_path() -> Path:
    return Path(str(files("lawful.agreements").joinpath("terms.md")))


def terms_document(path: Path | None) -> Document:
    source = path or default_terms_path()
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise Invalid(f"{source}: cannot read the terms of service ({exc.strerror or exc})") from exc
    if not text.strip():
        raise Invalid(f"{source}: the terms of service are empty")
    return terms_from_text(text)


def terms_from_text(text: str) -> Document:
    """Terms of service with ``text`` as their Markdown; the version is its SHA-256."""
    return Document(DocumentKind.terms, hashlib.sha256(text.encode()).hexdigest()[:16], "", text)


@cache
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False})


def to_html(markdown: str) -> Markup:
    """Markdown as HTML; raw HTML in it is shown as text, never rendered."""
    return Markup(_markdown().render(markdown))


# --- publication ------------------------------------------------------------------------------


def current(session: Session, kind: DocumentKind) -> DocumentVersion | None:
    """The version of ``kind`` in force: the latest published."""
    return session.scalar(
        select(DocumentVersion)
        .where(DocumentVersion.kind == kind)
        .order_by(DocumentVersion.published_at.desc(), DocumentVersion.id.desc())
        .limit(1)
    )


def insert_or_skip(session: Session, model: type[Base], **values: Any) -> bool:
    """Insert a row into ``model``'s table unless it violates a unique constraint
    (``ON CONFLICT DO NOTHING``); returns whether it went in."""
    statement = dialect_insert(session, model)
    table = model.__table__
    assert isinstance(table, Table)
    inserted = session.execute(
        statement.values(**values).on_conflict_do_nothing().returning(*table.primary_key.columns)
    )
    return inserted.first() is not None


def publish(
    session: Session, document: Document, *, now: datetime | None = None
) -> tuple[DocumentVersion, bool]:
    """Record ``document`` as in force unless it already is; returns the row and whether it is new.

    Two processes starting with the same new version publish it once: each publication names its
    predecessor, and a predecessor has one successor (a unique constraint), so the second insert
    does nothing and the second process reads the first one's row. (The insert skips the conflict
    instead of failing on it: a savepoint to recover from the failure would, on SQLite, commit the
    row before the unit of work does.) A process with a different document then publishes it as
    the successor of the one that won.
    """
    for _ in range(3):
        latest = current(session, document.kind)
        if latest is not None and latest.digest == document.digest:
            return latest, False
        row_id = new_id()
        if insert_or_skip(
            session,
            DocumentVersion,
            id=row_id,
            kind=document.kind,
            digest=document.digest,
            label=document.label[:40],
            text=document.text,
            previous_id=latest.id if latest is not None else None,
            published_at=now or utcnow(),
        ):
            row = session.get(DocumentVersion, row_id)
            assert row is not None
            return row, True
    raise Conflict(f"the {TITLES[document.kind]} is being published by another process; try again")


def history(session: Session, kind: DocumentKind) -> list[DocumentVersion]:
    """Every publication of ``kind``, newest first."""
    return list(
        session.scalars(
            select(DocumentVersion)
            .where(DocumentVersion.kind == kind)
            .order_by(DocumentVersion.published_at.desc(), DocumentVersion.id.desc())
        )
    )


def previous(session: Session, version: DocumentVersion | None) -> DocumentVersion | None:
    """The version ``version`` replaced; None for a first version (or for no version)."""
    if version is None or not version.previous_id:
        return None
    return session.get(DocumentVersion, version.previous_id)


def predecessors(versions: list[DocumentVersion]) -> dict[uuid.UUID, DocumentVersion | None]:
    """Each version's predecessor, from one kind's :func:`history`."""
    by_id = {v.id: v for v in versions}
    return {v.id: by_id.get(v.previous_id) if v.previous_id else None for v in versions}


def version_at(session: Session, kind: DocumentKind, moment: datetime) -> DocumentVersion | None:
    """The version that was in force at ``moment`` (the earliest one if none was yet)."""
    found = session.scalar(
        select(DocumentVersion)
        .where(DocumentVersion.kind == kind, DocumentVersion.published_at <= moment)
        .order_by(DocumentVersion.published_at.desc(), DocumentVersion.id.desc())
        .limit(1)
    )
    if found is not None:
        return found
    return session.scalar(
        select(DocumentVersion)
        .where(DocumentVersion.kind == kind)
        .order_by(DocumentVersion.published_at, DocumentVersion.id)
        .limit(1)
    )


# --- diffs ------------------------------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*$")
_ITEM = re.compile(r"^(?:[-*+]|\d{1,3}[.)])\s+(.*)$")
_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]*)\)")
_STRONG = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_CODE = re.compile(r"`([^`]*)`")


def blocks(markdown: str) -> list[str]:
    """A document's paragraphs (headings, list items and paragraphs, one line each)."""
    found: list[str] = []
    for chunk in _BLOCKS.split(markdown):
        for line in chunk.splitlines():
            line = line.strip()
            if line:
                found.append(line)
    return found


def _link(match: re.Match[str]) -> str:
    text, target = match.group(1), match.group(2)
    if not target or target in (text, f"mailto:{text}"):
        return text
    return f"{text} ({target.removeprefix('mailto:')})"


def plain(block: str) -> tuple[str, str]:
    """A paragraph as a reader sees it: its shape (``h1``..``h6``, ``li`` or ``p``) and its text
    without the Markdown marks (links keep their address in brackets)."""
    shape = "p"
    heading = _HEADING.match(block)
    if heading:
        shape, block = f"h{len(heading.group(1))}", heading.group(2)
    else:
        item = _ITEM.match(block)
        if item:
            shape, block = "li", item.group(1)
    block = _LINK.sub(_link, block)
    block = _STRONG.sub(lambda m: m.group(1) or m.group(2), block)
    block = _CODE.sub(lambda m: m.group(1), block)
    return shape, " ".join(block.split())


@dataclass(frozen=True, slots=True)
class Change:
    """One paragraph of a diff: kept, added, removed, or changed (with its word-level parts).

    ``old`` and ``new`` are the paragraph's text as a reader sees it (see :func:`plain`), ``shape``
    what it is (a heading ``h1``..``h6``, a list item ``li``, a paragraph ``p``).
    """

    kind: str  # same, added, removed, changed
    old: str
    new: str
    words: tuple[tuple[str, str], ...] = ()  # (same|added|removed, text) for a changed paragraph
    shape: str = "p"

    @property
    def heading(self) -> int:
        """The heading level, 0 for a list item or a paragraph."""
        return int(self.shape[1]) if self.shape.startswith("h") else 0


def _words(old: str, new: str) -> tuple[tuple[str, str], ...]:
    a, b = old.split(), new.split()
    parts: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(("same", " ".join(a[i1:i2])))
            continue
        if i2 > i1:
            parts.append(("removed", " ".join(a[i1:i2])))
        if j2 > j1:
            parts.append(("added", " ".join(b[j1:j2])))
    return tuple(parts)


def _similar(old: str, new: str, *, alone: bool) -> bool:
    """Whether ``new`` is an edit of ``old``: enough words in common, or (``alone``: one paragraph
    replaced by one) any at all."""
    ratio = difflib.SequenceMatcher(a=old.split(), b=new.split(), autojunk=False).ratio()
    return ratio >= 0.4 or (alone and ratio > 0)


def changes(old: str, new: str) -> list[Change]:
    """The paragraphs of ``new`` against ``old``, in reading order; a replaced paragraph that still
    resembles its predecessor (and has its shape) is one *changed* paragraph with the words that
    differ, otherwise the old one is *removed* and the new one *added*."""
    a, b = blocks(old), blocks(new)
    found: list[Change] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            for block in a[i1:i2]:
                shape, text = plain(block)
                found.append(Change("same", text, text, shape=shape))
            continue
        olds, news = [plain(x) for x in a[i1:i2]], [plain(x) for x in b[j1:j2]]
        paired = min(len(olds), len(news))
        alone = len(olds) == len(news) == 1
        for k in range(paired):
            (before_shape, before), (after_shape, after) = olds[k], news[k]
            if before_shape == after_shape and _similar(before, after, alone=alone):
                found.append(Change("changed", before, after, _words(before, after), after_shape))
            else:
                found.append(Change("removed", before, "", shape=before_shape))
                found.append(Change("added", "", after, shape=after_shape))
        found.extend(Change("removed", text, "", shape=shape) for shape, text in olds[paired:])
        found.extend(Change("added", "", text, shape=shape) for shape, text in news[paired:])
    return found


def changed(found: Iterable[Change]) -> list[Change]:
    return [c for c in found if c.kind != "same"]


def changes_since(previous: DocumentVersion | None, version: DocumentVersion) -> list[Change]:
    """The paragraphs of ``version`` that differ from ``previous`` (every one, for a first version)."""
    return changed(changes(previous.text if previous else "", version.text))


def _sections(found: list[Change]) -> list[tuple[str, Change]]:
    """Each change with the headings it falls under (``A › B``; the document's title left out)."""
    trail: dict[int, str] = {}
    out: list[tuple[str, Change]] = []
    for change in found:
        level = change.heading
        if level:
            trail = {k: v for k, v in trail.items() if k < level}
            if change.kind != "removed":
                trail[level] = change.new
        out.append((" › ".join(v for k, v in sorted(trail.items()) if k > 1), change))
    return out


def _marked(change: Change) -> Markup:
    if change.kind == "added":
        return Markup(f"<ins>{escape(change.new)}</ins>")
    if change.kind == "removed":
        return Markup(f"<del>{escape(change.old)}</del>")
    if change.kind == "same":
        return escape(change.new)
    parts = []
    for how, text in change.words:
        if how == "same":
            parts.append(str(escape(text)))
        elif how == "removed":
            parts.append(f"<del>{escape(text)}</del>")
        else:
            parts.append(f"<ins>{escape(text)}</ins>")
    return Markup(" ".join(parts))


def diff_html(old: str, new: str, *, context: bool = True) -> Markup:
    """A readable diff: every paragraph of the new text, the unchanged ones muted (only the changed
    ones without ``context``, each under the headings it belongs to), removed words struck through
    (``<del>``) and added ones marked (``<ins>``). Headings are shown bold, list items with a bullet;
    the text is escaped, so nothing in a document is rendered as HTML."""
    out: list[str] = []
    shown = ""
    for where, change in _sections(changes(old, new)):
        if change.kind == "same" and not context:
            continue
        if not context and where and where != shown and not change.heading:
            out.append(f'<p class="diff-where muted small">In “{escape(where)}”</p>')
            shown = where
        text = _marked(change)
        if change.heading:
            text = Markup(f"<strong>{text}</strong>")
        elif change.shape == "li":
            text = Markup(f"• {text}")
        muted = " muted" if change.kind == "same" else ""
        out.append(f'<p class="diff-{change.kind}{muted}">{text}</p>')
    return Markup("\n".join(out))


def diff_text(old: str, new: str) -> str:
    """The changed paragraphs as plain text, for e-mail: ``- `` removed, ``+ `` added, each group
    under the headings it belongs to."""
    lines: list[str] = []
    shown = ""
    for where, change in _sections(changes(old, new)):
        if change.kind == "same":
            continue
        if where and where != shown and not change.heading:
            lines.append(f"In “{where}”:")
            shown = where
        if change.old:
            lines.append(f"- {change.old}")
        if change.new:
            lines.append(f"+ {change.new}")
        if change.kind != "removed":  # a removed paragraph stays with what replaces it
            lines.append("")
    return "\n".join(lines).rstrip() + "\n" if lines else ""
