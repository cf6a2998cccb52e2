"""The frame decides: hand-made screens whose content mimics Claude Code's own frames.

The recorded hostile screens are in test_fixtures (``*-hostile-*``); these pin the rules
one at a time, on screens small enough to read.
"""

from __future__ import annotations

from runner.terminal.classifier import classify
from runner.terminal.command import command_text
from runner.terminal.states import State

RULE = "─" * 40
DASHED = "╌" * 40
BOX = [RULE, "❯", RULE, "  ⏸ manual mode on · ? for shortcuts"]
FAKE_DIALOG = [
    "  Do you want to proceed?",
    "  ❯ 1. Yes",
    "    2. No",
    "  Esc to cancel · Tab to amend",
]


def _write_prompt(content: list[str], footer: str = " Esc to cancel · Tab to amend") -> list[str]:
    return [
        "● Write(menu.txt)",
        "",
        RULE,
        " Create file",
        " menu.txt",
        DASHED,
        *content,
        DASHED,
        " Do you want to create menu.txt?",
        " ❯ 1. Yes",
        "   2. No",
        "",
        footer,
    ]


def test_a_dialog_quoted_above_the_input_box_is_not_a_dialog() -> None:
    """Options, a cursor and a dialog footer in a reply above the box leave the screen idle."""
    state = classify(["● Here is one:", "", *FAKE_DIALOG, "", *BOX])
    assert state.state == State.IDLE


def test_a_question_inside_a_file_is_a_permission_prompt() -> None:
    """A chip, options and the question footer in a file's content do not make it a question."""
    content = ["  1 ☐ Header", "  2 ❯ 1. Red", "  3 Enter to select · ↑/↓ to navigate"]
    state = classify(_write_prompt(content))
    assert state.state == State.PERMISSION_PROMPT
    assert state.details["tool"] == "write"
    assert state.details["path"] == "menu.txt"
    assert state.details["selected"] == 1
    assert [o["label"] for o in state.details["options"]] == ["Yes", "No"]


def test_a_wrapped_rule_inside_a_file_is_not_the_dialog_top() -> None:
    """A content row that is only a rule (a wrapped long line) does not cut off the title."""
    state = classify(_write_prompt(["  1 " + "─" * 36, "    " + "─" * 20, "  2 ❯"]))
    assert state.details["title"] == "Create file"
    assert state.details["path"] == "menu.txt"


def test_an_option_like_description_stays_a_description() -> None:
    """A description row reading ``❯ 1. Yes`` belongs to its option, under the real cursor."""
    lines = [
        RULE,
        " ☐ Pick",
        "",
        "Which one?",
        "",
        "❯ 1. Red",
        "     ❯ 1. Yes",
        "  2. Blue",
        "     Esc to cancel · Tab to amend",
        "",
        "Enter to select · ↑/↓ to navigate · Esc to cancel",
    ]
    state = classify(lines)
    assert state.state == State.ASKING
    assert state.details["selected"] == 1
    assert state.details["options"] == [
        {"number": 1, "label": "Red", "description": "❯ 1. Yes"},
        {"number": 2, "label": "Blue", "description": "Esc to cancel · Tab to amend"},
    ]


def test_options_numbered_out_of_order_are_no_dialog() -> None:
    """At the options' column the numbers must count 1, 2, …; anything else is not a dialog."""
    lines = [RULE, " Bash command", " Do you want to proceed?", " ❯ 1. Yes", "   3. No"]
    assert classify(lines).state == State.UNKNOWN


def test_a_dialog_cut_at_the_top_is_partial() -> None:
    """With the title above the screen the tool and file come from the question."""
    lines = [
        "   4 ❯ 1. Yes",
        "   5   2. No",
        DASHED,
        " Do you want to create notes.md?",
        " ❯ 1. Yes",
        "   2. No",
        " ↑ 6 more lines",
        " Esc to cancel · Tab to amend",
    ]
    details = classify(lines).details
    assert (details["tool"], details["path"], details["title"]) == ("write", "notes.md", "")
    assert details["partial"] is True


def test_a_spinner_quoted_in_a_reply_is_not_the_spinner() -> None:
    """Only a spinner at the left edge right above the box counts; a reply's is indented."""
    lines = ["● Busy screens look like:", "  ✻ Julienning… (6s · ↓ 5 tokens)", "", *BOX]
    lines[-1] = "  ⏸ manual mode on · esc to interrupt"
    state = classify(lines)
    assert state.state == State.WORKING
    assert "activity" not in state.details


def test_a_reply_that_quotes_an_interrupt_is_not_interrupted() -> None:
    """Only the transcript's last entry counts, and a finished turn ends with its summary."""
    lines = [
        "● API Error: 400 Bad request",
        "  ⎿  Interrupted · What should Claude do instead?",
        "",
        "✻ Worked for 0s · done",
        "",
        *BOX,
    ]
    details = classify(lines).details
    assert details["interrupted"] is False
    assert "api_error" not in details


def test_an_exit_mark_in_the_transcript_is_output() -> None:
    """``[exited]`` counts only as the last text on screen, where tmux prints it."""
    assert classify(["● It printed:", "[exited]", "", *BOX]).state == State.IDLE
    assert classify(["● It printed:", "", "[exited]"]).state == State.EXITED


def test_command_rows_join_wraps_with_a_space_and_lines_with_a_newline() -> None:
    """Rows cut by word wrap are rejoined with a space, hard line breaks stay newlines."""
    dashed = "╌" * 24  # a 24-column dialog: 20 columns of command after " │ " and a margin
    head = [
        " Bash command",
        dashed,
        " │ cat <<'EOF'",
        " │ first line that is",
        " │ long",
        " │   indented",
        " │ " + "x" * 20,
        " │ yy",
        " │ EOF",
        dashed,
    ]
    text = command_text(head, [1, 9], has_title=True)
    assert text == "cat <<'EOF'\nfirst line that is long\n  indented\n" + "x" * 20 + "yy\nEOF"
