"""Waiting for Claude Code to finish writing its transcript before it is collected.

Claude Code appends to the transcript JSONL a moment after things happen. A CI run can
end the instant its first tool call is denied (the denial is audited before the hook
even answers), and the session is then deleted at once: collected too early, the
transcript is missing or lacks that call. So collection waits until the file exists
(when the session talked to the model, it must), holds the result of every tool call the
hook judged, and has not grown for a short quiet period, all within a bound.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

#: The file must stay unchanged this long to count as written.
QUIET_SECONDS = 0.5
#: Never wait longer than this in all (a stuck agent must not hold a delete).
LIMIT_SECONDS = 5.0


async def settle_transcript(
    path: Path,
    *,
    expected: bool,
    results_for: frozenset[str] = frozenset(),
    quiet: float = QUIET_SECONDS,
    limit: float = LIMIT_SECONDS,
    refresh: Callable[[], Awaitable[None]] | None = None,
) -> bool:
    """Wait until ``path`` is complete enough to collect; returns whether it exists.

    ``expected``: the session made model requests, so a missing file is only late.
    ``results_for``: tool-use ids whose results the file must hold before it counts as
    written (the calls the hook judged: the result carries the hook's reason).
    ``refresh``: brings the file up to date first, each round (a sandbox that shares no
    files with this host: the copy here grows only when pulled).
    """
    deadline = time.monotonic() + limit
    last: tuple[int, int] | None = None
    quiet_since = time.monotonic()
    missing = bool(results_for)
    while True:
        if refresh is not None:
            await refresh()
        now = time.monotonic()
        try:
            stat = await asyncio.to_thread(path.stat)
        except FileNotFoundError:
            if not expected or now >= deadline:
                return False
        else:
            seen = (stat.st_size, stat.st_mtime_ns)
            if seen != last:
                last, quiet_since = seen, now
                missing = bool(results_for) and not await asyncio.to_thread(
                    _has_results, path, results_for
                )
            if now >= deadline:
                return True
            if not missing:
                written_long_ago = time.time() - stat.st_mtime >= quiet
                if written_long_ago or now - quiet_since >= quiet:
                    return True
        await asyncio.sleep(0.1)


def _has_results(path: Path, ids: frozenset[str]) -> bool:
    """Whether the file holds a ``tool_result`` for each of ``ids`` (not just the call)."""
    text = path.read_bytes()
    return all(
        re.search(rb'"tool_use_id"\s*:\s*"' + re.escape(i.encode()) + rb'"', text) for i in ids
    )
