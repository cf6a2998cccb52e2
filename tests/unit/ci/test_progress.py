"""What ``warden run`` prints while it follows a session (CI log lines)."""

from __future__ import annotations

import io

from rich.console import Console

from runner.ci.target import SessionView
from runner.commands.run import PlainProgress


def _lines(*views: SessionView) -> list[str]:
    sink = io.StringIO()
    progress = PlainProgress(Console(file=sink, width=200))
    for number, view in enumerate(views):
        progress.state(view, float(number))
    return sink.getvalue().splitlines()


def test_retries_of_a_failing_model_are_shown_as_progress() -> None:
    """Each retry of a failing model call prints a line with the error and the attempt."""
    retry = {"retrying": True, "attempt": 2, "max_attempts": 10, "retry_in_seconds": 1,
             "error": "500 Internal server error"}  # fmt: skip
    lines = _lines(
        SessionView("abcdef0123", "working", {}),
        SessionView("abcdef0123", "working", retry),
    )
    assert lines[0] == "[   0.0s] session abcdef01 working"
    assert lines[1] == (
        "[   1.0s] session abcdef01 working (model API error: 500 Internal server error"
        " (retrying: attempt 2 of 10, next in 1s))"
    )


def test_a_running_command_is_shown_beside_the_state() -> None:
    """A Bash command on screen is named next to the state."""
    [line] = _lines(SessionView("abcdef0123", "working", {"running_command": "pytest -q"}))
    assert line == "[   0.0s] session abcdef01 working (pytest -q)"
