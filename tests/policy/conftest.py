"""Fixtures for the policy tests: variants of the default policy, written to a temporary file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lawful.policy.loader import default_policy_path

EditPolicy = Callable[..., Path]


@pytest.fixture(scope="session")
def default_text() -> str:
    return default_policy_path().read_text(encoding="utf-8")


@pytest.fixture
def edit_policy(tmp_path: Path, default_text: str) -> EditPolicy:
    """``edit_policy((old, new), ..., append="...")``: the default policy with each ``old`` (which must
    occur exactly once) replaced by ``new`` and ``append`` added at the end, written to a file."""

    def edit(*replacements: tuple[str, str], append: str = "") -> Path:
        text = default_text
        for old, new in replacements:
            assert text.count(old) == 1, f"{old!r} must occur exactly once in the default policy"
            text = text.replace(old, new)
        path = tmp_path / "edited-policy.toml"
        path.write_text(text + append, encoding="utf-8")
        return path

    return edit
