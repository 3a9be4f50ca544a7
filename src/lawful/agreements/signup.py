"""Sign-up and order on the website: a prospective customer buys a plan. Services never commit.

:func:`start` checks the form and keeps it as a pending sign-up (``signups``) with a confirmation
link sent to the first admin's address; nothing else exists yet. :func:`confirm` (the link, and the
password chosen on its page) creates the customer, its admin user, the subscription from the chosen
day and the agreement record with the versions of the terms and the statement that were shown and
accepted, from which IP address; all in the caller's one transaction, so a failure leaves nothing.

Abuse protection: one pending sign-up per address (a new one replaces it, and the old link stops
working); links expire; at most a few mails per address per hour; and the answer to a sign-up is
the same whether or not the address already has an account (that address gets a mail saying so
instead of a link). Rate limits per IP address are the web layer's (:mod:`lawful.web.ratelimit`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lawful.agreements import service
from lawful.agreements.models import Channel, DocumentVersion, Signup
from lawful.billing import catalogue
from lawful.billing.vat import EU
from lawful.customers import service as customers
from lawful.customers.models import CustomerKind, CustomerStatus
from lawful.data.base import utcnow
from lawful.errors import Gone, Invalid, NotFound
from lawful.mail import service as mail
from lawful.mail.models import OutboundMail
from lawful.users import service as users
from lawful.users.models import AccountStatus, PrincipalKind, User, UserRole
from lawful.users.repository import email_taken
from lawful.users.security import hash_password, new_token, token_hash

CONFIRM_KIND = "signup_confirmation"
EXISTING_KIND = "signup_existing"
LATEST_START = 365  # days ahead a sign-up may start
KVK_NEEDED = "the KvK number is needed for a business registered in the Netherlands"
VAT_NEEDED = "the VAT number is needed for a business in the EU"


@dataclass(frozen=True, slots=True)
class SignupConfig:
    ttl: timedelta
    mails_per_hour: int
    base_url: str
    organisation: str


@dataclass(slots=True)
class SignupForm:
    """What the sign-up form sends; every field is needed for the agreement (nothing optional)."""

    plan_id: str = ""
    kind: str = ""
    legal_name: str = ""
    kvk_number: str = ""
    vat_number: str = ""
    street: str = ""
    postal_code: str = ""
    city: str = ""
    country: str = "NL"
    billing_email: str = ""
    admin_name: str = ""
    admin_email: str = ""
    starts_on: str = ""
    accept: bool = False
    terms_version: str = ""
    statement_version: str = ""


@dataclass(slots=True)
class Checked:
    plan_id: uuid.UUID
    kind: CustomerKind
    legal_name: str
    kvk_number: str | None
    vat_number: str | None
    street: str
    postal_code: str
    city: str
    country: str
    billing_email: str
    admin_name: str
    admin_email: str
    starts_on: date


@dataclass(slots=True)
class FormErrors:
    fields: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, message)


def needs_kvk(country: str) -> bool:
    return country == "NL"


def needs_vat(country: str) -> bool:
    return country in EU


def _required(errors: FormErrors, name: str, value: str, what: str, limit: int = 200) -> str:
    value = " ".join(value.split())
    if not value:
        errors.add(name, f"{what} is needed")
    elif len(value) > limit:
        errors.add(name, f"{what}: at most {limit} characters")
    return value


def _needed(
    errors: FormErrors, name: str, value: str, clean: Callable[[str], str | None], missing: str
) -> str | None:
    """A number the country needs, as ``clean`` writes it; None (and the field's error) when it is
    missing or ``clean`` refuses it."""
    if not value.strip():
        errors.add(name, missing)
        return None
    try:
        return clean(value)
    except Invalid as exc:
        errors.add(name, exc.message)
        return None


def check(
    session: Session,
    form: SignupForm,
    *,
    terms: DocumentVersion,
    statement: DocumentVersion,
    today: date,
) -> Checked:
    """The form, checked field by field; raises :class:`Invalid` with every field's problem."""
    errors = FormErrors()
    plan_id: uuid.UUID | None = None
    try:
        plan_id = uuid.UUID(form.plan_id)
        plan = catalogue.get_plan(session, plan_id)
        if not plan.active:
            errors.add("plan_id", f"the plan {plan.name!r} is no longer offered; choose another")
    except (ValueError, NotFound):
        errors.add("plan_id", "choose one of the plans")
    try:
        kind = CustomerKind(form.kind)
    except ValueError:
        kind = CustomerKind.company
        errors.add("kind", "say whether you sign up for a company or as a sole proprietor")
    legal_name = _required(errors, "legal_name", form.legal_name, "the legal name of the business")
    country = form.country.strip().upper()
    try:
        country = customers.clean_country(country)
    except Invalid as exc:
        errors.add("country", exc.message)
    kvk: str | None = None
    if needs_kvk(country):
        kvk = _needed(errors, "kvk_number", form.kvk_number, customers.clean_kvk, KVK_NEEDED)
    vat_number: str | None = None
    if needs_vat(country):
        vat_number = _needed(errors, "vat_number", form.vat_number, customers.clean_vat, VAT_NEEDED)
        if vat_number and vat_number[:2].replace("EL", "GR") != country:
            errors.add(
                "vat_number", f"the VAT number {vat_number} is not one of {country}, the country given"
            )
    street = _required(errors, "street", form.street, "the street and number")
    postal_code = _required(errors, "postal_code", form.postal_code, "the postal code", 20)
    city = _required(errors, "city", form.city, "the city", 100)
    billing_email = admin_email = ""
    try:
        billing_email = users.normalise_email(form.billing_email)
    except Invalid as exc:
        errors.add("billing_email", exc.message)
    admin_name = _required(errors, "admin_name", form.admin_name, "your name")
    try:
        admin_email = users.normalise_email(form.admin_email)
    except Invalid as exc:
        errors.add("admin_email", exc.message)
    starts_on = today
    try:
        starts_on = date.fromisoformat(form.starts_on) if form.starts_on.strip() else today
        if not today <= starts_on <= today + timedelta(days=LATEST_START):
            errors.add("starts_on", f"a start date from today up to {LATEST_START} days ahead")
    except ValueError:
        errors.add("starts_on", "a start date as YYYY-MM-DD")
    if form.terms_version != terms.digest or form.statement_version != statement.digest:
        errors.add(
            "accept",
            "the terms or the privacy statement changed while you were filling in the form; "
            "read the current versions and accept again",
        )
    elif not form.accept:
        errors.add("accept", "to conclude the agreement, accept the terms of service")
    if errors.fields:
        first = next(iter(errors.fields.values()))
        raise Invalid(first, detail={"fields": errors.fields})
    assert plan_id is not None
    return Checked(
        plan_id,
        kind,
        legal_name,
        kvk,
        vat_number,
        street,
        postal_code,
        city,
        country,
        billing_email,
        admin_name,
        admin_email,
        starts_on,
    )


def _mails_sent(session: Session, address: str, since: datetime) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(OutboundMail)
            .where(
                OutboundMail.to_address == address,
                OutboundMail.kind.in_([CONFIRM_KIND, EXISTING_KIND]),
                OutboundMail.created_at >= since,
            )
        )
        or 0
    )


def start(
    session: Session,
    form: SignupForm,
    *,
    ip: str | None,
    terms: DocumentVersion,
    statement: DocumentVersion,
    cfg: SignupConfig,
    today: date | None = None,
) -> str | None:
    """Check the form and keep it pending; mail the confirmation link. Returns the link's token,
    or None when no link was sent (the address has an account, or had enough mail this hour).

    The caller answers the same in every case, so the answer reveals nothing about the address.
    """
    now = utcnow()
    checked = check(session, form, terms=terms, statement=statement, today=today or now.date())
    address = checked.admin_email
    if _mails_sent(session, address, now - timedelta(hours=1)) >= cfg.mails_per_hour:
        return None
    if email_taken(session, PrincipalKind.user, address):
        mail.queue(
            session,
            to=address,
            kind=EXISTING_KIND,
            subject=f"Your sign-up at {cfg.organisation}",
            body=(
                f"Someone, probably you, tried to sign up at {cfg.organisation} with this address.\n"
                "This address already has an account, so nothing was created.\n\n"
                f"Sign in: {cfg.base_url}/portal/login\n"
                f"Forgot your password? {cfg.base_url}/portal/forgot\n\n"
                "If it was not you, you can ignore this message.\n"
            ),
        )
        return None
    session.execute(delete(Signup).where(Signup.email == address))
    token = new_token()
    session.add(
        Signup(
            token_hash=token_hash(token),
            email=address,
            admin_name=checked.admin_name,
            kind=checked.kind,
            legal_name=checked.legal_name,
            kvk_number=checked.kvk_number,
            vat_number=checked.vat_number,
            billing_email=checked.billing_email,
            street=checked.street,
            postal_code=checked.postal_code,
            city=checked.city,
            country=checked.country,
            plan_id=checked.plan_id,
            starts_on=checked.starts_on,
            terms_version_id=terms.id,
            statement_version_id=statement.id,
            accepted_at=now,
            ip_address=ip,
            created_at=now,
            expires_at=now + cfg.ttl,
        )
    )
    hours = int(cfg.ttl.total_seconds() // 3600)
    mail.queue(
        session,
        to=address,
        kind=CONFIRM_KIND,
        subject=f"Confirm your sign-up at {cfg.organisation}",
        body=(
            f"Hello {checked.admin_name},\n\n"
            f"Thank you for signing up {checked.legal_name} at {cfg.organisation}.\n"
            f"Confirm your e-mail address and choose your password here (the link works once, "
            f"for {hours} hours):\n\n{cfg.base_url}/signup/confirm/{token}\n\n"
            "Your account and the agreement start when you confirm. If you did not sign up, "
            "ignore this message: nothing is kept once the link has expired.\n"
        ),
    )
    return token


def pending(session: Session, token: str) -> Signup:
    """The sign-up behind a confirmation link, if the link is still good."""
    row = session.scalar(select(Signup).where(Signup.token_hash == token_hash(token)))
    if row is None:
        raise NotFound(
            "this confirmation link is not valid: it was replaced by a newer sign-up, or it expired "
            "and was removed; sign up again"
        )
    if row.confirmed_at is not None:
        raise Gone("this confirmation link was already used; sign in to the portal")
    if row.expires_at <= utcnow():
        raise Gone("this confirmation link has expired; sign up again")
    return row


def confirm(session: Session, token: str, *, password: str, auth: users.AuthConfig) -> User:
    """Confirm a sign-up: the customer, its first admin, the subscription and the agreement record."""
    row = pending(session, token)
    if email_taken(session, PrincipalKind.user, row.email):
        raise Gone("an account with this e-mail address exists now; sign in to the portal instead")
    users.check_password(password, email=row.email, name=row.admin_name)
    now = utcnow()
    starts_on = max(row.starts_on, now.date())
    customer = customers.create_customer(
        session,
        kind=row.kind,
        legal_name=row.legal_name,
        billing_email=row.billing_email,
        kvk_number=row.kvk_number,
        vat_number=row.vat_number,
        street=row.street,
        postal_code=row.postal_code,
        city=row.city,
        country=row.country,
        contract_start=starts_on,
        status=CustomerStatus.active,
    )
    session.flush()
    user = User(
        customer_id=customer.id,
        email=row.email,
        name=row.admin_name,
        role=UserRole.admin,
        status=AccountStatus.active,
        password_hash=hash_password(password, auth.hasher),
    )
    session.add(user)
    session.flush()
    terms = session.get(DocumentVersion, row.terms_version_id)
    statement = session.get(DocumentVersion, row.statement_version_id)
    service.conclude(
        session,
        customer.id,
        row.plan_id,
        starts_on=starts_on,
        how=service.Acceptance(
            Channel.self_service,
            user_id=user.id,
            ip_address=row.ip_address,
            accepted_at=row.accepted_at,
            terms=terms,
            statement=statement,
        ),
    )
    row.confirmed_at = now
    return user
