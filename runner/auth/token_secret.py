"""API token secrets: ``wdn_tok_<id>_<secret>``, shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

PREFIX = "wdn_tok_"
_FORMAT = re.compile(r"wdn_tok_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")


def new_secret() -> tuple[str, str]:
    """A fresh ``(token id, full secret)``; 256 random bits make the hash unguessable."""
    token_id = secrets.token_hex(8)
    return token_id, f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"


def hash_secret(secret: str) -> str:
    # A fast hash is right here (unlike passwords): the secret has 256 random bits, so
    # there is nothing to brute-force, and every request verifies one.
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def token_id_of(secret: str) -> str | None:
    """The id part of a well-formed secret, else None."""
    match = _FORMAT.fullmatch(secret)
    return match.group(1) if match else None


def matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison, so response timing says nothing about the stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)
