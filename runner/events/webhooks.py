"""Webhooks as the outbox sees them: targets, deliveries, attempts, and where they are kept.

A delivery is one catalogue event for one webhook. Its id is the Standard Webhooks
``webhook-id``: made from the webhook and the event's ledger seq, so enqueueing the same
event twice (a restart half-way) makes the same row, and every retry, replay or
redelivery after a crash carries the same id for the receiver to deduplicate on.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from runner.errors import InvalidInputError

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
SECRET_PREFIX = "whsec_"  # noqa: S105 (the form of a secret, not one)


@dataclass(frozen=True)
class Webhook:
    id: str
    tenant: str
    url: str
    events: tuple[str, ...]
    secret: str
    description: str
    enabled: bool
    created_by: str
    created_at: datetime
    #: Events up to this ledger seq happened before the webhook existed: not sent.
    after_seq: int


@dataclass(frozen=True)
class Attempt:
    number: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True)
class Delivery:
    id: str
    webhook_id: str
    seq: int
    event_type: str
    payload: str
    status: str = PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    created_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str | None = None
    history: tuple[Attempt, ...] = field(default_factory=tuple)


def delivery_id(webhook_id: str, seq: int) -> str:
    """The ``webhook-id`` of one event for one webhook (stable across restarts)."""
    digest = hashlib.sha256(f"{webhook_id}:{seq}".encode()).hexdigest()[:24]
    return f"msg_{digest}"


def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks form (24 random bytes)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def check_secret(secret: str) -> str:
    """The secret if it is ``whsec_<base64>`` of at least 16 bytes.

    Raises:
        InvalidInputError: another form, or too short to resist guessing.
    """
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidInputError("the secret must look like whsec_<base64> (Standard Webhooks)")
    try:
        raw = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except ValueError:
        raise InvalidInputError("the secret after whsec_ is not valid base64") from None
    if len(raw) < 16:
        raise InvalidInputError("the secret must hold at least 16 random bytes")
    return secret


class WebhookStore(Protocol):
    """Where webhooks and their outbox live (``runner.store.webhooks``). Blocking calls."""

    def add(self, hook: Webhook) -> None: ...

    def get(self, webhook_id: str) -> Webhook | None: ...

    def find(self, tenant: str | None) -> list[Webhook]: ...

    def update(self, webhook_id: str, **changes: object) -> Webhook: ...

    def delete(self, webhook_id: str) -> None: ...

    def cursor(self, name: str) -> int | None:
        """How far ``name`` (the outbox filler) has read the ledger."""
        ...

    def enqueue(self, deliveries: Sequence[Delivery], *, name: str, reached: int | None) -> None:
        """Insert new deliveries (skipping ids already there) and move the cursor, at once."""
        ...

    def due(self, now: datetime, *, exclude: set[str], limit: int) -> list[Delivery]: ...

    def deliveries(self, webhook_id: str, *, status: str | None, limit: int) -> list[Delivery]: ...

    def delivery(self, delivery_id: str) -> Delivery | None: ...

    def record_attempt(
        self,
        delivery_id: str,
        attempt: Attempt,
        *,
        status: str,
        next_attempt_at: datetime | None,
    ) -> None: ...

    def replay(self, delivery_id: str, now: datetime) -> Delivery: ...
