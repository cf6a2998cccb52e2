"""Parse Claude Code's dialogs: permission prompts and AskUserQuestion questions.

A dialog is anchored on its numbered options with the ``❯`` cursor on one of them;
the rule above the dialog bounds it. Wrapped option labels (narrow terminals) are
joined back. Details are plain dicts/lists so they serialise to JSON as they are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runner.terminal.layout import is_rule

_OPTION = re.compile(r"^(\s*)(❯\s*)?(\d{1,2})\.\s+(.*)$")
_CURSOR_OPTION = re.compile(r"^\s*❯\s*\d{1,2}\.\s")
_QUESTION_CHIPS = "☐☒✔✓□■"
_FOOTERS = ("Esc to cancel", "Enter to select")


@dataclass(frozen=True)
class Option:
    """A numbered choice of a dialog; ``extra`` holds its indented description lines."""

    number: int
    label: str
    extra: tuple[str, ...]


@dataclass(frozen=True)
class Dialog:
    """A dialog's rows: ``top`` (its rule, or 0), the options, and the selected number."""

    top: int
    first_option: int
    options: tuple[Option, ...]
    selected: int | None


def find_dialog(lines: Sequence[str], before: int) -> Dialog | None:
    """The bottom-most dialog whose cursor line is above row ``before``."""
    cursor_row = next(
        (y for y in range(min(before, len(lines)) - 1, -1, -1) if _CURSOR_OPTION.match(lines[y])),
        None,
    )
    if cursor_row is None:
        return None
    first = _first_option_row(lines, cursor_row)
    options, selected = _read_options(lines, first)
    top = next((y for y in range(first - 1, -1, -1) if is_rule(lines[y])), 0)
    return Dialog(top, first, tuple(options), selected)


def is_question(lines: Sequence[str], dialog: Dialog) -> bool:
    """True for AskUserQuestion: a header chip (``☐ Header``) or its select/navigate footer."""
    body = lines[dialog.top : dialog.first_option]
    if any(_chip_text(line) is not None for line in body):
        return True
    return any("Enter to select" in line and "navigate" in line for line in lines[dialog.top :])


def question_details(lines: Sequence[str], dialog: Dialog) -> dict[str, Any]:
    """Header, question text, options (number, label, description) and the selected number."""
    body = [line for line in lines[dialog.top + 1 : dialog.first_option] if not is_rule(line)]
    header = next((chip for line in body if (chip := _chip_text(line)) is not None), "")
    text = [line.strip() for line in body if line.strip() and _chip_text(line) is None]
    return {
        "header": header,
        "question": " ".join(text),
        "options": [
            {"number": o.number, "label": o.label, "description": " ".join(o.extra)}
            for o in dialog.options
        ],
        "selected": dialog.selected,
    }


def dialog_body(lines: Sequence[str], dialog: Dialog) -> list[str]:
    """The dialog's rows between its top rule and its first option."""
    return list(lines[dialog.top + 1 : dialog.first_option])


def options_json(dialog: Dialog) -> list[dict[str, Any]]:
    """Options as ``{"number", "label"}`` (wrapped continuation lines joined to the label)."""
    return [
        {"number": o.number, "label": " ".join([o.label, *o.extra]).strip()} for o in dialog.options
    ]


def _first_option_row(lines: Sequence[str], row: int) -> int:
    # Options are numbered from 1: the nearest "1." at or above the cursor starts them.
    for y in range(row, max(-1, row - 60), -1):
        match = _OPTION.match(lines[y])
        if match and match.group(3) == "1":
            return y
    return row


def _read_options(lines: Sequence[str], first: int) -> tuple[list[Option], int | None]:
    options: list[Option] = []
    selected: int | None = None
    label_column = 0
    for line in lines[first:]:
        match = _OPTION.match(line)
        if match and (not options or int(match.group(3)) == options[-1].number + 1):
            number = int(match.group(3))
            if match.group(2):
                selected = number
            label_column = match.start(4)
            options.append(Option(number, match.group(4).strip(), ()))
        elif is_rule(line):
            continue  # AskUserQuestion draws a rule before "Chat about this"
        elif line.strip() and _indent(line) >= label_column - 1 and not _is_footer(line):
            last = options[-1]
            options[-1] = Option(last.number, last.label, (*last.extra, line.strip()))
        else:
            break
    return options, selected


def _is_footer(line: str) -> bool:
    return any(footer in line for footer in _FOOTERS)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _chip_text(line: str) -> str | None:
    stripped = line.strip().lstrip("←").strip()
    if stripped and stripped[0] in _QUESTION_CHIPS:
        return stripped[1:].split("  ")[0].strip()
    return None
