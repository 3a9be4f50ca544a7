"""The privacy statement says what the seed says, each item under the purpose it belongs to."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest

from lawful.policy.loader import load_policy, parse_policy, policy_hash
from lawful.policy.model import LegalBasis, Policy
from lawful.policy.render import NO_TRANSFER, SUBJECT_WORDS, render_statement, ropa_record

_HEADING = re.compile(r"^(#{1,6}) (.*)$")


def split(markdown: str, level: int) -> dict[str, str]:
    """The Markdown under each heading of ``level``, up to the next heading of that level or higher."""
    parts: dict[str, str] = {}
    current: str | None = None
    for line in markdown.splitlines():
        match = _HEADING.match(line)
        if match and len(match[1]) <= level:
            current = match[2].strip() if len(match[1]) == level else None
            if current is not None:
                assert current not in parts, f"heading {current!r} occurs twice"
                parts[current] = ""
            continue
        if current is not None:
            parts[current] += line + "\n"
    return parts


@pytest.fixture(scope="module")
def markdown(policy: Policy) -> str:
    return render_statement(policy, "md")


@pytest.fixture(scope="module")
def sections(policy: Policy, markdown: str) -> dict[str, str]:
    """Purpose key -> the statement's text under that purpose's heading."""
    by_title = split(markdown, 3)
    return {p.key: by_title[p.title] for p in policy.public_purposes}


def part(sections: dict[str, str], purpose: str, heading: str) -> str:
    """One sub-heading's text of a purpose's section (e.g. "What data we process")."""
    subsections = split(sections[purpose], 4)
    assert heading in subsections, f"{purpose}: no {heading!r} in {list(subsections)}"
    return subsections[heading]


def contains(text: str, pattern: str) -> bool:
    return re.search(pattern, text, re.IGNORECASE) is not None


# Each item of the seed, the purpose that must say it, and the sub-heading it is under
# (None: anywhere in the purpose's section). Patterns are case-insensitive regular expressions.
SEED = [
    # (a) the kinds of data: contact data of our customers, personal data of our users
    ("contract", "What data we process", r"\baddress\b"),
    ("contract", "What data we process", r"phone number"),
    ("contract", "What data we process", r"e-mail address"),
    ("contract", "What data we process", r"\bname\b"),
    ("contract", "What data we process", r"IP address"),
    ("contract", "What data we process", r"home address"),
    # (a) why
    ("contract", None, r"administrative purposes"),
    ("contract", None, r"sending invoices"),
    ("contract", None, r"sole proprietor"),
    ("contract", None, r"log in to our online services"),
    ("contract", None, r"customer service"),
    ("contract", None, r"information necessary to properly perform our agreement"),
    ("contract", "On what legal basis", r"performance of contract"),
    # (a) laws and regulations
    ("legal_obligation", None, r"comply with laws and regulations, such as tax laws"),
    (
        "legal_obligation",
        None,
        r"disclose your personal data to government agencies or regulatory authorities",
    ),
    ("legal_obligation", "On what legal basis", r"legal obligation"),
    ("legal_obligation", "Who receives it", r"government agencies"),
    ("legal_obligation", "Who receives it", r"regulatory authorities"),
    ("legal_obligation", "Who receives it", r"tax authority"),
    # (b) monitoring: the kinds of data
    ("monitoring", "What data we process", r"IP address"),
    ("monitoring", "What data we process", r"Internet browser"),
    ("monitoring", "What data we process", r"pages you have visited"),
    ("monitoring", "What data we process", r"click and surfing behaviou?r"),
    ("monitoring", "What data we process", r"length of your sessions"),
    ("monitoring", "What data we process", r"generated automatically by the functionalities you have used"),
    ("monitoring", "What data we process", r"technical data of your device"),
    # (b) why
    ("monitoring", None, r"make our online services work even better"),
    ("monitoring", "Why", r"mak(e|ing) our online services work even better"),
    ("monitoring", "Why", r"new features"),
    ("monitoring", "Why", r"record(ing)? total usage"),
    ("monitoring", None, r"calculate (the )?fees due"),
    # (b) basis and measures
    ("monitoring", "On what legal basis", r"legitimate interest"),
    ("monitoring", "On what legal basis", r"necessary to provide and protect the best possible service"),
    ("monitoring", "On what legal basis", r"prevent the invasion of our users' privacy"),
    ("monitoring", "How we protect it", r"stored only shortened"),
    ("monitoring", "How we protect it", r"daily key that is destroyed after 48 hours"),
    ("monitoring", "How we protect it", r"no cookies"),
    ("monitoring", "How we protect it", r"Global Privacy Control"),
    ("monitoring", "How we protect it", r"Do Not Track"),
    ("monitoring", "How we protect it", r"bots"),
    ("monitoring", "How we protect it", r"never per person"),
]


@pytest.mark.parametrize(("purpose", "heading", "pattern"), SEED)
def test_the_seed_is_said_under_the_right_purpose(
    sections: dict[str, str], purpose: str, heading: str | None, pattern: str
) -> None:
    text = sections[purpose] if heading is None else part(sections, purpose, heading)
    assert contains(text, pattern), f"{pattern!r} is missing under {purpose!r} / {heading!r}"


@pytest.mark.parametrize(
    ("purpose", "pattern"),
    [
        ("contract", r"legitimate interest"),
        ("contract", r"government agencies"),
        ("contract", r"surfing"),
        ("legal_obligation", r"legitimate interest"),
        ("legal_obligation", r"performance of contract"),
        ("monitoring", r"performance of contract"),
        ("monitoring", r"regulatory authorities"),
    ],
)
def test_what_belongs_elsewhere_is_not_said_under_a_purpose(
    sections: dict[str, str], purpose: str, pattern: str
) -> None:
    assert not contains(sections[purpose], pattern)


def test_each_purpose_states_only_its_own_legal_basis(policy: Policy, sections: dict[str, str]) -> None:
    for p in policy.public_purposes:
        basis = part(sections, p.key, "On what legal basis")
        assert f'"{p.legal_basis.label}" ({p.legal_basis.article})' in basis
        for other in LegalBasis:
            if other is not p.legal_basis:
                assert other.article not in basis, f"{p.key} names {other.article}"
                assert f'"{other.label}"' not in basis, f"{p.key} names {other.label}"


def test_every_policy_string_appears_verbatim_in_its_purpose(
    policy: Policy, sections: dict[str, str]
) -> None:
    for p in policy.public_purposes:
        text = sections[p.key]
        strings = [p.description.strip(), p.basis_explanation, *p.activities, *p.measures]
        strings += [c.label for c in p.categories] + [r.name for r in p.recipients]
        strings += [r.condition for r in p.recipients if r.condition]
        if p.assessment:
            strings += [p.assessment.interest, p.assessment.necessity, p.assessment.balancing]
        for s in strings:
            assert s in text, f"{p.key}: {s!r} is not in its section"


def test_retention_is_said_per_category(policy: Policy, sections: dict[str, str]) -> None:
    for p in policy.public_purposes:
        lines = part(sections, p.key, "How long we keep it").splitlines()
        for c in p.categories:
            matching = [line for line in lines if c.label in line]
            assert matching, f"{p.key}: no retention line for {c.label!r}"
            assert c.retention.phrase in matching[0]


def test_subjects_are_named_in_words(policy: Policy, sections: dict[str, str]) -> None:
    for p in policy.public_purposes:
        data = part(sections, p.key, "What data we process")
        for key, words in SUBJECT_WORDS.items():
            assert (words in data) == (key in p.data_subjects), f"{p.key}: {words!r}"


def test_recipients_or_nobody(policy: Policy, sections: dict[str, str]) -> None:
    for p in policy.public_purposes:
        received = part(sections, p.key, "Who receives it")
        assert ("Nobody outside" in received) == (not p.recipients)
        for r in p.recipients:
            assert r.name in received


def test_legitimate_interest_has_its_assessment_and_the_right_to_object(
    policy: Policy, sections: dict[str, str]
) -> None:
    for p in policy.public_purposes:
        said = sections[p.key]
        if p.legal_basis is LegalBasis.legitimate_interests:
            assert p.assessment is not None
            assert "art. 21" in said and "right to object" in said
            assert p.assessment.balancing in said
        else:
            assert "art. 21" not in said


def test_no_transfers_are_said_so(policy: Policy, sections: dict[str, str]) -> None:
    assert all(not p.transfers for p in policy.purposes)
    for p in policy.public_purposes:
        assert NO_TRANSFER in sections[p.key]


def test_a_declared_transfer_is_listed_under_its_purpose(edit_policy: Callable[..., Path]) -> None:
    path = edit_policy(
        append='\n[[purposes.monitoring.transfers]]\ncountry = "US"\n'
        'recipient = "Example Analytics Inc."\nsafeguard = "standard contractual clauses"\n'
    )
    policy = load_policy(path)
    sections = {p.key: split(render_statement(policy), 3)[p.title] for p in policy.public_purposes}
    assert "Example Analytics Inc." in sections["monitoring"]
    assert "standard contractual clauses" in sections["monitoring"]
    assert NO_TRANSFER not in sections["monitoring"]
    assert NO_TRANSFER in sections["contract"]


def test_the_controller_and_the_closing_section(policy: Policy, markdown: str) -> None:
    org = policy.organisation
    intro = markdown.split("\n## ")[0] + split(markdown, 2)["Who we are"]
    for s in (org.name, org.address, org.email, org.phone):
        assert s in intro
    rights = split(markdown, 2)["Your rights"]
    for article in ("15", "16", "17", "18", "20", "21"):
        assert f"GDPR art. {article})" in rights
    assert org.email in rights
    complaints = split(markdown, 2)["Questions and complaints"]
    assert org.supervisory_authority.name in complaints and org.supervisory_authority.url in complaints
    assert "art. 77" in complaints
    version = f"Version {policy.version}, effective {policy.effective.isoformat()}, policy hash {policy_hash(policy)}"
    assert markdown.rstrip().endswith(version)


def test_a_dpo_and_a_representative_are_named_when_declared(default_text: str) -> None:
    text = default_text.replace(
        "[organisation.supervisory_authority]",
        '[organisation.dpo]\nname = "Dana Officer"\nemail = "dpo@example.com"\n\n'
        '[organisation.representative]\nname = "Rep Resentative"\nemail = "rep@example.com"\n\n'
        "[organisation.supervisory_authority]",
    )
    policy = parse_policy(text, source="dpo.toml")
    who = split(render_statement(policy), 2)["Who we are"]
    assert "Dana Officer" in who and "dpo@example.com" in who
    assert "Rep Resentative" in who and "art. 27" in who
    assert "Dana Officer" not in split(render_statement(load_policy()), 2)["Who we are"]


def test_the_statement_changes_with_the_policy(edit_policy: Callable[..., Path]) -> None:
    path = edit_policy(('label = "phone number"', 'label = "telephone number"'))
    edited = load_policy(path)
    text = render_statement(edited)
    assert "telephone number" in text
    assert policy_hash(edited) in text and policy_hash(load_policy()) not in text


# --- HTML ------------------------------------------------------------------------------------------


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)


def parse_html(page: str) -> _Text:
    parser = _Text()
    parser.feed(page)
    parser.close()
    return parser


def test_html_is_a_standalone_page_with_every_policy_string(policy: Policy) -> None:
    page = render_statement(policy, "html")
    assert page.lstrip().lower().startswith("<!doctype html>")
    parsed = parse_html(page)
    tags = [t for t, _ in parsed.tags]
    assert ("html", {"lang": policy.language}) in parsed.tags
    assert "title" in tags and "style" in tags and "h1" in tags
    assert any(t == "meta" and a.get("name") == "viewport" for t, a in parsed.tags)
    text = re.sub(r"\s+", " ", "".join(parsed.chunks))
    for p in policy.public_purposes:
        for s in [
            p.title,
            *p.activities,
            *p.measures,
            *(c.label for c in p.categories),
            *(r.name for r in p.recipients),
        ]:
            assert s in text, s
    assert f"policy hash {policy_hash(policy)}" in text
    assert ("a", {"href": policy.organisation.supervisory_authority.url}) in parsed.tags


def test_html_escapes_markup_in_policy_strings(default_text: str, tmp_path: Path) -> None:
    text = default_text.replace('label = "phone number"', 'label = "phone <script>alert(1)</script> number"')
    text = text.replace(
        'title = "To monitor the use of our services"',
        'title = "To monitor <img src=x onerror=alert(2)> [click](javascript:alert(3)) **loud**"',
    )
    text = text.replace('name = "Example SaaS B.V."', 'name = "Example </title><script>alert(4)</script>"')
    path = tmp_path / "evil.toml"
    path.write_text(text, encoding="utf-8")
    policy = parse_policy(path.read_text(encoding="utf-8"), source=str(path))
    page = render_statement(policy, "html")
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    parsed = parse_html(page)
    assert [t for t, _ in parsed.tags].count("title") == 1
    tags = [t for t, _ in parsed.tags]
    assert "script" not in tags and "img" not in tags
    assert not any((a.get("href") or "").startswith("javascript") for _, a in parsed.tags)
    visible = "".join(parsed.chunks)
    assert "phone <script>alert(1)</script> number" in visible
    assert "[click](javascript:alert(3)) **loud**" in visible  # literal, neither a link nor bold
    assert "Example </title><script>alert(4)</script>" in visible


def test_language_of_the_page_follows_the_policy(edit_policy: Callable[..., Path]) -> None:
    path = edit_policy(('language = "en"', 'language = "nl"'))
    assert '<html lang="nl">' in render_statement(load_policy(path), "html")


def test_unknown_format_is_refused(policy: Policy) -> None:
    with pytest.raises(ValueError, match="pdf"):
        render_statement(policy, "pdf")  # type: ignore[arg-type]


def test_internal_purposes_are_in_the_record_not_in_the_statement(policy: Policy) -> None:
    internal = [p for p in policy.purposes if p.section == "internal"]
    assert internal, "the default policy declares the staff's own access as an internal purpose"
    statement = render_statement(policy)
    record = ropa_record(policy)
    for p in internal:
        assert p.title not in statement
        assert p.key in [a["purpose_key"] for a in record["activities"]]
