"""Key material: how a key looks, and the only form in which it is stored (its SHA-256).

A key is ``rk_<key id>_<secret>``. The id is public (it shows in ``keys list`` and the audit
log); the secret has 256 bits of entropy, so a plain SHA-256 is enough: there is nothing to
brute-force, unlike a password.
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "rk_"


def new_key() -> tuple[str, str]:
    """A fresh (key id, full key)."""
    key_id = secrets.token_hex(6)
    return key_id, f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
