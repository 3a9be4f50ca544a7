"""Lawful: a back office for SaaS companies in which the privacy statement is true by construction."""

__version__ = "0.1.0"
