"""When the privacy statement changes: a notice for each signed-in user, and a mail to each customer.

A user's *last seen* version is the newest one whose changes they read (a ``statement_notices``
row with ``read_at``); before any, the version in force when their account was made (which a
self-service admin accepted). When that is not the version in force, every portal page shows a
banner, and the changes page the diff since it: opening that page records the notice as shown
(:func:`mark_shown`), confirming records it as read (:func:`mark_read`). A version published again
(a change undone) is no news to a user who last saw the same text.

Publishing a new version mails every customer whose agreement runs (to their billing address) the
changed paragraphs, once per version (``document_versions.notified_at``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup
from sqlalchemy import ScalarSelect, func, or_, select
from sqlalchemy.orm import Session, defer

from lawful.agreements import documents
from lawful.agreements.models import DocumentKind, DocumentVersion, StatementNotice
from lawful.customers.models import Customer, CustomerStatus
from lawful.data.base import new_id, utcnow
from lawful.mail import service as mail
from lawful.users.models import User

MAIL_KIND = "statement_changed"
TERMS_MAIL_KIND = "terms_changed"

# The versions are read without their text, which only the diff needs (it is loaded when used).
_NO_TEXT = defer(DocumentVersion.text)
_NEWEST = (DocumentVersion.published_at.desc(), DocumentVersion.id.desc())


@dataclass(frozen=True, slots=True)
class Notice:
    """What changed in the statement between the version a user last saw and the one in force."""

    since: DocumentVersion
    current: DocumentVersion

    def html(self, *, context: bool = True) -> Markup:
        return documents.diff_html(self.since.text, self.current.text, context=context)

    def text(self) -> str:
        return documents.diff_text(self.since.text, self.current.text)

    @property
    def changed(self) -> int:
        return len(documents.changes_since(self.since, self.current))


def _current(session: Session) -> DocumentVersion | None:
    return session.scalar(
        select(DocumentVersion)
        .options(_NO_TEXT)
        .where(DocumentVersion.kind == DocumentKind.statement)
        .order_by(*_NEWEST)
        .limit(1)
    )


def _last_read(session: Session, user_id: uuid.UUID) -> DocumentVersion | None:
    return session.scalar(
        select(DocumentVersion)
        .options(_NO_TEXT)
        .join(StatementNotice, StatementNotice.version_id == DocumentVersion.id)
        .where(StatementNotice.user_id == user_id, StatementNotice.read_at.is_not(None))
        .order_by(*_NEWEST)
        .limit(1)
    )


def last_seen(session: Session, user: User) -> DocumentVersion | None:
    """The newest statement version whose changes the user read; before any, the one in force when
    their account was made."""
    read = _last_read(session, user.id)
    if read is not None:
        return read
    kind = DocumentVersion.kind == DocumentKind.statement
    return session.scalar(
        select(DocumentVersion)
        .options(_NO_TEXT)
        .where(kind, DocumentVersion.published_at <= user.created_at)
        .order_by(*_NEWEST)
        .limit(1)
    ) or session.scalar(  # an account older than the first publication: the first version
        select(DocumentVersion)
        .options(_NO_TEXT)
        .where(kind)
        .order_by(DocumentVersion.published_at, DocumentVersion.id)
        .limit(1)
    )


def _due(session: Session, user: User) -> tuple[DocumentVersion, DocumentVersion] | None:
    """(last seen, in force) when they differ. One query while there is one version or the account
    is newer than the version in force, two once the user read its changes."""
    current = _current(session)
    if current is None or current.previous_id is None:
        return None  # one version only: what the user saw, if anything
    if user.created_at >= current.published_at:
        return None  # the account was made under the version in force
    seen = last_seen(session, user)
    if seen is None or seen.id == current.id or seen.digest == current.digest:
        return None
    if _same_text(session, seen, current):
        return None  # the policy changed where the statement does not show it, or changed back
    return seen, current


def _same_text(session: Session, a: DocumentVersion, b: DocumentVersion) -> bool:
    """Whether two versions say the same apart from their version (the statement prints its
    digest), compared by the database."""
    substance = func.replace(DocumentVersion.text, DocumentVersion.digest, "")

    def of(version: DocumentVersion) -> ScalarSelect[str]:
        return select(substance).where(DocumentVersion.id == version.id).scalar_subquery()

    return bool(session.scalar(select(of(a) == of(b))))


def substance(version: DocumentVersion) -> str:
    """A version's text without its digest: two versions with the same substance say the same."""
    return version.text.replace(version.digest, "")


def changed_on(session: Session, user: User) -> datetime | None:
    """When the statement in force was published, if the user has not read its changes (the
    portal's banner); reads no document text."""
    due = _due(session, user)
    return due[1].published_at if due is not None else None


def notice_for(session: Session, user: User) -> Notice | None:
    """The notice the user should see, or None when they have seen the version in force.

    The versions' text loads when the diff is made, so make it in the same unit of work.
    """
    due = _due(session, user)
    return Notice(*due) if due is not None else None


def _row(session: Session, user: User, notice: Notice) -> StatementNotice | None:
    return session.scalar(
        select(StatementNotice).where(
            StatementNotice.user_id == user.id, StatementNotice.version_id == notice.current.id
        )
    )


def mark_shown(session: Session, user: User, notice: Notice) -> StatementNotice:
    """Record that the user was shown the changes up to the version in force (once per version;
    two pages opened at once record it once)."""
    row = _row(session, user, notice)
    if row is None:
        documents.insert_or_skip(
            session,
            StatementNotice,
            id=new_id(),
            user_id=user.id,
            version_id=notice.current.id,
            since_version_id=notice.since.id,
            shown_at=utcnow(),
        )
        row = _row(session, user, notice)
        assert row is not None
    return row


def mark_read(session: Session, user: User, notice: Notice) -> StatementNotice:
    """Record that the user read the changes up to the version in force; the banner goes away."""
    row = mark_shown(session, user, notice)
    if row.read_at is None:
        row.read_at = utcnow()
    return row


def notices_of(session: Session, user_id: uuid.UUID) -> list[StatementNotice]:
    return list(
        session.scalars(
            select(StatementNotice)
            .where(StatementNotice.user_id == user_id)
            .order_by(StatementNotice.shown_at)
        )
    )


def mail_customers(session: Session, version: DocumentVersion, *, base_url: str, organisation: str) -> int:
    """Mail every customer whose agreement runs what changed in ``version``; once per version.

    Runs when the version is published (:meth:`lawful.agreements.publication.Publication.ensure`),
    in the same unit of work: the version is in force exactly when its mails are in the outbox.
    A customer runs an agreement when it is active, not erased, and its contract has not ended.
    """
    if version.notified_at is not None or version.previous_id is None:
        return 0
    previous = session.get(DocumentVersion, version.previous_id)
    if previous is None:
        return 0
    if substance(previous) == substance(version):
        version.notified_at = utcnow()
        return 0  # the policy changed where the statement does not show it: nothing to tell
    changes = documents.diff_text(previous.text, version.text)
    title = documents.TITLES[version.kind]
    is_statement = version.kind is DocumentKind.statement
    page = "privacy" if is_statement else "terms"
    today = version.published_at.date()
    sent = 0
    customers = session.scalars(
        select(Customer)
        .where(
            Customer.status == CustomerStatus.active,
            Customer.erased_at.is_(None),
            or_(Customer.contract_end.is_(None), Customer.contract_end > today),
        )
        .order_by(Customer.legal_name)
    )
    for customer in customers:
        mail.queue(
            session,
            to=customer.billing_email,
            kind=MAIL_KIND if is_statement else TERMS_MAIL_KIND,
            subject=f"Our {title} changed",
            body=(
                f"Dear {customer.legal_name},\n\n"
                f"On {version.published_at:%Y-%m-%d} {organisation} changed its {title}.\n"
                f"The new version ({version.digest[:12]}) is published at {base_url}/{page}.\n\n"
                "What changed (- removed, + added):\n\n"
                f"{changes}\n"
                + (
                    "Your users see the changes when they next sign in to the portal.\n"
                    if is_statement
                    else ""
                )
            ),
        )
        sent += 1
    version.notified_at = utcnow()
    return sent
