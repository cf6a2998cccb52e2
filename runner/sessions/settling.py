"""When what the screen shows becomes the session's state: settling, so flapping is not news.

The classifier judges every screen change, and some screens are not what Claude Code
means to show: a repaint that arrived in two pieces (tmux and the attach stream split
it anywhere), or a program the agent runs drawing on its terminal over the dialog
until the next repaint. Judged one by one, such a screen flips the session from
``permission_prompt`` to ``unknown`` and back several times a second, and every flip
would be a ``session.state`` in the ledger and on the bus (and the prompt announced
again), without end. So a verdict that would be news is a *candidate* first, and is
published only once it is settled:

- it held (no other verdict came in between) for ``state`` seconds; an ``idle`` after
  work holds for ``idle`` seconds instead (Claude Code flashes its input box between
  the steps of a turn);
- or, the fast path, for a framed state (idle, working, a prompt or a question: the
  classifier found a whole dialog or input box with its footer): the screen has then
  been quiet for ``quiet`` seconds, and the session is calm. Calm means: in the last
  ``state`` seconds nothing flapped (no framed candidate came and went before it
  settled) and fewer than ``BURST`` states were published. A real change is so
  published within ``quiet``, also right after another one (idle, then working, then
  a prompt); a screen that flaps, or runs through states faster than real work does,
  waits the full ``state`` for every further change. (Returning to a recent state is
  not itself a flap: a quick real turn, idle → working → idle, does that.)

Frameless verdicts (``unknown``, ``starting``, ``error``, and ``exited`` read off the
screen) never take the fast path: a half-drawn or drawn-over frame looks like one. A
verdict that is not news (a ticking spinner, a draft typed into the idle box) replaces
the published one at once, and drops the candidate: the screen came back.

This module is pure (time is passed in); ``LiveSession`` owns the clock and the timer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.core import BUSY_STATES, WAITING_STATES, SessionState

#: How many states may be published within ``state`` seconds before the fast path closes
#: (real work: idle, working, a prompt; faster than that is not work).
BURST = 3

#: Verdicts that need a whole frame (a dialog or the input box, with its footer).
FRAMED_STATES = frozenset(
    {
        SessionState.IDLE,
        SessionState.WORKING,
        SessionState.PERMISSION_PROMPT,
        SessionState.ASKING,
    }
)


@dataclass(frozen=True)
class Observed:
    """The state the screen shows now, with its details."""

    state: SessionState
    details: Mapping[str, Any]


@dataclass(frozen=True)
class SettleTimes:
    """How long verdicts must hold before they are published (seconds)."""

    #: Any change (and every change while the screen flaps).
    state: float = 0.25
    #: An ``idle`` after work.
    idle: float = 0.75
    #: How long the screen must be quiet for the fast path.
    quiet: float = 0.02


def is_news(previous: Observed, current: Observed) -> bool:
    """A state change, a different prompt/question, or another permission mode; not a
    ticking spinner."""
    if current.state != previous.state:
        return True
    mode = current.details.get("mode")
    if mode and mode != previous.details.get("mode"):
        return True  # the permission mode is pinned: a change must be seen at once
    return current.state in WAITING_STATES and current.details != previous.details


class Settler:
    """Holds back news verdicts until they settle; says what to publish and when."""

    def __init__(self, times: SettleTimes, published: Observed, now: float) -> None:
        self._times = times
        self._published = published
        self._candidate: Observed | None = None
        self._since = now
        self._last_screen = now
        self._last_flap = now - times.state  # a new session starts calm
        #: What was published in the last ``state`` seconds, with when, oldest first.
        self._recent: deque[tuple[float, Observed]] = deque()

    @property
    def published(self) -> Observed:
        return self._published

    @property
    def candidate(self) -> Observed | None:
        """The verdict waiting to settle (None: the screen agrees with the state)."""
        return self._candidate

    def offer(self, verdict: Observed, now: float) -> Observed | None:
        """The classifier's verdict on a changed screen; returns what to publish now."""
        self._last_screen = now
        if not is_news(self._published, verdict):
            self._drop(now)  # the screen came back before the candidate settled
            self._published = verdict
            return verdict
        if self._candidate is None or is_news(self._candidate, verdict):
            self._drop(now)
            self._candidate, self._since = verdict, now
        else:
            self._candidate = verdict  # the same verdict, on a newer screen
        return self.due(now)

    def due(self, now: float) -> Observed | None:
        """The candidate, when it has settled by ``now`` (it is then published)."""
        deadline = self.deadline()
        if self._candidate is None or deadline is None or now < deadline:
            return None
        return self.force(self._candidate, now)

    def force(self, observed: Observed, now: float) -> Observed:
        """Publish ``observed`` without settling (``stalled`` and a closed stream are
        decided by time and by the stream, not read off a screen)."""
        self._candidate = None
        if is_news(self._published, observed):
            self._forget_before(now - self._times.state)
            self._recent.append((now, observed))
        self._published = observed
        return observed

    def deadline(self) -> float | None:
        """When the candidate settles, if nothing else arrives (None: no candidate)."""
        candidate = self._candidate
        if candidate is None:
            return None
        after_work = self._idle_after_work(candidate)
        held = self._since + (self._times.idle if after_work else self._times.state)
        if after_work or candidate.state not in FRAMED_STATES:
            return held
        calm = self._last_flap + self._times.state
        if len(self._recent) >= BURST:  # calm again once the oldest leaves the window
            calm = max(calm, self._recent[-BURST][0] + self._times.state)
        return min(held, max(self._last_screen + self._times.quiet, calm))

    def _forget_before(self, since: float) -> None:
        while self._recent and self._recent[0][0] <= since:
            self._recent.popleft()

    def _idle_after_work(self, candidate: Observed) -> bool:
        return candidate.state == SessionState.IDLE and self._published.state in BUSY_STATES

    def _drop(self, now: float) -> None:
        candidate = self._candidate
        self._candidate = None
        if candidate is not None and candidate.state in FRAMED_STATES:
            self._last_flap = now  # a framed verdict that did not last: the screen flaps
