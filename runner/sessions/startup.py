"""How long each step of a session's start took, from ``POST /v1/sessions`` to ``idle``.

The manager starts a ``StartupClock`` when a create request arrives and marks each step
as it ends; the launcher marks its own. The steps' durations are kept in the session's
details (``startup``) and logged once the session is ready, so an operator (and
``bench/bench_ready.py``) can see where the time to ready goes.
"""

from __future__ import annotations

import time


class StartupClock:
    """Named steps of one session's start, each timed from the end of the one before."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._last = self._started
        self._steps: dict[str, float] = {}
        self._moments: dict[str, float] = {}

    def mark(self, step: str, at: float | None = None) -> None:
        """End ``step`` now (or at the monotonic time ``at``, if it ended earlier)."""
        moment = time.monotonic() if at is None else max(at, self._last)
        self._steps[step] = self._steps.get(step, 0.0) + moment - self._last
        self._last = moment

    def note(self, moment: str, at: float) -> None:
        """Remember when (monotonic ``at``) something happened that overlaps the steps,
        such as the terminal's first byte while the controller records the container.

        A moment before the request (a pooled sandbox's first byte) is not one of this
        start's, and is left out.
        """
        if at >= self._started:
            self._moments[moment] = at

    def summary(self) -> dict[str, object]:
        """``steps`` (seconds per step, in the order they ended), ``at`` (seconds from the
        request to each noted moment) and the ``total``."""
        return {
            "steps": {step: round(seconds, 4) for step, seconds in self._steps.items()},
            "at": {name: round(at - self._started, 4) for name, at in self._moments.items()},
            "total": round(self._last - self._started, 4),
        }

    def describe(self) -> str:
        """One line for the log: the total, then each step."""
        parts = ", ".join(f"{step} {seconds:.3f}" for step, seconds in self._steps.items())
        return f"{self._last - self._started:.3f} s ({parts})"
