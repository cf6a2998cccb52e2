"""The ledger on SQLite: the single writer, group commit, fail closed, restart and tamper checks."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from audit import EventFilter, InvalidEventError, Ledger, LedgerUnavailableError, SequencerConfig
from audit.chain import GENESIS, chain_hash, leaf_hash
from audit.ledger import verify_store
from audit.signing import PublicKeys
from audit.stores.sqlite import SqliteStore


def open_ledger(tmp_path: Path, **config: float) -> Ledger:
    return Ledger.open(tmp_path / "audit.db", tmp_path / "keys", config=SequencerConfig(**config))


def test_concurrent_producers_build_one_unbroken_chain(tmp_path: Path) -> None:
    """16 threads x 100 appends get distinct seqs 0..1599 on one chain that verifies."""
    ledger = open_ledger(tmp_path)
    seqs: list[int] = []
    lock = threading.Lock()

    def produce(worker: int) -> None:
        for i in range(100):
            event = ledger.append("t", actor=f"user:{worker}", data={"i": i})
            with lock:
                seqs.append(event.seq or 0)

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert sorted(seqs) == list(range(1600))
        prev = GENESIS
        for record in ledger.store.records():
            assert record.prev_hash == prev
            prev = chain_hash(prev, record.leaf_hash)
        assert ledger.store.head() == (1600, prev)
        result = ledger.verify_db()
        assert result.ok and result.events == 1600, result.describe()
    finally:
        ledger.close()


def test_append_async_from_asyncio(tmp_path: Path) -> None:
    """Coroutines append without blocking the loop and each gets its own seq."""
    ledger = open_ledger(tmp_path)

    async def main() -> list[int]:
        events = await asyncio.gather(
            *(ledger.append_async("t", actor="system", data={"i": i}) for i in range(50))
        )
        return sorted(e.seq or 0 for e in events)

    try:
        assert asyncio.run(main()) == list(range(50))
    finally:
        ledger.close()


def test_cancelled_async_appends_leave_the_writer_running(tmp_path: Path) -> None:
    """Cancelling coroutines that await their append does not stop the ledger's writer."""
    ledger = open_ledger(tmp_path, max_wait_ms=20)  # the batch waits: cancels land first

    async def main() -> int | None:
        tasks = [
            asyncio.create_task(ledger.append_async("t", actor="system", data={"i": i}))
            for i in range(50)
        ]
        await asyncio.sleep(0)  # every task has queued its event and is awaiting
        for task in tasks:
            task.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        assert any(isinstance(o, asyncio.CancelledError) for o in outcomes)
        return (await ledger.append_async("t", actor="system", data={"after": True})).seq

    try:
        assert asyncio.run(main()) == 50  # the cancelled events were still recorded first
        assert ledger.verify_db().ok
    finally:
        ledger.close()


def test_retried_event_id_is_stored_once(tmp_path: Path) -> None:
    """The same id and content again return the first seq; the id reused elsewhere fails."""
    ledger = open_ledger(tmp_path)
    same = {"actor": "system", "event_id": "ab" * 16, "ts": "2025-01-31T12:00:00.000000Z"}
    try:
        first = ledger.append("t", **same)
        ledger.append("t", actor="system")
        again = ledger.append("t", **same)
        assert again.seq == first.seq == 0
        assert ledger.store.head()[0] == 2
        with pytest.raises(InvalidEventError, match="another event"):
            ledger.append("other", **same)
        assert ledger.store.head()[0] == 2
    finally:
        ledger.close()


def test_store_failure_fails_the_append_closed(tmp_path: Path) -> None:
    """When the database cannot be written, append raises LedgerUnavailableError."""
    ledger = open_ledger(tmp_path, retry_seconds=0.3)
    try:
        ledger.append("t", actor="system")
        with sqlite3.connect(tmp_path / "audit.db") as conn:
            conn.execute("DROP TABLE audit_events")
        with pytest.raises(LedgerUnavailableError):
            ledger.append("t", actor="system")
    finally:
        ledger.close()


def test_checkpoints_at_most_once_per_interval_and_after_traffic(tmp_path: Path) -> None:
    """While events flow checkpoints come at most once per interval; one follows the last event."""
    ledger = open_ledger(tmp_path, checkpoint_interval=0.2)
    try:
        started = time.monotonic()
        while time.monotonic() - started < 1.0:
            ledger.append("t", actor="system")
        time.sleep(0.5)  # no call: the writer's timer signs the tail
        checkpoints = ledger.checkpoints()
        size = ledger.store.head()[0]
        assert checkpoints[-1].size == size
        assert 3 <= len(checkpoints) <= 1.5 / 0.2 + 2
    finally:
        ledger.close()


def test_reopen_continues_the_chain(tmp_path: Path) -> None:
    """Closing and reopening resumes at the stored head; the whole log verifies."""
    ledger = open_ledger(tmp_path)
    ledger.append("t", actor="system")
    ledger.close()
    ledger = open_ledger(tmp_path)
    try:
        assert ledger.append("t", actor="system").seq == 1
        assert ledger.verify_db().ok
    finally:
        ledger.close()


def _tamper(db: Path, seq: int) -> None:
    """Edit one event as someone with file access would: drop the triggers, fix the leaf."""
    with sqlite3.connect(db) as conn:
        for name in ("audit_events_no_update", "audit_events_no_delete"):
            conn.execute(f"DROP TRIGGER {name}")
        (canonical,) = conn.execute(
            "SELECT canonical FROM audit_events WHERE seq = ?", (seq,)
        ).fetchone()
        forged = canonical.replace(b"system", b"mallory")
        conn.execute(
            "UPDATE audit_events SET canonical = ?, leaf_hash = ? WHERE seq = ?",
            (forged, leaf_hash(forged), seq),
        )


def test_edited_row_is_named_by_verify_and_blocks_restart(tmp_path: Path) -> None:
    """An edited event fails verification at its seq, and the writer refuses to sign over it."""
    ledger = open_ledger(tmp_path)
    for i in range(10):
        ledger.append("t", actor="system", data={"i": i})
    ledger.close()
    conn = sqlite3.connect(tmp_path / "audit.db")
    with conn, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_events SET actor = 'x' WHERE seq = 4")
    _tamper(tmp_path / "audit.db", 4)
    with pytest.raises(LedgerUnavailableError, match="checkpoint"):
        open_ledger(tmp_path)
    store = SqliteStore(tmp_path / "audit.db")
    try:
        result = verify_store(store, PublicKeys.from_dir(tmp_path / "keys"))
    finally:
        store.close()
    assert (result.ok, result.first_bad_seq) == (False, 4), result.describe()


def test_query_pages_by_cursor(tmp_path: Path) -> None:
    """Queries filter by session and page through results with the seq cursor."""
    ledger = open_ledger(tmp_path)
    try:
        for i in range(25):
            ledger.append("t", actor="system", session=f"s{i % 2}", data={"i": i})
        seen, cursor = [], None
        while True:
            page = ledger.query(EventFilter(session="s1"), after_seq=cursor, limit=5)
            seen += [entry.event.data["i"] for entry in page.entries]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == list(range(1, 25, 2))
    finally:
        ledger.close()
