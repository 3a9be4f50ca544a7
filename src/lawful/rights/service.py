"""Data-subject requests: filing, verifying identity, deadlines, and carrying them out.

A signed-in user files requests about themselves in the portal; they are verified by the sign-in.
The privacy officer records requests that arrive by e-mail, phone or letter: Lawful then sends a
link to the e-mail address given, and the request counts as verified when that link is opened.
Recording a request answers the same whether or not Lawful holds data about the address, and
the e-mail says the same too; only after verification does the officer see whom it is about
(and, for an unknown address, the answer is that nothing is held).

Deadlines (art. 12(3)): one month from receipt; the officer may extend once by two more months,
giving the reason, which is e-mailed to the requester.

Carrying out (:func:`complete`): an access or portability request mails the package (made when the
mail is sent, so it is current); erasure runs :func:`lawful.rights.erasure.erase` and keeps its
result without personal data; restriction records a :class:`Restriction`; objection stops the
person's monitoring at once (:func:`object_to_monitoring`); rectification is done by the officer
in the console and then marked done.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from lawful.customers.models import ContactPerson, Customer, CustomerKind
from lawful.data.base import table_of
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.errors import Conflict, Invalid, NotFound
from lawful.mail import service as mail
from lawful.mail.service import Attachment, AttachmentSource
from lawful.monitoring.models import UsageEvent
from lawful.rights import access
from lawful.rights.erasure import erase
from lawful.rights.models import Channel, RequestKind, RequestStatus, Restriction, RightsRequest, SubjectKind
from lawful.rights.subjects import Subject
from lawful.rights.visitors import codes_for, delete_events
from lawful.settings import Settings
from lawful.users.models import User
from lawful.users.security import new_token, token_hash

PURPOSE = "accountability"
DEADLINE = relativedelta(months=1)
EXTENSION = relativedelta(months=2)
VERIFY_FOR = timedelta(days=14)
ATTACHMENT = "rights"
MAIL_KIND = "rights"
ERASED_KIND = "rights-erased"  # the outbox forgets the address once it is sent (lawful.mail)

#: Requests the service answers at once when a signed-in user files them.
IMMEDIATE = frozenset({RequestKind.access, RequestKind.portability, RequestKind.objection})


@dataclass(frozen=True, slots=True)
class Browser:
    """The address and browser a request came from: a visitor's events are linked only through them."""

    ip: str
    user_agent: str


def due_on(received: datetime) -> date:
    return received.date() + DEADLINE


def _today() -> date:
    return datetime.now(UTC).date()


def _normalise_email(email: str) -> str:
    address = email.strip().lower()
    if "@" not in address or len(address) > 254 or " " in address:
        raise Invalid("that is not an e-mail address", detail={"field": "email"})
    return address


def _kind(value: str | RequestKind) -> RequestKind:
    try:
        return RequestKind(value)
    except ValueError:
        raise Invalid(
            f"the kind of request must be one of {', '.join(k.value for k in RequestKind)}",
            detail={"field": "kind"},
        ) from None


# --- finding whom an address belongs to -------------------------------------------------------


def subject_by_email(db: Database, email: str, actor: Actor) -> Subject | None:
    """The person whose address on file is ``email``: a user first, then a contact person, then a
    sole proprietor's billing address."""
    address = email.strip().lower()
    with db.unit_of_work("contract", actor) as session:
        user = session.scalar(select(User.id).where(User.email == address))
        if user is not None:
            return Subject(SubjectKind.user, user)
        contact = session.scalar(
            select(ContactPerson.id).where(func.lower(ContactPerson.email) == address).limit(1)
        )
        if contact is not None:
            return Subject(SubjectKind.contact_person, contact)
        customer = session.scalar(
            select(Customer.id)
            .where(
                func.lower(Customer.billing_email) == address, Customer.kind == CustomerKind.sole_proprietor
            )
            .limit(1)
        )
        if customer is not None:
            return Subject(SubjectKind.sole_proprietor, customer)
    return None


# --- filing -------------------------------------------------------------------------------------


def file_from_portal(
    db: Database,
    user: User,
    *,
    kind: str | RequestKind,
    details: str = "",
    browser: Browser | None = None,
) -> RightsRequest:
    """A signed-in user's request about themselves; access, portability and objection are answered at once."""
    kind = _kind(kind)
    details = details.strip()
    if kind is RequestKind.rectification and not details:
        raise Invalid("say what is wrong and what it should be", detail={"field": "details"})
    if len(details) > 4000:
        raise Invalid("at most 4,000 characters", detail={"field": "details"})
    actor = Actor.user(user.id)
    now = datetime.now(UTC)
    with db.unit_of_work(PURPOSE, actor) as session:
        request = RightsRequest(
            kind=kind,
            status=RequestStatus.open,
            channel=Channel.portal,
            subject_kind=SubjectKind.user,
            subject_id=user.id,
            requester_name=user.name,
            requester_email=user.email,
            details=details or None,
            received_at=now,
            due_on=due_on(now),
            verified_at=now,
        )
        session.add(request)
    if kind in IMMEDIATE:
        return complete(db, request.id, actor=actor, browser=browser)
    return request


def record_request(
    db: Database,
    *,
    officer: Actor,
    kind: str | RequestKind,
    channel: str,
    email: str,
    name: str = "",
    details: str = "",
    received_at: datetime | None = None,
    settings: Settings,
) -> RightsRequest:
    """A request that arrived by e-mail, phone or letter; a verification link goes to ``email``.

    What this returns and what the e-mail says do not depend on whether Lawful knows the address.
    """
    kind = _kind(kind)
    try:
        by = Channel(channel)
    except ValueError:
        raise Invalid("the channel must be email, phone or letter", detail={"field": "channel"}) from None
    if by is Channel.portal:
        raise Invalid("requests from the portal are filed by the user there", detail={"field": "channel"})
    address = _normalise_email(email)
    received = received_at or datetime.now(UTC)
    if received > datetime.now(UTC) + timedelta(minutes=5):
        raise Invalid("a request cannot be received in the future", detail={"field": "received_at"})
    subject = subject_by_email(db, address, Actor.system("rights:lookup"))
    token = new_token()
    with db.unit_of_work(PURPOSE, officer) as session:
        request = RightsRequest(
            kind=kind,
            status=RequestStatus.unverified,
            channel=by,
            subject_kind=subject.kind if subject else SubjectKind.unknown,
            subject_id=subject.id if subject else None,
            requester_name=name.strip()[:200] or None,
            requester_email=address,
            details=details.strip()[:4000] or None,
            received_at=received,
            due_on=due_on(received),
            verify_token_hash=token_hash(token),
            verify_expires_at=datetime.now(UTC) + VERIFY_FOR,
            recorded_by=uuid.UUID(officer.id) if officer.kind == "staff" else None,
        )
        session.add(request)
        session.flush()
        mail.queue(
            session,
            to=address,
            subject="Please confirm your request about your personal data",
            body=(
                f"We received a request for {kind.label} ({kind.article}) for this e-mail address.\n\n"
                "To make sure that only you can ask about your data, please confirm the request by "
                f"opening this link within {VERIFY_FOR.days} days:\n\n"
                f"{settings.base_url}/rights/verify?token={token}\n\n"
                "If you did not make this request, ignore this message; nothing will happen.\n"
            ),
            kind=MAIL_KIND,
        )
    return request


def verify(db: Database, token: str) -> bool:
    """Confirm a request by the token mailed for it; False for an unknown, used or expired token."""
    if not token or len(token) > 200:
        return False
    with db.unit_of_work(PURPOSE, Actor.system("rights:verify")) as session:
        request = session.scalar(
            select(RightsRequest).where(RightsRequest.verify_token_hash == token_hash(token))
        )
        if request is None or request.status is not RequestStatus.unverified:
            return False
        if request.verify_expires_at is None or request.verify_expires_at < datetime.now(UTC):
            return False
        request.status = RequestStatus.open
        request.verified_at = datetime.now(UTC)
        request.verify_token_hash = None
    return True


# --- the officer's work ---------------------------------------------------------------------------


def queue(
    session: Session, *, pending_only: bool = True, today: date | None = None
) -> Sequence[RightsRequest]:
    """Requests to answer: overdue first, then by deadline."""
    today = today or _today()
    deadline = func.coalesce(RightsRequest.extended_to, RightsRequest.due_on)
    query = select(RightsRequest)
    if pending_only:
        query = query.where(
            RightsRequest.status.in_([RequestStatus.unverified, RequestStatus.open, RequestStatus.extended])
        )
    overdue = case((deadline < today, 0), else_=1)
    return session.scalars(query.order_by(overdue, deadline, RightsRequest.received_at)).all()


def get(session: Session, request_id: uuid.UUID) -> RightsRequest:
    request = session.get(RightsRequest, request_id)
    if request is None:
        raise NotFound("no request with that id")
    return request


def _pending(request: RightsRequest) -> None:
    if not request.status.pending:
        raise Conflict(f"the request is {request.status.value}; only a pending request can be changed")


def extend(db: Database, request_id: uuid.UUID, *, officer: Actor, reason: str) -> RightsRequest:
    """Extend the deadline by two months (art. 12(3)), once, with a reason the requester is told."""
    reason = reason.strip()
    if len(reason) < 10:
        raise Invalid(
            "give the reason for the extension (it is sent to the requester)", detail={"field": "reason"}
        )
    with db.unit_of_work(PURPOSE, officer) as session:
        request = get(session, request_id)
        _pending(request)
        if request.extended_to is not None:
            raise Conflict("the deadline was extended already; it can be extended once")
        if request.due_on < _today():
            raise Conflict("the deadline has passed; an extension must be given within the first month")
        request.extended_to = request.due_on + EXTENSION
        request.extension_reason = reason[:500]
        request.status = RequestStatus.extended
        if request.requester_email:
            mail.queue(
                session,
                to=request.requester_email,
                subject="Your request about your personal data needs more time",
                body=(
                    f"We need more time to answer your request for {request.kind.label}. "
                    f"You will have our answer by {request.extended_to:%d %B %Y}.\n\nThe reason: {reason}\n"
                ),
                kind=MAIL_KIND,
                recipient_id=request.subject_id if request.subject_kind is SubjectKind.user else None,
            )
    return request


def refuse(db: Database, request_id: uuid.UUID, *, officer: Actor, reason: str) -> RightsRequest:
    reason = reason.strip()
    if len(reason) < 10:
        raise Invalid("give the legal ground for refusing", detail={"field": "reason"})
    with db.unit_of_work(PURPOSE, officer) as session:
        request = get(session, request_id)
        _pending(request)
        request.status = RequestStatus.refused
        request.refusal_reason = reason[:500]
        request.completed_at = datetime.now(UTC)
        if request.requester_email:
            mail.queue(
                session,
                to=request.requester_email,
                subject="Our answer to your request about your personal data",
                body=(
                    f"We cannot grant your request for {request.kind.label}. The reason: {reason}\n\n"
                    "You may complain to the supervisory authority (GDPR art. 77).\n"
                ),
                kind=MAIL_KIND,
            )
    return request


def complete(
    db: Database,
    request_id: uuid.UUID,
    *,
    actor: Actor,
    browser: Browser | None = None,
    note: str = "",
) -> RightsRequest:
    """Carry out a verified request (see the module) and mark it completed."""
    with db.unit_of_work(PURPOSE, actor) as session:
        request = get(session, request_id)
        _pending(request)
        if request.status is RequestStatus.unverified:
            raise Conflict("the requester has not confirmed the request yet")
        kind, subject_kind, subject_id = request.kind, request.subject_kind, request.subject_id
        answer_to = request.requester_email  # erasure blanks it on the request itself
    subject = Subject(subject_kind, subject_id) if subject_id is not None and subject_kind.table else None
    job = Actor.system(f"rights:{request_id}")
    outcome: dict[str, object] = {"kind": kind.value}
    if subject is None:
        outcome["found"] = False
    elif kind is RequestKind.erasure:
        codes = _codes(db, browser, job)
        result = erase(db, subject, actor=job, request_id=request_id, visitor_codes=codes)
        outcome.update(result.as_dict() if result else {"found": False})
    elif kind is RequestKind.restriction:
        with db.unit_of_work(PURPOSE, job) as session:
            session.add(Restriction(subject_kind=subject.kind, subject_id=subject.id, request_id=request_id))
        outcome["restricted"] = True
    elif kind is RequestKind.objection:
        outcome.update(object_to_monitoring(db, subject, actor=job, browser=browser))
    elif kind is RequestKind.rectification:
        outcome["note"] = note.strip()[:500] or "corrected as asked"
    with db.unit_of_work(PURPOSE, actor) as session:
        request = get(session, request_id)
        request.status = RequestStatus.completed
        request.completed_at = datetime.now(UTC)
        request.outcome = json.dumps(outcome)
        if answer_to and (kind is RequestKind.erasure or request.channel is not Channel.portal):
            _answer_mail(session, request, answer_to)
        if kind is RequestKind.erasure and subject is not None:
            request.requester_name = None
            request.requester_email = None
            request.details = None
    return request


def _answer_mail(session: Session, request: RightsRequest, to: str) -> None:
    attach = request.kind in (RequestKind.access, RequestKind.portability) and request.subject_id is not None
    if request.subject_id is None:
        text = (
            "We checked all our systems: we hold no personal data linked to this e-mail address, so "
            "there was nothing to do.\n"
        )
    elif attach:
        text = (
            "Attached is the personal data we hold about you, with why we process it, on what basis, "
            "for how long, where it came from and who received it, as a JSON file.\n"
        )
    elif request.kind is RequestKind.erasure:
        text = (
            "We have erased your personal data. What tax law obliges us to keep (invoices, for seven "
            "years after the end of their fiscal year) is kept apart and used for nothing else. This "
            "message is the last we send to this address; once it is sent, we no longer hold it.\n"
        )
    else:
        text = f"We have carried out your request for {request.kind.label}.\n"
    created = mail.queue(
        session,
        to=to,
        subject="Our answer to your request about your personal data",
        body=text + "\nYou may complain to the supervisory authority (GDPR art. 77).\n",
        kind=ERASED_KIND if request.kind is RequestKind.erasure and request.subject_id else MAIL_KIND,
    )
    if attach:
        created.attachment = f"{ATTACHMENT}:{request.id}"


def _codes(db: Database, browser: Browser | None, actor: Actor) -> list[int]:
    if browser is None:
        return []
    with db.purposes(actor, "monitoring") as work:
        return codes_for(work, browser.ip, browser.user_agent)


# --- objection and restriction ----------------------------------------------------------------


def object_to_monitoring(
    db: Database, subject: Subject, *, actor: Actor, browser: Browser | None = None
) -> dict[str, object]:
    """Stop the monitoring of a person at once: ingestion drops their events from now on (see
    :mod:`lawful.monitoring.api`), their usage events lose the link to them (they still count
    for the account), and the raw events their browser can still be linked to are deleted."""
    if subject.kind is not SubjectKind.user:
        return {"monitored": False, "note": "we do not monitor contact persons or customers as such"}
    with db.unit_of_work("contract", actor) as session:
        user = session.get(User, subject.id)
        if user is None:
            return {"found": False}
        if user.monitoring_objection_at is None:
            user.monitoring_objection_at = datetime.now(UTC)
    with db.purposes(actor, "monitoring") as work:
        unlinked = work.execute(
            "monitoring",
            update(table_of(UsageEvent))
            .where(table_of(UsageEvent).c.user_id == subject.id)
            .values(user_id=None),
        ).rowcount
        codes = codes_for(work, browser.ip, browser.user_agent) if browser else []
        removed = delete_events(work, codes)
    return {"objected": True, "usage_events_unlinked": int(unlinked), "page_events_removed": removed}


def withdraw_objection(db: Database, user_id: uuid.UUID, *, actor: Actor) -> bool:
    """The user withdraws their objection: monitoring resumes from now on (nothing comes back)."""
    with db.unit_of_work("contract", actor) as session:
        user = session.get(User, user_id)
        if user is None or user.monitoring_objection_at is None:
            return False
        user.monitoring_objection_at = None
    with db.unit_of_work(PURPOSE, actor) as session:
        session.execute(
            update(RightsRequest)
            .where(
                RightsRequest.subject_id == user_id,
                RightsRequest.kind == RequestKind.objection,
                RightsRequest.withdrawn_at.is_(None),
            )
            .values(withdrawn_at=datetime.now(UTC))
        )
    return True


def restriction_of(session: Session, subject_id: uuid.UUID) -> Restriction | None:
    """The restriction in force for a person, if any (read under any purpose that declares their id)."""
    return session.scalar(
        select(Restriction)
        .where(Restriction.subject_id == subject_id, Restriction.lifted_at.is_(None))
        .limit(1)
    )


def lift_restriction(db: Database, restriction_id: uuid.UUID, *, officer: Actor) -> Restriction:
    with db.unit_of_work(PURPOSE, officer) as session:
        restriction = session.get(Restriction, restriction_id)
        if restriction is None:
            raise NotFound("no restriction with that id")
        if restriction.lifted_at is not None:
            raise Conflict("the restriction was lifted already")
        restriction.lifted_at = datetime.now(UTC)
    return restriction


# --- the package as a mail attachment ------------------------------------------------------------


def package_of(db: Database, request: RightsRequest, *, browser: Browser | None = None) -> dict[str, object]:
    """The package answering an access or portability request; for an unknown person, an empty one
    (the same shape, so that it reveals nothing more than the e-mail that carries it)."""
    actor = Actor.system(f"rights:{request.id}")
    scope = "portability" if request.kind is RequestKind.portability else "access"
    found = None
    if request.subject_id is not None and request.subject_kind.table:
        events = None
        if browser is not None:
            from lawful.rights.visitors import events_of

            with db.purposes(actor, "monitoring") as work:
                events = events_of(work, codes_for(work, browser.ip, browser.user_agent))
        found = access.package(
            db,
            Subject(request.subject_kind, request.subject_id),
            actor=actor,
            scope=scope,
            visitor_events=events,
        )
    if found is None:
        return {
            "format": access.FORMAT,
            "scope": scope,
            "data": [],
            "note": "we hold no personal data about you",
        }
    return found


def rights_attachments(db: Database) -> AttachmentSource:
    """Attach the package to the answer to an access or portability request (``rights:<id>``)."""

    def resolve(session: Session, reference: str) -> Attachment | None:
        kind, _, value = reference.partition(":")
        if kind != ATTACHMENT:
            return None
        with db.unit_of_work(PURPOSE, Actor.system("rights:mail")) as own:
            request = get(own, uuid.UUID(value))
        content = json.dumps(package_of(db, request), indent=2, ensure_ascii=False).encode()
        return Attachment(f"personal-data-{request.id}.json", "application", "json", content)

    return resolve
