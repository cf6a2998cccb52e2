"""Operator input: text only, and what Claude Code would make of it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.core import PermissionMode, SessionState
from runner.errors import InvalidInputError
from runner.sessions.driver import holds
from runner.sessions.hooklog import HookLog
from runner.sessions.input_text import check_text, parse_input
from runner.sessions.live import Observed
from runner.sessions.mode_pin import mode_changed

_CONTROLS = [chr(c) for c in [*range(0, 32), 127, *range(0x80, 0xA0)] if c != 10]


def test_control_characters_are_refused_with_offset() -> None:
    """The probe's paste-escape is refused at the escape, naming it."""
    with pytest.raises(InvalidInputError) as refused:
        check_text("aaa\u001b[201~\u001b[Z")
    assert refused.value.details == {"field": "text", "offset": 3, "char": "U+001B"}


@given(st.text(alphabet=st.sampled_from(["a", " ", "\n", "é", "❯", *_CONTROLS]), min_size=1))
def test_only_printable_text_and_newlines_pass(text: str) -> None:
    """Any string holding a control character (not newline) is refused; others pass."""
    bad = [i for i, c in enumerate(text) if c in _CONTROLS]
    if not bad:
        check_text(text)
        return
    with pytest.raises(InvalidInputError) as refused:
        check_text(text)
    assert refused.value.details["offset"] == bad[0]


def test_shell_escapes_and_slash_commands_are_recognised() -> None:
    """`!` after leading whitespace is a shell escape; `/name` a slash command."""
    assert parse_input("  \n !touch x").kind == "shell"
    assert parse_input("  \n !touch x").target == "touch x"
    assert parse_input(" /model opus").target == "/model"
    assert parse_input("fix the bug").kind == "prompt"


def test_enter_only_when_the_box_holds_exactly_the_text() -> None:
    """The idle box must hold the text (whitespace aside); a dialog or other text: no."""
    idle = Observed(SessionState.IDLE, {"draft": "fix the\nbug"})
    assert holds(idle, "fix the bug")
    assert not holds(idle, "fix the bug now")
    assert not holds(Observed(SessionState.PERMISSION_PROMPT, {"draft": "x"}), "x")
    assert holds(Observed(SessionState.IDLE, {"draft": "[Pasted text #1 +3 lines]"}), "a\nb\nc\nd")


def test_mode_change_is_seen_against_the_pinned_mode() -> None:
    """Another footer mode than the session's is a change; an unknown footer is not."""
    assert mode_changed(PermissionMode.DEFAULT, {"mode": "accept edits"}) == "accept edits"
    assert mode_changed(PermissionMode.DEFAULT, {"mode": "manual"}) is None
    assert mode_changed(PermissionMode.DEFAULT, {"mode": ""}) is None


def test_approval_binds_only_to_a_pending_hook_call_that_agrees() -> None:
    """The screen's command must be the hook's pending ask's; otherwise nothing binds."""
    hooks = HookLog()
    hooks.record(
        "s1",
        {"request": "r1", "tool_name": "Bash", "decision": "ask",
         "tool_input": {"command": "rm -rf /workspace/readme.txt"}},
    )  # fmt: skip
    real = {"tool": "bash", "command": "rm -rf\n/workspace/readme.txt"}
    spoofed = {"tool": "bash", "command": "ls -la"}
    bound = hooks.bind("s1", real)
    assert bound is not None and bound.id == "r1"
    assert hooks.bind("s1", spoofed) is None
    assert hooks.bind("s1", real, "r2") is None
    hooks.decided("s1", "r1")
    assert hooks.bind("s1", real) is None
