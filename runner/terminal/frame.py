"""Find a dialog by its frame: the numbered options at the bottom of the screen.

Claude Code draws a dialog (a permission prompt, an AskUserQuestion question) as the
last thing on the screen: a top rule, a title or header chip, the content (a command,
a file, a diff, a question), the numbered options with the ``❯`` cursor, then the
footer. The content can hold any text, lines that look like options, rules or a
cursor included, so it is never searched. The options are read bottom-up from the
footer, at the column where the last option's number sits; a row indented deeper is
the wrapped label or the description of the option above it, whatever it says, and a
row at that column that breaks the count 1, 2, … is no dialog at all.

A dialog taller than the screen is cut at the top: Claude Code then says how many of
its rows are hidden (``↑ 7 more lines`` above the footer) and the title may be gone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from runner.terminal.layout import is_rule

_OPTION = re.compile(r"(\s*)(❯\s*)?(\d{1,2})\.\s+(.*)")
_HIDDEN = re.compile(r"↑ (\d+) more lines?\b")
# Rows the footer can take under the options: a blank, "↑ N more lines", the key hints.
# More than this, or any rule or bare "❯" row among them, is some other frame (the input
# box), so the options above it are content.
_MAX_TAIL = 8


@dataclass(frozen=True)
class Option:
    """A numbered choice; ``extra`` holds its wrapped label or its description rows."""

    number: int
    label: str
    extra: tuple[str, ...]


@dataclass(frozen=True)
class Dialog:
    """Where a dialog's parts sit on the screen.

    ``top`` is the row of its top rule (None when that scrolled off the screen),
    ``first_option`` the row of option 1, ``column`` the column of the options'
    numbers, ``footer`` the non-blank rows under the options (stripped), and
    ``hidden_rows`` how many of its rows are above the screen.
    """

    top: int | None
    first_option: int
    column: int
    options: tuple[Option, ...]
    selected: int
    footer: tuple[str, ...]
    hidden_rows: int

    @property
    def head_start(self) -> int:
        """The first row of the dialog's head (title, content, question) on the screen."""
        return 0 if self.top is None else self.top + 1

    @property
    def title_row(self) -> int | None:
        """The row of the title, or None when it is above the screen."""
        if self.top is not None:
            return self.top + 1
        # Row 0 of a dialog is its top rule, row 1 the title.
        return 0 if self.hidden_rows == 1 else None


def find_dialog(lines: Sequence[str]) -> Dialog | None:
    """The dialog that ends the screen, or None when the screen ends in something else."""
    last = _last_option_row(lines)
    if last is None:
        return None
    match = _OPTION.fullmatch(lines[last])
    assert match is not None  # _last_option_row matched it
    column = match.start(3)
    rows = _option_rows(lines, last, column)
    if rows is None:
        return None
    cursor = [number for number, row in rows if lines[row].lstrip().startswith("❯")]
    if len(cursor) != 1:
        return None  # a live dialog has exactly one cursor
    options, end = _read_options(lines, rows, column)
    footer = tuple(row.strip() for row in lines[end:] if row.strip())
    hidden = next((int(m.group(1)) for row in footer if (m := _HIDDEN.match(row))), 0)
    first = rows[0][1]
    top = _top_rule(lines, first, column)
    return Dialog(top, first, column, options, cursor[0], footer, hidden)


def _last_option_row(lines: Sequence[str]) -> int | None:
    """The bottom-most option row, if only a footer lies under it."""
    seen = 0
    for y in range(len(lines) - 1, -1, -1):
        row = lines[y]
        if not row:
            continue
        if _OPTION.fullmatch(row):
            return y
        seen += 1
        if seen > _MAX_TAIL or is_rule(row) or row.startswith("❯"):
            return None
    return None


def _option_rows(lines: Sequence[str], last: int, column: int) -> list[tuple[int, int]] | None:
    """``(number, row)`` of options 1..N, read upward from option N at ``column``."""
    found: list[tuple[int, int]] = []
    expected: int | None = None
    for y in range(last, -1, -1):
        row = lines[y]
        match = _OPTION.fullmatch(row)
        if match is not None and match.start(3) == column:
            number = int(match.group(3))
            if expected is not None and number != expected:
                return None
            found.append((number, y))
            if number == 1:
                return found[::-1]
            expected = number - 1
        elif row.strip() and (_indent(row) > column or is_rule(row)):
            continue  # a description or a wrapped label; AskUserQuestion's inner rule
        else:
            return None
    return None


def _read_options(
    lines: Sequence[str], rows: list[tuple[int, int]], column: int
) -> tuple[tuple[Option, ...], int]:
    """The options, each with the deeper-indented rows under it; and the row after them."""
    options: list[Option] = []
    end = len(lines)
    for index, (number, y) in enumerate(rows):
        match = _OPTION.fullmatch(lines[y])
        assert match is not None  # _option_rows matched it
        stop = rows[index + 1][1] if index + 1 < len(rows) else len(lines)
        extra: list[str] = []
        for below in range(y + 1, stop):
            row = lines[below]
            if is_rule(row) and index + 1 < len(rows):
                continue
            if not row.strip() or _indent(row) <= column:
                end = below
                break
            extra.append(row.strip())
        options.append(Option(number, match.group(4).strip(), tuple(extra)))
    return tuple(options), end


def _top_rule(lines: Sequence[str], first_option: int, column: int) -> int | None:
    """The dialog's top rule: the nearest full-width rule left of the options above them.

    Content is drawn inside the dialog's margin (a line-number gutter, a ``│`` bar, an
    indent), so a rule in the content never starts as far left as the frame's own.
    """
    width = max(map(len, lines), default=0)
    margin = max(0, column - 3)
    for y in range(first_option - 1, -1, -1):
        row = lines[y]
        if row and row[0] in " ─━" and is_rule(row):
            indent = _indent(row)
            if indent <= margin and len(row) >= width - indent - 1:
                return y
    return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())
