"""The bundle handed to an authority: a ZIP of what was disclosed, described by a manifest.

For each person a disclosure was about, the bundle holds the data Lawful has about them, found
by the same annotation-driven gathering as the access report (:func:`lawful.rights.access.gather`),
cut down to the columns whose category was disclosed (a broader key covers its narrower ones:
``user.contact.address`` takes the street, postal code, city and country), with each row's key.
Credentials are never shown, as in the access report. The ZIP holds, in this order:

- ``data.json``: the disclosure's facts and, per person and table, the columns and rows;
- ``tables/<table>.csv``: one file per table, a row per person and record (UTF-8, a header);
- ``manifest.json``: the disclosure's facts, the controller, when it was generated, and each file
  above with its size in bytes and its SHA-256;
- ``SHA256SUMS``: the SHA-256 of every file above and of the manifest, as ``sha256sum -c`` reads it.

The SHA-256 of the manifest is stored in the register (``Disclosure.bundle_sha256``): the bundle
generated last is the one on record, and any copy of it can be checked against the register.

The reading is done as a system job named after the disclosure, each table under the purpose it
is kept under; the privacy officer's right to it is checked first.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import MetaData, Table

from lawful.authorities import service
from lawful.data.annotations import column_category, personal_columns
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.policy.model import Policy
from lawful.rights.access import Found, gather, jsonable
from lawful.rights.subjects import Subject, links, purpose_of, root_table

FORMAT = "lawful-disclosure-bundle/1"
MANIFEST_FORMAT = "lawful-disclosure-manifest/1"
DATA = "data.json"
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
MEDIA_TYPE = "application/zip"


@dataclass(frozen=True, slots=True)
class Bundle:
    filename: str
    content: bytes
    manifest_sha256: str


def covers(keys: Iterable[str], category: str | None) -> bool:
    """Whether ``category`` is one of the disclosed ``keys`` or narrower than one."""
    if not category:
        return False
    return any(category == k or category.startswith(k + ".") for k in keys)


def disclosed_columns(table: Table, keys: list[str]) -> list[str]:
    """The row key and the columns of a disclosed category, in the table's order ([] if none)."""
    chosen = {c.name for c in personal_columns(table) if covers(keys, column_category(c))}
    if not chosen:
        return []
    primary = {c.name for c in table.primary_key.columns}
    return [c.name for c in table.columns if c.name in primary or c.name in chosen]


def purposes_for(metadata: MetaData, policy: Policy, subject: Subject, keys: list[str]) -> set[str]:
    """The purposes of the tables holding a disclosed column about this kind of person."""
    root = root_table(metadata, subject.kind)
    return {
        purpose_of(link.table, policy)
        for link in links(metadata, root)
        if disclosed_columns(link.table, keys)
    }


def _rows(entry: Found, columns: list[str]) -> list[dict[str, Any]]:
    rows = [{name: row.get(name) for name in columns} for row in entry.rows.values()]
    keys = [c.name for c in entry.table.primary_key.columns]
    return sorted(rows, key=lambda r: tuple(str(r.get(k)) for k in keys))


def collect(db: Database, entry: service.Entry) -> list[dict[str, Any]]:
    """Per person: whether they were found and, per table with a disclosed column, its rows."""
    from lawful.schema import metadata

    policy = db.policy
    keys = entry.categories
    job = Actor.system(f"disclosure:{entry.disclosure.id}")
    wanted = {s: purposes_for(metadata, policy, s, keys) for s in entry.subjects}
    roots = {purpose_of(root_table(metadata, s.kind), policy) for s in entry.subjects}
    needed = set().union(*wanted.values(), roots)
    ordered = [p.key for p in policy.purposes if p.key in needed]
    people: list[dict[str, Any]] = []
    with db.purposes(job, *ordered) as work:
        for subject in entry.subjects:
            found = gather(work, policy, metadata, subject, only=wanted[subject])
            tables = []
            for item in sorted(found or [], key=lambda f: f.table.name):
                columns = disclosed_columns(item.table, keys)
                if not columns:
                    continue
                tables.append(
                    {
                        "table": item.table.name,
                        "purpose": item.purpose,
                        "columns": [
                            {"name": name, "category": column_category(item.table.c[name])}
                            for name in columns
                        ],
                        "rows": _rows(item, columns),
                    }
                )
            people.append(
                {
                    "kind": subject.kind.value,
                    "id": str(subject.id),
                    "found": found is not None,
                    "tables": tables,
                }
            )
    return people


def facts(entry: service.Entry) -> dict[str, Any]:
    d = entry.disclosure
    return {
        "id": str(d.id),
        "authority": d.authority,
        "authority_kind": d.authority_kind,
        "legal_ground": d.legal_ground,
        "order_reference": d.order_reference,
        "disclosed_on": d.disclosed_on.isoformat(),
        "officer_id": jsonable(d.officer_id),
        "categories": entry.categories,
        "description": d.description,
        "confidential_until": jsonable(d.confidential_until),
        "registered_at": jsonable(d.created_at),
        "subjects": [{"kind": s.kind.value, "id": str(s.id)} for s in entry.subjects],
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def table_files(people: list[dict[str, Any]]) -> dict[str, bytes]:
    """``tables/<table>.csv`` per table: the person's kind and id, then the disclosed columns."""
    columns: dict[str, list[str]] = {}
    rows: dict[str, list[list[str]]] = {}
    for person in people:
        for table in person["tables"]:
            names = [c["name"] for c in table["columns"]]
            columns.setdefault(table["table"], names)
            rows.setdefault(table["table"], []).extend(
                [person["kind"], person["id"], *(_cell(r.get(n)) for n in names)] for r in table["rows"]
            )
    files: dict[str, bytes] = {}
    for name in sorted(columns):
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["subject_kind", "subject_id", *columns[name]])
        writer.writerows(rows[name])
        files[f"tables/{name}.csv"] = out.getvalue().encode()
    return files


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _zip(files: dict[str, bytes], when: datetime) -> bytes:
    out = io.BytesIO()
    stamp = when.astimezone(UTC).timetuple()[:6]
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    return out.getvalue()


def build(db: Database, disclosure_id: uuid.UUID, *, officer: Actor, now: datetime | None = None) -> Bundle:
    """Generate the bundle of a disclosure and record its manifest's SHA-256 in the register."""
    entry = service.get_for(db, officer, disclosure_id)
    generated = now or datetime.now(UTC)
    org = db.policy.organisation
    disclosure = facts(entry)
    people = collect(db, entry)
    files: dict[str, bytes] = {
        DATA: _json({"format": FORMAT, "disclosure": disclosure, "subjects": people}),
        **table_files(people),
    }
    manifest = {
        "format": MANIFEST_FORMAT,
        "generated_at": generated.isoformat(),
        "controller": {
            "name": org.name,
            "address": org.address,
            "email": org.email,
            "phone": org.phone,
            "registration": org.registration,
        },
        "policy_version": db.policy.version,
        "disclosure": disclosure,
        "files": [
            {"name": name, "bytes": len(content), "sha256": sha256(content)}
            for name, content in files.items()
        ],
    }
    files[MANIFEST] = _json(manifest)
    files[SUMS] = "".join(f"{sha256(content)}  {name}\n" for name, content in files.items()).encode()
    digest = sha256(files[MANIFEST])
    service.set_bundle_hash(db, officer, disclosure_id, digest)
    name = f"disclosure-{entry.disclosure.disclosed_on.isoformat()}-{entry.disclosure.id}.zip"
    return Bundle(name, _zip(files, generated), digest)
