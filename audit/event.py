"""The audit event and its canonical encoding.

An event is what happened (``type`` and ``data``), who did it (``actor``: ``user:<subject>``,
``token:<id>`` or ``system``), where (``tenant``, ``session``) and when (``ts``, RFC 3339
UTC with exactly six fractional digits, e.g. ``2025-01-31T12:00:00.000000Z``). ``id`` is a
client-generated 32-hex identifier that makes an append idempotent across retries.

Canonical form (what is stored, hashed and signed, byte for byte)::

    JCS({"v": 1, "id": ..., "ts": ..., "actor": ..., "tenant": ..., "session": ...,
         "type": ..., "data": {...}})

JCS is RFC 8785: UTF-8, keys sorted by UTF-16 code units, no whitespace, ECMAScript
number formatting. ``tenant`` and ``session`` may be ``null``. The sequence number and the
hashes are NOT inside the canonical bytes: they are positional, and the hash chain and the
Merkle tree commit to position (see ``audit.chain``). Keeping them out lets a producer
encode its event before the writer assigns its place.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import rfc8785

from audit import jcs
from audit.errors import InvalidEventError

#: Version of the canonical event layout; bumped only with a documented migration.
EVENT_VERSION = 1

_TS_RE = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")
_ID_RE = re.compile(r"\A[0-9a-f]{32}\Z")
_KEYS = frozenset({"v", "id", "ts", "actor", "tenant", "session", "type", "data"})


def format_ts(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds: the only timestamp form the ledger stores."""
    if moment.tzinfo is None:
        raise InvalidEventError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_ts() -> str:
    """The current time in the ledger's timestamp form."""
    # isoformat of an aware UTC time ends in "+00:00"; it is cheaper than strftime, and
    # every append pays for it on the producer's thread, under the GIL.
    return datetime.now(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)
_ID_BYTES = 16
_POOL_BYTES = 256 * _ID_BYTES


class _RandomPool(threading.local):
    """Per-thread bytes from the OS CSPRNG, handed out 16 at a time."""

    def __init__(self) -> None:
        self.data = b""
        self.used = 0


_pool = _RandomPool()


def _fresh_pool() -> None:
    # A forked child must not hand out the ids its parent still holds in its pool.
    global _pool
    _pool = _RandomPool()


os.register_at_fork(after_in_child=_fresh_pool)


def new_event_id() -> str:
    """A fresh random event id (UUID4, 32 lowercase hex)."""
    # What uuid.uuid4().hex gives (version 4, RFC 4122 variant, 122 random bits from the
    # OS CSPRNG: an id must not be guessable, or someone could store an event under the
    # id another append is about to use and so have that append refused). os.urandom
    # releases the GIL around its system call; called for every event, that handed the
    # GIL to another of many producer threads mid-append, and each such handoff is a
    # context switch the append waited for. So each thread takes 4 KiB at a time and
    # uses every 16 bytes once (thread-local: no lock, no byte given to two threads).
    pool = _pool
    start = pool.used
    if start + _ID_BYTES > len(pool.data):
        pool.data, start = os.urandom(_POOL_BYTES), 0
    pool.used = start + _ID_BYTES
    raw = int.from_bytes(pool.data[start : start + _ID_BYTES])
    return f"{raw & _UUID4_CLEAR | _UUID4_SET:032x}"


@dataclass(frozen=True)
class Event:
    """One audit event. ``seq`` is ``None`` until the sequencer places it."""

    type: str
    actor: str
    data: dict[str, Any] = field(default_factory=dict)
    tenant: str | None = None
    session: str | None = None
    ts: str = field(default_factory=now_ts)
    id: str = field(default_factory=new_event_id)
    seq: int | None = None

    def __post_init__(self) -> None:
        _check_text("type", self.type)
        _check_text("actor", self.actor)
        for name in ("tenant", "session"):
            value = getattr(self, name)
            if value is not None:
                _check_text(name, value)
        if not _TS_RE.match(self.ts):
            raise InvalidEventError(f"ts {self.ts!r} is not RFC 3339 UTC with microseconds")
        if not _ID_RE.match(self.id):
            raise InvalidEventError(f"id {self.id!r} is not 32 lowercase hex digits")
        if not isinstance(self.data, dict):
            raise InvalidEventError("data must be a JSON object")

    def placed(self, seq: int) -> Event:
        """This event at its place ``seq`` in the log.

        Not ``dataclasses.replace``: that validates every field again, on every append.
        The copy shares ``data`` with this event, as ``copy.copy`` did.
        """
        placed = object.__new__(type(self))  # nor copy.copy: a third of the cost again
        placed.__dict__.update(self.__dict__, seq=seq)
        return placed

    def body(self) -> dict[str, Any]:
        """The canonical object (without ``seq``)."""
        return {
            "v": EVENT_VERSION,
            "id": self.id,
            "ts": self.ts,
            "actor": self.actor,
            "tenant": self.tenant,
            "session": self.session,
            "type": self.type,
            "data": self.data,
        }

    def canonical(self) -> bytes:
        """RFC 8785 bytes of the event; raises ``InvalidEventError`` on non-JCS values."""
        try:
            return jcs.dumps(self.body())
        except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
            raise InvalidEventError(f"event {self.id} cannot be canonicalised: {exc}") from exc


def _check_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidEventError(f"{name} must be a non-empty string")


def decode_event(canonical: bytes, seq: int | None = None) -> Event:
    """Parse stored canonical bytes back into an ``Event`` (no canonical-form check).

    Raises:
        InvalidEventError: the bytes are not a well-formed version-1 event.
    """
    try:
        body = json.loads(canonical)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidEventError(f"not JSON: {exc}") from exc
    if not isinstance(body, dict) or set(body) != _KEYS:
        raise InvalidEventError("not an event object (wrong keys)")
    if body["v"] != EVENT_VERSION:
        raise InvalidEventError(f"unknown event version {body['v']!r}")
    return Event(
        type=body["type"],
        actor=body["actor"],
        data=body["data"],
        tenant=body["tenant"],
        session=body["session"],
        ts=body["ts"],
        id=body["id"],
        seq=seq,
    )


def is_canonical(canonical: bytes) -> bool:
    """True when the bytes are a valid event already in RFC 8785 form (re-encodes identically)."""
    try:
        event = decode_event(canonical)
        return jcs.dumps(event.body()) == canonical
    except (InvalidEventError, rfc8785.CanonicalizationError, TypeError, ValueError):
        return False
