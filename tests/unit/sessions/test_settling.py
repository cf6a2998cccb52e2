"""Settling, with time passed in: what a flapping screen publishes, and when a real change is."""

from __future__ import annotations

from runner.core import SessionState
from runner.sessions.settling import Observed, Settler, SettleTimes

TIMES = SettleTimes(state=0.25, idle=0.75, quiet=0.02)
IDLE = Observed(SessionState.IDLE, {"mode": "manual", "draft": ""})
WORKING = Observed(SessionState.WORKING, {"mode": "manual", "spinner": "* Orbiting…"})
UNKNOWN = Observed(SessionState.UNKNOWN, {})
PROMPT = Observed(SessionState.PERMISSION_PROMPT, {"tool": "bash", "command": "ls", "selected": 1})


def _settled(settler: Settler, now: float) -> Observed | None:
    """What the timer would publish at ``now``, if it was due by then."""
    deadline = settler.deadline()
    return settler.due(now) if deadline is not None and deadline <= now else None


def _changes(first: Observed, published: list[Observed | None]) -> list[Observed]:
    """The states published, each change once (not the refreshes of the same state)."""
    changes: list[Observed] = []
    for observed in published:
        if observed is not None and observed.state != (changes[-1] if changes else first).state:
            changes.append(observed)
    return changes


def test_a_real_change_on_a_calm_session_is_published_once_the_screen_is_quiet() -> None:
    """Working after a long idle: published 20 ms after the screen stopped changing."""
    settler = Settler(TIMES, IDLE, now=0.0)
    assert settler.offer(WORKING, 10.0) is None
    assert settler.deadline() == 10.02
    assert _settled(settler, 10.02) == WORKING


def test_a_half_drawn_frame_is_never_published() -> None:
    """Prompt → unknown (a repaint cut in two) → prompt, 8 times a second: nothing new."""
    settler = Settler(TIMES, PROMPT, now=0.0)
    published = []
    t = 10.0
    for _ in range(40):
        published.append(settler.offer(UNKNOWN, t))
        published.append(_settled(settler, t + 0.003))
        published.append(settler.offer(PROMPT, t + 0.003))
        t += 0.125
    assert _changes(PROMPT, published) == []
    assert settler.published == PROMPT


def test_frameless_states_must_hold_the_full_settle_time() -> None:
    """An unknown screen that stays is published, after 250 ms rather than 20."""
    settler = Settler(TIMES, WORKING, now=0.0)
    settler.offer(UNKNOWN, 10.0)
    assert _settled(settler, 10.1) is None
    assert _settled(settler, 10.25) == UNKNOWN


def test_framed_flapping_publishes_a_burst_at_most_then_nothing() -> None:
    """Two whole frames alternating every 60 ms for 6 s (drawn by the agent): at most
    a burst of three changes at the start, then nothing while it goes on."""
    settler = Settler(TIMES, PROMPT, now=0.0)
    published = []
    t = 10.0
    for i in range(100):
        verdict = WORKING if i % 2 == 0 else PROMPT
        published.append(settler.offer(verdict, t))
        published.append(_settled(settler, t + 0.059))
        t += 0.06
    assert _changes(PROMPT, published) == [WORKING, PROMPT, WORKING]


def test_idle_after_work_waits_for_its_own_settle_time() -> None:
    """Idle after working holds 0.75 s, with no fast path (the box flashes between steps)."""
    settler = Settler(TIMES, WORKING, now=0.0)
    settler.offer(IDLE, 10.0)
    assert _settled(settler, 10.5) is None
    assert _settled(settler, 10.75) == IDLE


def test_a_quick_real_sequence_is_each_published_fast() -> None:
    """Idle → working → prompt within 100 ms: both published within the quiet time."""
    settler = Settler(TIMES, IDLE, now=0.0)
    settler.offer(WORKING, 10.0)
    assert _settled(settler, 10.02) == WORKING
    settler.offer(PROMPT, 10.1)
    assert _settled(settler, 10.12) == PROMPT


def test_what_is_not_news_replaces_the_state_at_once_and_drops_the_candidate() -> None:
    """A new spinner frame is the state now, and an unsettled verdict goes away."""
    settler = Settler(TIMES, WORKING, now=0.0)
    settler.offer(UNKNOWN, 10.0)
    ticked = Observed(SessionState.WORKING, {"mode": "manual", "spinner": "✻ Orbiting…"})
    assert settler.offer(ticked, 10.01) == ticked
    assert settler.candidate is None and settler.deadline() is None


def test_forced_states_skip_settling() -> None:
    """Stalled (decided by time) is published at once and clears what was settling."""
    settler = Settler(TIMES, WORKING, now=0.0)
    settler.offer(UNKNOWN, 10.0)
    stalled = Observed(SessionState.STALLED, {"secondsWithoutChange": 60})
    assert settler.force(stalled, 10.01) == stalled
    assert settler.candidate is None
