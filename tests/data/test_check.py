"""The metadata check: personal-looking columns carry a declared category."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table

from lawful.data.annotations import not_personal, only_under, personal, subject
from lawful.data.check import assert_metadata, check_metadata
from lawful.errors import PolicyError
from lawful.policy.model import Policy
from lawful.schema import metadata


def test_the_whole_schema_agrees_with_the_default_policy(policy: Policy) -> None:
    assert check_metadata(metadata, policy) == []


def _table(*columns: Column[object], info: dict[str, object] | None = None) -> MetaData:
    md = MetaData()
    Table("things", md, Column("id", Integer, primary_key=True), *columns, info=info or {})
    return md


def test_a_personal_looking_column_without_a_category_fails(policy: Policy) -> None:
    problems = check_metadata(_table(Column("email", String)), policy)
    assert problems and "things.email" in problems[0] and "no category" in problems[0]


@pytest.mark.parametrize("name", ["phone", "home_address", "full_name", "ip", "user_agent", "referrer_url"])
def test_personal_looking_names(policy: Policy, name: str) -> None:
    assert check_metadata(_table(Column(name, String)), policy)


def test_a_category_no_purpose_declares_fails(policy: Policy) -> None:
    md = _table(
        Column("iban", String, info=personal("user.financial.bank_account")),
        info=subject("customer", kept="contract"),
    )
    assert check_metadata(md, policy) == []  # user.financial is declared: it covers bank_account
    md = _table(
        Column("picture", String, info=personal("user.content.self_image")),
        info=subject("customer", kept="contract"),
    )
    problems = check_metadata(md, policy)
    assert any("declared by no purpose" in p and "user.content.self_image" in p for p in problems), problems


def test_an_unknown_category_fails(policy: Policy) -> None:
    md = _table(
        Column("email", String, info=personal("user.contact.mail")), info=subject("customer", kept="contract")
    )
    assert any("not a fideslang data category" in p for p in check_metadata(md, policy))


def test_a_personal_table_must_name_its_subject(policy: Policy) -> None:
    md = _table(Column("email", String, info=personal("user.contact.email")))
    assert any("names no subject" in p for p in check_metadata(md, policy))


def test_not_personal_needs_a_reason_and_passes(policy: Policy) -> None:
    assert (
        check_metadata(_table(Column("plan_name", String, info=not_personal("a product name"))), policy) == []
    )
    with pytest.raises(ValueError, match="reason"):
        not_personal(" ")


def test_assert_metadata_raises_policy_error(policy: Policy) -> None:
    with pytest.raises(PolicyError, match="things.email"):
        assert_metadata(_table(Column("email", String)), policy)


def test_a_personal_table_must_name_the_purpose_it_is_kept_under(policy: Policy) -> None:
    email = Column("email", String, info=personal("user.contact.email"))
    assert any("kept under" in p for p in check_metadata(_table(email, info=subject("customer")), policy))
    md = _table(
        Column("email", String, info=personal("user.contact.email")), info=subject("customer", kept="nowhere")
    )
    assert any("unknown purpose 'nowhere'" in p for p in check_metadata(md, policy))


def test_the_keeping_purpose_must_declare_every_column(policy: Policy) -> None:
    md = _table(
        Column("path", String, info=personal("user.behavior.browsing_history")),
        info=subject("anonymous_user", kept="contract"),
    )
    (problem,) = check_metadata(md, policy)
    assert "kept under 'contract'" in problem and "user.behavior.browsing_history" in problem


def test_the_collection_column_must_exist(policy: Policy) -> None:
    md = _table(
        Column("email", String, info=personal("user.contact.email")),
        info=subject("customer", kept="contract", since="created_at"),
    )
    assert any("collection column 'created_at'" in p for p in check_metadata(md, policy))


def test_only_under_must_name_a_declared_purpose(policy: Policy) -> None:
    info = {**subject("customer", kept="legal_obligation"), **only_under("taxes", why="kept for tax law")}
    md = _table(Column("name", String, info=personal("user.name")), info=info)
    assert any("only_under names unknown purpose 'taxes'" in p for p in check_metadata(md, policy))
    with pytest.raises(ValueError, match="reason"):
        only_under("legal_obligation", why=" ")
