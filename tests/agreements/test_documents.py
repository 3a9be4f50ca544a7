"""Published document versions (once per version, a change undone is a new one, concurrent starts
publish once) and the diffs between them, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from tests.factories import SYSTEM

from lawful.agreements import documents
from lawful.agreements.documents import Document, terms_from_text
from lawful.agreements.models import DocumentKind, DocumentVersion
from lawful.data.db import Database

A = "# Terms\n\nYou pay the fees of your plan.\n\nWe keep the service running.\n"
B = "# Terms\n\nYou pay the fees of your plan within 14 days.\n\nWe keep the service running.\n"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def publish(db: Database, doc: Document, *, now: datetime | None = None) -> tuple[DocumentVersion, bool]:
    with db.unit_of_work("contract", SYSTEM) as session:
        row, new = documents.publish(session, doc, now=now)
        session.expunge(row)
    return row, new


def rows(db: Database) -> list[DocumentVersion]:
    """The terms' publications, newest first (detached)."""
    with db.unit_of_work("contract", SYSTEM) as session:
        found = documents.history(session, DocumentKind.terms)
        session.expunge_all()
    return found


def test_publishing_the_same_version_again_adds_nothing(database: Database) -> None:
    first, new = publish(database, terms_from_text(A), now=T0)
    again, new_again = publish(database, terms_from_text(A), now=T0 + timedelta(days=1))
    assert new and not new_again
    assert again.id == first.id and again.published_at == T0
    assert [r.id for r in rows(database)] == [first.id]


def test_a_changed_document_is_a_new_version_naming_its_predecessor(database: Database) -> None:
    a, _ = publish(database, terms_from_text(A), now=T0)
    b, new = publish(database, terms_from_text(B), now=T0 + timedelta(days=3))
    assert new and b.previous_id == a.id and b.digest != a.digest
    assert b.text == B and b.notified_at is None
    with database.unit_of_work("contract", SYSTEM) as session:
        current = documents.current(session, DocumentKind.terms)
        assert current is not None and current.id == b.id
        # what was in force at a moment: the earlier version before the change, and before any
        then = documents.version_at(session, DocumentKind.terms, T0 + timedelta(days=1))
        before = documents.version_at(session, DocumentKind.terms, T0 - timedelta(days=1))
        later = documents.version_at(session, DocumentKind.terms, T0 + timedelta(days=4))
        assert then is not None and then.id == a.id
        assert before is not None and before.id == a.id
        assert later is not None and later.id == b.id


def test_an_undone_change_is_published_again_as_the_latest(database: Database) -> None:
    a, _ = publish(database, terms_from_text(A), now=T0)
    b, _ = publish(database, terms_from_text(B), now=T0 + timedelta(days=1))
    a2, new = publish(database, terms_from_text(A), now=T0 + timedelta(days=2))
    assert new and a2.id != a.id and a2.digest == a.digest and a2.previous_id == b.id
    assert [r.id for r in rows(database)] == [a2.id, b.id, a.id]
    with database.unit_of_work("contract", SYSTEM) as session:
        current = documents.current(session, DocumentKind.terms)
        assert current is not None and current.id == a2.id


def test_a_second_process_publishing_the_same_successor_leaves_one_row(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = publish(database, terms_from_text(A), now=T0)
    # The second process looked for the version in force before the first one published B ...
    late = database.session("contract", SYSTEM)
    stale = documents.current(late, DocumentKind.terms)
    assert stale is not None and stale.id == a.id
    winner, new = publish(database, terms_from_text(B))
    assert new
    # ... so its insert names A as the predecessor too, which the unique constraint refuses.
    real = documents.current
    answers = [stale]
    monkeypatch.setattr(
        documents, "current", lambda session, kind: answers.pop() if answers else real(session, kind)
    )
    try:
        row, new_again = documents.publish(late, terms_from_text(B))
        assert not new_again and row.id == winner.id
        late.commit()
    finally:
        late.close()
    assert [r.id for r in rows(database)] == [winner.id, a.id]


def test_a_failed_unit_of_work_publishes_nothing(database: Database) -> None:
    with pytest.raises(RuntimeError), database.unit_of_work("contract", SYSTEM) as session:
        documents.publish(session, terms_from_text(A))
        raise RuntimeError("something after the publication fails")
    assert rows(database) == []


def test_the_statement_version_is_the_policy_hash(database: Database) -> None:
    doc = documents.statement_document(database.policy)
    row, _ = publish(database, doc)
    assert row.kind is DocumentKind.statement and row.digest == doc.digest and len(doc.short) == 12
    assert doc.digest in row.text  # the statement prints its version
    with database.unit_of_work("contract", SYSTEM) as session:
        assert session.scalar(select(func.count()).select_from(DocumentVersion)) == 1


# --- diffs ------------------------------------------------------------------------------------


def test_a_changed_sentence_is_one_changed_paragraph_with_its_words() -> None:
    found = documents.changes(A, B)
    assert [c.kind for c in found] == ["same", "changed", "same"]
    (change,) = documents.changed(found)
    assert change.old == "You pay the fees of your plan." and change.new.endswith("within 14 days.")
    html = documents.diff_html(A, B)
    assert "You pay the fees of your <del>plan.</del> <ins>plan within 14 days.</ins>" in html
    old = "We send the invoice by post every month."
    new = "We send the invoice by e-mail every month."
    assert "by <del>post</del> <ins>e-mail</ins> every" in documents.diff_html(old, new)


def test_added_and_removed_paragraphs() -> None:
    old = "# T\n\nFirst paragraph stays.\n\nThis paragraph goes away entirely.\n"
    new = "# T\n\nFirst paragraph stays.\n\nA wholly different clause about something else arrives.\n\n- and a list item\n"
    kinds = [(c.kind, c.shape) for c in documents.changed(documents.changes(old, new))]
    assert kinds == [("removed", "p"), ("added", "p"), ("added", "li")]
    html = documents.diff_html(old, new)
    assert '<p class="diff-removed"><del>This paragraph goes away entirely.</del></p>' in html
    assert "<ins>A wholly different clause about something else arrives.</ins>" in html
    assert "• <ins>and a list item</ins>" in html
    text = documents.diff_text(old, new)
    assert "- This paragraph goes away entirely.\n" in text
    assert "+ A wholly different clause about something else arrives.\n" in text
    assert "+ and a list item\n" in text
    assert "First paragraph stays" not in text


def test_unchanged_paragraphs_are_muted_or_left_out() -> None:
    html = documents.diff_html(A, B)
    assert '<p class="diff-same muted"><strong>Terms</strong></p>' in html
    assert '<p class="diff-same muted">We keep the service running.</p>' in html
    only = documents.diff_html(A, B, context=False)
    assert "We keep the service running" not in only and "<ins>" in only
    assert documents.diff_html(A, A, context=False) == "" and documents.diff_text(A, A) == ""


def test_changes_say_which_section_they_are_in() -> None:
    old = "# Title\n\n## Keeping\n\n### How long\n\n- names: 1 year\n\n## Other\n\nText.\n"
    new = "# Title\n\n## Keeping\n\n### How long\n\n- names: 2 years\n\n## Other\n\nText.\n"
    assert "In “Keeping › How long”" in documents.diff_html(old, new, context=False)
    assert "names: <del>1 year</del> <ins>2 years</ins>" in documents.diff_html(old, new)
    assert documents.diff_text(old, new) == "In “Keeping › How long”:\n- names: 1 year\n+ names: 2 years\n"


def test_markdown_marks_are_not_shown_and_html_is_escaped() -> None:
    old = "Mail [us](mailto:privacy@example.com) or see **the page**.\n\nPlain <b>text</b> & more.\n"
    new = (
        "Mail [us](mailto:privacy@example.com) or see **the new page**.\n\n"
        "Plain <script>alert(1)</script> & more.\n"
    )
    html = documents.diff_html(old, new)
    assert "Mail us (privacy@example.com) or see the <ins>new</ins> page." in html
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&amp; more." in html
    # the plain-text diff of a mail is not HTML: it keeps the characters as they are
    assert "+ Plain <script>alert(1)</script> & more." in documents.diff_text(old, new)
