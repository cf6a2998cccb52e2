"""The embedded SQLite store.

SQLite has no roles, so its triggers only stop accidents (anyone who can write the file
can drop them); tampering is caught by verification against signed checkpoints and the
WORM copy. Appends run under ``BEGIN IMMEDIATE``, which takes the database write lock
before the head row is read, so two writers can never chain onto the same head.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from audit.chain import Record, link
from audit.checkpoint import Checkpoint
from audit.event import now_ts
from audit.stores.base import EventFilter, Pending, where_clause

_CHUNK = 5000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_events (
    seq INTEGER PRIMARY KEY CHECK (seq >= 0),
    event_id TEXT NOT NULL UNIQUE,
    ts TEXT NOT NULL,
    actor TEXT NOT NULL,
    tenant TEXT,
    session TEXT,
    type TEXT NOT NULL,
    canonical BLOB NOT NULL,
    leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32),
    prev_hash BLOB NOT NULL UNIQUE CHECK (length(prev_hash) = 32),
    chain_hash BLOB NOT NULL CHECK (length(chain_hash) = 32)
);
CREATE INDEX IF NOT EXISTS audit_events_session ON audit_events (session, seq);
CREATE INDEX IF NOT EXISTS audit_events_actor ON audit_events (actor, seq);
CREATE INDEX IF NOT EXISTS audit_events_type ON audit_events (type, seq);
CREATE INDEX IF NOT EXISTS audit_events_ts ON audit_events (ts);
CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size INTEGER NOT NULL,
    chain_hash BLOB NOT NULL
);
INSERT OR IGNORE INTO audit_head (id, size, chain_hash) VALUES (1, 0, zeroblob(32));
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    size INTEGER PRIMARY KEY, root BLOB NOT NULL, head BLOB NOT NULL,
    ts TEXT NOT NULL, key_id TEXT NOT NULL, signature BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_keys (
    key_id TEXT PRIMARY KEY, public_key BLOB NOT NULL, added TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN SELECT RAISE(ABORT, 'audit ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_head_forward BEFORE UPDATE ON audit_head
WHEN NEW.size < OLD.size BEGIN SELECT RAISE(ABORT, 'audit head cannot move back'); END;
"""

_COLUMNS = "seq, canonical, leaf_hash, prev_hash, chain_hash"
# ... and the columns queries select on, which verification holds to the canonical bytes.
_STORED = _COLUMNS + ", ts, actor, tenant, session, type, event_id"


def install_schema(conn: sqlite3.Connection) -> None:
    """Create the ledger tables and triggers if missing (idempotent)."""
    conn.executescript(_SCHEMA)


class SqliteStore:
    """Ledger tables in one SQLite file (WAL mode; one writer and one reader connection)."""

    transient_errors: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)

    def __init__(self, path: str | Path, *, install: bool = True) -> None:
        self.path = str(path)
        self._wlock = threading.Lock()
        self._rlock = threading.Lock()
        self._writer = self._connect(install=install)
        self._reader = self._connect(install=False)

    def _connect(self, *, install: bool = False) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # a committed audit event survives power loss
        if install:  # only at open: a reconnect must not quietly recreate a dropped table
            install_schema(conn)
        return conn

    def append(self, batch: Sequence[Pending]) -> list[Record]:
        with self._wlock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = self._append_locked(conn, batch)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return result

    def _append_locked(self, conn: sqlite3.Connection, batch: Sequence[Pending]) -> list[Record]:
        size, head = conn.execute("SELECT size, chain_hash FROM audit_head WHERE id = 1").fetchone()
        ids = [p.event.id for p in batch]
        marks = ",".join("?" * len(ids))
        existing = {
            row[0]: Record(*row[1:])
            for row in conn.execute(
                f"SELECT event_id, {_COLUMNS} FROM audit_events WHERE event_id IN ({marks})",  # noqa: S608
                ids,
            )
        }
        result, rows = [], []
        for pending in batch:
            known = existing.get(pending.event.id)
            if known is None:
                known = link(size, head, pending.canonical)
                existing[pending.event.id] = known
                rows.append(_row(pending, known))
                size, head = size + 1, known.chain_hash
            result.append(known)
        conn.executemany(
            "INSERT INTO audit_events (seq, event_id, ts, actor, tenant, session, type, canonical,"
            " leaf_hash, prev_hash, chain_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("UPDATE audit_head SET size = ?, chain_hash = ? WHERE id = 1", (size, head))
        return result

    def head(self) -> tuple[int, bytes]:
        with self._rlock:
            size, head = self._reader.execute(
                "SELECT size, chain_hash FROM audit_head WHERE id = 1"
            ).fetchone()
        return int(size), bytes(head)

    def records(self, start: int = 0, stop: int | None = None) -> Iterator[Record]:
        upper = stop if stop is not None else 2**63 - 1
        while start < upper:
            with self._rlock:
                rows = self._reader.execute(
                    f"SELECT {_STORED} FROM audit_events WHERE seq >= ? AND seq < ?"  # noqa: S608
                    " ORDER BY seq LIMIT ?",
                    (start, upper, _CHUNK),
                ).fetchall()
            for row in rows:
                yield Record(row[0], row[1], row[2], row[3], row[4], row[5:])
            if len(rows) < _CHUNK:
                return
            start = rows[-1][0] + 1

    def leaf_hashes(self, start: int, stop: int) -> bytes:
        with self._rlock:
            rows = self._reader.execute(
                "SELECT leaf_hash FROM audit_events WHERE seq >= ? AND seq < ? ORDER BY seq",
                (start, stop),
            ).fetchall()
        return b"".join(row[0] for row in rows)

    def query(self, flt: EventFilter, after_seq: int | None, limit: int) -> list[Record]:
        where, args = where_clause(flt, after_seq, mark="?")
        sql = f"SELECT {_COLUMNS} FROM audit_events WHERE {where} ORDER BY seq LIMIT ?"  # noqa: S608
        with self._rlock:
            rows = self._reader.execute(sql, [*args, limit]).fetchall()
        return [Record(*row) for row in rows]

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        cp = checkpoint
        with self._wlock:
            self._writer.execute(
                "INSERT OR IGNORE INTO audit_checkpoints VALUES (?, ?, ?, ?, ?, ?)",
                (cp.size, cp.root, cp.head, cp.ts, cp.key_id, cp.signature),
            )

    def checkpoints(self) -> list[Checkpoint]:
        with self._rlock:
            rows = self._reader.execute(
                "SELECT size, root, head, ts, key_id, signature"
                " FROM audit_checkpoints ORDER BY size"
            ).fetchall()
        return [Checkpoint(*row) for row in rows]

    def add_key(self, kid: str, public_raw: bytes) -> None:
        with self._wlock:
            self._writer.execute(
                "INSERT OR IGNORE INTO audit_keys VALUES (?, ?, ?)", (kid, public_raw, now_ts())
            )

    def reconnect(self) -> None:
        with self._wlock, self._rlock:
            for conn in (self._writer, self._reader):
                conn.close()
            self._writer = self._connect()
            self._reader = self._connect()

    def close(self) -> None:
        with self._wlock, self._rlock:
            self._writer.close()
            self._reader.close()


def _row(pending: Pending, record: Record) -> tuple[Any, ...]:
    event = pending.event
    return (
        record.seq,
        event.id,
        event.ts,
        event.actor,
        event.tenant,
        event.session,
        event.type,
        record.canonical,
        record.leaf_hash,
        record.prev_hash,
        record.chain_hash,
    )
