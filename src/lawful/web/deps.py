"""Request-scoped dependencies: the database, the policy, the published documents, and units of
work bound to a purpose."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from fastapi import Request

from lawful.data.db import Database, PurposeSession
from lawful.data.purpose import Actor
from lawful.policy.model import Policy
from lawful.settings import Settings

if TYPE_CHECKING:
    from lawful.agreements.publication import Publication


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_policy(request: Request) -> Policy:
    policy: Policy = request.app.state.policy
    return policy


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_publication(request: Request) -> Publication:
    """The terms and the statement this app publishes (:mod:`lawful.agreements.publication`)."""
    publication: Publication = request.app.state.publication
    return publication


def ensure_published(request: Request) -> None:
    """Publish the app's terms and statement if this process has not yet, so that a record made
    now names the versions in force (the app does it when it starts; this is the retry)."""
    get_publication(request).ensure()


def unit_of_work(purpose: str, actor: Actor) -> Callable[[Request], Iterator[PurposeSession]]:
    """A dependency yielding a session under ``purpose`` that commits when the request succeeds."""

    def dependency(request: Request) -> Iterator[PurposeSession]:
        with get_db(request).unit_of_work(purpose, actor) as session:
            yield session

    return dependency
