"""Classifier rules on small hand-made screens (the real screens are in test_fixtures)."""

from __future__ import annotations

from runner.terminal.classifier import classify
from runner.terminal.keys import Key, digit_key, send_keys_argv
from runner.terminal.states import State

RULE = "─" * 60


def test_multi_line_draft_is_read_whole() -> None:
    """A draft spanning two rows of the input box is returned with its newline."""
    lines = ["", RULE, "❯ first line of the draft", "  second line", RULE, "  ⏸ manual mode on"]
    state = classify(lines)
    assert state.state == State.IDLE
    assert state.details["draft"] == "first line of the draft\nsecond line"


def test_blank_screen_is_starting() -> None:
    """A screen with nothing on it yet is the CLI starting."""
    assert classify([""] * 24).state == State.STARTING


def test_fatal_error_without_box_is_error() -> None:
    """An error printed with no input box is the error state with its message."""
    state = classify(["Error: Invalid API key", "", ""])
    assert state.state == State.ERROR
    assert state.details["message"] == "Error: Invalid API key"


def test_dead_pane_is_exited() -> None:
    """tmux's remain-on-exit message means the CLI exited."""
    assert classify(["some output", "Pane is dead (status 0, Mon)"]).state == State.EXITED


def test_unrecognised_text_is_unknown() -> None:
    """Text with no box, dialog, error or exit mark is unknown."""
    assert classify([f"line {i}" for i in range(20)]).state == State.UNKNOWN


def test_key_helpers() -> None:
    """Option digits are 1-9 and literal text is sent with -l so it is never a key name."""
    assert digit_key(3) == "3"
    assert send_keys_argv("warden:0", "-t x", literal=True)[-3:] == ["-l", "--", "-t x"]
    assert send_keys_argv("warden:0", Key.ESCAPE) == [
        "tmux",
        "send-keys",
        "-t",
        "warden:0",
        "Escape",
    ]
