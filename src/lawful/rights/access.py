"""The access report (GDPR art. 15) and the portability package (art. 20).

:func:`package` gathers everything Lawful holds about one person, table by table through the
links the annotations give (:mod:`lawful.rights.subjects`), each table read under the purpose it
is kept under; and adds from the policy, per purpose, the legal basis, the categories with their
retention and source, the recipients, the subject's rights and the authority to complain to; the
processing-log entries by and about the person; and the disclosures made about them, except those
an authority's order keeps confidential until a day that has not come.

The package is a plain JSON-able dict (``FORMAT``); :mod:`lawful.rights.render` turns it into
the readable HTML and PDF report. Credentials are listed as present, never shown (art. 15(4)).
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, MetaData, Table, and_, or_, select

from lawful.authorities.models import Disclosure, DisclosureSubject
from lawful.data.annotations import column_category, personal_columns, table_subject
from lawful.data.base import table_of
from lawful.data.db import Database, Purposes
from lawful.data.log import ProcessingRecord
from lawful.data.purpose import Actor
from lawful.policy.model import Policy, Purpose
from lawful.rights.models import SubjectKind
from lawful.rights.subjects import CREDENTIALS, Subject, links, purpose_of, root_table

FORMAT = "lawful-access-package/1"

#: The fideslang data subject of each kind of person.
FIDES_SUBJECT = {
    SubjectKind.user: "employee",
    SubjectKind.contact_person: "customer",
    SubjectKind.sole_proprietor: "customer",
    SubjectKind.visitor: "anonymous_user",
}

RIGHTS = [
    ("access", "GDPR art. 15", "to see the personal data we hold about you and get a copy"),
    ("rectification", "GDPR art. 16", "to have incorrect data corrected"),
    ("erasure", "GDPR art. 17", "to have your data erased when we no longer need it"),
    ("restriction", "GDPR art. 18", "to have the processing of your data restricted"),
    ("portability", "GDPR art. 20", "to receive your data in a machine-readable form"),
    ("objection", "GDPR art. 21", "to object to processing based on our legitimate interest"),
]

LINKS = {
    "own": "your own record",
    "subject": "records about you",
    "identifier": "records that name you",
    "agreement": "records of your agreement",
    "value": "records sent to or naming your address",
}


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, bytes | memoryview):
        raw = bytes(value)
        return {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
    return str(value)


#: The single-use secrets in mail not yet sent (invitation, password-reset and confirmation links).
LINK_SECRET = re.compile(r"(/invitation/|/reset/|[?&]token=)[A-Za-z0-9_\-]{8,}")
HIDDEN = "(stored; not shown, for your security)"


def _row(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in table.columns:
        value = row.get(column.name)
        if column_category(column) == CREDENTIALS and value is not None:
            out[column.name] = HIDDEN
        elif isinstance(value, str) and LINK_SECRET.search(value):
            # A link that still works would let whoever reads the package act as the person.
            out[column.name] = LINK_SECRET.sub(lambda m: m.group(1) + "(not shown)", value)
        elif table.name == "sealed_records" and column.name == "values" and isinstance(value, str):
            out[column.name] = json.loads(value)
        else:
            out[column.name] = jsonable(value)
    return out


@dataclass
class Found:
    """The rows of one table that are about the person."""

    table: Table
    purpose: str
    how: list[str]
    rows: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)


def purposes_needed(metadata: MetaData, policy: Policy, root: Table) -> list[str]:
    keys = {purpose_of(link.table, policy) for link in links(metadata, root)}
    keys |= {"accountability", "legal_obligation"}
    return [p.key for p in policy.purposes if p.key in keys]


def root_values(work: Purposes, policy: Policy, root: Table, subject: Subject) -> dict[str, Any] | None:
    own = links(root.metadata, root)[0]
    condition = own.condition(subject.id, {})
    assert condition is not None
    row = work.execute(purpose_of(root, policy), select(root).where(condition)).mappings().first()
    return dict(row) if row is not None else None


def gather(
    work: Purposes, policy: Policy, metadata: MetaData, subject: Subject, *, only: set[str] | None = None
) -> list[Found] | None:
    """The person's rows in every table (None when no such person exists)."""
    root = root_table(metadata, subject.kind)
    values = root_values(work, policy, root, subject)
    if values is None:
        return None
    found: dict[str, Found] = {}
    for link in links(metadata, root):
        purpose = purpose_of(link.table, policy)
        if only is not None and purpose not in only:
            continue
        condition = link.condition(subject.id, values)
        if condition is None:
            continue
        table = link.table
        entry = found.setdefault(table.name, Found(table, purpose, []))
        if link.how not in entry.how:
            entry.how.append(link.how)
        keys = [c.name for c in table.primary_key.columns]
        for row in work.execute(purpose, select(table).where(condition)).mappings():
            entry.rows[tuple(row[k] for k in keys)] = _row(table, dict(row))
    return [f for f in found.values() if f.rows]


def purpose_views(policy: Policy, fides_subject: str, categories: set[str]) -> list[dict[str, Any]]:
    """Per purpose of the statement covering ``categories`` about this kind of person: the why and how long."""
    views = []
    for purpose in policy.public_purposes:
        if fides_subject not in purpose.data_subjects:
            continue
        declared = {
            d.key: d
            for key in categories
            if (d := purpose.category(key)) is not None and (not d.subjects or fides_subject in d.subjects)
        }
        if not declared:
            continue
        views.append(_purpose_view(policy, purpose, list(declared.values())))
    return views


def _purpose_view(policy: Policy, purpose: Purpose, categories: list[Any]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "purpose": purpose.key,
        "title": purpose.title,
        "description": purpose.description,
        "activities": list(purpose.activities),
        "legal_basis": purpose.legal_basis.value,
        "legal_basis_label": purpose.legal_basis.label,
        "legal_basis_article": purpose.legal_basis.article,
        "basis_explanation": purpose.basis_explanation,
        "categories": [
            {
                "category": c.key,
                "label": c.label,
                "retention": c.retention.phrase,
                "retention_period": c.retention.period,
                "retention_trigger": c.retention.trigger.value,
                "source": c.source,
                "note": c.note,
            }
            for c in categories
        ],
        "recipients": [
            {
                "name": r.name,
                "kind": r.kind,
                "description": r.description,
                "condition": r.condition,
                "country": r.country,
            }
            for r in purpose.recipients
        ],
        "transfers": [t.model_dump() for t in purpose.transfers],
    }
    if purpose.assessment is not None:
        view["legitimate_interest"] = purpose.assessment.interest
        view["right_to_object"] = (
            "You may object to this processing at any time (GDPR art. 21); it then stops for you."
        )
    return view


def logged_about(subject: Subject) -> ColumnElement[bool]:
    """Processing-log entries about the person: they name the table whose row was about them, so
    the condition lists every table with a logged subject (the log's index then serves)."""
    from lawful.schema import metadata

    log = table_of(ProcessingRecord)
    logged = sorted(
        t.name for t in metadata.sorted_tables if (s := table_subject(t)) is not None and s.logged
    )
    return and_(log.c.subject_table.in_(logged), log.c.subject_id == str(subject.id))


def processing_entries(work: Purposes, subject: Subject) -> list[dict[str, Any]]:
    """Processing-log entries about the person and by the person (never naming staff members)."""
    key = str(subject.id)
    log = table_of(ProcessingRecord)
    rows = work.execute(
        "accountability",
        select(log).where(or_(logged_about(subject), log.c.actor_id == key)).order_by(log.c.at.desc()),
    ).mappings()
    out = []
    for row in rows:
        if row["actor_id"] == key:
            who = "you"
        elif row["actor_kind"] == "staff":
            who = "a staff member"
        elif row["actor_kind"] == "user":
            who = "another user of your company"
        else:
            who = f"our system ({row['actor_id']})"
        out.append(
            {
                "at": jsonable(row["at"]),
                "who": who,
                "purpose": row["purpose"],
                "operation": row["operation"],
                "table": row["table_name"],
                "categories": [c for c in row["categories"].split(",") if c],
                "statements": row["statements"],
                "about_you": row["subject_id"] == key,
            }
        )
    return out


def disclosures_about(work: Purposes, subject: Subject, today: date) -> list[dict[str, Any]]:
    """Disclosures to authorities about the person, leaving out those still kept confidential."""
    d = Disclosure.__table__
    s = DisclosureSubject.__table__
    rows = work.execute(
        "legal_obligation",
        select(d)
        .join(s, s.c.disclosure_id == d.c.id)
        .where(s.c.subject_id == subject.id)
        .where(or_(d.c.confidential_until.is_(None), d.c.confidential_until <= today))
        .order_by(d.c.disclosed_on),
    ).mappings()
    return [
        {
            "authority": r["authority"],
            "kind": r["authority_kind"],
            "legal_ground": r["legal_ground"],
            "order_reference": r["order_reference"],
            "disclosed_on": jsonable(r["disclosed_on"]),
            "categories": [c for c in r["categories"].split(",") if c],
        }
        for r in rows
    ]


def monitoring_note(policy: Policy) -> str:
    m = policy.monitoring
    return (
        "When you visit our website or use our online services, we count your visit under a code "
        "computed with a random key of the day. That key is destroyed after "
        f"{m.salt_lifetime_hours} hours; after that, nobody (we included) can tell which events were "
        f"yours, so they are not in this report. The events themselves are deleted after {m.raw_event_days} "
        "days; what remains are totals that identify nobody. Events of the browser you used to ask "
        "for this report, while its key still exists, are listed under 'monitoring'."
    )


def package(
    db: Database,
    subject: Subject,
    *,
    actor: Actor,
    scope: str = "access",
    today: date | None = None,
    visitor_events: list[dict[str, Any]] | None = None,
) -> dict[str, Any] | None:
    """The access package of ``subject`` (``scope="portability"``: what is processed under contract only).

    None when no such person exists; callers answer that without saying so (see the service).
    """
    from lawful.schema import metadata

    policy = db.policy
    now = datetime.now(UTC)
    today = today or now.date()
    root = root_table(metadata, subject.kind)
    only = {"contract"} if scope == "portability" else None
    with db.purposes(actor, *purposes_needed(metadata, policy, root)) as work:
        found = gather(work, policy, metadata, subject, only=only)
        if found is None:
            return None
        log = [] if scope == "portability" else processing_entries(work, subject)
        disclosures = [] if scope == "portability" else disclosures_about(work, subject, today)
    fides = FIDES_SUBJECT[subject.kind]
    categories: set[str] = set()
    data = []
    for entry in found:
        columns = [
            {"name": c.name, "category": column_category(c), "identifies": bool(c.info.get("identifies"))}
            for c in personal_columns(entry.table)
        ]
        categories |= {str(c["category"]) for c in columns if c["category"]}
        data.append(
            {
                "table": entry.table.name,
                "purpose": entry.purpose,
                "found_as": [LINKS[h] for h in entry.how],
                "personal_columns": columns,
                "rows": list(entry.rows.values()),
            }
        )
    if log:
        categories.add("user.unique_id")
    org = policy.organisation
    result: dict[str, Any] = {
        "format": FORMAT,
        "scope": scope,
        "generated_at": now.isoformat(),
        "controller": {"name": org.name, "address": org.address, "email": org.email, "phone": org.phone},
        "policy_version": policy.version,
        "subject": {"kind": subject.kind.value, "id": str(subject.id), "data_subject": fides},
        "data": data,
        "purposes": purpose_views(policy, fides, categories),
        "processing_log": log,
        "disclosures": disclosures,
        "monitoring": {"explanation": monitoring_note(policy), "linked_events": visitor_events or []},
        "rights": [{"right": r, "article": a, "what": w} for r, a, w in RIGHTS],
        "complaint": {
            "authority": org.supervisory_authority.name,
            "url": org.supervisory_authority.url,
            "address": org.supervisory_authority.address,
            "article": "GDPR art. 77",
        },
    }
    return result
