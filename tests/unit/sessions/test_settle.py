"""Collecting the transcript waits until Claude Code has finished writing it."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from runner.sessions.settle import settle_transcript


def test_no_wait_when_no_transcript_is_expected(tmp_path: Path) -> None:
    """A session that never used the model has no transcript: nothing to wait for."""
    began = time.monotonic()
    assert asyncio.run(settle_transcript(tmp_path / "t.jsonl", expected=False)) is False
    assert time.monotonic() - began < 0.2


def test_a_late_transcript_is_waited_for_until_it_stops_growing(tmp_path: Path) -> None:
    """The file appears late and grows for a while: the wait ends after the last line."""
    path = tmp_path / "t.jsonl"

    async def claude_writes() -> None:
        await asyncio.sleep(0.3)
        for n in range(6):
            with path.open("a") as handle:
                handle.write(f'{{"n": {n}}}\n')
            await asyncio.sleep(0.15)

    async def scenario() -> bool:
        writer = asyncio.create_task(claude_writes())
        found = await settle_transcript(path, expected=True, quiet=0.4, limit=5)
        await writer
        return found

    assert asyncio.run(scenario()) is True
    assert path.read_text().count("\n") == 6  # settled only after the last write


def test_a_missing_transcript_is_waited_for_only_within_the_limit(tmp_path: Path) -> None:
    """A transcript that never comes costs at most the limit, then collection goes on."""
    began = time.monotonic()
    assert asyncio.run(settle_transcript(tmp_path / "t.jsonl", expected=True, limit=0.6)) is False
    assert 0.5 <= time.monotonic() - began < 1.5


def test_an_old_transcript_is_taken_at_once(tmp_path: Path) -> None:
    """A file last written long ago is complete: no quiet period to sit through."""
    path = tmp_path / "t.jsonl"
    path.write_text("{}\n")
    old = time.time() - 60
    os.utime(path, (old, old))
    began = time.monotonic()
    assert asyncio.run(settle_transcript(path, expected=True, quiet=2)) is True
    assert time.monotonic() - began < 0.2


def test_the_transcript_is_awaited_until_it_holds_the_judged_results(tmp_path: Path) -> None:
    """Quiet is not enough while the result of a call the hook judged is still missing."""
    path = tmp_path / "t.jsonl"
    call = '{"type":"assistant","content":[{"type":"tool_use","id":"toolu_01"}]}\n'
    path.write_text(call)

    async def claude_writes_late() -> None:
        await asyncio.sleep(1.2)  # longer than the quiet period: the hook was slow
        with path.open("a") as handle:
            handle.write('{"type":"user","content":[{"tool_use_id":"toolu_01"}]}\n')

    async def scenario() -> bool:
        writer = asyncio.create_task(claude_writes_late())
        found = await settle_transcript(
            path, expected=True, results_for=frozenset({"toolu_01"}), quiet=0.3, limit=5
        )
        await writer
        return found

    assert asyncio.run(scenario()) is True
    assert '"tool_use_id":"toolu_01"' in path.read_text()
