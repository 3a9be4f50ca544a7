"""Billing as units of work: the run of a month, finalising, the daily job.

Everything here runs under the contract purpose (the statement's "administrative purposes, such
as sending invoices"): the run reads the customers' company data and writes invoices; finalising
reads the billing address to send the invoice. Keeping invoices afterwards is the legal
obligation's business (see ``held(...)`` on the invoice tables).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from lawful.background import running
from lawful.billing.invoices import drafts_of, finalise, invoice_attachments
from lawful.billing.run import Progress, RunSummary, month_start, next_month, rate_period, write_drafts
from lawful.billing.vat import FormatOnly, VatChecker, ViesChecker
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.errors import Invalid, LawfulError
from lawful.mail.service import deliver_pending, mailer_for
from lawful.settings import Settings

PURPOSE = "contract"
JOB = Actor.system("billing")
log = logging.getLogger("lawful.billing")


def checker_for(settings: Settings) -> VatChecker:
    return ViesChecker() if settings.vies else FormatOnly()


def previous_month(today: date) -> date:
    return month_start(month_start(today) - timedelta(days=1))


def run(
    db: Database,
    period: date,
    *,
    settings: Settings,
    actor: Actor = JOB,
    progress: Progress | None = None,
    checker: VatChecker | None = None,
    today: date | None = None,
) -> RunSummary:
    """Make or update the draft invoices of ``period`` in one transaction (not of a month to come)."""
    period = month_start(period)
    if period > month_start(today or datetime.now(UTC).date()):
        raise Invalid(
            f"{period:%B %Y} has not begun; a run bills a month that has", detail={"field": "period"}
        )
    with db.unit_of_work(PURPOSE, actor) as session:
        rating = rate_period(
            session, period, vat_rate=settings.vat_rate, checker=checker or checker_for(settings)
        )
        return write_drafts(session, rating, actor=str(actor), progress=progress)


@dataclass(frozen=True, slots=True)
class Finalised:
    numbers: list[str]
    failed: list[str]


def finalise_drafts(
    db: Database,
    *,
    today: date,
    settings: Settings,
    period: date | None = None,
    actor: Actor = JOB,
    progress: Progress | None = None,
) -> Finalised:
    """Finalise the drafts (of one period, or all whose month is over), each in its own transaction."""
    with db.unit_of_work(PURPOSE, actor) as session:
        ids = drafts_of(session, period)
    checker = checker_for(settings)
    numbers: list[str] = []
    failed: list[str] = []
    for done, invoice_id in enumerate(ids, start=1):
        try:
            with db.unit_of_work(PURPOSE, actor) as session:
                invoice = finalise(
                    session, invoice_id, today=today, actor=str(actor), settings=settings, checker=checker
                )
                numbers.append(invoice.number or "")
        except LawfulError as exc:
            failed.append(f"{invoice_id}: {exc}")
        if progress is not None:
            progress(done, len(ids))
    return Finalised(numbers, failed)


@dataclass(frozen=True, slots=True)
class DailyReport:
    period: date
    summary: RunSummary
    finalised: Finalised | None

    def lines(self) -> list[str]:
        lines = self.summary.lines()
        if self.finalised is not None:
            lines.append(f"finalised: {len(self.finalised.numbers)}")
            lines += [f"not finalised: {f}" for f in self.finalised.failed]
        return lines


def daily(db: Database, *, settings: Settings, today: date | None = None) -> DailyReport:
    """The daily job: draft last month's invoices; once its grace period is over, finalise them.

    Usage of last month that arrives during the grace period (``LAWFUL_BILLING_GRACE_DAYS``)
    updates the drafts; afterwards they are finalised and sent (``LAWFUL_BILLING_AUTO_FINALISE``).
    """
    today = today or datetime.now(UTC).date()
    period = previous_month(today)
    summary = run(db, period, settings=settings, today=today)
    finalised = None
    if settings.billing_auto_finalise and today >= next_month(period) + timedelta(
        days=settings.billing_grace_days
    ):
        finalised = finalise_drafts(db, today=today, settings=settings, period=None)
    return DailyReport(period, summary, finalised)


def send_pending(db: Database, settings: Settings) -> int:
    """Deliver the outbox (finalised invoices with their PDF among it) when SMTP is configured."""
    mailer = mailer_for(settings)
    if mailer is None:
        return 0
    sources = [invoice_attachments(db.policy, settings)]
    sent = 0
    while True:
        batch = deliver_pending(db, mailer, sender=settings.mail_from, attachments=sources)
        sent += batch
        if batch == 0:
            return sent


def seconds_until(hour: int, now: datetime) -> float:
    target = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if target <= now:
        target += timedelta(days=1)
    return (target - now).total_seconds()


async def every_day(db: Database, settings: Settings, *, first_after: float = 90.0) -> None:
    """Run the daily job shortly after start-up, then every day at ``LAWFUL_BILLING_HOUR`` (UTC)."""
    await asyncio.sleep(first_after)
    while True:
        try:
            report = await asyncio.to_thread(daily, db, settings=settings)
            log.info("billing: %s", "; ".join(report.lines()))
            sent = await asyncio.to_thread(send_pending, db, settings)
            if sent:
                log.info("billing: %d messages sent", sent)
        except Exception:
            log.exception("the daily billing job failed; it runs again tomorrow")
        await asyncio.sleep(seconds_until(settings.billing_hour, datetime.now(UTC)))


def scheduled(
    db: Database, settings: Settings
) -> contextlib.AbstractAsyncContextManager[asyncio.Task[None] | None]:
    """Keep the daily job running for the lifetime of the app (off when maintenance is off)."""
    return running(every_day(db, settings) if settings.maintenance_minutes > 0 else None)
