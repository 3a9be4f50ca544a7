"""The readable access report: an access package (:func:`lawful.rights.access.package`) as HTML and PDF.

:func:`to_html` lays out everything the package holds for a person to read: what the report is,
their data table by table (each personal column with the label its category has in the policy,
and the rows), per purpose the why, legal basis, categories with retention and source, and the
recipients; the processing-log entries; the disclosures to authorities; what monitoring keeps and
the events still linked to their browser; their rights and the authority to complain to. It works
from the package alone, so the report always says what the JSON says; with the policy at hand the
column labels are those of the purpose each table is kept under.

:func:`to_pdf` prints that page as an A4 PDF with WeasyPrint. The page carries its CSS inline and
loads nothing: WeasyPrint gets a URL fetcher that refuses everything but ``data:`` URLs.
"""

from __future__ import annotations

import functools
import json
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2

from lawful.policy.model import Policy

with warnings.catch_warnings():
    # See lawful.billing.pdf: without the system's HarfBuzz-Subset WeasyPrint warns at import.
    warnings.filterwarnings("ignore", message="HarfBuzz-Subset", category=DeprecationWarning)
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcher

TEMPLATE = "rights/report.html"
WIDE = 6  # a table with more columns than this shows each row as a list of fields
ISO_MOMENT = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(?:\+00:00|Z)")
KINDS = {
    "user": "a user of a customer's account",
    "contact_person": "a contact person of a customer",
    "sole_proprietor": "a customer who is a sole proprietor",
    "visitor": "a visitor of our website",
}
SCOPES = {
    "access": "everything we hold about you (GDPR art. 15)",
    "portability": (
        "the data you gave us that we process to perform our agreement, "
        "in a machine-readable form (GDPR art. 20)"
    ),
}
OPERATIONS = {"read": "read", "write": "stored or changed", "delete": "deleted"}


@dataclass(frozen=True)
class Column:
    name: str
    category: str
    label: str
    identifies: bool


@dataclass
class TableView:
    name: str
    title: str
    purpose: str
    found_as: list[str]
    personal: list[Column]
    columns: list[str]
    rows: list[list[str]]
    labels: dict[str, str] = field(default_factory=dict)  # column name -> category label

    @property
    def wide(self) -> bool:
        return len(self.columns) > WIDE


def show(value: Any) -> str:
    """A value of the package as text for people."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping) and set(value) == {"bytes", "sha256"}:
        return f"a file of {value['bytes']:,} bytes (SHA-256 {value['sha256']})"
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    text = str(value)
    match = ISO_MOMENT.fullmatch(text)
    return f"{match.group(1)} {match.group(2)} UTC" if match else text


def humanise(name: str) -> str:
    return name.replace("_", " ").capitalize()


def category_labels(package: Mapping[str, Any]) -> dict[str, str]:
    """Category key -> label, from the package's own purposes (the first purpose naming it wins)."""
    labels: dict[str, str] = {}
    for purpose in package.get("purposes") or []:
        for category in purpose.get("categories") or []:
            labels.setdefault(str(category["category"]), str(category["label"]))
    return labels


def _label(key: str, purpose: str, policy: Policy | None, labels: Mapping[str, str]) -> str:
    if policy is not None:
        try:
            declared = policy.purpose(purpose).category(key)
        except KeyError:
            declared = None
        if declared is not None:
            return declared.label
    return labels.get(key) or _nearest(key, labels) or key


def _nearest(key: str, labels: Mapping[str, str]) -> str | None:
    """The label of the closest broader category the package names (``user.contact`` for
    ``user.contact.email``)."""
    parts = key.split(".")
    while len(parts) > 1:
        parts.pop()
        found = labels.get(".".join(parts))
        if found:
            return found
    return None


def _purpose_titles(package: Mapping[str, Any], policy: Policy | None) -> dict[str, str]:
    titles = {str(p["purpose"]): str(p.get("title") or p["purpose"]) for p in package.get("purposes") or []}
    if policy is not None:
        for purpose in policy.purposes:
            titles.setdefault(purpose.key, purpose.title)
    return titles


def table_views(package: Mapping[str, Any], policy: Policy | None = None) -> list[TableView]:
    labels = category_labels(package)
    titles = _purpose_titles(package, policy)
    views = []
    for entry in package.get("data") or []:
        purpose = str(entry.get("purpose") or "")
        personal = [
            Column(
                name=str(c["name"]),
                category=str(c.get("category") or ""),
                label=_label(str(c.get("category") or ""), purpose, policy, labels),
                identifies=bool(c.get("identifies")),
            )
            for c in entry.get("personal_columns") or []
        ]
        rows: list[Mapping[str, Any]] = entry.get("rows") or []
        columns: list[str] = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
        views.append(
            TableView(
                name=str(entry["table"]),
                title=humanise(str(entry["table"])),
                purpose=titles.get(purpose, purpose),
                found_as=[str(h) for h in entry.get("found_as") or []],
                personal=personal,
                columns=columns,
                rows=[[show(row.get(c)) for c in columns] for row in rows],
                labels={c.name: c.label for c in personal},
            )
        )
    return views


def _log_view(
    entries: Iterable[Mapping[str, Any]], labels: Mapping[str, str], titles: Mapping[str, str]
) -> list[dict[str, str]]:
    return [
        {
            "at": show(e.get("at")),
            "who": str(e.get("who") or ""),
            "purpose": titles.get(str(e.get("purpose")), str(e.get("purpose") or "")),
            "operation": OPERATIONS.get(str(e.get("operation")), str(e.get("operation") or "")),
            "table": humanise(str(e.get("table") or "")),
            "categories": "; ".join(
                labels.get(c) or _nearest(c, labels) or c for c in e.get("categories") or []
            ),
        }
        for e in entries
    ]


def _fill(value: Any, keys: Iterable[str]) -> dict[str, Any]:
    """A mapping of the package with every key the template reads (missing ones empty)."""
    found: Mapping[str, Any] = value if isinstance(value, Mapping) else {}
    return {**dict.fromkeys(keys, ""), **found}


PURPOSE_KEYS = (
    "purpose",
    "title",
    "description",
    "activities",
    "legal_basis_label",
    "legal_basis_article",
    "basis_explanation",
    "legitimate_interest",
    "right_to_object",
    "categories",
    "recipients",
    "transfers",
)


def _purposes(package: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for purpose in package.get("purposes") or []:
        view = _fill(purpose, PURPOSE_KEYS)
        view["activities"] = list(view["activities"] or [])
        view["categories"] = [
            _fill(c, ("category", "label", "retention", "source", "note")) for c in view["categories"] or []
        ]
        view["recipients"] = [
            _fill(r, ("name", "kind", "description", "condition", "country"))
            for r in view["recipients"] or []
        ]
        view["transfers"] = [_fill(t, ("recipient", "country", "safeguard")) for t in view["transfers"] or []]
        out.append(view)
    return out


def context(package: Mapping[str, Any], policy: Policy | None = None) -> dict[str, Any]:
    """What the template shows: the package, made readable."""
    labels = category_labels(package)
    if policy is not None:
        for purpose in policy.purposes:
            for category in purpose.categories:
                labels.setdefault(category.key, category.label)
    titles = _purpose_titles(package, policy)
    controller = package.get("controller")
    if not controller and policy is not None:
        org = policy.organisation
        controller = {"name": org.name, "address": org.address, "email": org.email, "phone": org.phone}
    controller = _fill(controller, ("name", "address", "email", "phone"))
    controller["name"] = controller["name"] or "us"
    complaint = package.get("complaint")
    if not complaint and policy is not None:
        authority = policy.organisation.supervisory_authority
        complaint = {"authority": authority.name, "url": authority.url, "address": authority.address}
    complaint = _fill(complaint, ("authority", "url", "address", "article")) if complaint else {}
    if complaint:
        complaint["article"] = complaint["article"] or "GDPR art. 77"
    subject: Mapping[str, Any] = package.get("subject") or {}
    monitoring: Mapping[str, Any] = package.get("monitoring") or {}
    events: list[Mapping[str, Any]] = monitoring.get("linked_events") or []
    event_columns: list[str] = []
    for event in events:
        event_columns.extend(k for k in event if k not in event_columns)
    scope = str(package.get("scope") or "access")
    return {
        "format": str(package.get("format") or ""),
        "scope": scope,
        "scope_text": SCOPES.get(scope, scope),
        "generated": show(package.get("generated_at")),
        "policy_version": str(package.get("policy_version") or ""),
        "controller": controller,
        "subject_kind": KINDS.get(str(subject.get("kind")), str(subject.get("kind") or "")),
        "subject_id": str(subject.get("id") or ""),
        "note": str(package.get("note") or ""),
        "tables": table_views(package, policy),
        "purposes": _purposes(package),
        "log": _log_view(package.get("processing_log") or [], labels, titles),
        "disclosures": [
            {
                **_fill(d, ("authority", "kind", "legal_ground", "order_reference")),
                "disclosed_on": show(d.get("disclosed_on")),
                "categories": "; ".join(labels.get(c) or c for c in d.get("categories") or []),
            }
            for d in package.get("disclosures") or []
        ],
        "monitoring_note": str(monitoring.get("explanation") or ""),
        "event_columns": event_columns,
        "events": [[show(e.get(c)) for c in event_columns] for e in events],
        "rights": [_fill(r, ("right", "article", "what")) for r in package.get("rights") or []],
        "complaint": complaint,
        "humanise": humanise,
    }


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("lawful.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def to_html(package: Mapping[str, Any], *, policy: Policy | None = None) -> str:
    """The package as one self-contained, accessible HTML page (inline CSS, nothing to load)."""
    return _environment().get_template(TEMPLATE).render(context(package, policy))


@functools.cache
def _font_config() -> Any:
    return FontConfiguration()


def to_pdf(package: Mapping[str, Any], *, policy: Policy | None = None) -> bytes:
    """The report as an A4 PDF (tagged, so that screen readers can follow it)."""
    fetcher = URLFetcher(allowed_protocols=("data",), fail_on_errors=True)
    html = weasyprint.HTML(string=to_html(package, policy=policy), url_fetcher=fetcher, base_url=None)
    pdf: bytes = html.write_pdf(font_config=_font_config(), pdf_tags=True)
    return pdf
