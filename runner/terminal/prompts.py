"""AskUserQuestion dialogs: how their frame differs from a permission prompt, and their details.

The frame decides (see ``frame.py``): the ``Enter to select`` footer under the options,
or a header chip (``☐ Header``) as the first row under the top rule. Chips, footers
or option-like rows anywhere else are the content of some other dialog. Details are
plain dicts/lists so they serialise to JSON as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runner.terminal.frame import Dialog
from runner.terminal.layout import is_rule

_QUESTION_CHIPS = "☐☒✔✓□■"


def is_question(lines: Sequence[str], dialog: Dialog) -> bool:
    """True for AskUserQuestion: its footer, or a header chip right under the top rule."""
    if any(row.startswith("Enter to select") for row in dialog.footer):
        return True
    return _chip_row(lines, dialog) is not None


def question_details(lines: Sequence[str], dialog: Dialog) -> dict[str, Any]:
    """Header, question text, options (number, label, description) and the selected number."""
    chip = _chip_row(lines, dialog)
    start = dialog.head_start if chip is None else chip + 1
    body = [row.strip() for row in lines[start : dialog.first_option] if not is_rule(row)]
    return {
        "header": "" if chip is None else _chip_text(lines[chip]) or "",
        "question": " ".join(row for row in body if row),
        "options": [
            {"number": o.number, "label": o.label, "description": " ".join(o.extra)}
            for o in dialog.options
        ],
        "selected": dialog.selected,
    }


def _chip_row(lines: Sequence[str], dialog: Dialog) -> int | None:
    """The header chip's row: the first non-blank row under the top rule, if it is one."""
    if dialog.top is None:
        return None
    row = next((y for y in range(dialog.top + 1, dialog.first_option) if lines[y].strip()), None)
    return row if row is not None and _chip_text(lines[row]) is not None else None


def _chip_text(line: str) -> str | None:
    # Several questions draw their chips as tabs: "← ☐ Colour  ☐ Size  ✔ Submit →".
    stripped = line.strip().lstrip("←").strip()
    if stripped and stripped[0] in _QUESTION_CHIPS:
        return stripped[1:].split("  ")[0].strip()
    return None
