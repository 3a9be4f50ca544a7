"""Render the policy for people: the privacy statement and the record of processing activities.

Both come from the same :class:`~lawful.policy.model.Policy` the data layer enforces, so what a
customer reads and what a supervisory authority is shown cannot drift from what the code does.

* :func:`render_statement` writes the privacy statement as Markdown, or as a standalone HTML page
  (the Markdown converted with markdown-it, raw HTML disabled and every policy string escaped, so
  a policy string can never inject markup).
* :func:`ropa_record` builds the GDPR art. 30(1) record of processing activities as plain data;
  :func:`render_ropa` writes it as JSON, CSV (one row per purpose and data category) or HTML.
  Given the authorities actually disclosed to (from the register of disclosures, read by the
  caller: this module reads no database), the record lists them among the recipients of the
  legal-obligation purpose; without them it is rendered from the policy alone.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, Literal

from fideslang.default_taxonomy import DEFAULT_TAXONOMY
from jinja2 import Environment, PackageLoader, StrictUndefined
from markdown_it import MarkdownIt
from markupsafe import Markup

from lawful.policy.loader import policy_hash
from lawful.policy.model import Category, LegalBasis, Person, Policy, Purpose, Recipient

SECTIONS = {
    "a": "When you use our services",
    "b": "When we monitor the use of our services",
}

SUBJECT_WORDS = {
    "customer": "our customers (sole proprietors and contact persons)",
    "employee": "the users of our customers (their employees and associates)",
    "anonymous_user": "visitors of our website",
}

#: The purpose under which disclosures to authorities are made (the register's recipients go there).
DISCLOSURE_PURPOSE = "legal_obligation"

NO_TRANSFER = "We do not transfer this data to countries outside the European Economic Area (EEA)."

_ASCII_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_WHITESPACE = re.compile(r"\s+")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


# --- names ----------------------------------------------------------------------------------------


@cache
def _taxonomy_names() -> dict[str, dict[str, str]]:
    return {
        "data_subject": {s.fides_key: s.name or s.fides_key for s in DEFAULT_TAXONOMY.data_subject},
        "data_category": {c.fides_key: c.name or c.fides_key for c in DEFAULT_TAXONOMY.data_category},
        "data_use": {u.fides_key: u.name or u.fides_key for u in DEFAULT_TAXONOMY.data_use},
    }


def fideslang_name(kind: Literal["data_subject", "data_category", "data_use"], key: str) -> str:
    """The fideslang display name of a taxonomy key (the key itself when the taxonomy lacks it)."""
    return _taxonomy_names()[kind].get(key, key)


def subject_words(key: str) -> str:
    """Whom a data subject key is about, in a reader's words."""
    return SUBJECT_WORDS.get(key) or fideslang_name("data_subject", key).lower()


def join_words(items: Iterable[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    words = list(items)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def category_subjects(purpose: Purpose, category: Category) -> list[str]:
    """The subjects a category is about: its own list, else the purpose's."""
    return list(category.subjects) or list(purpose.data_subjects)


def _controller_line(policy: Policy) -> str:
    org = policy.organisation
    return ", ".join(part for part in (org.name, org.address, org.email, org.phone) if part)


# --- the privacy statement ------------------------------------------------------------------------


def _plain(text: object) -> str:
    """Policy text in the Markdown statement: as written, on one line."""
    return _WHITESPACE.sub(" ", str(text)).strip()


def _escaped(text: object) -> str:
    """Policy text in Markdown that becomes HTML: every ASCII punctuation character escaped, so the
    text renders literally (no emphasis, no links, no markup)."""
    return _ASCII_PUNCTUATION.sub(r"\\\1", _plain(text))


def _plain_url(url: object) -> str:
    return str(url).strip().replace(" ", "%20")


def _escaped_url(url: object) -> str:
    return _ASCII_PUNCTUATION.sub(r"\\\1", _plain_url(url))


def _paragraphs(text: object) -> list[str]:
    return [p for p in (_plain(chunk) for chunk in _PARAGRAPH_BREAK.split(str(text))) if p]


@cache
def _environment(autoescape: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("lawful.policy", "templates"),
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
    )
    env.filters["paragraphs"] = _paragraphs
    env.filters["subjects"] = lambda keys: join_words(subject_words(k) for k in keys)
    env.globals["category_subjects"] = category_subjects
    return env


@cache
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False})


def _statement_markdown(policy: Policy, text: Callable[[object], str], url: Callable[[object], str]) -> str:
    sections = [
        (key, title, [p for p in policy.purposes if p.section == key]) for key, title in SECTIONS.items()
    ]
    bases = {p.legal_basis for p in policy.purposes}
    template = _environment(False).get_template("statement.md.j2")
    return template.render(
        policy=policy,
        org=policy.organisation,
        sections=[s for s in sections if s[2]],
        t=text,
        url=url,
        hash=policy_hash(policy),
        LegalBasis=LegalBasis,
        no_transfer=NO_TRANSFER,
        has_consent=LegalBasis.consent in bases,
        has_legal_obligation=LegalBasis.legal_obligation in bases,
        objectable=[
            p
            for p in policy.purposes
            if p.legal_basis in (LegalBasis.legitimate_interests, LegalBasis.public_task)
        ],
    )


def render_statement(policy: Policy, fmt: Literal["md", "html"] = "md") -> str:
    """The privacy statement for customers, users and visitors to read, as Markdown or HTML."""
    if fmt == "md":
        return _statement_markdown(policy, _plain, _plain_url)
    if fmt == "html":
        body = _markdown().render(_statement_markdown(policy, _escaped, _escaped_url))
        page = _environment(True).get_template("statement.html.j2")
        return page.render(
            lang=policy.language,
            title=f"Privacy statement of {policy.organisation.name}",
            # markdown-it output: raw HTML disabled and every policy string escaped beforehand
            body=Markup(body),
        )
    raise ValueError(f"unknown statement format {fmt!r}; use md or html")


# --- the record of processing activities (GDPR art. 30(1)) -----------------------------------------


def _person(person: Person | None) -> dict[str, str] | None:
    if person is None:
        return None
    return {"name": person.name, "email": person.email, "phone": person.phone, "address": person.address}


@dataclass(frozen=True, slots=True)
class DisclosedTo:
    """An authority the register of disclosures says was disclosed to: how often, first and last."""

    name: str
    kind: str
    count: int
    first: date
    last: date

    @property
    def phrase(self) -> str:
        if self.count == 1:
            return f"disclosed to once, on {self.first.isoformat()} (register of disclosures)"
        return (
            f"disclosed to {self.count} times, from {self.first.isoformat()} to {self.last.isoformat()} "
            "(register of disclosures)"
        )

    def facts(self) -> dict[str, Any]:
        return {"count": self.count, "first": self.first.isoformat(), "last": self.last.isoformat()}


def _recipients(p: Purpose, disclosed: Sequence[DisclosedTo] | None) -> list[dict[str, Any]]:
    """The purpose's recipients; for the disclosure purpose, with the authorities disclosed to.

    A declared recipient that was disclosed to says so in its condition (and in ``disclosed``);
    an authority the policy does not name is added, with the kind the register gives it.
    """
    declared = [r.model_dump(mode="json") for r in p.recipients]
    if disclosed is None or p.key != DISCLOSURE_PURPOSE:
        return declared
    by_name = {r["name"].casefold(): r for r in declared}
    for entry in disclosed:
        match = by_name.get(entry.name.casefold())
        if match is None:
            match = Recipient(
                name=entry.name,
                kind=entry.kind if entry.kind in ("authority", "regulator") else "authority",
                description="named in the register of disclosures, not in the statement",
            ).model_dump(mode="json")
            by_name[entry.name.casefold()] = match
            declared.append(match)
        match["disclosed"] = entry.facts()
        match["condition"] = "; ".join(part for part in (match["condition"], entry.phrase) if part)
    return declared


def _activity(policy: Policy, p: Purpose, disclosed: Sequence[DisclosedTo] | None = None) -> dict[str, Any]:
    categories = [
        {
            "key": c.key,
            "name": fideslang_name("data_category", c.key),
            "label": c.label,
            "subjects": category_subjects(p, c),
            "source": c.source,
            "retention": {
                "period": c.retention.period,
                "trigger": c.retention.trigger.value,
                "description": c.retention.phrase,
            },
            "note": c.note,
        }
        for c in p.categories
    ]
    assessment = None
    if p.assessment is not None:
        assessment = {
            "interest": p.assessment.interest,
            "necessity": p.assessment.necessity,
            "balancing": p.assessment.balancing,
            "right_to_object": "GDPR art. 21",
        }
    return {
        "purpose_key": p.key,
        "purpose": p.title,
        "description": _plain(p.description),
        "section": p.section,
        "legal_basis": {
            "key": p.legal_basis.value,
            "label": p.legal_basis.label,
            "article": p.legal_basis.article,
            "explanation": p.basis_explanation,
        },
        "data_subjects": [
            {"key": s, "name": fideslang_name("data_subject", s), "description": subject_words(s)}
            for s in p.data_subjects
        ],
        "personal_data_categories": categories,
        "recipients": _recipients(p, disclosed),
        "third_country_transfers": [t.model_dump(mode="json") for t in p.transfers],
        "third_country_transfers_note": (
            "transfers to third countries, each with its safeguard"
            if p.transfers
            else "none: this personal data is not transferred outside the European Economic Area"
        ),
        "time_limits_for_erasure": [
            {
                "category": c.key,
                "label": c.label,
                "period": c.retention.period,
                "trigger": c.retention.trigger.value,
                "description": c.retention.phrase,
            }
            for c in p.categories
        ],
        "security_measures": list(p.measures),
        "legitimate_interest_assessment": assessment,
        "data_uses": [{"key": u, "name": fideslang_name("data_use", u)} for u in p.data_uses],
    }


def ropa_record(policy: Policy, disclosed: Sequence[DisclosedTo] | None = None) -> dict[str, Any]:
    """The GDPR art. 30(1) record of processing activities, as JSON-ready data.

    (a) ``controller``; per entry of ``activities``: (b) the purpose, (c) the categories of data
    subjects and of personal data, (d) the recipients, (e) transfers to third countries,
    (f) the time limits for erasure and (g) the security measures.

    ``disclosed``: the authorities the register of disclosures says were disclosed to, listed
    among the recipients of :data:`DISCLOSURE_PURPOSE`; None renders the policy alone.
    """
    org = policy.organisation
    record: dict[str, Any] = {
        "controller": {
            "name": org.name,
            "address": org.address,
            "email": org.email,
            "phone": org.phone,
            "representative": _person(org.representative),
            "dpo": _person(org.dpo),
        },
        "generated_from": {
            "version": policy.version,
            "effective": policy.effective.isoformat(),
            "hash": policy_hash(policy),
        },
        "activities": [_activity(policy, p, disclosed) for p in policy.purposes],
    }
    if disclosed is not None:
        record["generated_from"]["register_of_disclosures"] = True
    return record


CSV_COLUMNS = [
    "controller",
    "purpose_key",
    "purpose",
    "section",
    "legal_basis",
    "legal_basis_article",
    "data_subjects",
    "category_key",
    "category",
    "retention",
    "retention_period",
    "retention_trigger",
    "recipients",
    "third_country_transfers",
    "security_measures",
    "data_uses",
    "legitimate_interest_assessment",
    "policy_version",
    "policy_hash",
]


def _ropa_csv(record: dict[str, Any]) -> str:
    """One row per (purpose, data category); several values in one cell are on separate lines."""
    controller = record["controller"]
    contact = ", ".join(
        v for v in (controller["name"], controller["address"], controller["email"], controller["phone"]) if v
    )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for a in record["activities"]:
        subjects = {s["key"]: s["description"] for s in a["data_subjects"]}
        recipients = (
            "\n".join(r["name"] + (f" ({r['condition']})" if r["condition"] else "") for r in a["recipients"])
            or "none outside the controller"
        )
        transfers = (
            "\n".join(
                f"{t['country']}: {t['recipient']} ({t['safeguard']})" for t in a["third_country_transfers"]
            )
            or a["third_country_transfers_note"]
        )
        lia = a["legitimate_interest_assessment"]
        for c in a["personal_data_categories"]:
            writer.writerow(
                {
                    "controller": contact,
                    "purpose_key": a["purpose_key"],
                    "purpose": a["purpose"],
                    "section": a["section"],
                    "legal_basis": a["legal_basis"]["label"],
                    "legal_basis_article": a["legal_basis"]["article"],
                    "data_subjects": "\n".join(subjects.get(s, s) for s in c["subjects"]),
                    "category_key": c["key"],
                    "category": c["label"],
                    "retention": c["retention"]["description"],
                    "retention_period": c["retention"]["period"],
                    "retention_trigger": c["retention"]["trigger"],
                    "recipients": recipients,
                    "third_country_transfers": transfers,
                    "security_measures": "\n".join(a["security_measures"]),
                    "data_uses": "\n".join(u["key"] for u in a["data_uses"]),
                    "legitimate_interest_assessment": (
                        ""
                        if lia is None
                        else f"interest: {lia['interest']}\nnecessity: {lia['necessity']}\nbalancing: {lia['balancing']}"
                    ),
                    "policy_version": record["generated_from"]["version"],
                    "policy_hash": record["generated_from"]["hash"],
                }
            )
    return out.getvalue()


def render_ropa(
    policy: Policy,
    fmt: Literal["json", "csv", "html"] = "json",
    disclosed: Sequence[DisclosedTo] | None = None,
) -> str:
    """The record of processing activities as JSON, CSV or a standalone HTML page (``disclosed``:
    see :func:`ropa_record`)."""
    record = ropa_record(policy, disclosed)
    if fmt == "json":
        return json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return _ropa_csv(record)
    if fmt == "html":
        return (
            _environment(True)
            .get_template("ropa.html.j2")
            .render(
                record=record,
                lang=policy.language,
                controller_line=_controller_line(policy),
            )
        )
    raise ValueError(f"unknown record format {fmt!r}; use json, csv or html")
