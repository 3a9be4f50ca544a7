"""The public pages: pricing, the privacy statement and the terms of service, and the page
layout that the sign-up pages (:mod:`lawful.agreements.signup_pages`) share.

- ``/pricing``: the plans on offer, from the billing catalogue, read under ``contract`` as a system
  actor (no personal data is read);
- ``/privacy`` and ``/terms``: the documents in force (the statement rendered from the enforced
  policy, the terms from ``LAWFUL_TERMS``) with their version and the day they last changed;
  ``/privacy.md`` and ``/terms.md``: their text as published, whose hash is the version;
- ``/api/v1/documents``: those versions as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from lawful.agreements import documents
from lawful.agreements.documents import Document
from lawful.agreements.models import DocumentKind, DocumentVersion
from lawful.agreements.publication import Version
from lawful.billing import catalogue, reports
from lawful.billing.models import Charge, Metric, Plan, PriceModel
from lawful.billing.pages import money, number
from lawful.billing.rating import from_cents, from_micros, parse_pricing, plain
from lawful.data.db import Database
from lawful.data.purpose import Actor
from lawful.errors import LawfulError
from lawful.policy.model import Policy
from lawful.policy.render import render_statement
from lawful.settings import Settings
from lawful.web.auth import csrf_protect
from lawful.web.deps import get_db, get_policy, get_publication, get_settings
from lawful.web.errors import ERROR_RESPONSES
from lawful.web.templating import templates

router = APIRouter(dependencies=[Depends(csrf_protect)])

PURPOSE = "contract"
PUBLIC = Actor.system("public")
NAV = [
    ("/pricing", "Pricing"),
    ("/signup", "Sign up"),
    ("/privacy", "Privacy"),
    ("/terms", "Terms"),
    ("/portal/login", "Portal sign-in"),
]
PATHS = {DocumentKind.statement: "/privacy", DocumentKind.terms: "/terms"}
# --- page layout ------------------------------------------------------------------------------


def public_context(request: Request, *, current: str = "", title: str, **extra: Any) -> dict[str, Any]:
    """What ``layout.html`` needs on a public page, plus the page's own variables."""
    policy = get_policy(request)
    settings = get_settings(request)
    return {
        "area": "public",
        "area_name": policy.organisation.name,
        "home": "/pricing",
        "nav": [(h, label) for h, label in NAV if settings.signup_open or h != "/signup"],
        "current": current,
        "who": None,
        "title": title,
        "flashes": [],
        "organisation": policy.organisation,
        "signup_open": settings.signup_open,
        **extra,
    }


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page from ``templates/public/<name>``."""
    return templates.TemplateResponse(request, f"public/{name}", context, status_code=status, headers=headers)


def problem(
    request: Request, error: LawfulError, *, title: str, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """An error page of the sign-up: the status, the message and where to go from here."""
    context = public_context(
        request, title=title, status=error.status, code=error.code, message=error.message
    )
    return render(request, "problem.html", context, error.status, headers)


# --- pricing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChargeView:
    metric: str
    words: str


@dataclass(frozen=True, slots=True)
class PlanView:
    id: str
    name: str
    description: str
    currency: str
    base_fee: str
    minimum: str  # "" without a minimum
    charges: list[ChargeView]


def _each(currency: str, value: Decimal) -> str:
    return f"{currency} {plain(value)}"


def charge_words(charge: Charge, metric: Metric, currency: str) -> str:
    """A charge's prices in words: included units, then the price per unit, package or tier."""
    pricing = parse_pricing(charge.model, charge.pricing)
    unit = metric.unit or "units"
    if charge.model is PriceModel.standard and pricing.unit_price is not None:
        text = f"{_each(currency, pricing.unit_price)} each"
    elif charge.model is PriceModel.package and pricing.package_size is not None:
        price = _each(currency, pricing.package_price or Decimal(0))
        text = f"{price} per started package of {number(pricing.package_size)} {unit}"
    else:
        parts, lower = [], Decimal(0)
        for tier in pricing.tiers or []:
            span = (
                f"{number(lower + 1)}–{number(tier.up_to)} {unit}"
                if tier.up_to is not None
                else f"above {number(lower)} {unit}"
            )
            part = f"{span}: {_each(currency, tier.unit_price)} each"
            if tier.flat_fee:
                part += f" plus {_each(currency, tier.flat_fee)} once this tier is reached"
            parts.append(part)
            lower = tier.up_to if tier.up_to is not None else lower
        how = (
            "each unit at the price of its own tier"
            if charge.model is PriceModel.graduated
            else "every unit at the price of the tier the month's total falls in"
        )
        text = f"{'; '.join(parts)} ({how})"
    included = from_micros(charge.included_micros)
    if included:
        return f"the first {number(included)} {unit} of a month are included; after that {text}"
    return text


def plan_views(session: Session, plans: list[Plan]) -> list[PlanView]:
    charges = reports.charges_of(session, [p.id for p in plans])
    return [
        PlanView(
            id=str(plan.id),
            name=plan.name,
            description=plan.description,
            currency=plan.currency,
            base_fee=money(from_cents(plan.base_fee_cents)),
            minimum=money(from_cents(plan.minimum_cents)) if plan.minimum_cents else "",
            charges=[
                ChargeView(metric.name, charge_words(charge, metric, plan.currency))
                for charge, metric in charges[plan.id]
            ],
        )
        for plan in plans
    ]


def offered(db: Database) -> list[PlanView]:
    """The plans on offer now."""
    with db.unit_of_work(PURPOSE, PUBLIC) as session:
        return plan_views(session, catalogue.list_plans(session, active_only=True))


@router.get("/pricing", response_class=HTMLResponse, include_in_schema=False)
def pricing(request: Request, db: Database = Depends(get_db)) -> Response:
    context = public_context(request, current="/pricing", title="Pricing", plans=offered(db))
    return render(request, "pricing.html", context)


# --- the published documents ------------------------------------------------------------------


def version_name(version: Version | DocumentVersion) -> str:
    """How a version is named to readers: the author's label (if any) and the short content hash."""
    short = version.digest[:12]
    return f"{version.label} · {short}" if version.label else short


_statement_html: dict[str, Markup] = {}


def statement_html(policy: Policy, digest: str) -> Markup:
    """The statement's body as the HTML statement renders it (every policy string escaped)."""
    if digest not in _statement_html:
        page = render_statement(policy, "html")
        body = page.split("<main>", 1)[1].rsplit("</main>", 1)[0]
        _statement_html[digest] = Markup(body.strip())  # markdown-it: raw HTML off, strings escaped
    return _statement_html[digest]


def _title(document: Document, policy: Policy) -> str:
    if document.kind is DocumentKind.statement:
        return f"Privacy statement of {policy.organisation.name}"
    for line in document.text.splitlines():
        if line.startswith("# "):
            return line[2:].strip().strip("#").strip() or "Terms of service"
    return f"Terms of service of {policy.organisation.name}"


def _document_page(request: Request, kind: DocumentKind, policy: Policy) -> HTMLResponse:
    source = get_publication(request)
    version = source.version(kind)
    document = source.document(kind)
    body = (
        statement_html(policy, document.digest)
        if kind is DocumentKind.statement
        else documents.to_html(document.text)
    )
    heading = Markup("")
    if body.lstrip().startswith("<h1") and "</h1>" in body:  # the version goes under the heading
        end = body.index("</h1>") + len("</h1>")
        heading, body = Markup(body[:end]), Markup(body[end:])
    context = public_context(
        request,
        current=PATHS[kind],
        title=_title(document, policy),
        document=document,
        version=version,
        version_name=version_name(version),
        heading=heading,
        body=body,
        has_heading=bool(heading) or "<h1" in body,
        markdown_url=PATHS[kind] + ".md",
    )
    return render(request, "document.html", context)


def _markdown(request: Request, kind: DocumentKind) -> Response:
    source = get_publication(request)
    version = source.version(kind)
    return Response(
        source.document(kind).text,
        media_type="text/markdown; charset=utf-8",
        headers={"X-Document-Version": version.digest},
    )


@router.get("/privacy", response_class=HTMLResponse, include_in_schema=False)
def privacy(request: Request, policy: Policy = Depends(get_policy)) -> Response:
    return _document_page(request, DocumentKind.statement, policy)


@router.get("/privacy.md", include_in_schema=False)
def privacy_markdown(request: Request) -> Response:
    return _markdown(request, DocumentKind.statement)


@router.get("/terms", response_class=HTMLResponse, include_in_schema=False)
def terms(request: Request, policy: Policy = Depends(get_policy)) -> Response:
    return _document_page(request, DocumentKind.terms, policy)


@router.get("/terms.md", include_in_schema=False)
def terms_markdown(request: Request) -> Response:
    return _markdown(request, DocumentKind.terms)


class PublishedVersion(BaseModel):
    kind: DocumentKind = Field(description="statement (the privacy statement) or terms (of service)")
    version: str = Field(description="the version: a hash of the document's content")
    label: str = Field(description="the author's own label of the version; may be empty")
    published_at: datetime = Field(description="when this version came into force (UTC)")
    url: str = Field(description="the document as a web page")
    markdown_url: str = Field(description="the document's text as Markdown")


class PublishedDocuments(BaseModel):
    documents: list[PublishedVersion]


@router.get(
    "/api/v1/documents",
    summary="The versions of the privacy statement and the terms of service in force",
    response_model=PublishedDocuments,
    responses=ERROR_RESPONSES,
    tags=["documents"],
)
def published_documents(request: Request, settings: Settings = Depends(get_settings)) -> PublishedDocuments:
    base = settings.base_url.rstrip("/")
    versions = get_publication(request).ensure()
    return PublishedDocuments(
        documents=[
            PublishedVersion(
                kind=kind,
                version=versions[kind].digest,
                label=versions[kind].label,
                published_at=versions[kind].published_at,
                url=base + PATHS[kind],
                markdown_url=base + PATHS[kind] + ".md",
            )
            for kind in (DocumentKind.statement, DocumentKind.terms)
            if kind in versions
        ]
    )
