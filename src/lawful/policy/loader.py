"""Load ``policy.toml`` into a :class:`Policy` and validate it against the fideslang taxonomy.

fideslang's own models accept keys that the taxonomy does not have, so every data category,
data use and data subject is checked here against ``DEFAULT_TAXONOMY``. Every failure is a
:class:`PolicyError` whose message names the file, the purpose and the bad key.
"""

from __future__ import annotations

import hashlib
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from fideslang.default_taxonomy import DEFAULT_TAXONOMY
from pydantic import ValidationError

from lawful.errors import PolicyError
from lawful.policy.model import LegalBasis, Policy, Purpose

DEFAULT_POLICY = "policy.toml"


@cache
def taxonomy() -> dict[str, set[str]]:
    """The fideslang keys, per kind."""
    return {
        "data_category": {c.fides_key for c in DEFAULT_TAXONOMY.data_category},
        "data_use": {c.fides_key for c in DEFAULT_TAXONOMY.data_use},
        "data_subject": {c.fides_key for c in DEFAULT_TAXONOMY.data_subject},
    }


def default_policy_path() -> Path:
    return Path(str(resources.files("lawful.policy").joinpath(DEFAULT_POLICY)))


def load_policy(path: str | Path | None = None) -> Policy:
    """Load and validate the policy at ``path`` (the shipped default when ``None``)."""
    source = Path(path) if path else default_policy_path()
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{source}: cannot read the policy file ({exc.strerror or exc})") from exc
    return parse_policy(text, source=str(source))


def policy_hash(policy: Policy) -> str:
    """A content hash of the policy: it changes whenever anything the statement says changes."""
    return hashlib.sha256(policy.model_dump_json().encode()).hexdigest()[:16]


def parse_policy(text: str, *, source: str = "<policy>") -> Policy:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from exc
    purposes = raw.get("purposes")
    if not isinstance(purposes, dict) or not purposes:
        raise PolicyError(f"{source}: declares no purposes; add at least one [purposes.<key>] table")
    names: list[str] = []
    listed: list[Any] = []
    for key, body in purposes.items():
        if not isinstance(body, dict):
            raise PolicyError(f"{source}: purpose {key!r} must be a table")
        names.append(key)
        listed.append({"key": key, **body})
    raw["purposes"] = listed
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(_explain(exc, source, names, listed)) from None
    problems = list(_taxonomy_problems(policy)) + list(_coherence_problems(policy))
    if problems:
        raise PolicyError(f"{source}: " + "; ".join(problems))
    return _fill_measures(policy).model_copy(update={"source": source})


def _fill_measures(policy: Policy) -> Policy:
    """Write the enforced monitoring values into the measures and assessments that cite them.

    A measure says ``destroyed after {salt_lifetime_hours} hours``; the statement then always
    states the value the code enforces, also when a policy tightens ``[monitoring]``.
    """
    values = policy.monitoring.model_dump(
        include={
            "raw_event_days",
            "salt_lifetime_hours",
            "session_timeout_minutes",
            "ipv4_prefix",
            "ipv6_prefix",
        }
    )

    def fill(text: str) -> str:
        for name, value in values.items():
            text = text.replace("{" + name + "}", str(value))
        return text

    purposes = []
    for p in policy.purposes:
        update: dict[str, Any] = {"measures": [fill(m) for m in p.measures]}
        if p.assessment is not None:
            update["assessment"] = p.assessment.model_copy(
                update={
                    "interest": fill(p.assessment.interest),
                    "necessity": fill(p.assessment.necessity),
                    "balancing": fill(p.assessment.balancing),
                }
            )
        purposes.append(p.model_copy(update=update))
    return policy.model_copy(update={"purposes": purposes})


def _explain(exc: ValidationError, source: str, names: list[str], raw_purposes: list[Any]) -> str:
    """Turn pydantic's locations into the words of the policy file."""
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = "policy"
        if len(loc) >= 2 and loc[0] == "purposes" and isinstance(loc[1], int) and loc[1] < len(names):
            where = f"purpose {names[loc[1]]!r}"
            loc = loc[2:]
        if len(loc) >= 2 and loc[0] == "categories" and isinstance(loc[1], int) and where != "policy":
            index = names.index(where[len("purpose '") : -1])
            declared = raw_purposes[index].get("categories", [])
            if loc[1] < len(declared) and isinstance(declared[loc[1]], dict):
                loc = [f"category {declared[loc[1]].get('key', loc[1])!r}", *loc[2:]]
        field = ".".join(str(x) for x in loc) or "(whole)"
        msg = err["msg"]
        if loc and loc[-1] == "legal_basis":
            msg = (
                f"unknown legal basis {err.get('input')!r}; use one of "
                + ", ".join(b.value for b in LegalBasis)
                + " (GDPR art. 6(1)(a)-(f))"
            )
        elif err["type"] == "too_short" and loc and loc[-1] == "categories":
            msg = "declares no data categories; a purpose must say which personal data it processes"
        elif err["type"] == "extra_forbidden":
            msg = f"unknown field {field!r}"
        lines.append(f"{where}: {field}: {msg}")
    return f"{source}: " + "; ".join(lines)


def _taxonomy_problems(policy: Policy) -> list[str]:
    keys = taxonomy()
    out: list[str] = []

    def check(purpose: Purpose, kind: str, key: str) -> None:
        if key not in keys[kind]:
            out.append(f"purpose {purpose.key!r}: unknown fideslang {kind.replace('_', ' ')} {key!r}")

    for p in policy.purposes:
        for use in p.data_uses:
            check(p, "data_use", use)
        for subject in p.data_subjects:
            check(p, "data_subject", subject)
        for c in p.categories:
            check(p, "data_category", c.key)
            for subject in c.subjects:
                check(p, "data_subject", subject)
    return out


def _coherence_problems(policy: Policy) -> list[str]:
    out: list[str] = []
    for p in policy.purposes:
        if p.legal_basis is LegalBasis.legitimate_interests and p.assessment is None:
            out.append(
                f"purpose {p.key!r}: legitimate interest needs an [assessment] "
                "(interest, necessity, balancing)"
            )
        seen: set[str] = set()
        for c in p.categories:
            if c.key in seen:
                out.append(f"purpose {p.key!r}: data category {c.key!r} is declared twice")
            seen.add(c.key)
            stray = [s for s in c.subjects if s not in p.data_subjects]
            if stray:
                out.append(
                    f"purpose {p.key!r}: category {c.key!r} names subjects {stray} "
                    "that the purpose does not list in data_subjects"
                )
    return out
