"""A pyte screen fed incrementally with the raw bytes a terminal client writes.

Only text matters to the classifier, so colours and attributes are ignored (pyte's
SGR handling is a large share of its cost on a colourful TUI). Lines are rendered
lazily and only when pyte marked them dirty, and ``version`` counts real content
changes so callers classify only when something changed.
"""

from __future__ import annotations

from collections import deque
from operator import itemgetter

from pyte.screens import Char

from runner.errors import InvalidInputError
from runner.terminal.emulator import TextScreen
from runner.terminal.vt import FastStream


class TerminalScreen:
    """A terminal of ``columns`` x ``rows`` fed with raw output bytes (UTF-8 safe across chunks)."""

    def __init__(self, columns: int = 120, rows: int = 40) -> None:
        _check_size(columns, rows)
        self._screen = TextScreen(columns, rows)
        # The stream decodes with an incremental UTF-8 decoder, so a character split
        # across two chunks is kept until its last byte arrives.
        self._stream = FastStream(self._screen)
        self._lines: list[str] = [""] * rows
        self._screen.dirty.clear()
        self._version = 0
        self._bytes_fed = 0

    @property
    def columns(self) -> int:
        return int(self._screen.columns)

    @property
    def rows(self) -> int:
        return int(self._screen.lines)

    @property
    def version(self) -> int:
        """Increments each time the visible text changes (compare to skip re-classifying)."""
        self._refresh()
        return self._version

    @property
    def bytes_fed(self) -> int:
        return self._bytes_fed

    @property
    def cursor(self) -> tuple[int, int]:
        """The cursor as ``(column, row)``, zero-based."""
        return int(self._screen.cursor.x), int(self._screen.cursor.y)

    def feed(self, data: bytes) -> bool:
        """Feed raw terminal output; True when the visible text changed."""
        if not data:
            return False
        self._bytes_fed += len(data)
        self._stream.feed(data)
        return self._refresh()

    def resize(self, columns: int, rows: int) -> None:
        """Resize as a terminal would (the application redraws after its SIGWINCH)."""
        _check_size(columns, rows)
        self._screen.resize(rows, columns)
        self._screen.dirty.update(range(rows))
        self._refresh(force=True)

    def lines(self) -> tuple[str, ...]:
        """The screen's rows as text, trailing blanks stripped."""
        self._refresh()
        return tuple(self._lines)

    def text(self) -> str:
        """The whole screen as text, one row per line."""
        return "\n".join(self.lines())

    def _refresh(self, *, force: bool = False) -> bool:
        dirty = self._screen.dirty
        if not dirty and not force:
            return False
        rows = self.rows
        if len(self._lines) != rows:
            self._lines = (self._lines + [""] * rows)[:rows]
        changed = force
        row_text = self._screen.row_text
        for y in dirty:
            if 0 <= y < rows:
                text = row_text(y, _render)
                if text != self._lines[y]:
                    self._lines[y] = text
                    changed = True
        dirty.clear()
        if changed:
            self._version += 1
        return changed


_DATA = itemgetter(0)  # Char.data: a namedtuple's first field, read faster by index
_IN_ORDER: dict[int, list[int]] = {}


def _render(line: dict[int, Char], columns: int) -> str:
    if not line:
        return ""
    keys = list(line)
    in_order = _IN_ORDER.get(len(keys))
    if in_order is None:
        in_order = _IN_ORDER[len(keys)] = list(range(len(keys)))
    if keys == in_order and len(keys) <= columns:
        # Cells 0..n-1 stored left to right (the usual case): one C-level join.
        return "".join(map(_DATA, line.values())).rstrip()
    # Cells with gaps or out of order: place them in C (the deque consumes the map).
    # A wide character's second cell holds "" (pyte's stub).
    cells = [" "] * columns
    try:
        deque(map(cells.__setitem__, keys, map(_DATA, line.values())), maxlen=0)
    except IndexError:  # pyte's off-screen cell past the last column: not shown
        cells = [" "] * columns
        for x, char in line.items():
            if x < columns:
                cells[x] = char.data
    return "".join(cells).rstrip()


def _check_size(columns: int, rows: int) -> None:
    if not (2 <= columns <= 1000 and 2 <= rows <= 1000):
        raise InvalidInputError(f"terminal size {columns}x{rows} is out of range (2..1000)")
