"""Signing checkpoints while events flow: at most one per interval, and one on demand.

The writer signs over the Merkle root of the whole log after commits, no more often than
``interval`` seconds (each checkpoint is a signature and a database write), and stores
it with its WORM copy. A failed store is logged and retried at the next interval: the
events are safe either way.
"""

from __future__ import annotations

import logging
import time

from audit.checkpoint import Checkpoint, WormDirectory, sign_checkpoint
from audit.event import now_ts
from audit.merkle import Frontier
from audit.signing import KeyRing
from audit.stores.base import Store

log = logging.getLogger(__name__)


class Signer:
    """When the next checkpoint is due, and signing it."""

    def __init__(
        self, store: Store, keys: KeyRing, worm: WormDirectory | None, interval: float
    ) -> None:
        self._store = store
        self._keys = keys
        self._worm = worm
        self._interval = interval
        self._last_size = 0
        self._last_time = 0.0

    def resumed(self, signed_size: int) -> None:
        """The log was loaded; its newest checkpoint covers ``signed_size`` events."""
        self._last_size = signed_size
        self._last_time = time.monotonic()

    def delay(self, size: int) -> float | None:
        """Seconds until a checkpoint over ``size`` events is due (None: nothing unsigned)."""
        if size == self._last_size:
            return None  # nothing unsigned: sleep until work arrives
        return max(self._last_time + self._interval - time.monotonic(), 0.0)

    def sign(self, frontier: Frontier, head: bytes, *, force: bool) -> Checkpoint | None:
        """Sign and store a checkpoint over the log, if due (or ``force``) and anything is new."""
        size = frontier.size
        if size == self._last_size:
            return None
        now = time.monotonic()
        if not force and now - self._last_time < self._interval:
            return None
        checkpoint = sign_checkpoint(self._keys, size, frontier.root(), head, now_ts())
        self._last_time = now  # also on failure: back off instead of spinning
        try:
            self._store.add_checkpoint(checkpoint)
            if self._worm is not None:
                self._worm.write(checkpoint)
        except Exception as exc:  # the events are safe; the next round signs again
            log.error("audit checkpoint at size %d not stored: %s", size, exc)
            return None
        self._last_size = size
        return checkpoint
