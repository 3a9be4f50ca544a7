"""The fideslang data map: a system and a dataset that fideslang's own parser accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fideslang.models as fides
import pytest
import yaml
from fideslang.manifests import load_yaml_into_dict
from fideslang.parse import parse_dict
from pydantic import BaseModel
from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table

# importing the model modules registers their tables on Base.metadata
import lawful.customers.models
import lawful.data.log  # noqa: F401
from lawful.data.annotations import column_category, not_personal, personal, subject
from lawful.data.base import Base
from lawful.policy.datamap import render_datamap
from lawful.policy.loader import taxonomy
from lawful.policy.model import LegalBasis, Policy

B = fides.LegalBasisForProcessingEnum
FIDES_BASIS = {
    LegalBasis.consent: B.CONSENT,
    LegalBasis.contract: B.CONTRACT,
    LegalBasis.legal_obligation: B.LEGAL_OBLIGATION,
    LegalBasis.vital_interests: B.VITAL_INTEREST,
    LegalBasis.public_task: B.PUBLIC_INTEREST,
    LegalBasis.legitimate_interests: B.LEGITIMATE_INTEREST,
}


@pytest.fixture(scope="module")
def manifest(policy: Policy) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(render_datamap(policy, Base.metadata))
    return loaded


@pytest.fixture(scope="module")
def system(manifest: dict[str, Any]) -> fides.System:
    (resource,) = manifest["system"]
    parsed = parse_dict("system", resource)
    assert isinstance(parsed, fides.System)
    return parsed


@pytest.fixture(scope="module")
def dataset(manifest: dict[str, Any]) -> fides.Dataset:
    (resource,) = manifest["dataset"]
    parsed = parse_dict("dataset", resource)
    assert isinstance(parsed, fides.Dataset)
    return parsed


def test_fideslang_loads_the_file(policy: Policy, tmp_path: Path) -> None:
    path = tmp_path / "lawful.yml"
    path.write_text(render_datamap(policy, Base.metadata), encoding="utf-8")
    loaded = load_yaml_into_dict(str(path))
    assert set(loaded) == {"system", "dataset"}
    for kind, resources in loaded.items():
        assert resources
        for resource in resources:
            assert parse_dict(kind, resource).fides_key


def test_the_dataset_knows_the_contact_persons_email(dataset: fides.Dataset) -> None:
    (collection,) = [c for c in dataset.collections if c.name == "contact_persons"]
    (email,) = [f for f in collection.fields if f.name == "email"]
    assert email.data_categories == ["user.contact.email"]
    assert collection.data_subjects == ["customer"]


def test_every_annotated_column_has_its_category(dataset: fides.Dataset) -> None:
    fields = {(c.name, f.name): f for c in dataset.collections for f in c.fields}
    annotated = 0
    for table in Base.metadata.tables.values():
        for column in table.columns:
            category = column_category(column)
            if category:
                annotated += 1
                assert fields[(table.name, column.name)].data_categories == [category]
            elif (table.name, column.name) in fields:
                assert not fields[(table.name, column.name)].data_categories
    assert annotated


def test_not_personal_columns_say_why(dataset: fides.Dataset) -> None:
    (log,) = [c for c in dataset.collections if c.name == "processing_log"]
    (table_name,) = [f for f in log.fields if f.name == "table_name"]
    assert not table_name.data_categories
    assert table_name.description and "the name of a database table" in table_name.description


def test_declarations_use_only_taxonomy_keys(system: fides.System) -> None:
    keys = taxonomy()
    assert system.privacy_declarations
    for d in system.privacy_declarations:
        assert d.data_categories and set(d.data_categories) <= keys["data_category"]
        assert d.data_use in keys["data_use"]
        assert d.data_subjects and set(d.data_subjects) <= keys["data_subject"]


def test_every_purpose_and_data_use_is_declared(policy: Policy, system: fides.System) -> None:
    declared = {(d.name, d.data_use): d for d in system.privacy_declarations}
    assert len(declared) == len(system.privacy_declarations)
    assert len(declared) == sum(len(p.data_uses) for p in policy.purposes)
    for p in policy.purposes:
        for use in p.data_uses:
            d = declared[(p.title, use)]
            assert d.data_categories == [c.key for c in p.categories]
            assert d.data_subjects == p.data_subjects
            assert d.legal_basis_for_processing is FIDES_BASIS[p.legal_basis]
            assert d.flexible_legal_basis_for_processing is False
            assert d.data_shared_with_third_parties == bool(p.recipients)
            assert (d.impact_assessment_location is not None) == (p.assessment is not None)


def test_the_system_names_the_controller(policy: Policy, system: fides.System) -> None:
    assert system.legal_name == policy.organisation.name
    assert system.legal_address == policy.organisation.address
    assert system.dataset_references == ["lawful_db"]
    assert system.does_international_transfers is False


def _known(model: type[BaseModel], data: dict[str, Any], where: str) -> None:
    unknown = set(data) - set(model.model_fields)
    assert not unknown, f"{where}: fideslang's {model.__name__} has no {sorted(unknown)}"


def test_no_invented_fields(manifest: dict[str, Any]) -> None:
    """fideslang ignores unknown keys, so an invented one would vanish without a word."""
    for s in manifest["system"]:
        _known(fides.System, s, "system")
        for d in s["privacy_declarations"]:
            _known(fides.PrivacyDeclaration, d, "privacy declaration")
    for ds in manifest["dataset"]:
        _known(fides.Dataset, ds, "dataset")
        for c in ds["collections"]:
            _known(fides.DatasetCollection, c, "collection")
            for f in c["fields"]:
                _known(fides.DatasetField, f, "field")
                _known(fides.FidesMeta, f.get("fides_meta", {}), "field fides_meta")
                for ref in f.get("fides_meta", {}).get("references", []):
                    _known(fides.FidesDatasetReference, ref, "reference")


def test_only_tables_with_personal_data_and_their_types(policy: Policy) -> None:
    md = MetaData()
    Table("plans", md, Column("id", Integer, primary_key=True), Column("plan_name", String(40)))
    Table(
        "people",
        md,
        Column("id", Integer, primary_key=True),
        Column("email", String(254), info=personal("user.contact.email", identifies=True)),
        Column("active", Boolean),
        Column("plans_id", Integer, info=not_personal("a plan number")),
        info=subject("employee"),
    )
    (ds,) = yaml.safe_load(render_datamap(policy, md))["dataset"]
    parsed = parse_dict("dataset", ds)
    assert [c.name for c in parsed.collections] == ["people"]
    fields = {f.name: f for f in parsed.collections[0].fields}
    assert fields["email"].fides_meta.identity == "email"
    assert fields["email"].fides_meta.length == 254
    assert fields["active"].fides_meta.data_type == "boolean"
    assert fields["id"].fides_meta.primary_key is True and fields["id"].fides_meta.data_type == "integer"
    assert "a plan number" in (fields["plans_id"].description or "")
