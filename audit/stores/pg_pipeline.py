"""Group-commit appends to PostgreSQL in pipeline mode: the next batch queued behind the last.

``PostgresStore.append`` is one round trip per batch, and between two of them the
database sat idle: while the answer travelled back, the writer thread resolved every
waiting producer, gathered the next batch, encoded it and sent it, and the server
process had to be woken and scheduled again. On a busy host those gaps cost more than
the commit itself. In libpq's pipeline mode the writer sends batch N+1 while batch N
is still committing, on the same connection, and the server starts on it as soon as N
is durable. Each batch is its own ``audit_append`` statement followed by its own Sync,
so each is its own transaction, committed (and flushed to the WAL: the store's writer
connections never run with ``synchronous_commit = off``) before its answer is sent, and
failed alone if it fails; one connection and one server process run them, so the batches take
their places in the chain in the order they were sent.

The arrays ``audit_append`` takes are encoded here in PostgreSQL's binary array format
and its rows decoded by hand: psycopg's generic list adaptation was the writer thread's
largest cost per event. Only the writer thread uses an ``AppendPipeline``.
"""

from __future__ import annotations

import select
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import pq

from audit.chain import Record
from audit.stores.base import Pending

_STATEMENT = b"audit_append_batch"
_SQL = b"SELECT seq, leaf_hash, prev_hash, chain_hash FROM audit_append($1, $2, $3, $4, $5, $6, $7)"
_TEXT, _BYTEA, _TEXT_ARRAY, _BYTEA_ARRAY = 25, 17, 1009, 1001
_TYPES = (_TEXT_ARRAY, _BYTEA_ARRAY) + (_TEXT_ARRAY,) * 5
_BINARY = (1,) * 7
_NULL = b"\xff\xff\xff\xff"


def encode_array(element_oid: int, values: Sequence[bytes | None]) -> bytes:
    """A one-dimensional array in PostgreSQL's binary format (``array_send``)."""
    has_null = any(value is None for value in values)
    parts = [
        b"".join(n.to_bytes(4, "big") for n in (1, int(has_null), element_oid, len(values), 1))
    ]
    parts += [_NULL if value is None else len(value).to_bytes(4, "big") + value for value in values]
    return b"".join(parts)


def _texts(values: Sequence[str | None]) -> bytes:
    # Actor, session, tenant and type repeat within a batch: encode each distinct one once.
    encoded: dict[str | None, bytes | None] = {None: None}
    out = []
    for value in values:
        raw = encoded.get(value, b"")
        if raw == b"":
            raw = encoded[value] = value.encode("utf-8")  # type: ignore[union-attr]
        out.append(raw)
    return encode_array(_TEXT, out)


def encode_batch(batch: Sequence[Pending]) -> list[bytes]:
    """The seven array parameters of ``audit_append`` for ``batch``, binary-encoded."""
    events = [pending.event for pending in batch]
    return [
        encode_array(_TEXT, [e.id.encode("ascii") for e in events]),
        encode_array(_BYTEA, [pending.canonical for pending in batch]),
        encode_array(_TEXT, [e.ts.encode("ascii") for e in events]),
        _texts([e.actor for e in events]),
        _texts([e.tenant for e in events]),
        _texts([e.session for e in events]),
        _texts([e.type for e in events]),
    ]


class AppendPipeline:
    """Batches sent to ``audit_append`` on one connection, answered oldest first."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]]) -> None:
        self._connect = connect
        self._conn: psycopg.Connection[Any] | None = None
        self._sent: deque[Sequence[Pending]] = deque()
        self._results: list[pq.abc.PGresult] = []  # of the oldest batch, so far
        self._synced = False  # whether the oldest batch's Sync has been answered

    @property
    def in_flight(self) -> int:
        """Batches sent and not yet received."""
        return len(self._sent)

    def _pgconn(self) -> pq.abc.PGconn:
        if self._conn is None or self._conn.closed or self._conn.broken:
            conn = self._connect()
            pgconn = conn.pgconn
            prepared = pgconn.prepare(_STATEMENT, _SQL, _TYPES)
            if prepared.status != pq.ExecStatus.COMMAND_OK:
                error = psycopg.errors.error_from_result(prepared, encoding=conn.info.encoding)
                conn.close()
                raise error
            # Non-blocking: a large batch being sent while the server sends the answer
            # to the previous one must not leave both sides blocked on full buffers.
            pgconn.nonblocking = 1
            pgconn.enter_pipeline_mode()
            self._conn = conn
        return self._conn.pgconn

    def send(self, batch: Sequence[Pending]) -> None:
        """Queue one batch as its own transaction; its answer comes from ``receive``."""
        pgconn = self._pgconn()
        pgconn.send_query_prepared(_STATEMENT, encode_batch(batch), _BINARY, 1)
        pgconn.pipeline_sync()
        self._sent.append(batch)
        self._flush(pgconn)

    def wait(self, doorbell: int | None = None) -> bool:
        """Wait until the oldest batch is answered (True) or ``doorbell`` is readable (False)."""
        pgconn = self._pgconn()
        while not self._pump(pgconn):
            watched = [pgconn.socket] if doorbell is None else [pgconn.socket, doorbell]
            readable, _, _ = select.select(watched, [], [])
            if pgconn.socket in readable:
                pgconn.consume_input()
            if doorbell in readable:
                return self._pump(pgconn)
        return True

    def _pump(self, pgconn: pq.abc.PGconn) -> bool:
        """Take the results that arrived, without blocking; True once the oldest has its Sync."""
        while not self._synced and not pgconn.is_busy():
            result = pgconn.get_result()
            if result is None:
                continue  # the end of the statement's results; its Sync follows
            if result.status == pq.ExecStatus.PIPELINE_SYNC:
                self._synced = True
            else:
                self._results.append(result)
        return self._synced

    def receive(self) -> list[Record]:
        """The stored records of the oldest batch sent, once it is committed.

        Only the Sync's answer (ReadyForQuery) says the transaction committed, and so was
        flushed to the WAL: the rows may arrive before it, and an error after them.

        Raises:
            psycopg.Error: that batch failed (it was rolled back; later ones still run),
                or the connection did (then every batch in flight is lost: ``reset``).
        """
        self.wait()
        results, self._results, self._synced = self._results, [], False
        batch = self._sent.popleft()
        for result in results:
            if result.status != pq.ExecStatus.TUPLES_OK:
                raise psycopg.errors.error_from_result(result, encoding=self._encoding())
        if not results:
            raise psycopg.OperationalError("audit_append answered nothing")
        answer = results[0]
        rows = answer.ntuples
        if rows != len(batch):
            raise psycopg.DataError(f"audit_append returned {rows} rows for {len(batch)} events")
        value = answer.get_value
        # A retried event is stored with the same id and hence the same bytes.
        return [
            Record(
                int.from_bytes(value(row, 0) or b"", "big", signed=True),
                pending.canonical,
                value(row, 1) or b"",
                value(row, 2) or b"",
                value(row, 3) or b"",
            )
            for row, pending in enumerate(batch)
        ]

    def _encoding(self) -> str:
        return self._conn.info.encoding if self._conn is not None else "utf-8"

    @staticmethod
    def _flush(pgconn: pq.abc.PGconn) -> None:
        """Send what libpq holds, reading the server's answers meanwhile if it must wait."""
        while pgconn.flush():
            readable, _, _ = select.select([pgconn.socket], [pgconn.socket], [])
            if readable:
                pgconn.consume_input()

    def reset(self) -> None:
        """Drop the connection and forget the batches in flight (after a failure)."""
        self._sent.clear()
        self._results, self._synced = [], False
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        """Release the connection."""
        self.reset()
