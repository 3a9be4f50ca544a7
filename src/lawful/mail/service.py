"""Sending e-mail: queue it in the outbox inside the unit of work, deliver it after commit.

The outbox makes mail transactional: an invitation is sent exactly when the user row that it
invites exists. ``deliver_pending`` hands pending messages to a :class:`Mailer`; once sent, a
message's body is blanked (it may hold a token), and what remains says what was sent to whom.
"""

from __future__ import annotations

import smtplib
import ssl
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from lawful.data.base import utcnow
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.mail.models import MailStatus, OutboundMail
from lawful.settings import Settings

MAX_ATTEMPTS = 5
DELIVERY = Actor.system("mail-delivery")
#: Kinds of mail whose address is forgotten once sent: the answer to an erasure is the last message
#: to a person whose data is otherwise gone.
FORGET_ADDRESS = frozenset({"rights-erased"})


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    maintype: str
    subtype: str
    content: bytes


# Resolves an outbox message's attachment reference ("invoice:<id>") to the file, in the
# delivering session; None when the reference is not its kind.
AttachmentSource = Callable[[Session, str], Attachment | None]


class Mailer(Protocol):
    """Delivers one message; raises on failure."""

    def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    """Delivers through an SMTP server (``LAWFUL_SMTP_*``)."""

    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_host:
            raise ValueError("SmtpMailer needs LAWFUL_SMTP_HOST")
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.username = settings.smtp_username
        self.password = settings.smtp_password
        self.starttls = settings.smtp_starttls
        self.use_ssl = settings.smtp_ssl
        self.timeout = settings.smtp_timeout

    def send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.use_ssl:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if not self.use_ssl and self.starttls and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
            if self.username and self.password:
                smtp.login(self.username, self.password)
            smtp.send_message(message)


class LocalOutbox:
    """Development: nothing leaves the machine; the console shows the outbox."""

    def send(self, message: EmailMessage) -> None:
        raise RuntimeError("no SMTP server is configured (LAWFUL_SMTP_HOST); the message stays in the outbox")


def mailer_for(settings: Settings) -> Mailer | None:
    """The SMTP mailer when configured; None means: keep mail in the local outbox."""
    return SmtpMailer(settings) if settings.smtp_host else None


def queue(
    session: Session, *, to: str, subject: str, body: str, kind: str, recipient_id: uuid.UUID | None = None
) -> OutboundMail:
    mail = OutboundMail(
        to_address=to,
        subject_line=subject,
        body=body,
        kind=kind,
        recipient_id=recipient_id,
        created_at=utcnow(),
    )
    session.add(mail)
    return mail


def compose(mail: OutboundMail, sender: str, attachment: Attachment | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to_address
    message["Subject"] = mail.subject_line
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip("> ") or "lawful.local")
    message.set_content(mail.body)
    if attachment is not None:
        message.add_attachment(
            attachment.content,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=attachment.filename,
        )
    return message


def _attachment(
    session: Session, mail: OutboundMail, sources: Sequence[AttachmentSource]
) -> Attachment | None:
    if not mail.attachment:
        return None
    for source in sources:
        found = source(session, mail.attachment)
        if found is not None:
            return found
    raise LookupError(
        f"nothing provides the attachment {mail.attachment!r}; the message is not sent without it"
    )


def deliver_pending(
    db: Database,
    mailer: Mailer,
    *,
    sender: str,
    limit: int = 100,
    attachments: Sequence[AttachmentSource] = (),
) -> int:
    """Send up to ``limit`` pending messages; return how many were sent."""
    sent = 0
    with db.unit_of_work("contract", DELIVERY) as session:
        pending = list(
            session.scalars(
                select(OutboundMail)
                .where(OutboundMail.status == MailStatus.pending)
                .order_by(OutboundMail.created_at)
                .limit(limit)
            )
        )
        for mail in pending:
            mail.attempts += 1
            try:
                mailer.send(compose(mail, sender, _attachment(session, mail, attachments)))
            except Exception as exc:
                mail.last_error = f"{type(exc).__name__}: {exc}"[:500]
                if mail.attempts >= MAX_ATTEMPTS:
                    mail.status = MailStatus.failed
                continue
            mail.status = MailStatus.sent
            mail.sent_at = utcnow()
            mail.body = ""
            if mail.kind in FORGET_ADDRESS:
                mail.to_address = ""
            mail.last_error = None
            sent += 1
    return sent
