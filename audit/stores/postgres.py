"""The PostgreSQL store (psycopg 3, imported only when a PostgreSQL URL is opened).

Appends go through the ``audit_append`` SECURITY DEFINER function (``pg_schema``), so
this store works when connected as the application role, which has no INSERT grant.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from audit.chain import Record
from audit.checkpoint import Checkpoint
from audit.stores.base import EventFilter, Pending, where_clause
from audit.stores.pg_election import PgElection
from audit.stores.pg_pipeline import AppendPipeline
from audit.stores.pg_schema import install_schema

_CHUNK = 5000
_COLUMNS = "seq, canonical, leaf_hash, prev_hash, chain_hash"
# ... and the columns queries select on, which verification holds to the canonical bytes.
_STORED = _COLUMNS + ", ts, actor, tenant, session, type, event_id"


class PostgresStore:
    """Ledger tables in a PostgreSQL schema; one writer and one reader connection."""

    transient_errors: tuple[type[BaseException], ...] = (psycopg.OperationalError,)

    def __init__(
        self, dsn: str, *, schema: str = "public", install: bool = True, connect_timeout: int = 5
    ) -> None:
        self.dsn = dsn
        self.schema = schema
        self._timeout = connect_timeout
        self._wlock = threading.Lock()
        self._rlock = threading.Lock()
        self._writer: psycopg.Connection[Any] | None = None
        self._reader: psycopg.Connection[Any] | None = None
        if install:
            with self._connect() as conn, conn.transaction():
                install_schema(conn, schema=schema)

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            self.dsn,
            autocommit=True,
            connect_timeout=self._timeout,
            options=f"-c search_path={self.schema}",
        )

    def _connect_writer(self) -> psycopg.Connection[Any]:
        """A connection for appends, whose commits are durable before they are answered."""
        conn = self._connect()
        # An append is acknowledged to its producer only once committed, and the
        # producer then performs the action it recorded: a commit the server answers
        # before flushing it to the WAL (synchronous_commit = off) can vanish in a crash
        # after the action was taken, which is exactly what the ledger must rule out.
        # So a server or role set to "off" is overridden to "on" for these sessions;
        # stronger settings (remote_write, remote_apply: waiting for a standby too)
        # are kept. Never turn this off to go faster: the pipeline and group commit
        # are how the ledger is fast.
        (setting,) = conn.execute("SHOW synchronous_commit").fetchone() or ("off",)
        if setting == "off":
            conn.execute("SET synchronous_commit = on")
        return conn

    def _write_conn(self) -> psycopg.Connection[Any]:
        if self._writer is None or self._writer.closed or self._writer.broken:
            self._writer = self._connect_writer()
        return self._writer

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read on the reader connection, reconnecting once if it was dropped."""
        with self._rlock:
            for attempt in (1, 2):
                if self._reader is None or self._reader.closed or self._reader.broken:
                    self._reader = self._connect()
                try:
                    cursor = self._reader.cursor(binary=True)
                    return cursor.execute(sql, params).fetchall()  # type: ignore[arg-type]
                except psycopg.OperationalError:
                    if attempt == 2:
                        raise
                    self._reader.close()
        raise AssertionError("unreachable")  # pragma: no cover

    def append(self, batch: Sequence[Pending]) -> list[Record]:
        columns = _columns(batch)
        with self._wlock:
            # One statement in autocommit mode is one transaction: the function's head-row
            # lock, inserts and head update commit together, in a single round trip.
            rows = (
                self._write_conn()
                .cursor(binary=True)
                .execute(
                    "SELECT seq, leaf_hash, prev_hash, chain_hash"
                    " FROM audit_append(%b, %b, %b, %b, %b, %b, %b)",
                    columns,
                )
                .fetchall()
            )
        # A retried event is stored with the same id and hence the same bytes.
        return [
            Record(int(seq), pending.canonical, bytes(leaf), bytes(prev), bytes(chain))
            for pending, (seq, leaf, prev, chain) in zip(batch, rows, strict=True)
        ]

    def pipeline(self) -> AppendPipeline:
        """A connection of its own for pipelined appends (``audit.stores.pg_pipeline``)."""
        return AppendPipeline(self._connect_writer)

    # -- replicas: events queued for the sequencer of another process -----------------

    def submit(self, batch: Sequence[Pending]) -> None:
        """Queue events for whichever replica holds the sequencer (idempotent by id)."""
        with self._wlock:
            self._write_conn().cursor(binary=True).execute(
                "SELECT audit_submit(%b, %b, %b, %b, %b, %b, %b)", _columns(batch)
            )

    def drain(self, limit: int) -> list[Record]:
        """Append the oldest pending events (at most ``limit``) to the chain; their records."""
        with self._wlock:
            rows = (
                self._write_conn()
                .cursor(binary=True)
                .execute(
                    "SELECT seq, canonical, leaf_hash, prev_hash, chain_hash FROM audit_drain(%s)",
                    (limit,),
                )
                .fetchall()
            )
        return [Record(int(r[0]), bytes(r[1]), bytes(r[2]), bytes(r[3]), bytes(r[4])) for r in rows]

    def placed(self, event_ids: Sequence[str]) -> dict[str, Record]:
        """The stored records of those of ``event_ids`` that are in the chain."""
        rows = self._read(
            f"SELECT event_id, {_COLUMNS} FROM audit_events WHERE event_id = ANY(%s)",  # noqa: S608
            (list(event_ids),),
        )
        return {
            row[0]: Record(int(row[1]), bytes(row[2]), bytes(row[3]), bytes(row[4]), bytes(row[5]))
            for row in rows
        }

    def election(self) -> PgElection:
        """The advisory lock that picks this schema's one sequencer among replicas."""
        return PgElection(self._connect, self.schema)

    def head(self) -> tuple[int, bytes]:
        size, head = self._read("SELECT size, chain_hash FROM audit_head WHERE id = 1")[0]
        return int(size), bytes(head)

    def records(self, start: int = 0, stop: int | None = None) -> Iterator[Record]:
        # Read in windows of _CHUNK seqs, not "seq >= start ORDER BY seq LIMIT n": the
        # planner saw that as nearly the whole table and sorted all of it for every page.
        upper = stop if stop is not None else 2**63 - 1
        while start < upper:
            end = min(upper, start + _CHUNK)
            rows = self._read(
                f"SELECT {_STORED} FROM audit_events"  # noqa: S608
                " WHERE seq >= %s AND seq < %s ORDER BY seq",
                (start, end),
            )
            for row in rows:
                yield Record(row[0], row[1], row[2], row[3], row[4], row[5:])
            start = end
            if not rows:  # a gap (or the end): jump to the next stored seq, if any
                (following,) = self._read(
                    "SELECT min(seq) FROM audit_events WHERE seq >= %s AND seq < %s",
                    (start, upper),
                )[0]
                if following is None:
                    return
                start = following

    def leaf_hashes(self, start: int, stop: int) -> bytes:
        rows = self._read(
            "SELECT leaf_hash FROM audit_events WHERE seq >= %s AND seq < %s ORDER BY seq",
            (start, stop),
        )
        return b"".join(row[0] for row in rows)

    def query(self, flt: EventFilter, after_seq: int | None, limit: int) -> list[Record]:
        where, args = where_clause(flt, after_seq, mark="%s")
        sql = f"SELECT {_COLUMNS} FROM audit_events WHERE {where} ORDER BY seq LIMIT %s"  # noqa: S608
        return [Record(*row) for row in self._read(sql, [*args, limit])]

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        cp = checkpoint
        with self._wlock:
            self._write_conn().execute(
                "SELECT audit_add_checkpoint(%s, %s, %s, %s, %s, %s)",
                (cp.size, cp.root, cp.head, cp.ts, cp.key_id, cp.signature),
            )

    def checkpoints(self) -> list[Checkpoint]:
        rows = self._read(
            "SELECT size, root, head, ts, key_id, signature FROM audit_checkpoints ORDER BY size"
        )
        return [
            Checkpoint(int(r[0]), bytes(r[1]), bytes(r[2]), r[3], r[4], bytes(r[5])) for r in rows
        ]

    def add_key(self, kid: str, public_raw: bytes) -> None:
        with self._wlock:
            self._write_conn().execute("SELECT audit_add_key(%s, %s)", (kid, public_raw))

    def reconnect(self) -> None:
        with self._wlock:
            if self._writer is not None:
                self._writer.close()
            self._writer = self._connect_writer()

    def close(self) -> None:
        with self._wlock, self._rlock:
            for conn in (self._writer, self._reader):
                if conn is not None:
                    conn.close()
            self._writer = self._reader = None


def _columns(batch: Sequence[Pending]) -> list[list[Any]]:
    """The arrays ``audit_append`` and ``audit_submit`` take, aligned with ``batch``."""
    events = [pending.event for pending in batch]
    return [
        [e.id for e in events],
        [pending.canonical for pending in batch],
        [e.ts for e in events],
        [e.actor for e in events],
        [e.tenant for e in events],
        [e.session for e in events],
        [e.type for e in events],
    ]
