"""Waiting for Claude Code to finish writing its transcript before it is collected.

Claude Code appends to the transcript JSONL a moment after things happen. A CI run can
end the instant its first tool call is denied, and the session is then deleted at once:
collected too early, the transcript is missing or cut short. So collection waits until
the file exists (when the session talked to the model, it must) and has not grown for a
short quiet period, within a bound.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

#: The file must stay unchanged this long to count as written.
QUIET_SECONDS = 0.5
#: Never wait longer than this in all (a stuck agent must not hold a delete).
LIMIT_SECONDS = 5.0


async def settle_transcript(
    path: Path, *, expected: bool, quiet: float = QUIET_SECONDS, limit: float = LIMIT_SECONDS
) -> bool:
    """Wait until ``path`` is quiet; returns whether it exists.

    ``expected``: the session made model requests, so a missing file is only late.
    """
    deadline = time.monotonic() + limit
    last: tuple[int, int] | None = None
    quiet_since = time.monotonic()
    while True:
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
            written_long_ago = time.time() - stat.st_mtime >= quiet
            if written_long_ago or now - quiet_since >= quiet or now >= deadline:
                return True
        await asyncio.sleep(0.1)
