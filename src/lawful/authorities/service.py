"""The register of disclosures to government agencies and regulators.

The privacy officer registers each disclosure a law or an order obliged: the authority (one of
the recipients the policy's legal-obligation purpose names, or another one named with its kind),
the legal ground or the order's reference (at least one), the day, the kinds of data (fideslang
keys the policy declares), the people it was about, and, when the order says so, until when the
disclosure is kept from those people's access reports. The officer who registers it is recorded
as the one who made it.

Everything here runs under ``legal_obligation``, the purpose the statement names for disclosures,
and only for an actor who may also act under ``accountability`` (the privacy officer; finance,
which also works under the legal obligation, keeps invoices but does not disclose).

:func:`disclosed_recipients` gives the Art. 30 record the authorities actually disclosed to; a
disclosure an order still keeps confidential is left out of it until its day, as it is left out
of access reports.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from fideslang.default_taxonomy import DEFAULT_TAXONOMY
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from lawful.authorities.models import Disclosure, DisclosureSubject
from lawful.data.annotations import table_subject
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.errors import Invalid, NotFound
from lawful.policy.model import Policy, Recipient
from lawful.policy.render import DisclosedTo
from lawful.rights.models import SubjectKind
from lawful.rights.subjects import Subject, root_table

PURPOSE = "legal_obligation"
#: The purposes of the role that discloses: accounting for processing, and the legal obligation.
OFFICER_PURPOSES = ("accountability", PURPOSE)
KINDS = ("authority", "regulator")
PEOPLE = (SubjectKind.user, SubjectKind.contact_person, SubjectKind.sole_proprietor)
MAX_SUBJECTS = 1000
MAX_CATEGORIES = 50
RECORD = Actor.system("record-of-processing")


def today() -> date:
    return datetime.now(UTC).date()


def check_officer(db: Database, actor: Actor) -> None:
    """Refuse an actor who may not act under every purpose of :data:`OFFICER_PURPOSES` (403)."""
    for purpose in OFFICER_PURPOSES:
        db.authorise(purpose, actor)


# --- what the policy offers ---------------------------------------------------------------------


def authorities(policy: Policy) -> list[Recipient]:
    """The authorities and regulators the legal-obligation purpose names as recipients."""
    try:
        purpose = policy.purpose(PURPOSE)
    except KeyError:
        return []
    return [r for r in purpose.recipients if r.kind in KINDS]


@dataclass(frozen=True, slots=True)
class CategoryChoice:
    key: str
    label: str
    purpose: str


def category_choices(policy: Policy) -> list[CategoryChoice]:
    """The categories the policy declares, those of the legal obligation first, each key once."""
    seen: dict[str, CategoryChoice] = {}
    ordered = sorted(policy.purposes, key=lambda p: p.key != PURPOSE)
    for purpose in ordered:
        for category in purpose.categories:
            seen.setdefault(category.key, CategoryChoice(category.key, category.label, purpose.key))
    return list(seen.values())


def _taxonomy() -> frozenset[str]:
    return frozenset(c.fides_key for c in DEFAULT_TAXONOMY.data_category)


def check_categories(policy: Policy, keys: Iterable[str]) -> list[str]:
    """The disclosed categories, checked and sorted: each a fideslang key that a purpose of the
    policy declares (itself or a broader key)."""
    wanted = sorted({k.strip() for k in keys if k.strip()})
    if not wanted:
        raise Invalid("name the kinds of data disclosed", detail={"field": "categories"})
    if len(wanted) > MAX_CATEGORIES:
        raise Invalid(f"at most {MAX_CATEGORIES} kinds of data", detail={"field": "categories"})
    taxonomy = _taxonomy()
    unknown = [k for k in wanted if k not in taxonomy]
    if unknown:
        raise Invalid(
            f"not fideslang data categories: {', '.join(unknown)}",
            detail={"field": "categories", "unknown": unknown},
        )
    undeclared = [k for k in wanted if not policy.purposes_covering(k)]
    if undeclared:
        raise Invalid(
            f"the policy declares no processing of {', '.join(undeclared)}, so it cannot have been disclosed",
            detail={"field": "categories", "undeclared": undeclared},
        )
    return wanted


def _authority(policy: Policy, name: str, kind: str | None) -> tuple[str, str]:
    name = " ".join(name.split())
    if not name:
        raise Invalid("name the authority", detail={"field": "authority"})
    if len(name) > 200:
        raise Invalid("the authority's name is at most 200 characters", detail={"field": "authority"})
    for recipient in authorities(policy):
        if recipient.name.casefold() == name.casefold():
            if kind is not None and kind != recipient.kind:
                raise Invalid(
                    f"the policy names {recipient.name} as a {recipient.kind}",
                    detail={"field": "authority_kind"},
                )
            return recipient.name, recipient.kind
    if kind not in KINDS:
        raise Invalid(
            "say whether the authority is a government agency (authority) or a regulator",
            detail={"field": "authority_kind"},
        )
    return name, kind


def parse_subject(text: str) -> Subject:
    """A person written ``kind:id`` (``user:…``, ``contact_person:…``, ``sole_proprietor:…``)."""
    kind, _, value = text.strip().partition(":")
    try:
        subject_kind = SubjectKind(kind.strip())
        subject_id = uuid.UUID(value.strip())
    except ValueError:
        raise Invalid(
            f"{text.strip()[:80]!r} is not a person: write kind:id, the kind being "
            f"{', '.join(k.value for k in PEOPLE)}",
            detail={"field": "subjects"},
        ) from None
    return Subject(subject_kind, subject_id)


def _existing(session: Session, subjects: Sequence[Subject]) -> list[Subject]:
    """The subjects that exist, checked per kind in the person's own table."""
    from lawful.schema import metadata

    by_kind: dict[SubjectKind, set[uuid.UUID]] = defaultdict(set)
    for s in subjects:
        by_kind[s.kind].add(s.id)
    found: set[Subject] = set()
    for kind, ids in by_kind.items():
        root = root_table(metadata, kind)
        key = root.primary_key.columns[0]
        query = select(key).where(key.in_(sorted(ids)))
        spec = table_subject(root)
        if spec is not None and spec.when is not None:
            column, expected = spec.when
            query = query.where(root.c[column] == expected)
        found |= {Subject(kind, i) for i in session.scalars(query)}
    return [s for s in subjects if s in found]


def check_subjects(session: Session, subjects: Iterable[Subject]) -> list[Subject]:
    people = sorted(set(subjects), key=lambda s: (s.kind.value, s.id))
    if not people:
        raise Invalid("name the people the disclosure was about", detail={"field": "subjects"})
    if len(people) > MAX_SUBJECTS:
        raise Invalid(f"at most {MAX_SUBJECTS} people in one disclosure", detail={"field": "subjects"})
    wrong = [s for s in people if s.kind not in PEOPLE]
    if wrong:
        raise Invalid(
            f"a disclosure is about {', '.join(k.value for k in PEOPLE)}; not {wrong[0].kind.value}",
            detail={"field": "subjects"},
        )
    existing = set(_existing(session, people))
    unknown = [str(s) for s in people if s not in existing]
    if unknown:
        raise Invalid(
            f"no such person: {', '.join(unknown[:5])}{' …' if len(unknown) > 5 else ''}",
            detail={"field": "subjects", "unknown": unknown},
        )
    return people


# --- registering, listing, reading --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One disclosure with the people it was about."""

    disclosure: Disclosure
    subjects: list[Subject]

    @property
    def categories(self) -> list[str]:
        return categories_of(self.disclosure)


def categories_of(disclosure: Disclosure) -> list[str]:
    return [c for c in disclosure.categories.split(",") if c]


def is_confidential(disclosure: Disclosure, on: date | None = None) -> bool:
    """Whether an order still keeps the disclosure from the subjects' access reports on ``on``."""
    until = disclosure.confidential_until
    return until is not None and until > (on or today())


def register(
    db: Database,
    *,
    officer: Actor,
    authority: str,
    authority_kind: str | None = None,
    legal_ground: str = "",
    order_reference: str = "",
    disclosed_on: date,
    categories: Iterable[str],
    subjects: Iterable[Subject],
    description: str = "",
    confidential_until: date | None = None,
    on: date | None = None,
) -> Entry:
    """Register a disclosure (see the module); ``on`` is today (tests pass a day of their own)."""
    check_officer(db, officer)
    policy = db.policy
    name, kind = _authority(policy, authority, authority_kind)
    ground, reference = " ".join(legal_ground.split()), " ".join(order_reference.split())
    if not ground and not reference:
        raise Invalid(
            "give the legal ground or the reference of the order (or both)", detail={"field": "legal_ground"}
        )
    if len(ground) > 300 or len(reference) > 200:
        field = "legal_ground" if len(ground) > 300 else "order_reference"
        raise Invalid(
            "too long: the legal ground is at most 300 characters, the reference 200", detail={"field": field}
        )
    current = on or today()
    if disclosed_on > current:
        raise Invalid(
            "a disclosure cannot be registered before it happened", detail={"field": "disclosed_on"}
        )
    if confidential_until is not None and confidential_until < disclosed_on:
        raise Invalid(
            "confidential until a day before the disclosure? leave it empty when no order keeps it confidential",
            detail={"field": "confidential_until"},
        )
    keys = check_categories(policy, categories)
    text = description.strip()
    if len(text) > 2000:
        raise Invalid("the description is at most 2,000 characters", detail={"field": "description"})
    with db.unit_of_work(PURPOSE, officer) as session:
        people = check_subjects(session, subjects)
        disclosure = Disclosure(
            authority=name,
            authority_kind=kind,
            legal_ground=ground,
            order_reference=reference,
            disclosed_on=disclosed_on,
            officer_id=uuid.UUID(officer.id) if officer.kind == "staff" else None,
            categories=",".join(keys),
            description=text,
            confidential_until=confidential_until,
        )
        session.add(disclosure)
        session.flush()
        session.add_all(
            DisclosureSubject(
                disclosure_id=disclosure.id,
                subject_kind=s.kind.value,
                subject_id=s.id,
                disclosed_on=disclosure.disclosed_on,
            )
            for s in people
        )
    return Entry(disclosure, people)


def listing(session: Session, *, limit: int = 100, offset: int = 0) -> list[tuple[Disclosure, int]]:
    """Disclosures, the latest first, each with the number of people it was about."""
    counts = (
        select(DisclosureSubject.disclosure_id, func.count().label("n"))
        .group_by(DisclosureSubject.disclosure_id)
        .subquery()
    )
    rows = session.execute(
        select(Disclosure, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.disclosure_id == Disclosure.id)
        .order_by(Disclosure.disclosed_on.desc(), Disclosure.created_at.desc(), Disclosure.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [(d, int(n)) for d, n in rows]


def subjects_of(session: Session, disclosure_id: uuid.UUID) -> list[Subject]:
    rows = session.execute(
        select(DisclosureSubject.subject_kind, DisclosureSubject.subject_id).where(
            DisclosureSubject.disclosure_id == disclosure_id
        )
    ).all()
    return sorted((Subject(SubjectKind(k), i) for k, i in rows), key=lambda s: (s.kind.value, s.id))


def get(session: Session, disclosure_id: uuid.UUID) -> Entry:
    disclosure = session.get(Disclosure, disclosure_id)
    if disclosure is None:
        raise NotFound("no disclosure with that id")
    return Entry(disclosure, subjects_of(session, disclosure_id))


def list_for(
    db: Database, officer: Actor, *, limit: int = 100, offset: int = 0
) -> list[tuple[Disclosure, int]]:
    check_officer(db, officer)
    with db.unit_of_work(PURPOSE, officer) as session:
        return listing(session, limit=limit, offset=offset)


def get_for(db: Database, officer: Actor, disclosure_id: uuid.UUID) -> Entry:
    check_officer(db, officer)
    with db.unit_of_work(PURPOSE, officer) as session:
        return get(session, disclosure_id)


def set_bundle_hash(db: Database, officer: Actor, disclosure_id: uuid.UUID, sha256: str) -> None:
    with db.unit_of_work(PURPOSE, officer) as session:
        disclosure = session.get(Disclosure, disclosure_id)
        if disclosure is None:
            raise NotFound("no disclosure with that id")
        disclosure.bundle_sha256 = sha256


# --- the record of processing -------------------------------------------------------------------


def disclosed_recipients(db: Database, *, on: date | None = None) -> list[DisclosedTo]:
    """The authorities disclosed to, for the Art. 30 record: per authority the number of
    disclosures and the first and last day, leaving out those an order still keeps confidential.

    These columns of the register hold no personal data; they are read as a system job, so that
    every staff member who may see the record sees it whole.
    """
    current = on or today()
    d = Disclosure
    with db.unit_of_work(PURPOSE, RECORD) as session:
        rows = session.execute(
            select(
                d.authority,
                d.authority_kind,
                func.count(),
                func.min(d.disclosed_on),
                func.max(d.disclosed_on),
            )
            .where(or_(d.confidential_until.is_(None), d.confidential_until <= current))
            .group_by(d.authority, d.authority_kind)
            .order_by(func.count().desc(), d.authority, d.authority_kind)
        ).all()
    merged: dict[str, DisclosedTo] = {}
    for name, kind, n, first, last in rows:  # one entry per name; its most frequent kind
        seen = merged.get(name.casefold())
        if seen is None:
            merged[name.casefold()] = DisclosedTo(name, kind, int(n), first, last)
        else:
            merged[name.casefold()] = DisclosedTo(
                seen.name, seen.kind, seen.count + int(n), min(seen.first, first), max(seen.last, last)
            )
    return sorted(merged.values(), key=lambda e: e.name.casefold())
