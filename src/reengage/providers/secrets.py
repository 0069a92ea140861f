"""Providers' credentials encrypted at rest (Fernet: AES-128-CBC with an HMAC-SHA256, from
``cryptography``), with a key that lives in the environment, never in the database: a copy
of the database alone does not give away a clinic's Twilio account."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class SecretsUnavailable(Exception):
    """No usable key is configured (``REENGAGE_SECRET_KEY``), or it is not the key the
    secret was stored with."""


def new_key() -> str:
    return Fernet.generate_key().decode()


def _fernet(key: str) -> Fernet:
    if not key:
        raise SecretsUnavailable(
            "REENGAGE_SECRET_KEY is not set: providers' credentials cannot be stored or read "
            "(reengage secret-key prints a new key)"
        )
    try:
        return Fernet(key.encode())
    except ValueError:
        raise SecretsUnavailable(
            "REENGAGE_SECRET_KEY is not a key: 32 bytes in urlsafe base64 (reengage secret-key)"
        ) from None


def seal(key: str, secret: str) -> str:
    return _fernet(key).encrypt(secret.encode()).decode()


def unseal(key: str, sealed: str) -> str:
    try:
        return _fernet(key).decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise SecretsUnavailable(
            "a stored credential does not open with REENGAGE_SECRET_KEY (was the key changed?)"
        ) from None
