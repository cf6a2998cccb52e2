"""The ledger facade: the one object the rest of Warden holds.

    ledger = Ledger.open(url_or_sqlite_path, key_dir)
    event = ledger.append("session.created", actor="user:alice", session=sid, data={...})
    page = ledger.query(EventFilter(session=sid), after_seq=None, limit=100)
    ledger.proof(event.seq); ledger.export(out_dir); ledger.verify_db(); ledger.close()

``append`` raises ``LedgerUnavailableError`` when the event was not recorded; the caller
must then not perform the action (fail closed).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from audit.chain import Record
from audit.checkpoint import Checkpoint, WormDirectory
from audit.errors import ProofUnavailableError
from audit.event import Event, decode_event
from audit.export import export_csv, export_dir
from audit.merkle import MerkleTree
from audit.proofs import ConsistencyBundle, InclusionBundle
from audit.sequencer import BatchObserver, Sequencer, SequencerConfig
from audit.signing import KeyRing, PublicKeys
from audit.stores.base import EventFilter, Pending, Store
from audit.stores.factory import open_store
from audit.verify import VerifyResult, verify_log


@dataclass(frozen=True)
class Entry:
    """A stored event with its place and hashes."""

    event: Event
    record: Record


@dataclass(frozen=True)
class Page:
    """One page of a query; pass ``next_cursor`` as ``after_seq`` for the next page."""

    entries: list[Entry]
    next_cursor: int | None


class Ledger:
    """Append, query, prove, export and verify one audit log."""

    def __init__(
        self,
        store: Store,
        keys: KeyRing,
        *,
        config: SequencerConfig | None = None,
        worm: WormDirectory | None = None,
        shared: bool = False,
    ) -> None:
        self.store = store
        self.keys = keys
        self.worm = worm
        self._sequencer = Sequencer(
            store, keys, config=config, worm=worm, is_transient=store.transient_errors,
            shared=shared,
        )  # fmt: skip
        self._tree_lock = threading.Lock()
        self._tree: MerkleTree | None = None
        self._sequencer.start()

    def observe_batches(self, observer: BatchObserver | None) -> None:
        """Have ``observer`` told each group-commit batch (size, seconds, error)."""
        self._sequencer.on_batch = observer

    @classmethod
    def open(
        cls,
        url: str | Path,
        key_dir: Path,
        *,
        schema: str | None = None,
        install: bool = True,
        worm_dir: Path | None = None,
        config: SequencerConfig | None = None,
        shared: bool = False,
    ) -> Ledger:
        """Open (creating if needed) the ledger in a SQLite file or PostgreSQL database.

        Args:
            url: ``sqlite:///path``, a plain file path, or ``postgresql://…``.
            key_dir: signing key directory (a first key is generated when empty).
            schema: PostgreSQL schema holding the tables (default ``public``).
            install: create the schema if missing; pass False when connecting as the
                application role (the migration installs it as the owner).
            worm_dir: also write every checkpoint here, write-once.
            shared: several processes append to this PostgreSQL ledger; one elected
                sequencer chains every event (``audit.replication``).
        Raises:
            LedgerUnavailableError: the stored log contradicts its last signed checkpoint.
            KeyStoreError: the key directory is unusable.
        """
        store = open_store(str(url), schema=schema, install=install)
        try:
            keys = KeyRing.open(key_dir)
            worm = WormDirectory(worm_dir) if worm_dir is not None else None
            if shared and not hasattr(store, "election"):
                raise ValueError("only a PostgreSQL ledger can be shared between processes")
            return cls(store, keys, config=config, worm=worm, shared=shared)
        except BaseException:
            store.close()
            raise

    # -- writing ----------------------------------------------------------------------

    def append(
        self,
        type: str,
        *,
        actor: str,
        data: dict[str, Any] | None = None,
        tenant: str | None = None,
        session: str | None = None,
        event_id: str | None = None,
        ts: str | None = None,
        timeout: float | None = None,
    ) -> Event:
        """Record an event and return it with its ``seq``.

        ``event_id`` (with ``ts``) makes a caller's own retry idempotent: the same id and
        content return the stored event; the same id with other content is refused.

        Raises:
            InvalidEventError: a field is malformed, ``data`` is not JCS-encodable, or
                ``event_id`` was already used for different content.
            LedgerUnavailableError: it was not recorded; do not perform the action.
        """
        pending = _pending(type, actor, data, tenant, session, event_id, ts)
        record = self._sequencer.append(pending, timeout)
        return pending.event.placed(record.seq)

    async def append_async(
        self,
        type: str,
        *,
        actor: str,
        data: dict[str, Any] | None = None,
        tenant: str | None = None,
        session: str | None = None,
        event_id: str | None = None,
        ts: str | None = None,
    ) -> Event:
        """``append`` for asyncio code (the event loop is not blocked)."""
        pending = _pending(type, actor, data, tenant, session, event_id, ts)
        record = await self._sequencer.append_async(pending)
        return pending.event.placed(record.seq)

    def checkpoint_now(self) -> Checkpoint | None:
        """Sign a checkpoint over everything committed (None when nothing is new).

        In a process that does not hold the sequencer, wait (a few seconds at most) for
        the sequencer's checkpoint covering the log as it is now.
        """
        if self._sequencer.is_leader:
            return self._sequencer.checkpoint_now()
        size, _ = self.store.head()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            signed = self.store.checkpoints()
            if signed and signed[-1].size >= size:
                return signed[-1]
            time.sleep(0.1)
        return None

    @property
    def is_sequencer(self) -> bool:
        """Whether this process chains and signs (the others relay to it)."""
        return self._sequencer.is_leader

    def rotate_key(self) -> str:
        """Switch to a new signing key (old checkpoints keep verifying); returns its id."""
        return self._sequencer.rotate_key()

    # -- reading ----------------------------------------------------------------------

    def query(
        self, flt: EventFilter | None = None, *, after_seq: int | None = None, limit: int = 100
    ) -> Page:
        """Events matching ``flt`` in seq order after the cursor ``after_seq``."""
        flt = flt or EventFilter()
        records = self.store.query(flt, after_seq, limit)
        entries = [Entry(decode_event(r.canonical, r.seq), r) for r in records]
        # The store selected on its columns; keep what the signed bytes say matches (a
        # page may then be short, but the cursor still moves past every row read).
        kept = [entry for entry in entries if flt.matches(entry.event, entry.record.seq)]
        cursor = records[-1].seq if len(records) == limit else None
        return Page(kept, cursor)

    def checkpoints(self) -> list[Checkpoint]:
        """Every signed checkpoint, by size."""
        return self.store.checkpoints()

    def proof(self, seq: int) -> InclusionBundle:
        """RFC 6962 inclusion proof of event ``seq`` against the newest checkpoint.

        Raises:
            ProofUnavailableError: no event ``seq`` has been committed.
        """
        latest = self._latest_covering(seq + 1)
        tree = self._tree_for(latest.size)
        leaf = tree.hash(seq, seq + 1)
        return InclusionBundle(seq, leaf, tuple(tree.inclusion_proof(seq, latest.size)), latest)

    def consistency(self, old_size: int, new_size: int) -> ConsistencyBundle:
        """RFC 6962 consistency proof between two sizes (e.g. two checkpoints).

        Raises:
            ProofUnavailableError: the sizes are out of order or beyond the signed log.
        """
        if not 0 <= old_size <= new_size:
            raise ProofUnavailableError(f"bad sizes {old_size} -> {new_size}")
        tree = self._tree_for(self._latest_covering(new_size).size)
        path = tuple(tree.consistency_proof(old_size, new_size))
        return ConsistencyBundle(old_size, new_size, tree.root(old_size), tree.root(new_size), path)

    def _latest_covering(self, size: int) -> Checkpoint:
        signed = self.store.checkpoints()
        if not signed or signed[-1].size < size:
            self.checkpoint_now()
            signed = self.store.checkpoints()
        if not signed or signed[-1].size < size:
            raise ProofUnavailableError(f"the log has no signed checkpoint covering size {size}")
        return signed[-1]

    def _tree_for(self, size: int) -> MerkleTree:
        with self._tree_lock:
            if self._tree is None or self._tree.size != size:
                self._tree = MerkleTree(self.store.leaf_hashes(0, size))
            if self._tree.size != size:
                raise ProofUnavailableError(f"stored leaves do not cover size {size}")
            return self._tree

    # -- export and verification ------------------------------------------------------

    def export(self, out: Path, flt: EventFilter | None = None) -> dict[str, Any]:
        """Write a verifiable export directory; returns its manifest."""
        self.checkpoint_now()
        return export_dir(self.store, out, flt or EventFilter(), self.keys.public)

    def export_csv(self, path: Path, flt: EventFilter | None = None) -> int:
        """Write the selected events as CSV; returns the row count."""
        return export_csv(self.store, path, flt or EventFilter())

    def verify_db(self, *, check_canonical: bool = True) -> VerifyResult:
        """Verify the live database against the signed checkpoints (and the WORM copies).

        Also holds every stored column (ts, actor, tenant, session, type, event id) to the
        canonical bytes, naming the first bad seq and column.
        """
        return verify_store(
            self.store, self.keys.public, worm=self.worm, check_canonical=check_canonical
        )

    def close(self) -> None:
        """Commit queued events, sign a final checkpoint, close the database."""
        try:
            self._sequencer.close()
        finally:
            self.store.close()


def verify_store(
    store: Store,
    keys: PublicKeys,
    *,
    worm: WormDirectory | None = None,
    check_canonical: bool = True,
) -> VerifyResult:
    """Verify a store's events, checkpoints and head row, trusting only ``keys``.

    The keys come from the key directory, never from the database's own key table: an
    attacker who can write the database could add a key of their own there.
    """
    size, _ = store.head()
    checkpoints = store.checkpoints() + (worm.read_all() if worm is not None else [])
    result = verify_log(store.records(0, size), checkpoints, keys, check_canonical=check_canonical)
    if result.ok and result.events != size:
        return replace(
            result,
            ok=False,
            first_bad_seq=result.events,
            reason=f"head row says {size} events but the log stops at seq {result.events}",
        )
    return result


def _pending(
    type: str,
    actor: str,
    data: dict[str, Any] | None,
    tenant: str | None,
    session: str | None,
    event_id: str | None,
    ts: str | None,
) -> Pending:
    fields: dict[str, Any] = {"tenant": tenant, "session": session, "data": data or {}}
    if event_id is not None:
        fields["id"] = event_id
    if ts is not None:
        fields["ts"] = ts
    event = Event(type=type, actor=actor, **fields)
    return Pending(event, event.canonical())
