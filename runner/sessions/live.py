"""A running session as the controller sees it: the attach stream, the screen, its state.

Every byte from the container's TTY goes to the pyte screen and the asciicast recording;
the screen is classified on every change, and a change of state is reported once it has
settled (``settling.py``: a screen that flaps is not news). ``stalled`` is decided here,
by time: working, and the screen has not changed for ``stall_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from runner.core import SessionState
from runner.sandbox.backend import SandboxBackend, TerminalStream
from runner.sessions.settling import Observed, Settler, SettleTimes, is_news
from runner.terminal.detector import Detector
from runner.terminal.recorder import CastWriter
from runner.terminal.snapshot import repaint

log = logging.getLogger(__name__)

__all__ = ["LiveSession", "Observed", "SettleTimes", "StateCallback", "Tap"]

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
        settle: SettleTimes | None = None,
    ) -> None:
        self.container_id = container_id
        self._backend = backend
        self._detector = Detector(cols, rows)
        self._recording_file = recording.open("w", encoding="utf-8")
        self._recorder = CastWriter(self._recording_file, cols, rows)
        self._stall_seconds = stall_seconds
        self._on_state = on_state
        self._observed = Observed(SessionState.STARTING, {})
        self._state_since = time.monotonic()
        self._settler = Settler(settle or SettleTimes(), self._observed, self._state_since)
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
        """The session's state: what the screen shows, once it has settled."""
        return self._observed

    @property
    def screen_now(self) -> Observed:
        """What the screen shows now, settled or not. Keys are pressed on this (typing,
        Enter, mode keys), never on the settled state, which may lag it."""
        return self._settler.candidate or self._observed

    @property
    def unsettled(self) -> Observed | None:
        """What the screen shows now where that is not yet the state (None: it agrees)."""
        return self._settler.candidate

    async def steady(self, seconds: float) -> bool:
        """Wait until the screen agrees with the state (nothing waits to settle); False on
        timeout. Keys meant for the state's prompt are pressed only then."""
        return await self.wait_for(lambda _o, _p: self._settler.candidate is None, seconds)

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
        self._cancel_settle()
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
            await self._force(Observed(SessionState.EXITED, {}))

    async def _watch_stall(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self._stall_seconds / 4))
            idle_for = time.monotonic() - self._last_change
            if self._observed.state == SessionState.WORKING and idle_for >= self._stall_seconds:
                stalled = Observed(SessionState.STALLED, {"secondsWithoutChange": round(idle_for)})
                await self._force(stalled)

    async def _screen_says(self, verdict: Observed) -> None:
        """Take the classifier's verdict; publish it once it has settled."""
        self._cancel_settle()
        now = time.monotonic()
        published = self._settler.offer(verdict, now)
        if published is not None:
            await self._set(published)
            return
        deadline = self._settler.deadline()
        if deadline is not None:
            self._settle = asyncio.create_task(self._settle_at(deadline))
        await self._notify()  # the screen changed, though the state holds for now

    async def _settle_at(self, deadline: float) -> None:
        while True:
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))
            published = self._settler.due(time.monotonic())
            if published is not None:
                self._settle = None  # publishing: the next screen must not cancel it
                await self._set(published)
                return
            later = self._settler.deadline()
            if later is None:
                self._settle = None
                return
            deadline = later

    def _cancel_settle(self) -> None:
        # Never the running task itself: a settled state is being published from it.
        if self._settle is not None and self._settle is not asyncio.current_task():
            self._settle.cancel()
        self._settle = None

    async def _force(self, observed: Observed) -> None:
        """A state decided by time or by the stream, not by a screen: no settling."""
        self._cancel_settle()
        await self._set(self._settler.force(observed, time.monotonic()))

    async def _set(self, observed: Observed) -> None:
        previous = self._observed
        self._observed = observed
        if observed.state != previous.state:
            self._state_since = time.monotonic()
        await self._notify()
        if is_news(previous, observed):
            try:
                await self._on_state(observed)
            except Exception:
                log.exception("state callback failed for %s", self.container_id[:12])

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()
