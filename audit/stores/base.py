"""What the ledger needs from a database, and the values that cross that seam."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from audit.chain import Record
from audit.checkpoint import Checkpoint
from audit.event import Event

#: Tables (all prefixed so they can share a database with the controller's own tables).
EVENTS, HEAD, CHECKPOINTS, KEYS = "audit_events", "audit_head", "audit_checkpoints", "audit_keys"


@dataclass(frozen=True)
class Pending:
    """An event encoded by its producer, waiting for the writer to place it."""

    event: Event
    canonical: bytes


@dataclass(frozen=True)
class EventFilter:
    """Which events a query or an export selects; ``None`` means any. Bounds are inclusive."""

    session: str | None = None
    actor: str | None = None
    type: str | None = None
    tenant: str | None = None
    since: str | None = None
    until: str | None = None
    from_seq: int | None = None
    to_seq: int | None = None

    def matches(self, event: Event, seq: int) -> bool:
        """Whether the event, as its canonical bytes say, is one this filter selects.

        Stores select on their columns; this holds each result to the signed bytes, so
        an edited column cannot bring another session's or tenant's event into a result.
        """
        return self.mismatch(event, seq) is None

    def mismatch(self, event: Event, seq: int) -> str | None:
        """The first field by which the event falls outside this filter, or None."""
        for name, wanted, value in (
            ("session", self.session, event.session),
            ("actor", self.actor, event.actor),
            ("type", self.type, event.type),
            ("tenant", self.tenant, event.tenant),
        ):
            if wanted is not None and wanted != value:
                return name
        outside = (
            ("ts", self.since is not None and event.ts < self.since),
            ("ts", self.until is not None and event.ts > self.until),
            ("seq", self.from_seq is not None and seq < self.from_seq),
            ("seq", self.to_seq is not None and seq > self.to_seq),
        )
        return next((name for name, out in outside if out), None)

    @property
    def is_contiguous(self) -> bool:
        """True when the selection is a seq (or time) range, not a subset by attribute."""
        return (
            self.session is None
            and self.actor is None
            and self.type is None
            and (self.tenant is None)
        )


class Store(Protocol):
    """A database holding the ledger tables. Every method may raise the driver's errors."""

    #: Driver errors worth a reconnect and retry (connection lost, server restarting).
    transient_errors: tuple[type[BaseException], ...]

    def append(self, batch: Sequence[Pending]) -> list[Record]:
        """Chain and insert ``batch`` in one transaction under the head-row lock.

        Idempotent: an event whose id is already stored is not inserted again; its
        stored record is returned in its place. The result is aligned with ``batch``.
        """
        ...

    def head(self) -> tuple[int, bytes]:
        """(size, chain head) from the head row."""
        ...

    def records(self, start: int = 0, stop: int | None = None) -> Iterator[Record]:
        """Stored records with ``start <= seq < stop`` in seq order, gaps included as gaps.

        Each carries its stored ``columns`` (``audit.columns.COLUMNS``) for verification.
        """
        ...

    def leaf_hashes(self, start: int, stop: int) -> bytes:
        """Concatenated leaf hashes of seq ``start`` to ``stop - 1``."""
        ...

    def query(self, flt: EventFilter, after_seq: int | None, limit: int) -> list[Record]:
        """Records matching ``flt`` with seq > ``after_seq``, ascending, at most ``limit``."""
        ...

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store a signed checkpoint (no-op if one of that size exists)."""
        ...

    def checkpoints(self) -> list[Checkpoint]:
        """Every stored checkpoint, by size."""
        ...

    def add_key(self, kid: str, public_raw: bytes) -> None:
        """Record a public signing key (no-op if known)."""
        ...

    def reconnect(self) -> None:
        """Drop and reopen connections after a failure."""
        ...

    def close(self) -> None:
        """Release every connection."""
        ...


class Pipeline(Protocol):
    """Appends sent one after another on one connection, each its own transaction.

    Batches take their places in the chain in the order they were sent; each answer
    (``receive``) comes only once its batch is committed durably.
    """

    @property
    def in_flight(self) -> int:
        """Batches sent and not yet received."""
        ...

    def send(self, batch: Sequence[Pending]) -> None:
        """Queue ``batch`` for ``audit_append`` behind those in flight."""
        ...

    def wait(self, doorbell: int | None = None) -> bool:
        """Until the oldest is answered (True) or the ``doorbell`` fd is readable (False)."""
        ...

    def receive(self) -> list[Record]:
        """The oldest batch's records, as ``Store.append`` returns them."""
        ...

    def reset(self) -> None:
        """Drop the connection and every batch in flight (after a failure)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class PipelinedStore(Protocol):
    """A store that can pipeline appends on a connection of their own."""

    def pipeline(self) -> Pipeline: ...


class Election(Protocol):
    """The lock that picks one sequencer among processes sharing a store."""

    is_held: bool

    def try_acquire(self) -> bool:
        """Take the lock if free; True when held now."""
        ...

    def wait(self, timeout: float) -> bool:
        """While held, wait for submitted events (True) or ``timeout`` (False).

        Raises:
            LookupError: the lock was lost.
        """
        ...

    def release(self) -> None: ...


class SharedStore(Store, Protocol):
    """A store that several processes append to through one elected sequencer."""

    def submit(self, batch: Sequence[Pending]) -> None:
        """Queue events for the sequencer (idempotent by event id)."""
        ...

    def drain(self, limit: int) -> list[Record]:
        """Append the oldest queued events, at most ``limit``; their stored records."""
        ...

    def placed(self, event_ids: Sequence[str]) -> dict[str, Record]:
        """Stored records of those of ``event_ids`` already in the chain."""
        ...

    def election(self) -> Election: ...


def where_clause(flt: EventFilter, after_seq: int | None, *, mark: str) -> tuple[str, list[Any]]:
    """A WHERE clause over the events table; ``mark`` is the driver's placeholder.

    Column names come from this fixed list, never from input; values are parameters.
    """
    clauses, args = ["1 = 1"], []
    for column in ("session", "actor", "type", "tenant"):
        value = getattr(flt, column)
        if value is not None:
            clauses.append(f"{column} = {mark}")
            args.append(value)
    for clause, value in (
        ("ts >= ", flt.since),
        ("ts <= ", flt.until),
        ("seq >= ", flt.from_seq),
        ("seq <= ", flt.to_seq),
        ("seq > ", after_seq),
    ):
        if value is not None:
            clauses.append(clause + mark)
            args.append(value)
    return " AND ".join(clauses), args
