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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib.resources import files
from pathlib import Path

from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lawful.agreements.models import DocumentKind, DocumentVersion
from lawful.data.base import utcnow
from lawful.errors import Invalid
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


def publish(
    session: Session, document: Document, *, now: datetime | None = None
) -> tuple[DocumentVersion, bool]:
    """Record ``document`` as in force unless it already is; returns the row and whether it is new.

    Two processes starting with the same new version publish it once: each publication names its
    predecessor, and a predecessor has one successor (a unique constraint), so the second insert
    fails and reads the first one's row.
    """
    latest = current(session, document.kind)
    if latest is not None and latest.digest == document.digest:
        return latest, False
    row = DocumentVersion(
        kind=document.kind,
        digest=document.digest,
        label=document.label[:40],
        text=document.text,
        previous_id=latest.id if latest is not None else None,
        published_at=now or utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        winner = current(session, document.kind)
        if winner is None or winner.digest != document.digest:
            raise
        return winner, False
    return row, True


def history(session: Session, kind: DocumentKind) -> list[DocumentVersion]:
    """Every publication of ``kind``, newest first."""
    return list(
        session.scalars(
            select(DocumentVersion)
            .where(DocumentVersion.kind == kind)
            .order_by(DocumentVersion.published_at.desc(), DocumentVersion.id.desc())
        )
    )


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


def blocks(markdown: str) -> list[str]:
    """A document's paragraphs (headings, list items and paragraphs, one line each)."""
    found: list[str] = []
    for chunk in _BLOCKS.split(markdown):
        for line in chunk.splitlines():
            line = line.strip()
            if line:
                found.append(line)
    return found


@dataclass(frozen=True, slots=True)
class Change:
    """One paragraph of a diff: kept, added, removed, or changed (with its word-level parts)."""

    kind: str  # same, added, removed, changed
    old: str
    new: str
    words: tuple[tuple[str, str], ...] = ()  # (same|added|removed, text) for a changed paragraph


def _words(old: str, new: str) -> tuple[tuple[str, str], ...]:
    a, b = old.split(" "), new.split(" ")
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


def changes(old: str, new: str) -> list[Change]:
    """The paragraphs of ``new`` against ``old``; a replaced paragraph that still resembles its
    predecessor is one *changed* paragraph with the words that differ."""
    a, b = blocks(old), blocks(new)
    found: list[Change] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            found.extend(Change("same", text, text) for text in a[i1:i2])
            continue
        olds, news = a[i1:i2], b[j1:j2]
        paired = min(len(olds), len(news)) if op == "replace" else 0
        for k in range(paired):
            before, after = olds[k], news[k]
            if difflib.SequenceMatcher(a=before.split(), b=after.split()).ratio() >= 0.4:
                found.append(Change("changed", before, after, _words(before, after)))
            else:
                found.append(Change("removed", before, ""))
                found.append(Change("added", "", after))
        found.extend(Change("removed", text, "") for text in olds[paired:])
        found.extend(Change("added", "", text) for text in news[paired:])
    return found


def changed(found: Iterable[Change]) -> list[Change]:
    return [c for c in found if c.kind != "same"]


def diff_html(old: str, new: str, *, context: bool = True) -> Markup:
    """A readable diff: every paragraph of the new text (only the changed ones without ``context``),
    with removed words struck through and added words marked."""
    out: list[str] = []
    for change in changes(old, new):
        if change.kind == "same":
            if context:
                out.append(f'<p class="diff-same">{escape(change.new)}</p>')
        elif change.kind == "added":
            out.append(f'<p class="diff-added"><ins>{escape(change.new)}</ins></p>')
        elif change.kind == "removed":
            out.append(f'<p class="diff-removed"><del>{escape(change.old)}</del></p>')
        else:
            words = "".join(
                f"{escape(text)} "
                if how == "same"
                else (f"<del>{escape(text)}</del> " if how == "removed" else f"<ins>{escape(text)}</ins> ")
                for how, text in change.words
            )
            out.append(f'<p class="diff-changed">{words.rstrip()}</p>')
    return Markup("\n".join(out))


def diff_text(old: str, new: str) -> str:
    """The changed paragraphs as plain text, for e-mail: ``- `` removed, ``+ `` added."""
    lines: list[str] = []
    for change in changed(changes(old, new)):
        if change.old:
            lines.append(f"- {change.old}")
        if change.new:
            lines.append(f"+ {change.new}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n" if lines else ""
