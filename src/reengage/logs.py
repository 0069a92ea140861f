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
    # SQL statements are logged with their parameters at INFO; never let them through.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
