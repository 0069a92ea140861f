"""Process-wide configuration, read once from the environment (prefix ``REENGAGE_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = f"sqlite:///{Path('.reengage/reengage.db').absolute()}"


class Settings(BaseSettings):
    """Everything an operator may set; org-level knobs live in each org's settings instead."""

    model_config = SettingsConfigDict(env_prefix="REENGAGE_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    log_level: str = "INFO"
    # Largest request body accepted, in bytes; a full 10,000-record batch fits comfortably.
    max_body_bytes: int = 20 * 1024 * 1024
    # Largest file accepted by POST /api/v1/orgs/{org_id}/imports, in bytes (send it with a
    # Content-Length: a body without one is held in memory while it is measured).
    max_import_bytes: int = 500 * 1024 * 1024
    # Reverse proxies whose X-Forwarded-For names the client (comma list of addresses or
    # networks, e.g. "10.0.0.5,10.1.0.0/16"). Empty: the header is ignored and the client is
    # the connecting address, so nobody can write another address into the audit log.
    trusted_proxies: str = ""
    # Failed key checks (API keys and dashboard sign-ins) allowed before a 429, per client
    # address and per org, in the ``limits`` notation ("20/minute", "200/10 minutes").
    key_failures_per_client: str = "20/minute"
    key_failures_per_org: str = "200/10 minutes"
    # Requests one process works on at once; the others wait their turn (503 after 30 s).
    # Each holds at most one database connection, so it stays below the pool's 15.
    requests_at_once: int = Field(default=8, ge=1, le=15)
    # The bearer token /metrics asks for (Prometheus' scrape config sends it). Empty: off.
    metrics_token: str = ""
    # The key that encrypts providers' credentials at rest (a Fernet key: 32 bytes, urlsafe
    # base64; `reengage secret-key` prints a new one). Empty: credentials cannot be stored,
    # and the provider webhooks answer 403.
    secret_key: str = ""
    # The address providers call (e.g. https://reengage.example-clinic.au): Twilio signs the
    # full URL it called, which a reverse proxy hides from us. Empty: the request's own URL.
    public_url: str = ""
    # Where the scheduler runs (alerts, the digest, webhooks, the nightly standings, the
    # rebuild after a settings change): "auto" runs it inside `reengage serve` on SQLite
    # and leaves it to `reengage worker` on PostgreSQL; "on" and "off" say so for serve.
    scheduler: Literal["auto", "on", "off"] = "auto"
    # Seconds between the scheduler's passes over the orgs (how soon a write's alerts come).
    scheduler_tick_seconds: float = Field(default=10.0, ge=0.5, le=600)
    # The SMTP server the digest goes through; empty host: no email is sent (each digest
    # is logged as failed with that reason). security: starttls (port 587), tls (465), none.
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = "reengage@localhost"
    # Seconds a webhook receiver or the SMTP server has to answer one attempt.
    delivery_timeout_seconds: float = Field(default=10.0, ge=1, le=120)
    # Where the check-ins' providers answer: Twilio's REST API and SendGrid's v3 API (set
    # them to reach the providers through an egress proxy).
    twilio_api_url: str = "https://api.twilio.com"
    sendgrid_api_url: str = "https://api.sendgrid.com"


def base_url(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> str:
    """Where people reach the dashboard: the links in emails."""
    return settings.public_url.rstrip("/") or f"http://{host}:{port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
