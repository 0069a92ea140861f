"""Process-wide configuration, read once from the environment (prefix ``REENGAGE_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = f"sqlite:///{Path('.reengage/reengage.db').absolute()}"


class Settings(BaseSettings):
    """Everything an operator may set; org-level knobs live in each org's settings instead."""

    model_config = SettingsConfigDict(env_prefix="REENGAGE_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    log_level: str = "INFO"
    # Largest request body accepted, in bytes; a full 10,000-record batch fits comfortably.
    max_body_bytes: int = 20 * 1024 * 1024


@lru_cache
def get_settings() -> Settings:
    return Settings()
