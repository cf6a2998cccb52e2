"""Working Warden sessions kept busy beside another benchmark (``bench_audit --sessions N``).

A real ``warden serve`` (scripted model, SQLite in a temp dir, see ``bench_density``) and
N real sandboxes running Claude Code; one thread per session sends a prompt whose reply
streams for a few seconds, waits until the session is idle again and sends the next, so
the host carries N sessions at work (terminal output, screen parsing, the gateway, hooks,
their own ledger) for as long as the ``with`` block runs.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
from bench_density import _delete_everything, _one_session, _serve

#: One turn: a text reply streamed over this many seconds.
PROMPT = "[[slow: 3]]"


@contextmanager
def working_sessions(count: int) -> Iterator[list[int]]:
    """Run ``count`` sessions at work; yields a list that counts each session's turns."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        work = root / "work"
        work.mkdir()
        proc, url = _serve(root)
        stop = threading.Event()
        turns = [0] * count
        try:
            with ThreadPoolExecutor(4) as pool:
                sids = [sid for sid, _ in pool.map(lambda _: _one_session(url, work), range(count))]
            drivers = [
                threading.Thread(target=_drive, args=(url, sid, stop, turns, i), daemon=True)
                for i, sid in enumerate(sids)
            ]
            for driver in drivers:
                driver.start()
            time.sleep(5)  # every session in its first turn before anything is measured
            yield turns
        finally:
            stop.set()
            _delete_everything(url)
            proc.terminate()
            proc.wait(60)


def _drive(url: str, sid: str, stop: threading.Event, turns: list[int], index: int) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        while not stop.is_set():
            state = client.get(f"/v1/sessions/{sid}").json()["state"]
            if state == "idle":
                if client.post(f"/v1/sessions/{sid}/send", json={"text": PROMPT}).is_success:
                    turns[index] += 1
            elif state in ("exited", "error"):
                return
            stop.wait(0.2)
