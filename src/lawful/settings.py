"""Settings of one Lawful installation: environment variables with the prefix ``LAWFUL_``."""

from __future__ import annotations

from decimal import Decimal
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

    base_url: str = Field(default="http://127.0.0.1:8000", description="public address, for links in e-mail")

    # Authentication
    argon2_time_cost: int = Field(
        default=1, ge=1, description="argon2id passes (bench/login.py: ~85 ms a login)"
    )
    argon2_memory_kib: int = Field(default=65536, ge=8192, description="argon2id memory in KiB")
    argon2_parallelism: int = Field(default=1, ge=1)
    session_idle_minutes: int = Field(default=60, ge=1, description="a session ends after this long unused")
    session_max_hours: int = Field(default=12, ge=1, description="and after this long in any case")
    invitation_days: int = Field(default=7, ge=1)
    password_reset_minutes: int = Field(default=60, ge=5)
    login_account_failures: int = Field(default=5, ge=1, description="failures before an account locks")
    login_ip_failures: int = Field(default=20, ge=1, description="failures before an IP address is refused")
    login_window_minutes: int = Field(default=15, ge=1, description="the window of both limits")

    # Monitoring
    maintenance_minutes: float = Field(
        default=10,
        ge=0,
        description="run rollups, raw-event retention and salt destruction this often (0: off)",
    )

    # Billing (the seller's name and VAT number come from the policy's [organisation])
    seller_street: str = Field(default="Keizersgracht 1", description="the seller's address on invoices")
    seller_postal_code: str = "1015 AA"
    seller_city: str = "Amsterdam"
    seller_country: str = Field(default="NL", min_length=2, max_length=2)
    seller_email: str = Field(default="billing@example.com", description="on invoices, for questions")
    invoice_iban: str | None = Field(default="NL91ABNA0417164300", description="payments go here")
    invoice_bic: str | None = "ABNANL2A"
    vat_rate: Decimal = Field(default=Decimal("21"), ge=0, le=100, description="Dutch standard rate, percent")
    payment_terms_days: int = Field(default=14, ge=0, le=120)
    billing_grace_days: int = Field(
        default=3, ge=0, le=30, description="days after a month in which late usage still updates drafts"
    )
    billing_auto_finalise: bool = Field(
        default=True, description="the daily job finalises a month's drafts when its grace period is over"
    )
    billing_hour: int = Field(default=2, ge=0, le=23, description="UTC hour of the daily billing job")
    retention_hour: int = Field(
        default=3,
        ge=-1,
        le=23,
        description="UTC hour of the daily retention run (-1: not in the app; then schedule `lawful retention run`)",
    )
    vies: bool = Field(default=False, description="check EU VAT numbers with VIES as well as their format")

    # Agreements: the terms of service and the public sign-up
    terms: Path | None = Field(
        default=None, description="the terms of service, a Markdown file; a shipped example if unset"
    )
    signup_open: bool = Field(default=True, description="customers may sign up and order on the website")
    signup_confirm_hours: int = Field(
        default=24, ge=1, le=168, description="a confirmation link works this long"
    )
    signup_ip_limit: int = Field(default=10, ge=1, description="sign-ups per IP address per window")
    confirm_ip_limit: int = Field(
        default=20, ge=1, description="confirmation attempts per IP address per window"
    )
    signup_window_minutes: int = Field(default=60, ge=1, description="the window of both limits")
    signup_mails_per_hour: int = Field(default=3, ge=1, description="sign-up mails to one address per hour")

    # Mail: SMTP when smtp_host is set, else the local outbox only (shown in the console)
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    smtp_timeout: float = 10.0
    mail_from: str = "Lawful <no-reply@example.com>"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

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
