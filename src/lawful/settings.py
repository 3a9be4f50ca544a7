"""Settings of one Lawful installation: environment variables with the prefix ``LAWFUL_``."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from lawful.policy.loader import load_policy
from lawful.policy.model import Policy


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LAWFUL_", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="where the embedded SQLite database lives")
    database_url: str | None = Field(default=None, description="e.g. postgresql://user@host/lawful")
    policy: Path | None = Field(default=None, description="the policy file; the shipped default if unset")
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"

    @property
    def url(self) -> str:
        """The database URL: ``LAWFUL_DATABASE_URL`` or a SQLite file in ``LAWFUL_DATA_DIR``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'lawful.db').resolve()}"

    @property
    def embedded(self) -> bool:
        return self.database_url is None or self.database_url.startswith("sqlite")

    @cached_property
    def loaded_policy(self) -> Policy:
        return load_policy(self.policy)
