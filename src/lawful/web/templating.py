"""Jinja2 templates of the web pages (autoescaped)."""

from __future__ import annotations

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape

environment = Environment(
    loader=PackageLoader("lawful.web", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates = Jinja2Templates(env=environment)
