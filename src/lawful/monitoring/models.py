"""The monitoring store: sites, daily salts, raw tracker events, usage events and rollups.

Raw events are pseudonymous and short-lived (the policy's ``raw_event_days``); their timestamps
are integer milliseconds since the epoch (UTC), which keeps a row small and range scans cheap
on both backends. Rollups are anonymous daily aggregates and are kept.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from lawful.data.annotations import not_personal, personal, subject
from lawful.data.base import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow

# An integer primary key that is SQLite's rowid and a PostgreSQL bigint identity.
EventId = BigInteger().with_variant(Integer(), "sqlite")

BEHAVIOUR = "user.behavior.browsing_history"
DEVICE = "user.device"


class Site(IdMixin, TimestampMixin, Base):
    """A website or online service measured by the tracker script, registered in the console."""

    __tablename__ = "sites"

    domain: Mapped[str] = mapped_column(String(253), unique=True)  # as in data-site="example.com"
    name: Mapped[str] = mapped_column(String(200), info=not_personal("the site's display name"))
    active: Mapped[bool] = mapped_column(default=True)


class Salt(Base):
    """The random key of one UTC day; visitor codes of that day can be recomputed only while it exists."""

    __tablename__ = "monitoring_salts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PageEvent(Base):
    """One event from the tracker script: a page view, a click, an outbound link, an engagement."""

    __tablename__ = "page_events"
    __table_args__ = (
        Index("ix_page_events_site_ts", "site_id", "ts"),
        Index("ix_page_events_ts", "ts"),
        {"info": subject("anonymous_user", key="visitor_id", logged=False, kept="monitoring", since="ts")},
    )

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    site_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("sites.id", ondelete="CASCADE"))
    ts: Mapped[int] = mapped_column(BigInteger)  # milliseconds since the epoch, UTC
    visitor_id: Mapped[int] = mapped_column(BigInteger, info=personal("user.unique_id.pseudonymous"))
    name: Mapped[str] = mapped_column(
        String(64),
        info=not_personal("the kind of event: pageview, engagement, outbound or a site's event name"),
    )
    path: Mapped[str] = mapped_column(String(1024), info=personal(BEHAVIOUR))
    query: Mapped[str | None] = mapped_column(String(512), info=personal(BEHAVIOUR))  # kept parameters only
    referrer_host: Mapped[str | None] = mapped_column(String(253), info=personal(BEHAVIOUR))
    target: Mapped[str | None] = mapped_column(String(1024), info=personal(BEHAVIOUR))  # a link's address
    engaged_ms: Mapped[int | None] = mapped_column(Integer, info=personal(BEHAVIOUR))
    browser: Mapped[str | None] = mapped_column(String(40), info=personal(DEVICE))
    browser_version: Mapped[str | None] = mapped_column(String(12), info=personal(DEVICE))
    os: Mapped[str | None] = mapped_column(String(40), info=personal(DEVICE))
    device: Mapped[str | None] = mapped_column(String(10), info=personal(DEVICE))
    ip_prefix: Mapped[str | None] = mapped_column(String(43), info=personal("user.device.ip_address"))


class UsageService(IdMixin, TimestampMixin, Base):
    """One of the company's online services that reports usage with its own API key."""

    __tablename__ = "usage_services"

    name: Mapped[str] = mapped_column(String(100), unique=True, info=not_personal("a service's name"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the key
    key_prefix: Mapped[str] = mapped_column(String(12))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UsageEvent(Base):
    """One usage event reported by a service, counted for the customer account's fees."""

    __tablename__ = "usage_events"
    __table_args__ = (
        UniqueConstraint("service_id", "idempotency_key"),
        # covering: a customer's totals over a few days read the index only (bench/billing.py)
        Index("ix_usage_events_customer_ts_code_value", "customer_id", "ts", "code", "value_micros"),
        Index("ix_usage_events_ts", "ts"),
        # A person's usage events, for their access report, erasure and objection (most have none).
        Index(
            "ix_usage_events_user",
            "user_id",
            sqlite_where=text("user_id IS NOT NULL"),
            postgresql_where=text("user_id IS NOT NULL"),
        ),
        {"info": subject("employee", key="user_id", logged=False, kept="monitoring", since="ts")},
    )

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    service_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("usage_services.id"))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), index=True, info=personal("user.unique_id")
    )
    code: Mapped[str] = mapped_column(String(64))
    ts: Mapped[int] = mapped_column(BigInteger)  # milliseconds since the epoch, UTC
    value_micros: Mapped[int] = mapped_column(BigInteger)  # the numeric value times 1,000,000
    properties: Mapped[str | None] = mapped_column(Text)  # JSON object of scalars, no personal data
    received_at: Mapped[int] = mapped_column(BigInteger)


class Rollup(Base):
    """Anonymous daily totals of one site per dimension value (kept after the raw events are gone).

    ``dimension`` is one of ``total``, ``page``, ``entry``, ``exit``, ``referrer``, ``browser``,
    ``os``, ``device``, ``event``; ``value`` is the page, host, browser… (empty for ``total``).
    """

    __tablename__ = "monitoring_rollups"
    __table_args__ = (Index("ix_monitoring_rollups_site_dimension_day", "site_id", "dimension", "day"),)

    site_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(1024), primary_key=True)
    visitors: Mapped[int] = mapped_column(BigInteger, default=0)
    visits: Mapped[int] = mapped_column(BigInteger, default=0)
    pageviews: Mapped[int] = mapped_column(BigInteger, default=0)
    events: Mapped[int] = mapped_column(BigInteger, default=0)
    bounces: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_ms: Mapped[int] = mapped_column(BigInteger, default=0)  # sum of visit lengths


class IngestCount(Base):
    """Anonymous daily counts of what ingestion turned away, per site and reason (objection, bot)."""

    __tablename__ = "monitoring_ingest_counts"

    site_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    reason: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class MonthlyRollup(Base):
    """The daily rollups of one calendar month summed (rebuilt whenever a day of it is rolled up).

    Long ranges read these: a year is twelve rows per value instead of 365. Visitors are the sum
    of the daily visitors, as everywhere (visitor codes change every day).
    """

    __tablename__ = "monitoring_rollups_monthly"
    __table_args__ = (
        Index("ix_monitoring_rollups_monthly_site_dimension_month", "site_id", "dimension", "month"),
    )

    site_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[date] = mapped_column(Date, primary_key=True)  # the first day of the month
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(1024), primary_key=True)
    visitors: Mapped[int] = mapped_column(BigInteger, default=0)
    visits: Mapped[int] = mapped_column(BigInteger, default=0)
    pageviews: Mapped[int] = mapped_column(BigInteger, default=0)
    events: Mapped[int] = mapped_column(BigInteger, default=0)
    bounces: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_ms: Mapped[int] = mapped_column(BigInteger, default=0)
