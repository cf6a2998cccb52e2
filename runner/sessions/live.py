"""A running session as the controller sees it: the attach stream, the screen, its state.

Every byte from the container's TTY goes to the pyte screen and the asciicast recording;
the screen is classified on every change and state changes are reported. ``stalled`` is
decided here, by time: working, and the screen has not changed for ``stall_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.core import BUSY_STATES, WAITING_STATES, SessionState
from runner.sandbox.backend import SandboxBackend, TerminalStream
from runner.terminal.detector import Detector
from runner.terminal.recorder import CastWriter
from runner.terminal.snapshot import repaint

log = logging.getLogger(__name__)

#: How long an idle screen must last after work before the session counts as idle.
IDLE_SETTLE_SECONDS = 0.75


@dataclass(frozen=True)
class Observed:
    """The state the screen shows now, with its details."""

    state: SessionState
    details: Mapping[str, Any]


StateCallback = Callable[[Observed], Awaitable[None]]


class Tap:
    """A bounded copy of the terminal's bytes for one watcher (a WebSocket client).

    The pump never waits for a watcher: when the queue is full the watcher is marked
    ``behind``, gets no more bytes until it takes a fresh snapshot, and redraws from it.
    """

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(size)
        self.behind = False

    def offer(self, chunk: bytes) -> None:
        if self.behind:
            return
        try:
            self.queue.put_nowait(chunk)
        except asyncio.QueueFull:
            self.behind = True


class LiveSession:
    """Attach loop, screen, recorder and state of one session's container."""

    def __init__(
        self,
        *,
        container_id: str,
        backend: SandboxBackend,
        cols: int,
        rows: int,
        recording: Path,
        stall_seconds: float,
        on_state: StateCallback,
        idle_settle_seconds: float = IDLE_SETTLE_SECONDS,
    ) -> None:
        self.container_id = container_id
        self._backend = backend
        self._detector = Detector(cols, rows)
        self._recording_file = recording.open("w", encoding="utf-8")
        self._recorder = CastWriter(self._recording_file, cols, rows)
        self._stall_seconds = stall_seconds
        self._idle_settle_seconds = idle_settle_seconds
        self._on_state = on_state
        self._observed = Observed(SessionState.STARTING, {})
        self._latest = self._observed
        self._state_since = time.monotonic()
        self._settle: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()
        self._last_change = time.monotonic()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._taps: set[Tap] = set()
        self.updates = 0
        #: When (monotonic) the terminal's first byte arrived, for the startup breakdown.
        self.first_output_at: float | None = None

    def hand_over(self, on_state: StateCallback) -> None:
        """Report state changes to ``on_state`` from now on (a pooled sandbox, claimed)."""
        self._on_state = on_state

    @property
    def observed(self) -> Observed:
        return self._observed

    def state_age(self) -> float:
        """Seconds since the current state began."""
        return time.monotonic() - self._state_since

    def pane(self) -> str:
        """The current screen as text, one line per row, trailing blanks trimmed."""
        return self._detector.screen.text().rstrip("\n")

    @contextlib.contextmanager
    def tap(self, size: int = 1024) -> Iterator[tuple[Tap, bytes]]:
        """Watch the live bytes: yields the tap and a snapshot that redraws the screen now.

        The snapshot and the first byte the tap gets are consistent: no chunk is fed to
        the screen between taking one and adding the other (no await in between).
        """
        tap = Tap(size)
        snapshot = self.snapshot()
        self._taps.add(tap)
        try:
            yield tap, snapshot
        finally:
            self._taps.discard(tap)

    def snapshot(self) -> bytes:
        """Bytes that redraw the current screen on an empty terminal of its size."""
        return repaint(self._detector.screen)

    def resnap(self, tap: Tap) -> bytes:
        """A fresh snapshot for a tap that fell behind; it receives bytes again after it."""
        while not tap.queue.empty():
            tap.queue.get_nowait()
        tap.behind = False
        return self.snapshot()

    @property
    def size(self) -> tuple[int, int]:
        """The terminal's ``(columns, rows)``."""
        screen = self._detector.screen
        return screen.columns, screen.rows

    async def resize(self, cols: int, rows: int) -> None:
        """Resize the TTY; the screen first, so the program's repaint lands on the new size."""
        self._detector.resize(cols, rows)
        self._recorder.resize(cols, rows)
        await self._backend.resize(self.container_id, cols, rows)

    async def start(self) -> None:
        """Attach to the terminal; returns once the stream is connected.

        Raises:
            SandboxError: the backend could not attach.
        """
        stream = await self._backend.attach(self.container_id)
        self._tasks = [
            asyncio.create_task(self._pump(stream), name=f"attach-{self.container_id[:12]}"),
            asyncio.create_task(self._watch_stall(), name=f"stall-{self.container_id[:12]}"),
        ]

    async def close(self) -> None:
        self._closing = True
        if self._settle is not None:
            self._settle.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._recorder.close()
        self._recording_file.close()

    async def wait_for(self, predicate: Callable[[Observed, str], bool], seconds: float) -> bool:
        """Wait until ``predicate(observed, pane)`` holds; False on timeout."""
        deadline = time.monotonic() + seconds
        async with self._changed:
            while not predicate(self._observed, self.pane()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                # asyncio.timeout, not wait_for: 3.11's wait_for can drop a cancel.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await self._changed.wait()
            return True

    async def wait_for_update(self, after: int, seconds: float) -> bool:
        """Wait until the screen changed since it had ``after`` updates; False on timeout."""
        return await self.wait_for(lambda _o, _p: self.updates > after, seconds)

    async def _pump(self, stream: TerminalStream) -> None:
        try:
            async for chunk in stream:
                if self.first_output_at is None:
                    self.first_output_at = time.monotonic()
                self._recorder.output(chunk)
                for tap in list(self._taps):
                    tap.offer(chunk)
                version = self._detector.screen.version
                result = self._detector.feed(chunk)
                if self._detector.screen.version == version:
                    continue  # no visible change (cursor moves, redraws of the same text)
                self._last_change = time.monotonic()
                self.updates += 1
                await self._screen_says(Observed(result.state, dict(result.details)))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("attach stream of %s failed", self.container_id[:12])
        finally:
            await stream.aclose()
        if not self._closing:
            await self._set(Observed(SessionState.EXITED, {}))

    async def _watch_stall(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self._stall_seconds / 4))
            idle_for = time.monotonic() - self._last_change
            if self._observed.state == SessionState.WORKING and idle_for >= self._stall_seconds:
                stalled = Observed(SessionState.STALLED, {"secondsWithoutChange": round(idle_for)})
                await self._set(stalled)

    async def _screen_says(self, observed: Observed) -> None:
        """Take the classifier's verdict, holding back an ``idle`` that may be a blink.

        Between a permission answer and the tool starting, and between steps of a turn,
        Claude Code shows its idle input box for a frame or two. Reporting those would
        tell clients the work is done when it is not, so a move to ``idle`` from a busy
        state counts only once the screen has stayed idle for ``idle_settle_seconds``.
        """
        self._latest = observed
        if self._settle is not None:
            self._settle.cancel()
            self._settle = None
        if observed.state == SessionState.IDLE and self._observed.state in BUSY_STATES:
            self._settle = asyncio.create_task(self._settle_idle())
            await self._notify()  # the screen changed, though the state holds for now
            return
        await self._set(observed)

    async def _settle_idle(self) -> None:
        await asyncio.sleep(self._idle_settle_seconds)
        self._settle = None
        if self._latest.state == SessionState.IDLE:
            await self._set(self._latest)

    async def _set(self, observed: Observed) -> None:
        previous = self._observed
        self._observed = observed
        if observed.state != previous.state:
            self._state_since = time.monotonic()
        await self._notify()
        if _is_news(previous, observed):
            try:
                await self._on_state(observed)
            except Exception:
                log.exception("state callback failed for %s", self.container_id[:12])

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


def _is_news(previous: Observed, current: Observed) -> bool:
    """A state change, a different prompt/question, or another permission mode; not a
    ticking spinner."""
    if current.state != previous.state:
        return True
    mode = current.details.get("mode")
    if mode and mode != previous.details.get("mode"):
        return True  # the permission mode is pinned: a change must be seen at once
    return current.state in WAITING_STATES and current.details != previous.details
