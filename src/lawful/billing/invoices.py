"""Invoices after the run: finalising with a gapless number, credit notes, documents, e-mail.

Numbers come from a series per kind and calendar year (``2026-000123`` for invoices,
``C2026-000004`` for credit notes). The finalising transaction takes the next number of its
series with one ``UPDATE … RETURNING`` (the row lock orders concurrent finalisations) and marks
the invoice finalised only if it is still a draft; a finalisation that fails rolls back and
gives its number back, so numbers neither skip nor repeat.

A finalised invoice is never changed. A correction is a credit note: for the whole invoice, or
for an amount with a reason. Documents (the Factur-X PDF and the UBL XML) are rendered when first
needed and stored, so the document kept is the document sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from lawful.billing.document import (
    OUTSIDE_SCOPE_TEXT,
    REVERSE_CHARGE_TEXT,
    Address,
    DocumentType,
    InvoiceDocument,
    Line,
    Party,
    VatBreakdown,
)
from lawful.billing.models import (
    Invoice,
    InvoiceDocumentFile,
    InvoiceLine,
    InvoiceSeries,
    InvoiceStatus,
    InvoiceType,
    LineKind,
    VatTreatment,
)
from lawful.billing.rating import cents, from_cents, from_micros, to_cents, to_micros
from lawful.billing.run import BUYER_FIELDS, Buyer, next_month
from lawful.billing.vat import CATEGORY, VatChecker, decide
from lawful.customers.models import Customer
from lawful.data.base import new_id, utcnow
from lawful.data.db import dialect_insert
from lawful.errors import Conflict, Invalid, NotFound
from lawful.mail.service import Attachment, AttachmentSource, queue
from lawful.policy.model import Policy
from lawful.settings import Settings

ATTACHMENT = "invoice"


def series_of(kind: InvoiceType, issued: date) -> str:
    return f"{issued.year}" if kind is InvoiceType.invoice else f"C{issued.year}"


def take_number(session: Session, series: str) -> int:
    """The next number of ``series``, taken inside the caller's transaction."""
    session.execute(
        dialect_insert(session, InvoiceSeries).values(series=series, next_number=1).on_conflict_do_nothing()
    )
    taken = session.execute(
        update(InvoiceSeries)
        .where(InvoiceSeries.series == series)
        .values(next_number=InvoiceSeries.next_number + 1)
        .returning(InvoiceSeries.next_number)
    ).scalar_one()
    return int(taken) - 1


def number_text(series: str, sequence: int) -> str:
    return f"{series}-{sequence:06d}"


def get_invoice(session: Session, invoice_id: uuid.UUID, *, customer_id: uuid.UUID | None = None) -> Invoice:
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or (customer_id is not None and invoice.customer_id != customer_id):
        raise NotFound("no such invoice")
    return invoice


def lines_of(session: Session, invoice_id: uuid.UUID) -> list[InvoiceLine]:
    return list(
        session.scalars(
            select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).order_by(InvoiceLine.position)
        )
    )


def _refresh_buyer(
    session: Session, invoice: Invoice, settings: Settings, checker: VatChecker | None
) -> None:
    """Take the buyer's data and VAT treatment as they are on the day of issue."""
    customer = session.get(Customer, invoice.customer_id)
    if customer is None:
        raise NotFound("the invoice's customer is gone")
    Buyer.of(customer).stamp(invoice)
    decision = decide(customer.country, customer.vat_number, settings.vat_rate, checker)
    invoice.vat_treatment = decision.treatment
    invoice.vat_check = decision.how[:200]
    net = from_cents(invoice.net_cents)
    invoice.vat_cents = to_cents(cents(net * decision.rate / 100))
    invoice.total_cents = invoice.net_cents + invoice.vat_cents
    session.execute(
        update(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).values(vat_rate_bp=decision.rate_bp)
    )


def _issue(session: Session, invoice: Invoice, *, today: date, actor: str, settings: Settings) -> None:
    """Give a draft (already locked for finalising) its number and dates; queue its e-mail."""
    series = series_of(invoice.type, today)
    sequence = take_number(session, series)
    number = number_text(series, sequence)
    due = today + timedelta(days=settings.payment_terms_days)
    supply = invoice.supply_date or (next_month(invoice.period) - timedelta(days=1))
    result = session.execute(
        update(Invoice)
        .where(Invoice.id == invoice.id, Invoice.status == InvoiceStatus.draft)
        .values(
            status=InvoiceStatus.finalised,
            series=series,
            sequence=sequence,
            number=number,
            issue_date=today,
            due_date=due,
            supply_date=supply,
            finalised_at=utcnow(),
            finalised_by=actor[:100],
        )
        .execution_options(synchronize_session=False)
    )
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        raise Conflict("the invoice was finalised meanwhile", detail={"invoice": str(invoice.id)})
    session.execute(update(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).values(issue_date=today))
    session.refresh(invoice)
    _queue_mail(session, invoice)


def _queue_mail(session: Session, invoice: Invoice) -> None:
    customer = session.get(Customer, invoice.customer_id)
    if customer is None or not customer.billing_email:
        return
    title = "Credit note" if invoice.type is InvoiceType.credit_note else "Invoice"
    total = from_cents(invoice.total_cents)
    body = (
        f"Dear customer,\n\nAttached is {title.lower()} {invoice.number} of {invoice.issue_date:%d %B %Y} "
        f"for {invoice.currency} {total:,.2f}"
        + (
            f", due on {invoice.due_date:%d %B %Y}.\n"
            if invoice.type is InvoiceType.invoice and invoice.due_date
            else ".\n"
        )
        + "\nThe PDF carries the invoice's data as embedded XML (Factur-X) for your bookkeeping.\n"
    )
    mail = queue(
        session,
        to=customer.billing_email,
        subject=f"{title} {invoice.number}",
        body=body,
        kind="invoice",
    )
    mail.attachment = f"{ATTACHMENT}:{invoice.id}"


def finalise(
    session: Session,
    invoice_id: uuid.UUID,
    *,
    today: date,
    actor: str,
    settings: Settings,
    checker: VatChecker | None = None,
) -> Invoice:
    """Finalise one draft: buyer and VAT as of today, the next number, the e-mail to the customer."""
    invoice = get_invoice(session, invoice_id)
    if invoice.status is not InvoiceStatus.draft:
        raise Conflict(
            f"invoice {invoice.number} is finalised and cannot change", detail={"invoice": str(invoice.id)}
        )
    if today < next_month(invoice.period) and invoice.type is InvoiceType.invoice:
        raise Invalid(
            f"the usage of {invoice.period:%B %Y} is not complete before {next_month(invoice.period):%d %B %Y}",
            detail={"field": "today"},
        )
    _refresh_buyer(session, invoice, settings, checker)
    _issue(session, invoice, today=today, actor=actor, settings=settings)
    return invoice


def drafts_of(session: Session, period: date | None = None) -> list[uuid.UUID]:
    """Drafts in the order they are numbered: by month, then by buyer."""
    statement = select(Invoice.id).where(Invoice.status == InvoiceStatus.draft)
    if period is not None:
        statement = statement.where(Invoice.period == period)
    return list(session.scalars(statement.order_by(Invoice.period, Invoice.buyer_name, Invoice.customer_id)))


@dataclass(frozen=True, slots=True)
class CreditRequest:
    reason: str
    amount: Decimal | None = None  # net amount; None credits the whole invoice


def credit(
    session: Session,
    invoice_id: uuid.UUID,
    request: CreditRequest,
    *,
    today: date,
    actor: str,
    settings: Settings,
) -> Invoice:
    """Issue a credit note against a finalised invoice (at most what is still uncredited)."""
    original = get_invoice(session, invoice_id)
    if original.type is not InvoiceType.invoice or original.status is not InvoiceStatus.finalised:
        raise Conflict("only a finalised invoice can be credited", detail={"invoice": str(invoice_id)})
    reason = request.reason.strip()
    if not reason or len(reason) > 500:
        raise Invalid("a credit note needs a reason (1 to 500 characters)", detail={"field": "reason"})
    credited = session.scalar(
        select(func.coalesce(func.sum(Invoice.net_cents), 0)).where(
            Invoice.corrects_id == original.id, Invoice.type == InvoiceType.credit_note
        )
    )
    open_cents = original.net_cents - int(credited or 0)
    original_lines = lines_of(session, original.id)
    rate_bp = original_lines[0].vat_rate_bp if original_lines else 0
    if request.amount is None:
        if credited:
            raise Conflict(
                "part of this invoice is credited already; credit the rest as an amount",
                detail={"open": str(from_cents(open_cents))},
            )
        copies = [
            (line, line.quantity_micros, line.unit_price_micros, line.amount_cents) for line in original_lines
        ]
    else:
        amount = request.amount
        if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
            raise Invalid(
                "the amount to credit: a positive amount with at most two decimals",
                detail={"field": "amount"},
            )
        if to_cents(amount) > open_cents:
            raise Invalid(
                f"at most {from_cents(open_cents)} of this invoice is still uncredited",
                detail={"field": "amount"},
            )
        copies = []
    if not copies and request.amount is None:
        raise Invalid("the invoice has no lines to credit")
    note = Invoice(
        customer_id=original.customer_id,
        type=InvoiceType.credit_note,
        status=InvoiceStatus.draft,
        period=original.period,
        period_key=None,
        corrects_id=original.id,
        reason=reason,
        currency=original.currency,
        **{name: getattr(original, name) for name in BUYER_FIELDS},
        vat_treatment=original.vat_treatment,
        vat_check=original.vat_check,
        supply_date=original.supply_date,
    )
    session.add(note)
    session.flush()
    rows: list[dict[str, object]] = []
    if copies:
        for position, (line, quantity, price, amount_cents) in enumerate(copies, start=1):
            rows.append(
                {
                    "invoice_id": note.id,
                    "customer_id": note.customer_id,
                    "position": position,
                    "kind": line.kind,
                    "subscription_id": line.subscription_id,
                    "charge_id": line.charge_id,
                    "service_start": line.service_start,
                    "service_end": line.service_end,
                    "description": line.description,
                    "detail": line.detail,
                    "unit": line.unit,
                    "quantity_micros": quantity,
                    "unit_price_micros": price,
                    "amount_cents": amount_cents,
                    "vat_rate_bp": line.vat_rate_bp,
                }
            )
        net_cents = sum(amount_cents for *_, amount_cents in copies)
    else:
        assert request.amount is not None
        net_cents = to_cents(request.amount)
        rows.append(
            {
                "invoice_id": note.id,
                "customer_id": note.customer_id,
                "position": 1,
                "kind": LineKind.correction,
                "subscription_id": None,
                "charge_id": None,
                "service_start": original.period,
                "service_end": next_month(original.period) - timedelta(days=1),
                "description": f"Correction of invoice {original.number}: {reason}"[:200],
                "detail": "",
                "unit": "C62",
                "quantity_micros": to_micros(Decimal(1)),
                "unit_price_micros": to_micros(request.amount),
                "amount_cents": net_cents,
                "vat_rate_bp": rate_bp,
            }
        )
    session.execute(insert(InvoiceLine), [{"id": new_id(), **row} for row in rows])
    vat_cents = to_cents(cents(from_cents(net_cents) * Decimal(rate_bp) / 10000))
    note.net_cents, note.vat_cents, note.total_cents = net_cents, vat_cents, net_cents + vat_cents
    session.flush()
    _issue(session, note, today=today, actor=actor, settings=settings)
    return note


# --- the document ---------------------------------------------------------------------------------


def seller_party(policy: Policy, settings: Settings) -> Party:
    organisation = policy.organisation
    kvk = "".join(ch for ch in organisation.registration if ch.isdigit()) or None
    return Party(
        name=organisation.name,
        address=Address(
            settings.seller_street, settings.seller_postal_code, settings.seller_city, settings.seller_country
        ),
        vat_number=organisation.vat_number or None,
        company_id=kvk,
        email=settings.seller_email,
        phone=organisation.phone or None,
    )


def document_of(session: Session, invoice: Invoice, *, policy: Policy, settings: Settings) -> InvoiceDocument:
    """The document of a finalised invoice or credit note."""
    if invoice.status is not InvoiceStatus.finalised or invoice.number is None or invoice.issue_date is None:
        raise Conflict("a draft has no document yet; finalise it first")
    category = CATEGORY[invoice.vat_treatment]
    lines = lines_of(session, invoice.id)
    rate = Decimal(lines[0].vat_rate_bp) / 100 if lines else Decimal(0)
    reason = {
        VatTreatment.reverse_charge: REVERSE_CHARGE_TEXT,
        VatTreatment.outside_scope: OUTSIDE_SCOPE_TEXT,
    }.get(invoice.vat_treatment)
    document_lines = tuple(
        Line(
            number=line.position,
            description=line.description,
            quantity=from_micros(line.quantity_micros),
            unit_code=line.unit,
            unit_price=from_micros(line.unit_price_micros),
            amount=from_cents(line.amount_cents),
            vat_category=category,
            vat_rate=rate.normalize(),
            period_start=line.service_start,
            period_end=line.service_end,
            note=line.detail,
        )
        for line in lines
    )
    net, vat = from_cents(invoice.net_cents), from_cents(invoice.vat_cents)
    preceding = session.get(Invoice, invoice.corrects_id) if invoice.corrects_id else None
    notes = [reason] if reason else []
    if invoice.type is InvoiceType.credit_note and invoice.reason:
        notes.append(f"Reason: {invoice.reason}")
    starts = [line.service_start for line in lines]
    ends = [line.service_end for line in lines]
    buyer_vat = invoice.buyer_vat if invoice.vat_treatment is not VatTreatment.outside_scope else None
    return InvoiceDocument(
        type=DocumentType.credit_note if invoice.type is InvoiceType.credit_note else DocumentType.invoice,
        number=invoice.number,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date if invoice.type is InvoiceType.invoice else None,
        currency=invoice.currency,
        seller=seller_party(policy, settings),
        buyer=Party(
            name=invoice.buyer_name,
            address=Address(
                invoice.buyer_street, invoice.buyer_postal_code, invoice.buyer_city, invoice.buyer_country
            ),
            vat_number=buyer_vat,
            company_id=invoice.buyer_kvk if invoice.buyer_country == "NL" else None,
        ),
        lines=document_lines,
        vat_breakdown=(VatBreakdown(category, rate.normalize(), net, vat, reason),),
        line_total=net,
        tax_exclusive=net,
        vat_total=vat,
        tax_inclusive=net + vat,
        payable=net + vat,
        period_start=min(starts) if starts else None,
        period_end=max(ends) if ends else None,
        supply_date=invoice.supply_date,
        buyer_reference=str(invoice.customer_id),
        payment_terms=(
            f"Payment within {settings.payment_terms_days} days of the invoice date, by {invoice.due_date:%d %B %Y}"
            if invoice.type is InvoiceType.invoice and invoice.due_date
            else "The amount is credited to your account"
        ),
        iban=settings.invoice_iban,
        bic=settings.invoice_bic,
        payment_reference=invoice.number,
        preceding_number=preceding.number if preceding is not None else None,
        preceding_date=preceding.issue_date if preceding is not None else None,
        notes=tuple(notes),
    )


def documents(
    session: Session, invoice: Invoice, *, policy: Policy, settings: Settings
) -> InvoiceDocumentFile:
    """The stored documents of a finalised invoice, rendered and stored the first time.

    Once the buyer's personal data was erased, the documents are kept sealed for tax law
    (:mod:`lawful.rights.erasure`): they are returned from there, which only a session under the
    legal obligation may read (any other purpose gets ``PurposeViolation``).
    """
    stored = session.get(InvoiceDocumentFile, invoice.id)
    if stored is not None:
        if not stored.pdf:
            return _sealed_documents(session, stored)
        return stored
    from lawful.billing.pdf import render_facturx
    from lawful.billing.ubl import to_ubl

    document = document_of(session, invoice, policy=policy, settings=settings)
    assert invoice.issue_date is not None
    stored = InvoiceDocumentFile(
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        issue_date=invoice.issue_date,
        pdf=render_facturx(document),
        ubl=to_ubl(document),
    )
    session.add(stored)
    session.flush()
    return stored


def _sealed_documents(session: Session, stored: InvoiceDocumentFile) -> InvoiceDocumentFile:
    from lawful.rights.erasure import decode_sealed
    from lawful.rights.models import SealedRecord

    sealed = session.scalar(
        select(SealedRecord.values).where(
            SealedRecord.table_name == InvoiceDocumentFile.__tablename__,
            SealedRecord.row_id == str(stored.invoice_id),
        )
    )
    if sealed is None:
        raise NotFound("the documents of this invoice are no longer kept")
    values = decode_sealed(sealed)
    return InvoiceDocumentFile(
        invoice_id=stored.invoice_id,
        customer_id=stored.customer_id,
        issue_date=stored.issue_date,
        pdf=values["pdf"],
        ubl=values["ubl"],
    )


def invoice_attachments(policy: Policy, settings: Settings) -> AttachmentSource:
    """Attach an invoice's PDF to its e-mail (``invoice:<id>`` in the outbox)."""

    def resolve(session: Session, reference: str) -> Attachment | None:
        kind, _, value = reference.partition(":")
        if kind != ATTACHMENT:
            return None
        invoice = get_invoice(session, uuid.UUID(value))
        stored = documents(session, invoice, policy=policy, settings=settings)
        return Attachment(f"{invoice.number}.pdf", "application", "pdf", stored.pdf)

    return resolve


def finalised_numbers(session: Session, series: str) -> Sequence[int]:
    return list(
        session.scalars(select(Invoice.sequence).where(Invoice.series == series).order_by(Invoice.sequence))
    )
