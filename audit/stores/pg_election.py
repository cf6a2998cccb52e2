"""Which replica is the sequencer: a PostgreSQL advisory lock held on its own connection.

Exactly one process at a time holds the session-level advisory lock of a ledger schema;
it alone chains events and signs checkpoints, and the others queue theirs in
``audit_pending``. PostgreSQL drops the lock when the holder's connection ends (the
process died, or its backend was terminated), so another replica takes it and continues
from the stored head. The same connection LISTENs for submitted events, so the
sequencer drains them at once instead of polling.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

import psycopg

log = logging.getLogger(__name__)


class PgElection:
    """Try for, hold and watch the sequencer lock of one schema."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], schema: str) -> None:
        self._connect = connect
        self._key = f"warden.audit.sequencer.{schema}"
        self._channel = f"audit_pending_{schema}"
        self._conn: psycopg.Connection[Any] | None = None
        self.is_held = False

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True when this process holds it now."""
        if self.is_held:
            return True
        try:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = self._connect()
            row = self._conn.execute(
                "SELECT pg_try_advisory_lock(hashtext(%s))", (self._key,)
            ).fetchone()
            if row is None or not row[0]:
                return False
            self._conn.execute(f'LISTEN "{self._channel}"')
        except psycopg.OperationalError as exc:
            log.warning("audit sequencer lock unavailable: %s", exc)
            self._drop()
            return False
        self.is_held = True
        return True

    def wait(self, timeout: float) -> bool:
        """While holding: wait for a submitted event; False on timeout.

        Raises:
            LookupError: the lock is lost (its connection broke): stop sequencing.
        """
        if not self.is_held or self._conn is None:
            raise LookupError("the sequencer lock is not held")
        try:
            for _ in self._conn.notifies(timeout=timeout, stop_after=1):
                return True
            # A round trip proves the connection, and with it the lock, is still there.
            self._conn.execute("SELECT 1")
            return False
        except psycopg.Error as exc:
            self._drop()
            raise LookupError(f"the sequencer lock was lost: {exc}") from exc

    def release(self) -> None:
        """Give the lock up (a graceful shutdown): another replica takes it at once."""
        if self._conn is not None and self.is_held:
            try:
                self._conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (self._key,))
            except psycopg.Error as exc:
                log.warning("audit sequencer lock release failed: %s", exc)
        self._drop()

    def _drop(self) -> None:
        self.is_held = False
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None
