"""Fixtures of the billing tests: the loopback SMTP server of the mail tests."""

from __future__ import annotations

from tests.users.test_mail import smtp

__all__ = ["smtp"]
