"""Remote approval links: single-use, expiring, signed, bound to one session and prompt.

A link is ``<id>.<signature>``: the id names a stored row (session, prompt hash,
decision, expiry, whether used), the signature (HMAC-SHA256 with a key only the
controller holds) proves the link was made here, so ids cannot be guessed or altered.
The prompt hash covers the tool, its command or path and the options: when another
prompt is on screen by the time the link is used, the hash differs and it is refused.
Using a link needs a logged-in person, and is consumed before anything is pressed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from runner.core import utcnow
from runner.errors import ConflictError, NotFoundError
from runner.terminal.permission import prompt_hash

__all__ = ["DECISIONS", "ApprovalLink", "ApprovalLinks", "LinkStore", "load_key", "prompt_hash"]

DECISIONS = ("approve", "reject")


@dataclass(frozen=True)
class ApprovalLink:
    id: str
    session_id: str
    prompt_hash: str
    decision: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    used_by: str | None = None


class LinkStore(Protocol):
    def add(self, link: ApprovalLink) -> None: ...

    def get(self, link_id: str) -> ApprovalLink | None: ...

    def consume(self, link_id: str, by: str, at: datetime) -> bool:
        """Mark the link used if it was not; False when someone used it first."""
        ...


def load_key(path: Path) -> bytes:
    """The link-signing key, made (readable by the controller only) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    return path.read_bytes()


class ApprovalLinks:
    def __init__(self, store: LinkStore, key: bytes, *, ttl_seconds: float) -> None:
        self._store = store
        self._key = key
        self._ttl = timedelta(seconds=ttl_seconds)

    def issue(self, session_id: str, details: Mapping[str, Any], decision: str) -> str:
        """A new link token for ``decision`` on the prompt ``details`` (blocking)."""
        now = utcnow()
        link = ApprovalLink(
            id=secrets.token_hex(16),
            session_id=session_id,
            prompt_hash=prompt_hash(details),
            decision=decision,
            created_at=now,
            expires_at=now + self._ttl,
        )
        self._store.add(link)
        return f"{link.id}.{self._sign(link.id)}"

    def _sign(self, link_id: str) -> str:
        return hmac.new(self._key, link_id.encode(), hashlib.sha256).hexdigest()

    def resolve(self, token: str) -> ApprovalLink:
        """The link a token names, whatever its state (blocking).

        Raises:
            NotFoundError: a malformed, forged or unknown token (one answer for all).
        """
        link_id, _, signature = token.partition(".")
        # Constant time: the signature must not be found byte by byte.
        # Compared as bytes: compare_digest refuses non-ASCII text (a 500, not a 404).
        given = signature.encode("utf-8", "surrogatepass")
        if not signature or not hmac.compare_digest(given, self._sign(link_id).encode()):
            raise NotFoundError("this approval link is not valid")
        link = self._store.get(link_id)
        if link is None:
            raise NotFoundError("this approval link is not valid")
        return link

    def redeem(self, token: str, by: str, current: Mapping[str, Any] | None) -> ApprovalLink:
        """Check the link against the prompt on screen now and use it up (blocking).

        Raises:
            NotFoundError: not a valid link.
            ConflictError: used, expired, or the prompt changed (nothing is pressed).
        """
        link = self.resolve(token)
        now = utcnow()
        if link.used_at is not None:
            raise ConflictError(
                "this approval link was already used", details={"usedBy": link.used_by}
            )
        if now > link.expires_at:
            raise ConflictError("this approval link has expired")
        if current is None or prompt_hash(current) != link.prompt_hash:
            raise ConflictError(
                "the prompt this link was made for is no longer on screen; nothing was done"
            )
        if not self._store.consume(link.id, by, now):
            raise ConflictError("this approval link was already used")
        return link
