"""Token buckets by key, and the coalescing of refused floods into one event per window.

``Buckets`` holds one bucket per key (a client address, a token's hash, a caller): a
burst, refilled at a steady rate. ``FloodLog`` counts what was refused, so the ledger
records an attack once per source and window (with a count) instead of growing with it.
Pure and clock-injected: ``runner.api.security`` and the services wire them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]

#: Buckets kept before the full ones (which carry no information) are dropped.
_MAX_KEYS = 10_000


@dataclass
class _Bucket:
    tokens: float
    at: float


class Buckets:
    """``burst`` tokens per key, refilled at ``per_minute``; a take past them is refused."""

    def __init__(self, *, burst: int, per_minute: float, clock: Clock = time.monotonic) -> None:
        self.burst = burst
        self.per_minute = per_minute
        self._rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def _refilled(self, key: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _MAX_KEYS:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            return bucket
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self._rate)
        bucket.at = now
        return bucket

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may take a token (0: it may now)."""
        bucket = self._refilled(key)
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / self._rate

    def take(self, key: str) -> float:
        """Take a token: 0 when granted, else the seconds to wait (nothing is taken)."""
        bucket = self._refilled(key)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self._rate

    def _forget_full(self, now: float) -> None:
        # A full bucket is the same as none; an attacker spraying keys must not grow memory.
        for key, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.at) * self._rate >= self.burst:
                del self._buckets[key]
        while len(self._buckets) >= _MAX_KEYS:
            del self._buckets[next(iter(self._buckets))]


@dataclass(frozen=True)
class FloodWindow:
    """What one source had refused in one window."""

    source: str
    started: float
    refused: int


class FloodLog:
    """Counts refusals per source and window; the caller audits each window once."""

    def __init__(self, *, window_seconds: float, clock: Clock = time.monotonic) -> None:
        self.window_seconds = window_seconds
        self._clock = clock
        self._open: dict[str, FloodWindow] = {}

    def refused(self, source: str) -> tuple[bool, list[FloodWindow]]:
        """Count one refusal: (whether it opened a window, the windows it closed)."""
        now = self._clock()
        closed = self.closed()
        current = self._open.get(source)
        if current is None:
            self._open[source] = FloodWindow(source, now, 1)
            return True, closed
        self._open[source] = FloodWindow(source, current.started, current.refused + 1)
        return False, closed

    def closed(self, *, everything: bool = False) -> list[FloodWindow]:
        """Take the windows that have ended (all of them with ``everything``)."""
        now = self._clock()
        ended = [
            w for w in self._open.values() if everything or now - w.started >= self.window_seconds
        ]
        for window in ended:
            del self._open[window.source]
        return ended
