from __future__ import annotations

from dataclasses import dataclass

# What each role may do. ``read_patients``: any response that names patients. ``import``:
# whole files through ``POST .../imports`` (an integration's key, or an admin's). ``alerts``:
# acknowledging and resolving alerts (people's keys, not an integration's). ``checkins``:
# approving or cancelling a day's check-in messages (people's keys too).
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {
            "analytics",
            "read_patients",
            "write",
            "alerts",
            "checkins",
            "settings",
            "keys",
            "import",
        }
    ),
    "staff": frozenset({"analytics", "read_patients", "write", "alerts", "checkins"}),
    "ingest": frozenset({"write", "import"}),
    "viewer": frozenset({"analytics"}),
}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, its org and its role (never the key itself)."""

    key_id: str
    org_id: str
    role: str

    def may(self, permission: str) -> bool:
        return permission in PERMISSIONS[self.role]
