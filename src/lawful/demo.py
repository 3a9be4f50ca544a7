"""Demo data: a realistic, repeatable set of customers, their users, support contacts and staff.

Loaded through the same services and purpose-bound units of work as real data (actor
``system:demo``; staff under ``staff_access``, usage under ``monitoring`` as the usage API
records it, everything else under ``contract``), so the processing log shows how it came in.
Every demo account has the password :data:`DEMO_PASSWORD`, hashed once with the installation's
argon2 settings: hashing a thousand passwords would take minutes. Active users are written as
rows with that hash; invited users go through :func:`lawful.users.service.invite_user` (a token
and an invitation in the outbox).

Billing comes with the customers (:func:`load_billing`): the standard metrics and three plans,
subscriptions, usage for the last three full months and this month as the demo app's usage
service reported it (written in bulk, as :func:`lawful.monitoring.usage.record` writes it), and
the invoices of the three past months made and finalised by the real billing run, month after
month, on the days the daily job would have done it. Every subscription, plan change and
cancellation goes through :mod:`lawful.agreements.service`, so each leaves an agreement record
with the published terms and statement: concluded by the demo's finance staff member in the
console, and for one sole proprietor on the website, accepted by its admin.

Loading is idempotent: staff are created when their address is free, customers (with their
users, support contacts and billing) only into a database that has none. :func:`demo_logins`
finds the logins to print, so a second run prints the same ones.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from rich import box
from rich.table import Table
from sqlalchemy import Table as SqlTable
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lawful.agreements import documents as agreement_documents
from lawful.agreements import service as agreements
from lawful.agreements.models import Channel as AgreementChannel
from lawful.agreements.models import DocumentVersion
from lawful.billing import catalogue as billing_catalogue
from lawful.billing import service as billing
from lawful.billing.catalogue import ChargeInput
from lawful.billing.run import month_start, next_month
from lawful.customers import repository
from lawful.customers import service as customers
from lawful.customers.models import ContactPerson, Customer, CustomerKind, CustomerStatus
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.monitoring import usage
from lawful.monitoring.ingest import PURPOSE as USAGE_PURPOSE
from lawful.monitoring.models import UsageEvent, UsageService
from lawful.monitoring.traffic import USAGE_SERVICE, WEEKDAYS
from lawful.settings import Settings
from lawful.support import service as support
from lawful.support.models import Channel
from lawful.users import repository as users_repo
from lawful.users import service as accounts
from lawful.users.models import AccountStatus, PrincipalKind, Staff, StaffRole, User, UserRole
from lawful.users.security import hash_password

ACTOR = Actor.system("demo")
DEMO_PASSWORD = "lawful-demo-2026"
USERS_PER_CUSTOMER = 5
SUPPORT_PER_CUSTOMER = 3
BATCH = 25

#: One staff member per role: (role, e-mail, name).
STAFF = [
    (StaffRole.admin, "admin@lawful.demo", "Marieke de Jong"),
    (StaffRole.support, "support@lawful.demo", "Joost Verhoeven"),
    (StaffRole.finance, "finance@lawful.demo", "Ingrid Kramer"),
    (StaffRole.privacy_officer, "privacy@lawful.demo", "Hamza Ouali"),
    (StaffRole.analyst, "analyst@lawful.demo", "Lieke Schouten"),
]
#: The first customer is always this company, with these two active users.
SHOWCASE = "Tulpenveld Software B.V."
SHOWCASE_ADMIN = ("Anna Bakker", "anna.bakker@tulpenveld.example")
SHOWCASE_MEMBER = ("Daan Visser", "daan.visser@tulpenveld.example")

FIRST = [
    "Anna", "Bram", "Chantal", "Daan", "Eva", "Femke", "Gijs", "Hanna", "Iris", "Jasper", "Kim",
    "Lars", "Maud", "Noah", "Olga", "Pieter", "Quinten", "Roos", "Sven", "Tess", "Umut", "Vera",
    "Wouter", "Yara", "Zoë", "Fatima", "Mohamed", "Sanne", "Thijs", "Lotte", "Bas", "Julia",
    "Koen", "Lisa", "Milan", "Nina", "Ruben", "Sara", "Tim", "Esra", "Jeroen", "Marloes",
]  # fmt: skip
LAST = [
    "de Vries", "Jansen", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "de Boer",
    "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker", "Brouwer",
    "de Wit", "Dijkstra", "Smits", "de Graaf", "van der Meer", "Kok", "Jacobs", "Yılmaz",
    "El Amrani", "Koster", "Prins", "Huisman", "Postma", "Kuipers", "Veenstra", "Willems",
]  # fmt: skip
STEMS = [
    "Noordlicht", "Polderwind", "Deltaweg", "Kadewerk", "Duinroos", "Molenwiek", "Zeewind",
    "Grachtzicht", "Lindehof", "Eikenhout", "Waterland", "Brugwachter", "Zandvoort", "Heidezicht",
    "Sluiswerk", "Torenvalk", "Klaproos", "Dijkgraaf", "Vlietland", "Horizon",
]  # fmt: skip
TRADE = [
    "Software", "Logistiek", "Advies", "Design", "Installaties", "Bouw", "Zorg", "Media", "Data",
    "Techniek", "Vertalingen", "Fotografie", "Administratie", "Marketing", "Hosting", "Events",
]  # fmt: skip
CITIES = [
    ("Amsterdam", "10"), ("Rotterdam", "30"), ("Utrecht", "35"), ("Den Haag", "25"),
    ("Eindhoven", "56"), ("Groningen", "97"), ("Leiden", "23"), ("Zwolle", "80"), ("Breda", "48"),
    ("Nijmegen", "65"), ("Haarlem", "20"), ("Maastricht", "62"),
]  # fmt: skip
STREETS = [
    "Kerkstraat", "Dorpsstraat", "Molenweg", "Stationsplein", "Beukenlaan", "Prinsengracht",
    "Industrieweg", "Havenkade", "Nieuwe Binnenweg", "Schoolstraat", "Julianalaan", "Marktplein",
]  # fmt: skip
#: The second and third customers: a business elsewhere in the EU with a valid VAT number (its
#: invoices are reverse-charged) and one outside the EU (outside the scope of EU VAT).
#: Legal name, country, city, postal code, street, VAT number.
ABROAD = [
    ("Rheinblick Analytics GmbH", "DE", "Köln", "50667", "Hohe Straße 52", "DE136695976"),
    ("Harborview Labs Inc.", "US", "Boston, MA", "02110", "100 Federal Street", None),
]
#: Customers abroad: country, city, postal code, street, legal form.
FOREIGN = [
    ("BE", "Antwerpen", "2000", "Meir", "BV"),
    ("BE", "Gent", "9000", "Veldstraat", "NV"),
    ("DE", "Köln", "50667", "Hohe Straße", "GmbH"),
    ("DE", "Düsseldorf", "40213", "Königsallee", "GmbH"),
    ("FR", "Lille", "59000", "Rue Nationale", "SAS"),
]
SUMMARIES = [
    "Asked how to add a colleague to the portal; explained the team page.",
    "Could not sign in after a password change; sent a password-reset link.",
    "Question about the last invoice: the VAT amount was explained.",
    "Wants to move the billing e-mail to the finance department's shared address.",
    "Reported slow loading of the dashboard in the morning; forwarded to engineering.",
    "Asked whether the data is stored in the EU; pointed to the privacy statement.",
    "Interested in the larger plan; sent the price list and a comparison.",
    "Two-step sign-in lost after a new phone; identity checked, second factor reset.",
    "Requested an export of their usage for the past quarter.",
    "Complaint about a duplicate invitation e-mail; the old invitation was withdrawn.",
    "Asked to end the contract at the end of the year; confirmed the notice period.",
    "New contact person for the administration; details updated.",
    "Question about the API rate limits for their integration.",
    "Wants a purchase-order number on future invoices.",
    "Called about a failed payment; the direct debit mandate was renewed.",
    "Asked how long login records are kept; explained the retention periods.",
    "Onboarding call with the new admin; walked through the portal.",
    "Feature request: a dark mode for the portal.",
    "Reported a typo in the company address on the invoice; corrected.",
    "Asked for a copy of the processing agreement (DPA).",
]
FOLLOW_UPS = [
    "Call back once engineering has answered.",
    "Send the signed quotation.",
    "Check that the correction is on the next invoice.",
    "Confirm that the new colleague could sign in.",
]


@dataclass(frozen=True)
class Login:
    """An account to try the demo with (every demo account shares :data:`DEMO_PASSWORD`)."""

    area: str  # "console" or "portal"
    email: str
    role: str
    password: str = DEMO_PASSWORD
    customer: str | None = None


@dataclass
class DemoResult:
    """What one run created (zeros when everything was already there) and the logins to print."""

    customers: int = 0
    users: int = 0
    support_contacts: int = 0
    staff: int = 0
    logins: list[Login] = field(default_factory=list)
    billing: BillingResult | None = None
    rights_requests: int = 0


def load_demo(
    db: Database,
    *,
    customers: int = 200,
    users: int | None = None,
    support_contacts: int | None = None,
    seed: int = 2026,
    progress: Callable[[int], None] | None = None,
    auth: accounts.AuthConfig | None = None,
    billing_data: bool = True,
    settings: Settings | None = None,
    now: datetime | None = None,
    billing_progress: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """Load the demo: staff, then ``customers`` customers with ``users`` users (default five per
    customer, at least one active admin each) and ``support_contacts`` support contacts (default
    three per customer) over the year up to ``now`` (default: the current time), unless customers
    exist already; with them (unless ``billing_data`` is false) their billing (:func:`load_billing`).

    ``auth`` gives the argon2 parameters of the demo password (default: the settings from the
    environment), ``settings`` the billing settings (VAT rate, grace days, payment terms; the
    same default). Calls ``progress(n)`` after each batch of ``n`` customers and
    ``billing_progress(done, total)`` after each step of the billing.
    """
    settings = settings or Settings()
    auth = auth or accounts.AuthConfig.from_settings(settings)
    users_total = USERS_PER_CUSTOMER * customers if users is None else users
    contacts_total = SUPPORT_PER_CUSTOMER * customers if support_contacts is None else support_contacts
    result = DemoResult()
    password_hash: str | None = None

    def demo_hash() -> str:
        nonlocal password_hash
        if password_hash is None:
            password_hash = hash_password(DEMO_PASSWORD, auth.hasher)
        return password_hash

    with db.unit_of_work("staff_access", ACTOR) as session:
        for role, email, name in STAFF:
            if not users_repo.email_taken(session, PrincipalKind.staff, email):
                session.add(Staff(email=email, name=name, role=role, password_hash=demo_hash()))
                result.staff += 1
    with db.unit_of_work("contract", ACTOR) as session:
        empty = repository.count(session) == 0
    if empty and customers > 0:
        now = now or datetime.now(UTC)
        _load_customers(
            db, result, customers, users_total, contacts_total, seed, demo_hash(), auth, progress, now
        )
        if billing_data:
            result.billing = load_billing(
                db, settings=settings, now=now, seed=seed, progress=billing_progress
            )
        from lawful.rights.demo import load_rights_demo

        result.rights_requests = load_rights_demo(db, now=now, seed=seed, settings=settings).requests
    result.logins = demo_logins(db)
    return result


def demo_logins(db: Database) -> list[Login]:
    """The demo staff that exist and the showcase customer's admin and member, if they exist."""
    logins = []
    with db.unit_of_work("staff_access", ACTOR) as session:
        for _, email, _ in STAFF:
            staff = users_repo.by_email(session, PrincipalKind.staff, email)
            if staff is not None:
                logins.append(Login("console", staff.email, staff.role.value))
    with db.unit_of_work("contract", ACTOR) as session:
        for _, email in (SHOWCASE_ADMIN, SHOWCASE_MEMBER):
            user = users_repo.by_email(session, PrincipalKind.user, email)
            if isinstance(user, User):
                customer = repository.get(session, user.customer_id)
                name = customer.legal_name if customer else None
                logins.append(Login("portal", user.email, user.role.value, customer=name))
    return logins


ROLE_NAMES = {
    "admin": "admin",
    "support": "support",
    "finance": "finance",
    "privacy_officer": "privacy officer",
    "analyst": "analyst",
}


def demo_tables(logins: list[Login], base_url: str) -> list[Table]:
    """Rich tables for the terminal: where to go, and whom to sign in as."""
    where = Table(title="Lawful", title_justify="left", show_header=False, box=box.SIMPLE)
    where.add_column("what", style="bold")
    where.add_column("address", no_wrap=True)
    for label, path in (
        ("Staff console", "/console/"),
        ("Customer portal", "/portal/"),
        ("Pricing and sign-up", "/pricing"),
        ("Privacy statement", "/privacy"),
        ("Terms of service", "/terms"),
        ("API documentation", "/docs"),
    ):
        where.add_row(label, f"{base_url}{path}")
    staff = Table(
        title=f"Staff: sign in at {base_url}/console/login", title_justify="left", box=box.SIMPLE_HEAD
    )
    users = Table(
        title=f"Customers' users: sign in at {base_url}/portal/login",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for table in (staff, users):
        table.add_column("E-mail address", no_wrap=True)
        table.add_column("Password", no_wrap=True)
        table.add_column("Role", no_wrap=True)
    users.add_column("Customer")
    for login in logins:
        if login.area == "console":
            staff.add_row(login.email, login.password, ROLE_NAMES.get(login.role, login.role))
        else:
            users.add_row(login.email, login.password, login.role, login.customer or "")
    tables = [where]
    for table in (staff, users):
        if table.row_count:
            tables.append(table)
    if not logins:
        tables.append(Table(title="No demo accounts in this database", title_justify="left"))
    return tables


# --- generation -------------------------------------------------------------------------------


@dataclass
class _Plan:
    """What the batches of one run share: the random source, the time, the staff and what is taken."""

    rng: random.Random
    now: datetime
    staff: dict[StaffRole, uuid.UUID]
    password_hash: str
    auth: accounts.AuthConfig
    legal_names: set[str] = field(default_factory=set)
    domains: set[str] = field(default_factory=set)
    kvk_numbers: set[str] = field(default_factory=set)


def _load_customers(
    db: Database,
    result: DemoResult,
    customers: int,
    users_total: int,
    contacts_total: int,
    seed: int,
    password_hash: str,
    auth: accounts.AuthConfig,
    progress: Callable[[int], None] | None,
    now: datetime,
) -> None:
    rng = random.Random(seed)
    with db.unit_of_work("staff_access", ACTOR) as session:
        staff = {}
        for role, email, _ in STAFF:
            found = users_repo.by_email(session, PrincipalKind.staff, email)
            if found is not None:
                staff[role] = found.id
    plan = _Plan(rng, now, staff, password_hash, auth)
    kinds = [i > len(ABROAD) and rng.random() < 0.35 for i in range(customers)]  # sole proprietor?
    user_counts = _spread(rng, users_total, [1 if sole else 3 for sole in kinds], minimum=1)
    if customers and users_total >= 2:
        user_counts[0] = max(user_counts[0], 2)  # the showcase needs an admin and a member
    contact_counts = _spread(rng, contacts_total, [1] * customers, minimum=0)
    for start in range(0, customers, BATCH):
        stop = min(start + BATCH, customers)
        with db.unit_of_work("contract", ACTOR) as session:
            for i in range(start, stop):
                n_users, n_contacts = _customer(session, plan, i, kinds[i], user_counts[i], contact_counts[i])
                result.customers += 1
                result.users += n_users
                result.support_contacts += n_contacts
        if progress:
            progress(stop - start)


def _spread(rng: random.Random, total: int, weights: list[int], *, minimum: int) -> list[int]:
    """``total`` items over ``len(weights)`` buckets, each at least ``minimum`` (where it fits)."""
    counts = [minimum if total >= minimum * len(weights) else 0 for _ in weights]
    left = total - sum(counts)
    if weights and left > 0:
        for index in rng.choices(range(len(weights)), weights=weights, k=left):
            counts[index] += 1
    return counts


def _customer(
    session: Session, plan: _Plan, index: int, sole: bool, n_users: int, n_contacts: int
) -> tuple[int, int]:
    rng = plan.rng
    first, last = rng.choice(FIRST), rng.choice(LAST)
    person = f"{first} {last}"
    trade = rng.choice(TRADE)
    country, city, postal, street = "NL", *rng.choice(CITIES), rng.choice(STREETS)
    form = "B.V."
    abroad = ABROAD[index - 1] if 1 <= index <= len(ABROAD) else None
    if abroad is not None:
        country, city, postal = abroad[1], abroad[2], abroad[3]
    elif not sole and index > 0 and rng.random() < 0.1:
        country, city, postal, street, form = rng.choice(FOREIGN)
    elif country == "NL":
        postal = (
            f"{postal}{rng.randint(10, 99)} {rng.choice('ABCDEFGHJKLMNPRSTVWXZ')}{rng.choice('ABEHKLNRST')}"
        )
    if index == 0:
        legal_name = SHOWCASE
    elif abroad is not None:
        legal_name = abroad[0]
    elif sole:
        for _ in range(30):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            legal_name = f"{first} {last} {trade}"
            if legal_name not in plan.legal_names:
                break
        person = f"{first} {last}"
        legal_name = _unique(plan.legal_names, legal_name)
    else:
        stems = STEMS + [n[0].upper() + n[1:] for n in LAST]
        for _ in range(30):
            legal_name = f"{rng.choice(stems)} {rng.choice(TRADE)} {form}"
            if legal_name not in plan.legal_names:
                break
        legal_name = _unique(plan.legal_names, legal_name)
    plan.legal_names.add(legal_name)
    if index == 0:
        domain = SHOWCASE_ADMIN[1].split("@")[1]
    else:
        domain = (
            _unique(plan.domains, _slug(legal_name if sole else legal_name.rsplit(" ", 1)[0]), "")
            + ".example"
        )
    plan.domains.add(domain.removesuffix(".example"))
    status, start, end = _contract(rng, plan.now.date(), showcase=index == 0 or abroad is not None)
    kvk = None
    while country == "NL" and (kvk is None or kvk in plan.kvk_numbers):
        kvk = str(rng.randint(10_000_000, 99_999_999))
    if kvk:
        plan.kvk_numbers.add(kvk)
    if abroad is not None:
        vat = abroad[5]
    elif sole and rng.random() < 0.2:
        vat = None
    else:
        vat = vat_number(rng, country, sole=sole)
    customer = customers.create_customer(
        session,
        kind=CustomerKind.sole_proprietor if sole else CustomerKind.company,
        legal_name=legal_name,
        billing_email=f"{'administratie' if country in ('NL', 'BE') else 'billing'}@{domain}",
        kvk_number=kvk,
        vat_number=vat,
        street=abroad[4] if abroad is not None else f"{street} {rng.randint(1, 200)}",
        postal_code=postal,
        city=city,
        country=country,
        contract_start=start,
        status=status,
    )
    if end is not None:
        customers.end_contract(customer, on=end)
    session.flush()
    contacts = _contact_persons(session, plan, customer, domain, person if sole else None)
    people = _users(session, plan, customer, domain, n_users, proprietor=(first, last) if sole else None)
    session.flush()
    for _ in range(n_contacts):
        _support_contact(
            session, plan, customer, contacts, [u for u in people if u.status == AccountStatus.active]
        )
    return len(people), n_contacts


def _contract(
    rng: random.Random, today: date, *, showcase: bool
) -> tuple[CustomerStatus, date | None, date | None]:
    # The showcase customers have been customers long enough to have had every demo invoice.
    start = today - timedelta(days=rng.randint(200 if showcase else 30, 1500))
    roll = 0.5 if showcase else rng.random()
    if roll < 0.04:
        return CustomerStatus.prospect, None, None
    if roll < 0.10:
        return (
            CustomerStatus.active,
            start,
            min(today - timedelta(days=1), start + timedelta(days=rng.randint(180, 900))),
        )
    if roll < 0.12:
        return CustomerStatus.suspended, start, None
    return CustomerStatus.active, start, None


def _unique(used: set[str], wanted: str, sep: str = " ") -> str:
    """``wanted``, or ``wanted`` with the first free number appended."""
    if wanted not in used:
        return wanted
    n = 2
    while f"{wanted}{sep}{n}" in used:
        n += 1
    return f"{wanted}{sep}{n}"


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _slug(text: str) -> str:
    words = _ascii(text).lower().replace("&", " ").split()
    return "-".join("".join(ch for ch in word if ch.isalnum()) for word in words).strip("-")


def _local(first: str, last: str) -> str:
    return ".".join(part for part in (_slug(first), _slug(last).replace("-", "")) if part)


def _contact_persons(
    session: Session, plan: _Plan, customer: Customer, domain: str, proprietor: str | None
) -> list[ContactPerson]:
    rng = plan.rng
    names = (
        [proprietor]
        if proprietor
        else [f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(rng.randint(1, 3))]
    )
    people: list[ContactPerson] = []
    used: set[str] = set()
    for name in names:
        first, _, last = name.partition(" ")
        local = _unique(used, _local(first, last), "")
        used.add(local)
        email = f"{local}@{domain}"
        people.append(
            customers.add_contact(
                session,
                customer,
                name=name,
                email=email,
                phone=_phone(rng, customer.country),
                # a sole proprietor's contact address is their business (often home) address
                street=customer.street if proprietor else "",
                postal_code=customer.postal_code if proprietor else "",
                city=customer.city if proprietor else "",
                country=customer.country,
            )
        )
    return people


def _phone(rng: random.Random, country: str) -> str:
    if country == "NL":
        return f"+31 6 {rng.randint(10_000_000, 99_999_999)}"
    prefix = {"BE": "32", "DE": "49", "FR": "33", "US": "1"}.get(country, "31")
    return f"+{prefix} {rng.randint(100_000_000, 999_999_999)}"


def _users(
    session: Session,
    plan: _Plan,
    customer: Customer,
    domain: str,
    count: int,
    *,
    proprietor: tuple[str, str] | None,
) -> list[User]:
    rng = plan.rng
    made: list[User] = []
    used: set[str] = set()
    for n in range(count):
        if n == 0 and customer.legal_name == SHOWCASE:
            name, email = SHOWCASE_ADMIN
        elif n == 1 and customer.legal_name == SHOWCASE:
            name, email = SHOWCASE_MEMBER
        else:
            first, last = proprietor if n == 0 and proprietor else (rng.choice(FIRST), rng.choice(LAST))
            name = f"{first} {last}"
            email = f"{_unique(used, _local(first, last), '')}@{domain}"
        used.add(email.split("@")[0])
        role = UserRole.admin if n == 0 or (n > 1 and rng.random() < 0.12) else UserRole.member
        if n > 1 and rng.random() < 0.07:  # invited, not yet active: a token and a mail in the outbox
            invited_by = made[0].name if made else "Your administrator"
            user, _ = accounts.invite_user(
                session,
                customer_id=customer.id,
                email=email,
                name=name,
                role=role,
                invited_by=invited_by,
                cfg=plan.auth,
            )
        else:
            last_login = (
                plan.now - timedelta(minutes=rng.randint(5, 60 * 24 * 60)) if rng.random() < 0.7 else None
            )
            user = User(
                customer_id=customer.id,
                email=accounts.normalise_email(email),
                name=name,
                role=role,
                status=AccountStatus.active,
                password_hash=plan.password_hash,
                last_login_at=last_login,
            )
            session.add(user)
        made.append(user)
    return made


def _support_contact(
    session: Session, plan: _Plan, customer: Customer, contacts: list[ContactPerson], active: list[User]
) -> None:
    rng = plan.rng
    when = plan.now - timedelta(days=rng.randint(0, 364), minutes=rng.randint(0, 8 * 60))
    when = when.replace(hour=rng.randint(8, 17), minute=rng.randint(0, 59), second=0, microsecond=0)
    who = rng.random()
    follow_up = None
    if rng.random() < 0.25:
        follow_up = when.date() + timedelta(days=rng.randint(2, 21))
    summary = rng.choice(SUMMARIES)
    if follow_up:
        summary = f"{summary} {rng.choice(FOLLOW_UPS)}"
    staff_id = plan.staff.get(StaffRole.support if rng.random() < 0.8 else StaffRole.admin)
    entry = support.log_contact(
        session,
        customer_id=customer.id,
        staff_id=staff_id,
        channel=rng.choices(list(Channel), weights=[45, 35, 20])[0],
        summary=summary,
        contact_person_id=rng.choice(contacts).id if contacts and who < 0.45 else None,
        user_id=rng.choice(active).id if active and 0.45 <= who < 0.85 else None,
        occurred_at=min(when, plan.now),
        follow_up_on=follow_up,
    )
    if follow_up and follow_up < plan.now.date() and rng.random() < 0.7:
        support.mark_followed_up(entry)


# --- billing ----------------------------------------------------------------------------------

#: What the demo bills: metrics over the usage the demo app's service reports (as
#: :mod:`lawful.monitoring.traffic` does: API calls in four reports a day, the storage in use once
#: a day), with the project each report is about as a property.
METRICS: list[tuple[str, str, str, str, str | None, str]] = [
    # code, name, event code, aggregation, the property counted, unit
    ("api_calls", "API calls", "api.call", "sum", None, "calls"),
    ("storage_gb", "Storage", "storage.gb", "max", None, "GB"),
    ("projects", "Active projects", "api.call", "unique_count", "project", "projects"),
]
#: Three plans: (code, name, monthly fee, minimum commitment, description, charges).
PLANS: list[tuple[str, str, str, str, str, list[ChargeInput]]] = [
    (
        "starter",
        "Starter",
        "29.00",
        "0",
        "For small teams: 10,000 API calls and 10 GB included.",
        [
            ChargeInput("api_calls", "standard", {"unit_price": "0.002"}, included=10_000),
            ChargeInput("storage_gb", "standard", {"unit_price": "0.40"}, included=10),
        ],
    ),
    (
        "business",
        "Business",
        "149.00",
        "250.00",
        "Graduated API prices, storage in packages of 25 GB, a price per active project; "
        "a minimum commitment of 250.00 a month.",
        [
            ChargeInput(
                "api_calls",
                "graduated",
                {
                    "tiers": [
                        {"up_to": "50000", "unit_price": "0.0015"},
                        {"up_to": "500000", "unit_price": "0.001"},
                        {"up_to": None, "unit_price": "0.0005"},
                    ]
                },
            ),
            ChargeInput("storage_gb", "package", {"package_size": "25", "package_price": "7.50"}),
            ChargeInput(
                "projects",
                "volume",
                {
                    "tiers": [
                        {"up_to": "5", "unit_price": "6"},
                        {"up_to": "20", "unit_price": "5"},
                        {"up_to": None, "unit_price": "4"},
                    ]
                },
            ),
        ],
    ),
    (
        "enterprise",
        "Enterprise",
        "990.00",
        "0",
        "Volume API prices with 250,000 calls included, 100 GB included, every project at one price.",
        [
            ChargeInput(
                "api_calls",
                "volume",
                {
                    "tiers": [
                        {"up_to": "1000000", "unit_price": "0.0008"},
                        {"up_to": "5000000", "unit_price": "0.0006", "flat_fee": "50"},
                        {"up_to": None, "unit_price": "0.0004", "flat_fee": "150"},
                    ]
                },
                included=250_000,
            ),
            ChargeInput("storage_gb", "standard", {"unit_price": "0.20"}, included=100),
            ChargeInput("projects", "standard", {"unit_price": "3"}),
        ],
    ),
]
PLAN_SHARES = {"starter": 55, "business": 35, "enterprise": 10}
#: The plans of the showcase customers (they change no plan).
SHOWCASE_PLANS = {SHOWCASE: "business", ABROAD[0][0]: "business", ABROAD[1][0]: "starter"}
BILLED_MONTHS = 3
PLAN_CHANGES = 0.1  # share of the customers that change plan during the demo's months
USAGE_EVENTS = cast(SqlTable, UsageEvent.__table__)
#: The last days, whose API calls come in four reports a day with the idempotency keys that
#: :func:`lawful.monitoring.traffic.usage_plan` gives the demo traffic's usage of its 30 days: the
#: traffic's reports of those days, sent later, are duplicates and count once. Older days have
#: one report of API calls a day.
DETAILED_DAYS = 30


@dataclass
class BillingResult:
    """What :func:`load_billing` made."""

    plans: int = 0
    subscriptions: int = 0
    usage_events: int = 0  # stored for the subscribed customers
    invoices: int = 0  # finalised
    periods: list[date] = field(default_factory=list)  # the months invoiced, oldest first
    failed: list[str] = field(default_factory=list)  # drafts that could not be finalised


@dataclass(frozen=True)
class _Account:
    """A subscribed demo customer and what its months look like."""

    customer_id: uuid.UUID
    starts_on: date
    ends_on: date | None
    plan: str
    change: tuple[date, str] | None  # a plan change: the day and the new plan
    calls: float  # API calls on an ordinary weekday
    storage: float  # GB in use at the start
    projects: int


def load_billing(
    db: Database,
    *,
    settings: Settings,
    now: datetime | None = None,
    seed: int = 2026,
    progress: Callable[[int, int], None] | None = None,
) -> BillingResult:
    """The demo's billing up to ``now``: the catalogue, subscriptions, usage and three months of
    finalised invoices. Does nothing when plans exist already.

    The usage is stored as the demo app's usage service had reported it (:func:`_store_usage`),
    with the idempotency keys of :mod:`lawful.monitoring.traffic`, so that the demo traffic's
    usage of the last 30 days, reported later, counts once. Subscriptions are made, changed and
    ended on their days, and the billing run makes and finalises a month's invoices on the day
    the daily job would (after the grace days), month after month: invoice numbers follow each
    other and plan changes are prorated as they were. Calls ``progress(done, total)`` after the
    usage and after each month billed.
    """
    now = now or datetime.now(UTC)
    result = BillingResult()
    with db.unit_of_work(billing.PURPOSE, ACTOR) as session:
        if billing_catalogue.list_plans(session):
            return result
        for code, name, event_code, aggregation, counted, unit in METRICS:
            billing_catalogue.create_metric(
                session,
                code=code,
                name=name,
                event_code=event_code,
                aggregation=aggregation,
                distinct_property=counted,
                unit=unit,
            )
        plan_ids = {}
        for code, name, fee, minimum, description, charges in PLANS:
            made = billing_catalogue.create_plan(
                session,
                code=code,
                name=name,
                base_fee=fee,
                minimum=minimum,
                description=description,
                charges=charges,
            )
            plan_ids[code] = made.id
        result.plans = len(plan_ids)
        customers = list(
            session.scalars(
                select(Customer).where(Customer.contract_start.is_not(None)).order_by(Customer.legal_name)
            )
        )
    today = now.date()
    result.periods = [month_start(today)]
    for _ in range(BILLED_MONTHS):
        result.periods.insert(0, month_start(result.periods[0] - timedelta(days=1)))
    result.periods.pop()  # this month is not invoiced yet
    accounts = _accounts(customers, result.periods[0], today, random.Random(seed + 5))
    subscribed = {a.customer_id for a in accounts}
    context = _agreement_context(db, settings, [c for c in customers if c.id in subscribed])
    result.usage_events = _store_usage(db, accounts, result.periods[0], now, random.Random(seed + 6))
    total, done = 1 + len(result.periods), 1
    if progress:
        progress(done, total)
    for day, steps in itertools.groupby(_timeline(accounts, result.periods, settings, today), key=_day):
        todo = list(steps)
        changes = [step for step in todo if step.account is not None]
        if changes:  # the day's subscriptions, plan changes and cancellations in one unit of work
            with db.unit_of_work(billing.PURPOSE, ACTOR) as session:
                for step in changes:
                    result.subscriptions += _apply(session, step, plan_ids, context)
        for step in todo:
            if step.period is not None:
                billing.run(db, step.period, settings=settings, actor=ACTOR)
                finalised = billing.finalise_drafts(
                    db, today=day, settings=settings, period=step.period, actor=ACTOR
                )
                result.invoices += len(finalised.numbers)
                result.failed += finalised.failed
                done += 1
                if progress:
                    progress(done, total)
    return result


def _accounts(customers: list[Customer], first: date, today: date, rng: random.Random) -> list[_Account]:
    """The customers with a contract in the demo's months, each with a plan (and perhaps a change)."""
    made = []
    plans, shares = list(PLAN_SHARES), list(PLAN_SHARES.values())
    for customer in customers:
        start, end = customer.contract_start, customer.contract_end
        if start is None or start > today or customer.status is CustomerStatus.prospect:
            continue
        if end is not None and end <= max(first, start):
            continue
        showcase = SHOWCASE_PLANS.get(customer.legal_name)
        plan = showcase or rng.choices(plans, shares)[0]
        change = None
        if showcase is None and rng.random() < PLAN_CHANGES:
            day = first + timedelta(days=rng.randint(35, max(35, (today - first).days - 2)))
            if max(start, first) < day < today and (end is None or day < end):
                bigger = plans[min(plans.index(plan) + 1, len(plans) - 1)]
                change = (day, bigger if bigger != plan else plans[0])
        size = {"starter": 1.0, "business": 6.0, "enterprise": 40.0}[plan]
        made.append(
            _Account(
                customer.id,
                start,
                end,
                plan,
                change,
                calls=size * rng.lognormvariate(math.log(400), 0.8),
                storage=size * rng.uniform(0.5, 25),
                projects=rng.randint(1, 4 if plan == "starter" else 14),
            )
        )
    return made


def _usage_rows(
    account: _Account, first: date, now: datetime, service_id: uuid.UUID, rng: random.Random
) -> list[dict[str, Any]]:
    """The usage the demo app reported for one account from ``first`` up to ``now``, as the
    usage API stores it: API calls, each report about one project, and the storage in use once a
    day, with the idempotency keys of :mod:`lawful.monitoring.traffic` (whose usage adds the
    seats active)."""
    today = now.date()
    now_ms = int(now.timestamp() * 1000)
    tag = account.customer_id.hex
    rows: list[dict[str, Any]] = []

    def add(key: str, code: str, ts: int, micros: int, properties: str) -> None:
        if ts <= now_ms:
            rows.append(
                {
                    "service_id": service_id,
                    "idempotency_key": f"demo:{tag}:{key}",
                    "customer_id": account.customer_id,
                    "user_id": None,
                    "code": code,
                    "ts": ts,
                    "value_micros": micros,
                    "properties": properties,
                    "received_at": ts + 60_000,  # reported within the minute
                }
            )

    # the properties as the usage API stores them: compact JSON with sorted keys
    projects = [
        json.dumps({"project": f"p{n}"}, separators=(",", ":")) for n in range(1, account.projects + 1)
    ]
    tier = json.dumps({"tier": "standard"}, separators=(",", ":"))
    day = max(first, account.starts_on)
    last = today if account.ends_on is None else min(today, account.ends_on - timedelta(days=1))
    storage = account.storage
    growth = 1.0
    while day <= last:
        midnight = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000
        factor = WEEKDAYS[day.weekday()]
        detailed = (today - day).days < DETAILED_DAYS
        for window, share in enumerate((0.08, 0.47, 0.38, 0.07) if detailed else (1.0,)):
            # every report is made (at least one call), so none of the traffic's is new
            mean = account.calls * growth * factor * share
            calls = max(1, int(rng.gauss(mean, account.calls * share * 0.15)))
            # at 5:59, 11:59, 17:59 and 23:59: no later than the traffic's (those plus 0-59 s)
            at = midnight + ((6 * window + 5 if detailed else 23) * 60 + 59) * 60_000
            key = f"{day}:api:{window}" if detailed else f"{day}:api"
            add(key, "api.call", at, calls * 1_000_000, rng.choice(projects))
        storage = max(0.1, storage * rng.uniform(0.995, 1.02))
        gigabytes = Decimal(f"{storage:.3f}")  # reported with three decimals
        # the nightly report at 02:00 (the traffic's: 02:00-02:29)
        add(f"{day}:storage", "storage.gb", midnight + 7_200_000, int(gigabytes * 1_000_000), tier)
        growth *= 1.003
        day += timedelta(days=1)
    return rows


def _store_usage(
    db: Database, accounts: list[_Account], first: date, now: datetime, rng: random.Random
) -> int:
    """Store every account's usage as the demo app's usage service had reported it; the number
    of events.

    The rows are those :func:`lawful.monitoring.usage.record` writes for the same events (its
    columns, the JSON of the properties, an idempotency key used once per service), written in
    bulk under the purpose the usage API records under. Sending the 57,000 events of 200
    customers through ``record`` (about 100 µs an event) would add 6 s or more to the demo;
    written in bulk they take 2.
    """
    with db.unit_of_work(USAGE_PURPOSE, ACTOR) as session:
        service = session.scalar(select(UsageService).where(UsageService.name == USAGE_SERVICE))
        if service is None:
            service, _ = usage.create_service(session, name=USAGE_SERVICE)
        rows = [row for account in accounts for row in _usage_rows(account, first, now, service.id, rng)]
        rows.sort(key=lambda row: (row["ts"], row["idempotency_key"]))  # in the order they came in
        maker = postgresql.insert if db.dialect == "postgresql" else sqlite.insert
        statement = maker(USAGE_EVENTS).on_conflict_do_nothing(
            index_elements=["service_id", "idempotency_key"]
        )
        for start in range(0, len(rows), 5000):
            session.execute(statement, rows[start : start + 5000])
    return len(rows)


@dataclass(frozen=True)
class _Step:
    """Something that happens on a day of the demo's months: an account's subscription changes
    (``action`` is ``subscribe``, ``change`` or ``cancel``) or a month is billed (``period``)."""

    day: date
    action: str
    account: _Account | None = None
    period: date | None = None


ORDER = {"subscribe": 0, "change": 1, "cancel": 2, "bill": 3}


def _day(step: _Step) -> date:
    return step.day


def _timeline(accounts: list[_Account], periods: list[date], settings: Settings, today: date) -> list[_Step]:
    """Subscriptions, plan changes, cancellations and the monthly billing, in the order of their days.

    The subscriptions that began before the first month are made the day before it; a month is
    billed and finalised when its grace days are over (today at the latest), after that day's
    subscription changes.
    """
    first = periods[0]
    steps = []
    for account in accounts:
        steps.append(_Step(max(account.starts_on, first - timedelta(days=1)), "subscribe", account))
        if account.change is not None:
            steps.append(_Step(account.change[0], "change", account))
        if account.ends_on is not None:
            steps.append(_Step(account.ends_on, "cancel", account))
    for period in periods:
        billed = min(today, next_month(period) + timedelta(days=settings.billing_grace_days))
        steps.append(_Step(billed, "bill", period=period))
    return sorted(steps, key=lambda step: (step.day, ORDER[step.action]))


@dataclass(frozen=True)
class _Agreements:
    """What the demo's agreement records name: the published versions, the staff member who
    records them, and the sole proprietor who signed up on the website (its admin and IP address)."""

    terms: DocumentVersion
    statement: DocumentVersion
    staff_id: uuid.UUID | None
    online: dict[uuid.UUID, tuple[uuid.UUID, str]]  # customer -> (admin user, IP address)


#: Where the demo's sign-up came from: an address of TEST-NET-3 (RFC 5737), never a real one.
SIGNUP_IP = "203.0.113.42"


def _agreement_context(db: Database, settings: Settings, customers: list[Customer]) -> _Agreements:
    """Publish the statement and the terms (as the app does when it starts) and find who records
    the demo's agreements."""
    with db.unit_of_work("contract", ACTOR) as session:
        statement, _ = agreement_documents.publish(session, agreement_documents.statement_document(db.policy))
        terms, _ = agreement_documents.publish(
            session, agreement_documents.terms_document(settings.terms or None)
        )
        online: dict[uuid.UUID, tuple[uuid.UUID, str]] = {}
        for customer in customers:
            if (
                customer.kind is not CustomerKind.sole_proprietor
                or customer.status is not CustomerStatus.active
            ):
                continue
            admin = session.scalar(
                select(User.id)
                .where(
                    User.customer_id == customer.id,
                    User.role == UserRole.admin,
                    User.status == AccountStatus.active,
                )
                .order_by(User.created_at, User.id)
                .limit(1)
            )
            if admin is not None:
                online[customer.id] = (admin, SIGNUP_IP)
                break
    with db.unit_of_work("staff_access", ACTOR) as session:
        email = next(e for role, e, _ in STAFF if role is StaffRole.finance)
        finance = users_repo.by_email(session, PrincipalKind.staff, email)
        staff_id = finance.id if finance is not None else None
    return _Agreements(terms, statement, staff_id, online)


def _how(
    context: _Agreements, day: date, note: str, *, user: tuple[uuid.UUID, str] | None = None
) -> agreements.Acceptance:
    """An acceptance on ``day``: by the customer's admin on the website, or recorded by staff."""
    at = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
    if user is not None:
        return agreements.Acceptance(
            AgreementChannel.self_service,
            user_id=user[0],
            ip_address=user[1],
            accepted_at=at,
            terms=context.terms,
            statement=context.statement,
        )
    return agreements.Acceptance(
        AgreementChannel.console,
        staff_id=context.staff_id,
        accepted_at=at,
        terms=context.terms,
        statement=context.statement,
        note=note,
    )


def _apply(session: Session, step: _Step, plan_ids: dict[str, uuid.UUID], context: _Agreements) -> int:
    """Carry out a subscription change, recorded as an agreement event; the number of
    subscriptions it made."""
    account = step.account
    assert account is not None
    customer_id = account.customer_id
    if step.action == "subscribe":
        customer = session.get(Customer, customer_id)
        assert customer is not None
        status = customer.status
        day = account.starts_on
        how = _how(context, day, f"signed order form {day.isoformat()}", user=context.online.get(customer_id))
        agreements.conclude(session, customer_id, plan_ids[account.plan], starts_on=day, how=how)
        customer.status = status  # a suspended customer stays suspended
        return 1
    if step.action == "change" and account.change is not None:
        day, plan = account.change
        how = _how(context, day, f"plan change asked by e-mail {day.isoformat()}")
        agreements.change_plan(session, customer_id, plan_ids[plan], starts_on=day, how=how)
        return 1
    if step.action == "cancel" and account.ends_on is not None:
        day = account.ends_on
        how = _how(context, day, f"notice of termination received {day.isoformat()}")
        agreements.cancel(session, customer_id, on=day, how=how)
    return 0


# --- VAT numbers ------------------------------------------------------------------------------


def vat_number(rng: random.Random, country: str, *, sole: bool = False) -> str | None:
    """A VAT number with valid check digits for ``country`` (NL, BE, DE, FR), else None."""
    if country == "NL":
        while True:
            digits = [rng.randint(0, 9) for _ in range(8)]
            digits[0] = digits[0] or 1
            check = sum((9 - i) * d for i, d in enumerate(digits)) % 11
            if check < 10:
                return f"NL{''.join(map(str, digits))}{check}B{rng.randint(1, 2) if sole else 1:02d}"
    if country == "BE":
        base = rng.randint(2_000_000, 19_999_999)
        return f"BE{base:08d}{97 - base % 97:02d}"
    if country == "DE":
        digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(7)]
        product = 10
        for d in digits:  # ISO 7064 MOD 11,10
            total = (d + product) % 10 or 10
            product = (2 * total) % 11
        return f"DE{''.join(map(str, digits))}{(11 - product) % 10}"
    if country == "FR":
        digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(7)]
        luhn = sum(
            d if i % 2 == 1 else (2 * d if 2 * d < 10 else 2 * d - 9) for i, d in enumerate(reversed(digits))
        )
        siren = int("".join(map(str, digits)) + str((10 - luhn % 10) % 10))
        return f"FR{(12 + 3 * (siren % 97)) % 97:02d}{siren:09d}"
    return None
