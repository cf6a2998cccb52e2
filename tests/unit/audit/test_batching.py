"""Group commit keeps queue order and loses nothing; the doorbell rings once per arming."""

from __future__ import annotations

import asyncio
import os
import select
import threading
from pathlib import Path

from audit import Ledger, SequencerConfig
from audit.doorbell import Doorbell
from audit.event import new_event_id


def _open(tmp_path: Path) -> Ledger:
    return Ledger.open(tmp_path / "audit.db", tmp_path / "keys", config=SequencerConfig())


def test_async_appends_take_seqs_in_the_order_they_were_queued(tmp_path: Path) -> None:
    """1,000 tasks queue in creation order, in many batches; their seqs follow that order."""
    ledger = _open(tmp_path)
    sizes: list[int] = []
    ledger.observe_batches(lambda size, _seconds, _error: sizes.append(size))

    async def main() -> list[int]:
        events = await asyncio.gather(
            *(ledger.append_async("t", actor="system", data={"i": i}) for i in range(1000))
        )
        return [event.seq or 0 for event in events]

    try:
        assert asyncio.run(main()) == list(range(1000))
        assert sum(sizes) == 1000 and max(sizes) > 1  # group commit did batch them
        stored = [e.event.data["i"] for e in ledger.query(limit=1000).entries]
        assert stored == list(range(1000))
    finally:
        ledger.close()


def test_each_thread_sees_its_own_appends_in_order_and_none_is_lost(tmp_path: Path) -> None:
    """12 threads x 100: each thread's seqs increase, all 1,200 are stored exactly once."""
    ledger = _open(tmp_path)
    acked: dict[str, int] = {}
    lock = threading.Lock()

    def produce(worker: int) -> None:
        mine = [ledger.append("t", actor=f"user:{worker}", data={"i": i}) for i in range(100)]
        assert [e.seq for e in mine] == sorted(e.seq or 0 for e in mine)
        with lock:
            acked.update((e.id, e.seq or 0) for e in mine)

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        stored = {e.event.id: e.record.seq for e in ledger.query(limit=2000).entries}
        assert stored == acked and sorted(stored.values()) == list(range(1200))
        assert ledger.verify_db().ok
    finally:
        ledger.close()


def test_doorbell_rings_once_the_armed_count_is_queued() -> None:
    """Below the count it is silent; at it, readable; disarmed, silent again."""
    bell = Doorbell()
    try:
        bell.queued(5)
        assert not select.select([bell.fileno()], [], [], 0)[0]  # not armed
        bell.arm(3)
        bell.queued(2)
        assert not select.select([bell.fileno()], [], [], 0)[0]
        bell.queued(3)
        bell.queued(4)  # a second producer past the count: no second ring
        assert select.select([bell.fileno()], [], [], 0)[0]
        assert os.read(bell.fileno(), 16) == b"!"
        bell.disarm()
        bell.queued(10)
        assert not select.select([bell.fileno()], [], [], 0)[0]
    finally:
        bell.close()


def test_event_ids_are_distinct_across_threads() -> None:
    """Ids drawn from per-thread pools of OS randomness never repeat (8 x 5,000)."""
    ids: list[str] = []
    lock = threading.Lock()

    def draw() -> None:
        mine = [new_event_id() for _ in range(5000)]
        with lock:
            ids.extend(mine)

    threads = [threading.Thread(target=draw) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 40_000
    assert all(len(i) == 32 and i[12] == "4" and i[16] in "89ab" for i in ids)  # UUID4


def test_a_forked_child_draws_ids_its_parent_does_not() -> None:
    """After fork the child's pool is new: its next ids are not the parent's next ids."""
    new_event_id()  # the pool is filled and partly used
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, "".join(new_event_id() for _ in range(4)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 4096).decode()
    os.close(read)
    parent = "".join(new_event_id() for _ in range(4))
    assert len(child) == len(parent) == 128 and child != parent
