"""Sign-up on the website: the order form and its confirmation link.

- ``/signup``: the order form. Every field says why it is needed, in the policy's own words
  (:func:`why`); nothing optional is asked. A valid sign-up is kept pending and a confirmation link
  is mailed; the answer is the same page whether or not the address already has an account;
- ``/signup/confirm/{token}``: the summary of what is agreed and the password form; confirming
  creates the customer, its admin, the subscription and the agreement record, and signs the admin in.

Sign-up and its confirmation run under ``contract`` (the steps taken at the request of a prospective
customer before concluding the agreement) as a system actor, and are rate-limited per IP address.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from lawful.agreements import signup
from lawful.agreements.models import DocumentVersion, Signup
from lawful.agreements.public_pages import (
    PURPOSE,
    PlanView,
    offered,
    plan_views,
    problem,
    public_context,
    render,
    version_name,
)
from lawful.agreements.publication import Version
from lawful.billing import catalogue
from lawful.billing.vat import COUNTRY_NAMES, EU
from lawful.customers.models import CustomerKind
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.errors import Invalid, LawfulError, NotFound
from lawful.policy.model import Policy
from lawful.settings import Settings
from lawful.users import service as users
from lawful.users.pages import signed_in_by_link
from lawful.web.auth import auth_config, client_ip, csrf_protect
from lawful.web.deps import get_db, get_policy, get_publication, get_settings
from lawful.web.mail import deliver_after_response
from lawful.web.ratelimit import RateLimiter

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

SIGNUP = Actor.system("signup")
LANDING = "/portal/billing"  # where a confirmed sign-up lands: the portal shows the plan
MISMATCH = "the two passwords are not the same"
CLOSED = "sign-up on this website is closed"

FormStr = Annotated[str, Form()]


def _closed(request: Request) -> HTMLResponse:
    return problem(request, NotFound(CLOSED), title="Sign-up is closed")


def _refused(request: Request, settings: Settings, limiter: RateLimiter, what: str) -> HTMLResponse | None:
    """The page for a form that is not handled: sign-up is closed, or this address made too many
    attempts (``what``) in the limiter's window; None to go on."""
    if not settings.signup_open:
        return _closed(request)
    try:
        limiter.check(client_ip(request), what)
    except LawfulError as exc:
        retry = {"Retry-After": str(int(limiter.window))}
        return problem(request, exc, title="Too many attempts", headers=retry)
    return None


# --- why each field is asked ------------------------------------------------------------------

USES = {
    "plan_id": "The plan is what you order: its services and prices become part of the agreement.",
    "kind": "An agreement with a company and one with a sole proprietor differ in what is personal data.",
    "legal_name": "The party to the agreement; it is named on every invoice.",
    "kvk_number": "It identifies the business in the Dutch business register, as Dutch invoices require.",
    "vat_number": "It is printed on your invoices; for a business elsewhere in the EU it lets us charge "
    "no Dutch VAT (reverse charge).",
    "street": "Part of the billing address printed on your invoices.",
    "postal_code": "Part of the billing address printed on your invoices.",
    "city": "Part of the billing address printed on your invoices.",
    "country": "It decides which VAT applies, and whether a KvK number and a VAT number are needed.",
    "billing_email": "Your invoices are sent here.",
    "admin_name": "The first administrator of the account: we address you by it and your team sees it.",
    "admin_email": "You sign in with this address; the confirmation link is sent to it.",
    "starts_on": "The subscription and its fees start on this day.",
    "accept": "An agreement needs your acceptance of its terms: we record which versions you accepted, "
    "when, and from which IP address.",
}
CATEGORIES = {
    "legal_name": "user.contact.organization",
    "kvk_number": "user.contact.organization",
    "vat_number": "user.contact.organization",
    "street": "user.contact.address",
    "postal_code": "user.contact.address",
    "city": "user.contact.address",
    "country": "user.contact.address",
    "billing_email": "user.contact.email",
    "admin_name": "user.name",
    "admin_email": "user.contact.email",
    "accept": "user.device.ip_address",
}
BUSINESS_DATA = frozenset(
    {"legal_name", "kvk_number", "vat_number", "street", "postal_code", "city", "country", "billing_email"}
)


@dataclass(frozen=True, slots=True)
class Why:
    """Why a field of the sign-up form is asked: what it is used for and, for personal data, what
    the policy says of it."""

    use: str
    category: str = ""  # the policy's label of the data category; "" when it is no personal data
    retention: str = ""
    purpose: str = ""
    basis: str = ""
    article: str = ""
    business: bool = False  # personal data only when a sole proprietor signs up

    @property
    def policy(self) -> str:
        if not self.category:
            return ""
        whose = (
            "If you are a sole proprietor, this is personal data: " if self.business else "Personal data: "
        )
        return (
            f"{whose}{self.category}, processed “{self.purpose}” on the legal basis {self.basis} "
            f"({self.article}) and kept {self.retention}."
        )


def why(policy: Policy, field: str) -> Why:
    """Why ``field`` is asked: its use, and the category, retention, purpose and basis the policy
    declares for it under ``contract``."""
    use = USES[field]
    key = CATEGORIES.get(field)
    if key is None:
        return Why(use)
    purpose = policy.purpose(PURPOSE)
    category = purpose.category(key)
    if category is None:
        return Why(use)
    return Why(
        use,
        category=category.label,
        retention=category.retention.phrase,
        purpose=purpose.title,
        basis=purpose.legal_basis.label,
        article=purpose.legal_basis.article,
        business=field in BUSINESS_DATA,
    )


def sole_proprietor_note(policy: Policy) -> str:
    """What a sole proprietor is told about the business data they enter."""
    purpose = policy.purpose(PURPOSE)
    return (
        "As a sole proprietor, the business data you give us (legal name, KvK and VAT number, address "
        "and billing e-mail address) is personal data about you. We process it to conclude and "
        f"perform the agreement with you, on the legal basis {purpose.legal_basis.label} "
        f"({purpose.legal_basis.article})."
    )


# --- sign-up ----------------------------------------------------------------------------------


def _form_page(
    request: Request,
    *,
    plans: list[PlanView],
    form: signup.SignupForm,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    policy = get_policy(request)
    terms, statement = get_publication(request).in_force()
    # The box stays ticked only for the versions that were shown (and are still in force).
    current = form.terms_version == terms.digest and form.statement_version == statement.digest
    today = date.today()
    values = {name: getattr(form, name) for name in USES if name != "accept"}
    values["starts_on"] = values["starts_on"] or today.isoformat()
    values["country"] = values["country"] or "NL"
    errors = errors or {}
    context = public_context(
        request,
        current="/signup",
        title="Sign up",
        plans=plans,
        values=values,
        accepted=form.accept and current,
        errors=errors,
        why={name: why(policy, name) for name in USES},
        sole_proprietor_note=sole_proprietor_note(policy),
        countries=sorted(COUNTRY_NAMES.items(), key=lambda item: item[1]),
        eu=" ".join(sorted(EU)),
        kinds=CustomerKind,
        today=today.isoformat(),
        latest=(today + timedelta(days=signup.LATEST_START)).isoformat(),
        terms=terms,
        statement=statement,
        terms_name=version_name(terms),
        statement_name=version_name(statement),
    )
    return render(request, "signup.html", context, 422 if errors else 200)


@router.get("/signup", response_class=HTMLResponse)
def signup_form(
    request: Request,
    plan: str = "",
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> Response:
    if not settings.signup_open:
        return _closed(request)
    plans = offered(db)
    chosen = plan if any(p.id == plan for p in plans) else (plans[0].id if len(plans) == 1 else "")
    return _form_page(request, plans=plans, form=signup.SignupForm(plan_id=chosen))


def signup_config(settings: Settings, policy: Policy) -> signup.SignupConfig:
    return signup.SignupConfig(
        ttl=timedelta(hours=settings.signup_confirm_hours),
        mails_per_hour=settings.signup_mails_per_hour,
        base_url=settings.base_url.rstrip("/"),
        organisation=policy.organisation.name,
    )


def _loaded(session: Session, version: Version) -> DocumentVersion:
    row = session.get(DocumentVersion, version.id)
    assert row is not None  # published by this process
    return row


@router.post("/signup", response_class=HTMLResponse)
def sign_up(
    request: Request,
    background_tasks: BackgroundTasks,
    plan_id: FormStr = "",
    kind: FormStr = "",
    legal_name: FormStr = "",
    kvk_number: FormStr = "",
    vat_number: FormStr = "",
    street: FormStr = "",
    postal_code: FormStr = "",
    city: FormStr = "",
    country: FormStr = "",
    billing_email: FormStr = "",
    admin_name: FormStr = "",
    admin_email: FormStr = "",
    starts_on: FormStr = "",
    accept: FormStr = "",
    terms_version: FormStr = "",
    statement_version: FormStr = "",
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
    policy: Policy = Depends(get_policy),
) -> Response:
    """The same answer (a redirect to the same page) whether or not the address has an account."""
    refused = _refused(request, settings, request.app.state.signup_limit, "sign-ups")
    if refused is not None:
        return refused
    form = signup.SignupForm(
        plan_id=plan_id,
        kind=kind,
        legal_name=legal_name,
        kvk_number=kvk_number,
        vat_number=vat_number,
        street=street,
        postal_code=postal_code,
        city=city,
        country=country,
        billing_email=billing_email,
        admin_name=admin_name,
        admin_email=admin_email,
        starts_on=starts_on,
        accept=accept in ("yes", "on", "true", "1"),
        terms_version=terms_version,
        statement_version=statement_version,
    )
    terms_v, statement_v = get_publication(request).in_force()
    try:
        with db.unit_of_work(PURPOSE, SIGNUP) as session:
            signup.start(
                session,
                form,
                ip=client_ip(request),
                terms=_loaded(session, terms_v),
                statement=_loaded(session, statement_v),
                cfg=signup_config(settings, policy),
            )
    except Invalid as exc:
        fields = exc.detail.get("fields", {}) if isinstance(exc.detail, dict) else {}
        return _form_page(request, plans=offered(db), form=form, errors=fields or {"form": exc.message})
    deliver_after_response(request, background_tasks)
    return RedirectResponse("/signup/sent", status_code=303)


@router.get("/signup/sent", response_class=HTMLResponse)
def signup_sent(request: Request, settings: Settings = Depends(get_settings)) -> Response:
    if not settings.signup_open:
        return _closed(request)
    context = public_context(
        request, current="/signup", title="Check your e-mail", hours=settings.signup_confirm_hours
    )
    return render(request, "signup_sent.html", context)


# --- confirmation -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Summary:
    """What a pending sign-up agrees to, for its confirmation page."""

    email: str
    admin_name: str
    sole_proprietor: bool
    legal_name: str
    kvk_number: str
    vat_number: str
    address: str
    billing_email: str
    starts_on: date
    plan: PlanView | None
    terms: str
    statement: str
    accepted_at: str


def _version_of(session: Session, version_id: uuid.UUID) -> str:
    row = session.get(DocumentVersion, version_id)
    return "unknown" if row is None else version_name(row)


def summary(session: Session, row: Signup) -> Summary:
    plans = plan_views(session, [catalogue.get_plan(session, row.plan_id)])
    country = COUNTRY_NAMES.get(row.country, row.country)
    return Summary(
        email=row.email,
        admin_name=row.admin_name,
        sole_proprietor=row.kind is CustomerKind.sole_proprietor,
        legal_name=row.legal_name,
        kvk_number=row.kvk_number or "",
        vat_number=row.vat_number or "",
        address=", ".join(p for p in (row.street, f"{row.postal_code} {row.city}".strip(), country) if p),
        billing_email=row.billing_email,
        starts_on=max(row.starts_on, date.today()),
        plan=plans[0] if plans else None,
        terms=_version_of(session, row.terms_version_id),
        statement=_version_of(session, row.statement_version_id),
        accepted_at=f"{row.accepted_at:%Y-%m-%d %H:%M} UTC",
    )


def _link_problem(request: Request, exc: LawfulError) -> HTMLResponse:
    return problem(request, exc, title="This link does not work")


def _opened(request: Request, db: Database, settings: Settings, token: str) -> Summary | HTMLResponse:
    """The summary of the sign-up behind the confirmation link ``token``, or the page that says why
    it is not shown (sign-up closed, too many attempts, the link unknown, used or expired)."""
    refused = _refused(request, settings, request.app.state.confirm_limit, "confirmation attempts")
    if refused is not None:
        return refused
    try:
        with db.unit_of_work(PURPOSE, SIGNUP) as session:
            return summary(session, signup.pending(session, token))
    except LawfulError as exc:  # NotFound, Gone
        return _link_problem(request, exc)


def _confirm_page(request: Request, found: Summary, *, error: LawfulError | None = None) -> HTMLResponse:
    policy = get_policy(request)
    context = public_context(
        request,
        title="Confirm your sign-up",
        summary=found,
        sole_proprietor_note=sole_proprietor_note(policy),
        flashes=[("error", error.message)] if error else [],
    )
    return render(request, "confirm.html", context, error.status if error else 200)


@router.get("/signup/confirm/{token}", response_class=HTMLResponse)
def confirm_form(
    request: Request, token: str, db: Database = Depends(get_db), settings: Settings = Depends(get_settings)
) -> Response:
    found = _opened(request, db, settings, token)
    if isinstance(found, HTMLResponse):
        return found
    return _confirm_page(request, found)


@router.post("/signup/confirm/{token}", response_class=HTMLResponse)
def confirm(
    request: Request,
    token: str,
    password: FormStr = "",
    password_repeat: FormStr = "",
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> Response:
    found = _opened(request, db, settings, token)
    if isinstance(found, HTMLResponse):
        return found
    if password != password_repeat:
        return _confirm_page(request, found, error=Invalid(MISMATCH))
    cfg = auth_config(request)
    try:
        with db.unit_of_work(PURPOSE, SIGNUP) as session:
            user = signup.confirm(session, token, password=password, auth=cfg)
            session_token, web = users.start_verified_session(session, user, ip=client_ip(request), cfg=cfg)
    except Invalid as exc:  # rolled back: the link still works
        return _confirm_page(request, found, error=exc)
    except LawfulError as exc:  # used or expired meanwhile, or the address has an account now
        return _link_problem(request, exc)
    return signed_in_by_link(LANDING, session_token, web, settings)
