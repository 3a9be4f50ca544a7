"""Request-scoped dependencies: the database, the policy, and units of work bound to a purpose."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from fastapi import Request

from lawful.data.db import Database, PurposeSession
from lawful.data.purpose import Actor
from lawful.policy.model import Policy
from lawful.settings import Settings


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_policy(request: Request) -> Policy:
    policy: Policy = request.app.state.policy
    return policy


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def unit_of_work(purpose: str, actor: Actor) -> Callable[[Request], Iterator[PurposeSession]]:
    """A dependency yielding a session under ``purpose`` that commits when the request succeeds."""

    def dependency(request: Request) -> Iterator[PurposeSession]:
        with get_db(request).unit_of_work(purpose, actor) as session:
            yield session

    return dependency
