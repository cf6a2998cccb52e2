"""The single writer: one thread per database that appends events in group commits.

Producers (any thread; asyncio via ``append_async``) queue an encoded event with a
``Ticket`` (``audit.ticket``) and wait on it. The writer takes everything queued (up to
``max_batch``, lingering ``max_wait_ms`` for more once the queue drains), appends it in one
transaction under the head-row lock, and answers each ticket with the stored record,
or with ``LedgerUnavailableError`` when the write failed: the caller must then refuse
the action it wanted to record (fail closed). Transient faults (a restarting
PostgreSQL) are retried for ``retry_seconds``; appends are idempotent by event id, so
a batch whose commit was lost with the connection is neither lost nor duplicated.

After commits it signs a checkpoint over the Merkle root of the whole log at most once
per ``checkpoint_interval`` while events flow, and once more on close.

With ``shared=True`` (PostgreSQL, several controller replicas) only the process holding
the election lock chains and signs; the others relay their batches to it through the
database (``audit.replication``), and any of them takes over when it dies.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from typing import cast

from audit.batch import Batch
from audit.chain import GENESIS, Record
from audit.checkpoint import Checkpoint, WormDirectory
from audit.errors import LedgerUnavailableError
from audit.inflight import InFlight
from audit.merkle import Frontier
from audit.replication import Replication
from audit.resume import resume_state
from audit.retry import retrying
from audit.signer import Signer
from audit.signing import KeyRing
from audit.stores.base import Pending, PipelinedStore, SharedStore, Store
from audit.ticket import Ticket, notify

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SequencerConfig:
    """Group-commit and checkpoint tuning."""

    max_batch: int = 1000
    max_wait_ms: float = 0.0
    checkpoint_interval: float = 1.0
    retry_seconds: float = 20.0
    #: How often a relaying replica tries for the sequencer lock (shared stores).
    election_interval: float = 0.5
    #: Batches in flight at once on a store that pipelines appends (PostgreSQL): the
    #: next one is sent while the last commits. 1 waits for each commit before the next.
    pipeline_depth: int = 2


class _Control:
    """A request the writer handles between batches: "checkpoint", "rotate" or "stop"."""

    def __init__(self, action: str) -> None:
        self.action = action
        self.future: Future[Checkpoint | None] = Future()


#: Told after each batch the writer committed or failed: its size, its seconds, the error.
BatchObserver = Callable[[int, float, BaseException | None], None]


class Sequencer:
    """Owns the write side of one store: the queue, the writer thread, the Merkle frontier."""

    def __init__(
        self,
        store: Store,
        keys: KeyRing,
        *,
        config: SequencerConfig | None = None,
        worm: WormDirectory | None = None,
        is_transient: type[BaseException] | tuple[type[BaseException], ...] = (),
        shared: bool = False,
    ) -> None:
        self._store = store
        self._keys = keys
        self._config = config or SequencerConfig()
        self._transient = is_transient
        self._queue: queue.SimpleQueue[Ticket | _Control] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._frontier = Frontier()
        self._head = GENESIS
        self._signer = Signer(store, keys, worm, self._config.checkpoint_interval)
        self._thread = threading.Thread(target=self._run, name="audit-sequencer", daemon=True)
        self._replication: Replication | None = None
        if shared:
            transient = is_transient if isinstance(is_transient, tuple) else (is_transient,)
            self._replication = Replication(
                cast(SharedStore, store),
                self._wake,
                interval=self._config.election_interval,
                transient=transient,
            )
        #: Whether this process chains events (always, unless another replica does).
        self.is_leader = self._replication is None
        #: Called from the writer thread after each batch (telemetry); never fails it.
        self.on_batch: BatchObserver | None = None
        self._flight: InFlight | None = None  # batches sent down the store's pipeline
        if isinstance(store, PipelinedStore) and self._config.pipeline_depth > 1:
            self._flight = InFlight(
                store.pipeline(),
                depth=self._config.pipeline_depth,
                max_batch=self._config.max_batch,
                transient=store.transient_errors,
            )

    # -- producer side -----------------------------------------------------------------

    def start(self) -> None:
        """Load the frontier from the store (checked against the last checkpoint) and run.

        Raises:
            LedgerUnavailableError: the stored log does not match its last signed checkpoint.
        """
        for kid, raw in self._keys.public.keys.items():
            self._store.add_key(kid, raw)
        if self._replication is None or self._replication.claim():
            self._resume()
        self._thread.start()
        if self._replication is not None:
            self._replication.start()

    def _resume(self) -> None:
        """Become the writer: the frontier and head from the store, as it is now."""
        state = resume_state(self._store, self._keys)
        self._frontier, self._head = state.frontier, state.head
        self._signer.resumed(state.last_checkpoint_size)
        self.is_leader = True

    def _wake(self, action: str) -> None:
        """Queue a replication step ("promote", "demote", "drain") for the writer thread."""
        self._queue.put(_Control(action))

    def _enqueue(self, ticket: Ticket) -> None:
        with self._lock:
            if self._closed:
                raise LedgerUnavailableError("the audit ledger is closed")
            self._queue.put(ticket)
        if self._flight is not None:
            self._flight.queued(self._queue.qsize())

    def append(self, pending: Pending, timeout: float | None = None) -> Record:
        """Queue an event and wait for it to be committed.

        Raises:
            LedgerUnavailableError: it was not recorded (or not within ``timeout``).
        """
        wait = timeout if timeout is not None else self._config.retry_seconds + 10
        ticket = Ticket(pending)
        self._enqueue(ticket)
        try:
            return ticket.wait(wait)
        except TimeoutError as exc:
            raise LedgerUnavailableError(f"audit append not committed within {wait}s") from exc

    async def append_async(self, pending: Pending) -> Record:
        """``append`` for asyncio code: awaits the writer without blocking the loop."""
        ticket = Ticket.for_loop(pending)
        self._enqueue(ticket)
        return await ticket.future

    def checkpoint_now(self) -> Checkpoint | None:
        """Sign a checkpoint for everything committed so far (None if nothing new)."""
        return self._control("checkpoint")

    def rotate_key(self) -> str:
        """Sign a last checkpoint with the old key, then switch to a new key; returns its id.

        Runs on the writer thread so no checkpoint is signed half-way through the switch.
        """
        self._control("rotate")
        return self._keys.active_key_id

    def close(self) -> None:
        """Commit what is queued, sign a final checkpoint, stop the writer thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._thread.is_alive():
            self._control("stop", force=True)
            self._thread.join()
        if self._replication is not None:
            self._replication.stop()  # after the final checkpoint: the next one continues
        if self._flight is not None:
            self._flight.close()

    def _control(self, action: str, *, force: bool = False) -> Checkpoint | None:
        request = _Control(action)
        if not force:
            with self._lock:
                if self._closed:
                    raise LedgerUnavailableError("the audit ledger is closed")
                self._queue.put(request)
        else:
            self._queue.put(request)
        return request.future.result()

    # -- writer side -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # never leave producers waiting on a dead writer
            log.exception("audit sequencer stopped unexpectedly")
            with self._lock:
                self._closed = True
            self._fail_queued(exc)
            raise
        self._fail_queued(LedgerUnavailableError("the audit ledger is closed"))

    def _fail_queued(self, exc: BaseException) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            error = (
                exc
                if isinstance(exc, LedgerUnavailableError)
                else LedgerUnavailableError(f"the audit writer failed: {exc}")
            )
            if isinstance(item, Ticket):
                item.fail(error)
                notify([item])
            else:
                item.future.set_result(None)

    def _loop(self) -> None:
        while True:
            if self._flight:
                control = self._overlap()
            else:
                try:
                    item = self._queue.get(timeout=self._checkpoint_delay())
                except queue.Empty:
                    self._checkpoint(force=False)
                    continue
                batch, control = self._gather(item)
                if batch:
                    self._commit(batch)
            if control is not None:
                while self._flight:  # a control request waits for every batch before it
                    self._land()
                self._handle(control)
                if control.action == "stop":
                    return

    def _handle(self, control: _Control) -> None:
        try:
            if control.action in ("promote", "demote", "drain"):
                self._replicate(control.action)
                control.future.set_result(None)
                return
            checkpoint = self._checkpoint(force=True)
            if control.action == "rotate":
                self._keys.rotate()
                for kid, raw in self._keys.public.keys.items():
                    self._store.add_key(kid, raw)
        except Exception as exc:
            control.future.set_exception(exc)
            return
        control.future.set_result(checkpoint)

    def _replicate(self, action: str) -> None:
        if action == "demote":
            self.is_leader = False
            return
        if action == "promote":
            self._promote()
        elif self.is_leader:
            self._drain()

    def _promote(self) -> None:
        """The lock is ours: resume from the stored head, then chain what others queued."""
        if self._replication is not None:
            self._replication.promotion.clear()
        if not self.is_leader:
            self._resume()
            log.info("audit: sequencing from seq %d", self._frontier.size)
        self._drain()

    def _drain(self) -> None:
        """Chain the events other replicas queued, in batches, until none is left."""
        shared = cast(SharedStore, self._store)
        while True:
            try:
                records = self._with_retry(lambda: shared.drain(self._config.max_batch))
            except Exception as exc:  # they stay queued; the next round drains them
                log.error("audit drain failed: %s", exc)
                return
            self._advance(records)
            self._checkpoint(force=False)
            if len(records) < self._config.max_batch:
                return

    def _checkpoint_delay(self) -> float | None:
        return self._signer.delay(self._frontier.size) if self.is_leader else None

    def _gather(self, first: Ticket | _Control) -> tuple[list[Ticket], _Control | None]:
        """Everything queued now, up to ``max_batch``; stops at a control request."""
        if isinstance(first, _Control):
            return [], first
        batch = [first]
        linger_until = time.monotonic() + self._config.max_wait_ms / 1000
        while len(batch) < self._config.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = linger_until - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if isinstance(item, _Control):
                return batch, item
            batch.append(item)
        return batch, None

    def _commit(self, tickets: list[Ticket]) -> None:
        """Send the batch down the pipeline, or place it and answer its tickets now."""
        batch = Batch(tickets)
        if self._flight is not None and self.is_leader:
            try:
                self._flight.send(batch)
            except Exception as exc:  # the connection's state is unknown: start it again
                self._recover(exc, batch)
            return
        outcome: list[Record] | Exception
        try:
            outcome = self._place(batch.pendings)
        except Exception as exc:
            outcome = exc
        self._finish(batch, outcome)

    def _overlap(self) -> _Control | None:
        """Wait for the oldest batch in flight, sending the next one meanwhile once due."""
        assert self._flight is not None
        try:
            answered = self._flight.wait(self._queue.qsize)
        except Exception as exc:
            self._recover(exc)
            return None
        if answered:
            self._land()
            return None
        try:
            item = self._queue.get_nowait()
        except queue.Empty:
            return None
        batch, control = self._gather(item)
        if batch:
            self._commit(batch)
        return control

    def _land(self) -> None:
        """Take the answer to the oldest batch in flight and deliver it."""
        assert self._flight is not None
        try:
            batch, outcome = self._flight.take()
        except Exception as exc:  # the connection went, with every batch in flight
            self._recover(exc)
            return
        self._finish(batch, outcome)

    def _recover(self, exc: BaseException, *more: Batch) -> None:
        """The pipeline failed: place what was in flight again, in order, without it.

        Appends are idempotent by event id, so a batch that did commit before the
        connection went is answered from the stored rows, and none is chained twice.
        """
        assert self._flight is not None
        batches = [*self._flight.drop(), *more]
        log.warning("audit pipeline failed (%s); placing %d batches again", exc, len(batches))
        for batch in batches:
            outcome: list[Record] | Exception
            try:
                outcome = self._with_retry(partial(self._store.append, batch.pendings))
            except Exception as again:
                outcome = again
            self._finish(batch, outcome)

    def _finish(self, batch: Batch, outcome: list[Record] | Exception) -> None:
        """Move the frontier past the batch and answer its tickets (or fail them closed)."""
        if not isinstance(outcome, Exception):
            try:
                self._advance(outcome)
            except Exception as exc:
                outcome = exc
        if isinstance(outcome, Exception):
            log.error("audit append of %d events failed: %s", len(batch.tickets), outcome)
            self._observe(len(batch.pendings), batch.began, outcome)
            batch.fail(outcome)
            return
        self._observe(len(batch.pendings), batch.began, None)
        batch.answer(outcome)
        self._checkpoint(force=False)

    def _observe(self, size: int, began: float, error: BaseException | None) -> None:
        observer = self.on_batch
        if observer is None:
            return
        try:
            observer(size, time.perf_counter() - began, error)
        except Exception:  # an observer's failure is its own, never the batch's
            log.exception("audit batch observer failed")

    def _place(self, pendings: list[Pending]) -> list[Record]:
        """Chain the events here (the sequencer) or relay them to the one that does."""
        if self._replication is not None and not self.is_leader:
            deadline = time.monotonic() + self._config.retry_seconds
            return self._replication.relay(pendings, deadline, self._promote)
        return self._with_retry(lambda: self._store.append(pendings))

    def _with_retry(self, call: Callable[[], list[Record]]) -> list[Record]:
        deadline = time.monotonic() + self._config.retry_seconds
        return retrying(call, self._store, self._transient, deadline)

    def _advance(self, records: list[Record]) -> None:
        """Move the frontier and head past the newly stored records (catching up on gaps)."""
        fresh = sorted(
            {r.seq: r for r in records if r.seq >= self._frontier.size}.values(),
            key=lambda r: r.seq,
        )
        if not fresh:
            return
        top = fresh[-1]
        if fresh[0].seq == self._frontier.size and top.seq - fresh[0].seq + 1 == len(fresh):
            for record in fresh:
                self._frontier.append(record.leaf_hash)
        else:  # another writer appended in between: read the leaves we have not seen
            leaves = self._store.leaf_hashes(self._frontier.size, top.seq + 1)
            self._frontier.extend(leaves[i : i + 32] for i in range(0, len(leaves), 32))
        self._head = top.chain_hash

    def _checkpoint(self, *, force: bool) -> Checkpoint | None:
        if not self.is_leader:
            return None
        return self._signer.sign(self._frontier, self._head, force=force)
