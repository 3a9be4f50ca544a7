"""When the privacy statement changes: a notice for each signed-in user, and a mail to each customer.

A user's *last seen* version is the newest one whose notice they read (``statement_notices``);
before any, the version in force when their account was made (which a self-service admin
accepted). When that is not the version in force, the portal shows a notice with the changes since
it; reading them records the notice. Publishing a new version mails every customer whose agreement
runs (their billing address) the changed paragraphs, once per version.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from markupsafe import Markup
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lawful.agreements import documents
from lawful.agreements.models import DocumentKind, DocumentVersion, StatementNotice
from lawful.customers.models import Customer, CustomerStatus
from lawful.data.base import utcnow
from lawful.mail import service as mail
from lawful.users.models import User

MAIL_KIND = "statement_changed"


@dataclass(frozen=True, slots=True)
class Notice:
    """What changed in the statement between the version a user last saw and the one in force."""

    since: DocumentVersion
    current: DocumentVersion

    def html(self, *, context: bool = True) -> Markup:
        return documents.diff_html(self.since.text, self.current.text, context=context)

    @property
    def changed(self) -> int:
        return len(documents.changed(documents.changes(self.since.text, self.current.text)))


def last_seen(session: Session, user: User) -> DocumentVersion | None:
    read = session.scalar(
        select(DocumentVersion)
        .join(StatementNotice, StatementNotice.version_id == DocumentVersion.id)
        .where(StatementNotice.user_id == user.id, StatementNotice.read_at.is_not(None))
        .order_by(DocumentVersion.published_at.desc(), DocumentVersion.id.desc())
        .limit(1)
    )
    return read or documents.version_at(session, DocumentKind.statement, user.created_at)


def notice_for(session: Session, user: User) -> Notice | None:
    """The notice the user should see, or None when they have seen the version in force."""
    current = documents.current(session, DocumentKind.statement)
    if current is None:
        return None
    seen = last_seen(session, user)
    if seen is None or seen.id == current.id or seen.digest == current.digest:
        return None
    return Notice(seen, current)


def mark_read(session: Session, user: User, notice: Notice) -> StatementNotice:
    """Record that the user was shown the changes up to the version in force (once per version)."""
    row = session.scalar(
        select(StatementNotice).where(
            StatementNotice.user_id == user.id, StatementNotice.version_id == notice.current.id
        )
    )
    now = utcnow()
    if row is None:
        row = StatementNotice(
            user_id=user.id, version_id=notice.current.id, since_version_id=notice.since.id, shown_at=now
        )
        session.add(row)
    if row.read_at is None:
        row.read_at = now
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
    """Mail every customer whose agreement runs what changed in ``version``; once per version."""
    if version.notified_at is not None or version.previous_id is None:
        return 0
    previous = session.get(DocumentVersion, version.previous_id)
    if previous is None:
        return 0
    changes = documents.diff_text(previous.text, version.text)
    title = documents.TITLES[version.kind]
    sent = 0
    customers = session.scalars(
        select(Customer)
        .where(
            Customer.status == CustomerStatus.active,
            Customer.erased_at.is_(None),
            or_(Customer.contract_end.is_(None), Customer.contract_end > version.published_at.date()),
        )
        .order_by(Customer.legal_name)
    )
    for customer in customers:
        mail.queue(
            session,
            to=customer.billing_email,
            kind=MAIL_KIND if version.kind is DocumentKind.statement else "terms_changed",
            subject=f"Our {title} changed",
            body=(
                f"Dear {customer.legal_name},\n\n"
                f"On {version.published_at:%Y-%m-%d} {organisation} changed its {title}.\n"
                f"The new version ({version.digest[:12]}) is published at "
                f"{base_url}/{'privacy' if version.kind is DocumentKind.statement else 'terms'}.\n\n"
                "What changed (- removed, + added):\n\n"
                f"{changes}\n"
                "Your users see the changes when they next sign in to the portal.\n"
            ),
        )
        sent += 1
    version.notified_at = utcnow()
    return sent
