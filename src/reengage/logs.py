"""Logging setup. Log lines carry ids (org, key, record) and never patient data."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure(level: str = "INFO") -> None:
    root = logging.getLogger()
    if not any(getattr(h, "_reengage", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        handler._reengage = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level.upper())
    # SQL statements are logged with their parameters at INFO; never let them through. The
    # providers' HTTP clients log what they send at DEBUG: SendGrid's the message, its
    # address and the API key, Twilio's the account's URL and headers.
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


QUIET = ("sqlalchemy.engine", "python_http_client", "twilio")
