"""The metadata check: every personal-looking column is annotated, every annotation is declared.

It runs when the app starts and in the test suite, over every table of ``Base.metadata``; a
new table with an ``email`` column and no category fails it before any code can reach it.
"""

from __future__ import annotations

import re

from sqlalchemy import MetaData

from lawful.data.annotations import (
    CATEGORY,
    NOT_PERSONAL,
    column_category,
    personal_columns,
    table_hold,
    table_only,
    table_subject,
)
from lawful.errors import PolicyError
from lawful.policy.loader import taxonomy
from lawful.policy.model import Policy

PERSONAL_LOOKING = re.compile(
    r"(^|_)(e?mail|phone|mobile|fax|address|street|city|postal|postcode|zip|name|firstname|lastname|surname|"
    r"birth|ip|user_?agent|ua|url|referr?er|path|iban|bank|vat|kvk|ssn|bsn|passport|gender|"
    r"location|lat|lon|geo|device|browser|os|visitor|session|cookie|token|password|secret|"
    r"summary|note|comment|message|body)($|_)"
)


def check_metadata(metadata: MetaData, policy: Policy) -> list[str]:
    """Return the problems found; empty when the schema and the policy agree."""
    known = taxonomy()["data_category"]
    problems: list[str] = []
    for table in metadata.sorted_tables:
        has_personal = False
        for column in table.columns:
            where = f"{table.name}.{column.name}"
            category = column_category(column)
            if CATEGORY in column.info and category is None:
                problems.append(f"{where}: category must be a fideslang key string")
            if category is not None:
                has_personal = True
                if column.info.get(NOT_PERSONAL):
                    problems.append(f"{where}: is annotated both personal and not personal")
                if category not in known:
                    problems.append(f"{where}: {category!r} is not a fideslang data category")
                elif not policy.purposes_covering(category):
                    problems.append(f"{where}: category {category!r} is declared by no purpose of the policy")
            elif PERSONAL_LOOKING.search(column.name.lower()) and not column.info.get(NOT_PERSONAL):
                problems.append(
                    f"{where}: looks like personal data but has no category; annotate it with "
                    "personal('<fideslang key>') or not_personal('<why>')"
                )
        spec = table_subject(table)
        if has_personal and spec is None:
            problems.append(f"{table.name}: holds personal data but names no subject (subject(...) in info)")
        if spec is not None:
            if spec.key not in table.c:
                problems.append(f"{table.name}: subject key {spec.key!r} is not a column")
            if spec.when is not None and spec.when[0] not in table.c:
                problems.append(f"{table.name}: subject condition column {spec.when[0]!r} is not a column")
            if spec.since is not None and spec.since not in table.c:
                problems.append(f"{table.name}: collection column {spec.since!r} is not a column")
            if has_personal and spec.kept is None:
                problems.append(f"{table.name}: names no purpose it is kept under (subject(..., kept=...))")
            kept = next((p for p in policy.purposes if p.key == spec.kept), None)
            if spec.kept is not None and kept is None:
                problems.append(f"{table.name}: kept under unknown purpose {spec.kept!r}")
            elif kept is not None:
                for column in personal_columns(table):
                    category = column_category(column)
                    if category is not None and not kept.covers(category):
                        problems.append(
                            f"{table.name}.{column.name}: kept under {kept.key!r}, which does not declare {category!r}"
                        )
        only = table_only(table)
        if only is not None and not any(p.key == only.purpose for p in policy.purposes):
            problems.append(f"{table.name}: only_under names unknown purpose {only.purpose!r}")
        hold = table_hold(table)
        if hold is not None:
            if hold.date not in table.c:
                problems.append(f"{table.name}: legal-hold date column {hold.date!r} is not a column")
            purpose = next((p for p in policy.purposes if p.key == hold.purpose), None)
            if purpose is None:
                problems.append(f"{table.name}: legal hold under unknown purpose {hold.purpose!r}")
            else:
                for column in personal_columns(table):
                    category = column_category(column)
                    assert category is not None
                    if not purpose.covers(category):
                        problems.append(
                            f"{table.name}.{column.name}: held under {hold.purpose!r}, "
                            f"which does not declare {category!r}"
                        )
    return problems


def assert_metadata(metadata: MetaData, policy: Policy) -> None:
    problems = check_metadata(metadata, policy)
    if problems:
        raise PolicyError("the schema does not match the policy: " + "; ".join(problems))
