"""Demo data: a realistic, repeatable set of customers and contact persons.

Loaded through the same services and purpose-bound sessions as real data (purpose
``contract``, actor ``system:demo``), so the processing log shows how it came in.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy.orm import Session

from lawful.customers import repository, service
from lawful.customers.models import Customer, CustomerKind
from lawful.data.db import Database
from lawful.data.purpose import Actor

FIRST = [
    "Anna",
    "Bram",
    "Chantal",
    "Daan",
    "Eva",
    "Femke",
    "Gijs",
    "Hanna",
    "Iris",
    "Jasper",
    "Kim",
    "Lars",
    "Maud",
    "Noah",
    "Olga",
    "Pieter",
    "Quinten",
    "Roos",
    "Sven",
    "Tess",
    "Umut",
    "Vera",
    "Wouter",
    "Yara",
    "Zoë",
    "Fatima",
    "Mohamed",
    "Sanne",
    "Thijs",
    "Lotte",
]
LAST = [
    "de Vries",
    "Jansen",
    "van den Berg",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
    "Brouwer",
    "de Wit",
    "Dijkstra",
    "Smits",
    "de Graaf",
    "van der Meer",
    "Kok",
    "Jacobs",
    "Yılmaz",
    "El Amrani",
]
TRADE = [
    "Software",
    "Logistiek",
    "Advies",
    "Design",
    "Installaties",
    "Bouw",
    "Zorg",
    "Media",
    "Data",
    "Techniek",
    "Vertalingen",
    "Fotografie",
    "Administratie",
    "Marketing",
]
CITIES = [
    ("Amsterdam", "10"),
    ("Rotterdam", "30"),
    ("Utrecht", "35"),
    ("Den Haag", "25"),
    ("Eindhoven", "56"),
    ("Groningen", "97"),
    ("Leiden", "23"),
    ("Zwolle", "80"),
    ("Breda", "48"),
]
STREETS = [
    "Kerkstraat",
    "Dorpsstraat",
    "Molenweg",
    "Stationsplein",
    "Beukenlaan",
    "Prinsengracht",
    "Industrieweg",
    "Havenkade",
    "Nieuwe Binnenweg",
]
FOREIGN = [("BE", "Antwerpen", "2000"), ("DE", "Köln", "50667"), ("FR", "Lille", "59000")]
ACTOR = Actor.system("demo")


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower().replace(" ", "-") if ch.isalnum() or ch == "-").strip("-")


def load_demo(
    db: Database, *, customers: int = 200, seed: int = 2026, progress: Callable[[int], None] | None = None
) -> int:
    """Load ``customers`` customers (about a third sole proprietors) unless some already exist.

    Returns the number of customers created; calls ``progress(n)`` after each batch of ``n``.
    """
    rng = random.Random(seed)
    with db.unit_of_work("contract", ACTOR) as session:
        if repository.count(session):
            return 0
    created = 0
    batch = 50
    for start in range(0, customers, batch):
        with db.unit_of_work("contract", ACTOR) as session:
            for _ in range(start, min(start + batch, customers)):
                _one(session, rng)
                created += 1
        if progress:
            progress(min(batch, customers - start))
    return created


def _one(session: Session, rng: random.Random) -> Customer:
    person = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    sole = rng.random() < 0.35
    trade = rng.choice(TRADE)
    legal_name = f"{person} {trade}" if sole else f"{rng.choice(LAST).split()[-1].title()} {trade} B.V."
    country, city, postal = "NL", *rng.choice(CITIES)
    if not sole and rng.random() < 0.1:
        country, city, postal = rng.choice(FOREIGN)
    else:
        postal = (
            f"{postal}{rng.randint(10, 99)} {rng.choice('ABCDEFGHJKLMNPRSTVWXZ')}{rng.choice('ABEHKLNRST')}"
        )
    domain = f"{_slug(legal_name.removesuffix(' B.V.'))}.example"
    start = date(2024, 1, 1) + timedelta(days=rng.randint(0, 1000))
    customer = service.create_customer(
        session,
        kind=CustomerKind.sole_proprietor if sole else CustomerKind.company,
        legal_name=legal_name,
        billing_email=f"billing@{domain}",
        kvk_number=f"{rng.randint(10_000_000, 99_999_999)}" if country == "NL" else None,
        street=f"{rng.choice(STREETS)} {rng.randint(1, 200)}",
        postal_code=postal,
        city=city,
        country=country,
        contract_start=start,
    )
    session.flush()
    for _ in range(1 if sole else rng.randint(1, 3)):
        name = person if sole else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        service.add_contact(
            session,
            customer,
            name=name,
            email=f"{_slug(name.split()[0])}@{domain}",
            phone=f"+31 6 {rng.randint(10_000_000, 99_999_999)}",
        )
    return customer
