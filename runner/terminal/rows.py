"""Where the screen's rows live: as plain strings where they can, else as pyte's cells.

pyte stores a row as a dict of cells, one ``Char`` per column written; filling it
was half the cost of reading Claude Code's redraws. ``RowScreen`` keeps a row as a
string of exactly ``columns`` characters instead (``" "`` for a blank cell) for as
long as only the hot operations touch it (drawing narrow text, erasing, moving rows),
and turns it back into pyte's cells (``_materialize``) before any other pyte method
reads the row. A row is in one form or the other, never both. Rows also move (scroll,
delete lines) in either form.

Only rows whose cells are all narrow single characters inside the screen become
text; wide characters, combined characters and the off-screen cell of pyte's ICH stay
in pyte's form, where the exact pyte behaviour lives.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, MutableMapping, Sequence
from functools import partial
from operator import itemgetter
from typing import Any

import pyte
from pyte.screens import Margins, StaticDefaultDict

from runner.terminal.cells import BLANK, CELLS, NARROW

_DATA = itemgetter(0)  # Char.data
_BLANKS: dict[int, str] = {}


def blank(width: int) -> str:
    """``width`` blank cells."""
    row = _BLANKS.get(width)
    if row is None:
        row = _BLANKS[width] = " " * width
    return row


def as_text(line: MutableMapping[int, Any], columns: int) -> str | None:
    """A pyte row as text, or None when some cell cannot be one character of it."""
    if not line:
        return blank(columns)
    data = list(map(_DATA, line.values()))
    if not NARROW.issuperset(data) or max(line) >= columns:
        return None
    cells = [" "] * columns
    deque(map(cells.__setitem__, line, data), maxlen=0)
    return "".join(cells)


def splice(row: str, spans: Sequence[tuple[int, str]]) -> str:
    """``row`` with each ``(x, text)`` written over it (left to right, not overlapping)."""
    if len(spans) == 1:
        x, text = spans[0]
        return row[:x] + text + row[x + len(text) :]
    pieces: list[str] = []
    position = 0
    for x, text in spans:
        pieces.append(row[position:x])
        pieces.append(text)
        position = x + len(text)
    pieces.append(row[position:])
    return "".join(pieces)


def scroll(buffer: MutableMapping[int, Any], rows: dict[int, str], lines: range, step: int) -> None:
    """Move each row of ``lines`` ``step`` rows (-1: up); rows moved in from outside are blank.

    What pyte's index (``step`` -1) and reverse index (+1) do to their region, for rows
    in either form.
    """
    for y in lines if step < 0 else reversed(lines):
        source = y - step
        rows.pop(y, None)
        buffer.pop(y, None)
        if source in lines:
            if source in rows:
                rows[y] = rows.pop(source)
            elif source in buffer:
                buffer[y] = buffer.pop(source)


class RowScreen(pyte.Screen):  # type: ignore[misc]
    """pyte's screen with rows as text where they can be (see the module docstring)."""

    def __init__(self, columns: int, lines: int) -> None:
        # y -> exactly ``columns`` characters. Set before pyte's __init__ calls reset().
        self.text_rows: dict[int, str] = {}
        super().__init__(columns, lines)
        # pyte builds a fresh default Char for every new line; without attributes one
        # shared blank does (its text is the same " ").
        self.buffer = defaultdict(partial(StaticDefaultDict, BLANK))
        # pyte's insert_characters can push a cell past the last column. pyte never
        # shows it, but keeps it through line erases (they write blanks over the
        # visible cells only) and delete_characters pulls it back. Once that may have
        # happened, erases must keep such cells too.
        self._has_offscreen_cells = False

    def row_text(self, y: int, render: Callable[[Any, int], str]) -> str:
        """Row ``y``'s text, trailing blanks stripped (``render`` reads a pyte row)."""
        row = self.text_rows.get(y)
        if row is not None:
            return row.rstrip()
        return render(self.buffer[y], self.columns) if y in self.buffer else ""

    def _text_row(self, y: int) -> str | None:
        """Row ``y`` as text, converted from pyte's form if it can be (None if not)."""
        row = self.text_rows.get(y)
        if row is None:
            line = self.buffer.get(y)
            row = blank(self.columns) if line is None else as_text(line, self.columns)
            if row is not None:
                self.buffer.pop(y, None)
        return row

    def _materialize(self, y: int) -> None:
        """Put row ``y`` back into pyte's form (cells), if it is text."""
        row = self.text_rows.pop(y, None)
        if row is not None:
            line = self.buffer[y]
            line.clear()
            line.update((x, CELLS[char]) for x, char in enumerate(row) if char != " ")

    def _pyte_row(self, y: int) -> Any:
        self._materialize(y)
        return self.buffer[y]

    def _materialize_all(self) -> None:
        for y in list(self.text_rows):
            self._materialize(y)

    def index(self) -> None:
        """Move down a line, scrolling the region up at its bottom (IND, as pyte)."""
        top, bottom = self.margins or Margins(0, self.lines - 1)
        if self.cursor.y == bottom:
            self.dirty.update(range(self.lines))
            scroll(self.buffer, self.text_rows, range(top, bottom + 1), -1)
        else:
            self.cursor.y = min(self.cursor.y + 1, bottom)

    def reverse_index(self) -> None:
        """Move up a line, scrolling the region down at its top (RI, as pyte)."""
        top, bottom = self.margins or Margins(0, self.lines - 1)
        if self.cursor.y == top:
            self.dirty.update(range(self.lines))
            scroll(self.buffer, self.text_rows, range(top, bottom + 1), 1)
        else:
            self.cursor_up()

    def delete_lines(self, count: int | None = None) -> None:
        """Delete ``count`` lines at the cursor; the lines below move up (DL).

        pyte's version leaves a line in place when the one moving onto it was never
        written. Here erased lines are dropped from the buffer, so a missing line is
        a blank one and moves up like any other.
        """
        count = count or 1
        top, bottom = self.margins or Margins(0, self.lines - 1)
        if not top <= self.cursor.y <= bottom:
            return
        buffer = self.buffer
        self._materialize_all()
        self.dirty.update(range(self.cursor.y, self.lines))
        for y in range(self.cursor.y, bottom + 1):
            if y + count <= bottom and y + count in buffer:
                buffer[y] = buffer.pop(y + count)
            else:
                buffer.pop(y, None)
        self.carriage_return()

    def insert_lines(self, count: int | None = None) -> None:
        self._materialize_all()
        super().insert_lines(count)

    def insert_characters(self, count: int | None = None) -> None:
        """Insert blank cells at the cursor, shifting the rest right (pyte's ICH)."""
        self._has_offscreen_cells = True
        self._materialize(self.cursor.y)
        super().insert_characters(count)

    def delete_characters(self, count: int | None = None) -> None:
        self._materialize(self.cursor.y)
        super().delete_characters(count)

    @property
    def display(self) -> list[str]:
        self._materialize_all()
        return list(super().display)

    def reset(self) -> None:
        self.text_rows.clear()
        super().reset()

    def resize(self, lines: int | None = None, columns: int | None = None) -> None:
        self._materialize_all()
        super().resize(lines, columns)

    def set_mode(self, *modes_: int, **kwargs: Any) -> None:
        self._materialize_all()  # reverse video (DECSCNM) and 132 columns touch every row
        super().set_mode(*modes_, **kwargs)

    def reset_mode(self, *modes_: int, **kwargs: Any) -> None:
        self._materialize_all()
        super().reset_mode(*modes_, **kwargs)

    def alignment_display(self) -> None:
        self._materialize_all()
        super().alignment_display()
