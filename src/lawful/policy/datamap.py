"""The policy and the annotated schema as fideslang manifests: one system, one dataset.

The system ``lawful`` carries a privacy declaration per purpose and data use (fideslang gives a
declaration exactly one data use, so a purpose with five uses becomes five declarations under
the purpose's title). The dataset ``lawful_db`` has a collection per table that holds personal
data, with each column's data category from its annotation. Only fields that fideslang 3.1's
models define are written: those models ignore unknown keys, so an invented key would vanish.
"""

from __future__ import annotations

import decimal
import uuid
from pathlib import PurePath
from typing import Any

import yaml
from sqlalchemy import Column, MetaData, String, Table

from lawful.data.annotations import NOT_PERSONAL, column_category, personal_columns, table_subject
from lawful.policy.model import LegalBasis, Policy, Purpose

SYSTEM_KEY = "lawful"
DATASET_KEY = "lawful_db"

# fideslang's LegalBasisForProcessingEnum values
FIDES_LEGAL_BASIS = {
    LegalBasis.consent: "Consent",
    LegalBasis.contract: "Contract",
    LegalBasis.legal_obligation: "Legal obligations",
    LegalBasis.vital_interests: "Vital interests",
    LegalBasis.public_task: "Public interest",
    LegalBasis.legitimate_interests: "Legitimate interests",
}

# the identity types Fides searches a data-subject request by
IDENTITY = {"user.contact.email": "email", "user.contact.phone_number": "phone_number"}


def _declarations(policy: Policy, purpose: Purpose) -> list[dict[str, Any]]:
    shared = [r for r in purpose.recipients if r.kind != "internal"]
    source = PurePath(policy.source).name if policy.source else "policy.toml"
    out = []
    for use in purpose.data_uses:
        d: dict[str, Any] = {
            "name": purpose.title,
            "data_categories": [c.key for c in purpose.categories],
            "data_use": use,
            "data_subjects": list(purpose.data_subjects),
            "dataset_references": [DATASET_KEY],
            "legal_basis_for_processing": FIDES_LEGAL_BASIS[purpose.legal_basis],
            "flexible_legal_basis_for_processing": False,
            "retention_period": "; ".join(
                f"{c.key}: {c.retention.phrase} ({c.retention.period})" for c in purpose.categories
            ),
            "data_shared_with_third_parties": bool(shared),
        }
        if purpose.assessment is not None:
            d["impact_assessment_location"] = f"{source}, [purposes.{purpose.key}.assessment]"
        if shared:
            d["third_parties"] = ", ".join(r.name for r in shared)
            d["shared_categories"] = [c.key for c in purpose.categories]
        out.append(d)
    return out


def system_manifest(policy: Policy) -> dict[str, Any]:
    """The fideslang ``system`` resource: the controller and a declaration per purpose and data use."""
    org = policy.organisation
    transfers = [t for p in policy.purposes for t in p.transfers]
    measures = list(dict.fromkeys(m for p in policy.purposes for m in p.measures))
    system: dict[str, Any] = {
        "fides_key": SYSTEM_KEY,
        "name": "Lawful",
        "description": (
            f"The back office of {org.name}: customers, users, customer service, invoices, "
            "usage monitoring and metering, enforced by policy version "
            f"{policy.version} (effective {policy.effective.isoformat()})."
        ),
        "system_type": "Service",
        "legal_name": org.name,
        "legal_address": org.address,
        "responsibility": ["Controller"],
        "processes_personal_data": True,
        "does_international_transfers": bool(transfers),
        "legal_basis_for_transfers": list(dict.fromkeys(t.safeguard for t in transfers)),
        "dataset_references": [DATASET_KEY],
        "data_security_practices": "\n".join(measures),
        "privacy_declarations": [d for p in policy.purposes for d in _declarations(policy, p)],
    }
    if org.dpo is not None:
        system["dpo"] = f"{org.dpo.name} <{org.dpo.email}>"
    return system


def _data_type(column: Column[Any]) -> str | None:
    """The fideslang data type of a column, where one fits."""
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return None
    if issubclass(python_type, bool):
        return "boolean"
    if issubclass(python_type, int):
        return "integer"
    if issubclass(python_type, float | decimal.Decimal):
        return "float"
    if issubclass(python_type, str | uuid.UUID):
        return "string"
    return None


def _field(table: Table, column: Column[Any]) -> dict[str, Any]:
    field: dict[str, Any] = {"name": str(column.name)}
    spec = table_subject(table)
    category = column_category(column)
    notes: list[str] = []
    if category:
        if spec and spec.when:
            notes.append(f"personal data where {spec.when[0]} = {spec.when[1]}")
        if column.info.get("identifies"):
            notes.append("identifies the data subject on its own")
    elif NOT_PERSONAL in column.info:
        notes.append(f"not personal data: {column.info[NOT_PERSONAL]}")
    if spec and column.name == spec.key:
        notes.append(f"identifies the data subject ({spec.kind}) of a row")
    if notes:
        field["description"] = "; ".join(notes)
    if category:
        field["data_categories"] = [category]
    meta: dict[str, Any] = {}
    if column.primary_key:
        meta["primary_key"] = True
    data_type = _data_type(column)
    if data_type:
        meta["data_type"] = data_type
    length = getattr(column.type, "length", None) if isinstance(column.type, String) else None
    if isinstance(length, int) and length > 0:
        meta["length"] = length
    if category in IDENTITY and column.info.get("identifies"):
        meta["identity"] = IDENTITY[category]
    references = [
        {"dataset": DATASET_KEY, "field": f"{fk.column.table.name}.{fk.column.name}", "direction": "from"}
        for fk in column.foreign_keys
    ]
    if references:
        meta["references"] = references
    if meta:
        field["fides_meta"] = meta
    return field


def dataset_manifest(metadata: MetaData) -> dict[str, Any]:
    """The fideslang ``dataset`` resource: a collection per table holding personal data."""
    collections = []
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        spec = table_subject(table)
        if not personal_columns(table) and spec is None:
            continue
        collection: dict[str, Any] = {"name": str(table.name)}
        if spec is not None:
            collection["description"] = f"data subject of a row: {spec.kind}, identified by {spec.key}" + (
                f", where {spec.when[0]} = {spec.when[1]}" if spec.when else ""
            )
            collection["data_subjects"] = [spec.kind]
        collection["fields"] = [_field(table, c) for c in table.columns]
        collections.append(collection)
    return {
        "fides_key": DATASET_KEY,
        "name": "Lawful database",
        "description": "The tables of Lawful; each personal-data column carries its fideslang data category.",
        "collections": collections,
    }


class _Dumper(yaml.SafeDumper):
    """Safe YAML, with text of several lines as a literal block."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and not any(line != line.rstrip() for line in value.splitlines()) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render_datamap(policy: Policy, metadata: MetaData) -> str:
    """fideslang YAML manifests (``system`` and ``dataset``) from the policy and the annotated schema."""
    document = {"system": [system_manifest(policy)], "dataset": [dataset_manifest(metadata)]}
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
