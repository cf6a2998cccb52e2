"""The sequencer's side of replicas: watching the election lock, relaying, draining.

Several processes may share one PostgreSQL ledger. One of them holds the election lock
(``audit.stores.pg_election``) and is the sequencer: it chains its own events and drains
the others' from ``audit_pending``. The others relay: they submit their batch (one
statement for all of it, so group commit survives) and wait until every event of it is
in the chain. When the sequencer dies, the lock frees, a watcher elsewhere takes it, and
its writer resumes the chain from the stored head; relayed events wait in the table
meanwhile, so an acknowledged event is never lost, and ``UNIQUE (event_id)`` keeps a
resubmitted one from being chained twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from audit.chain import Record
from audit.errors import LedgerUnavailableError
from audit.retry import retrying
from audit.stores.base import Pending, SharedStore

log = logging.getLogger(__name__)
_T = TypeVar("_T")


class Replication:
    """Watches the lock on its own thread; tells the writer to promote, demote or drain."""

    def __init__(
        self,
        store: SharedStore,
        wake: Callable[[str], None],
        *,
        interval: float = 0.5,
        transient: tuple[type[BaseException], ...] = (),
    ) -> None:
        self._store = store
        self._election = store.election()
        self._wake = wake  # queues "promote", "demote" or "drain" for the writer thread
        self._interval = interval
        self._transient = transient
        self._stop = threading.Event()
        #: Set when the lock is ours but the writer has not resumed the chain yet.
        self.promotion = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="audit-election", daemon=True)

    def claim(self) -> bool:
        """Try for the lock once (at start); True when this process is the sequencer."""
        return self._election.try_acquire()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and give the lock up, so another replica continues at once."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._election.release()

    def _watch(self) -> None:
        while not self._stop.is_set():
            if not self._election.is_held:
                if self._election.try_acquire():
                    log.info("audit: this replica is now the sequencer")
                    self.promotion.set()
                    self._wake("promote")
                else:
                    self._stop.wait(self._interval)
                continue
            try:
                self._election.wait(self._interval)
            except LookupError as exc:
                log.error("audit: %s; relaying to the next sequencer", exc)
                self._wake("demote")
                continue
            self._wake("drain")  # on a notification, and each interval in case one was missed

    def relay(
        self, pendings: list[Pending], deadline: float, promote: Callable[[], None]
    ) -> list[Record]:
        """Submit ``pendings`` and wait until the sequencer has chained all of them.

        ``promote`` runs (on this, the writer's thread) if the lock becomes ours while
        waiting: the events may be waiting for us.

        Raises:
            LedgerUnavailableError: not chained before ``deadline`` (monotonic).
        """
        ids = [pending.event.id for pending in pendings]
        self._retrying(lambda: self._store.submit(pendings), deadline)
        found: dict[str, Record] = {}
        delay = 0.002
        while True:
            if self.promotion.is_set():
                promote()
            missing = [i for i in ids if i not in found]
            found.update(self._retrying(partial(self._store.placed, missing), deadline))
            if len(found) == len(ids):
                return [found[i] for i in ids]
            if time.monotonic() + delay > deadline:
                raise LedgerUnavailableError(
                    f"{len(ids) - len(found)} audit events were not chained in time: no"
                    " replica holds the sequencer"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.025)

    def _retrying(self, call: Callable[[], _T], deadline: float) -> _T:
        return retrying(call, self._store, self._transient, deadline)
