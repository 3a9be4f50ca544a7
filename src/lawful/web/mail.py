"""Deliver the outbox after a request that queued mail (when SMTP is configured)."""

from __future__ import annotations

import logging

from fastapi import BackgroundTasks, Request

from lawful.mail.service import deliver_pending

log = logging.getLogger("lawful.mail")


def deliver_after_response(request: Request, tasks: BackgroundTasks) -> None:
    """Schedule delivery of pending mail once the response (and its commit) is done."""
    mailer = request.app.state.mailer
    if mailer is None:
        return
    db = request.app.state.db
    sender = request.app.state.settings.mail_from

    def deliver() -> None:
        try:
            deliver_pending(db, mailer, sender=sender, attachments=request.app.state.attachments)
        except Exception:
            log.exception("delivering the outbox failed; it is retried on the next delivery")

    tasks.add_task(deliver)
