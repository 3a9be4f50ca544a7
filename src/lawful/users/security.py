"""Passwords, tokens and second factors: the cryptographic pieces of authentication."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cache

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 12


@cache
def hasher(time_cost: int = 1, memory_kib: int = 65536, parallelism: int = 1) -> PasswordHasher:
    """An argon2id hasher; the defaults (1 pass, 64 MiB) cost about 85 ms a login here (``bench/login.py``)."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def hash_password(password: str, ph: PasswordHasher) -> str:
    return ph.hash(password)


def verify_password(stored: str | None, password: str, ph: PasswordHasher) -> bool:
    """Check ``password``; without a stored hash, spend the same time and say no."""
    if stored is None:
        ph.hash(password)
        return False
    try:
        return ph.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_problem(password: str, *, email: str = "", name: str = "") -> str | None:
    """Why a new password is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > 256:
        return "a password may have at most 256 characters"
    lowered = password.lower()
    for word in (email.split("@")[0].lower(), *name.lower().split()):
        if len(word) >= 4 and word in lowered:
            return "a password must not contain your name or e-mail address"
    if len(set(password)) < 5:
        return "a password needs more different characters"
    return None


def new_token() -> str:
    """A URL-safe random token with 256 bits of entropy."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256 (a token is random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_ok(secret: str | None, code: str) -> bool:
    """A 6-digit code of the current 30-second step, allowing one step of clock drift."""
    code = code.strip().replace(" ", "")
    if not secret or not code.isdigit() or len(code) != 6:
        return False
    return pyotp.TOTP(secret).verify(code, valid_window=1)


def totp_uri(secret: str, *, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def totp_qr_svg(uri: str) -> str:
    """The provisioning URI as an inline SVG QR code (no external service sees the secret)."""
    svg: str = segno.make(uri, error="m").svg_inline(scale=4, title="QR code for your authenticator app")
    return svg
