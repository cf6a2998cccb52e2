"""A pyte ``Screen`` trimmed to what the classifier needs: text, cursor, no attributes.

Colours and other graphic renditions are ignored, so every cell holds the default
attributes. That makes an erased cell the same as an absent one (erasing deletes
cells instead of writing 120 fresh ones), and lets ``draw`` reuse one immutable
``Char`` per character and write a run of narrow characters in one C-level update.
A few more methods are rewritten for speed (cursor moves, blank-row runs) or where
pyte fails an assert or depends on which blank rows it happens to store (DL, VPA);
everything else (scrolling, margins, modes, insert/delete) is pyte's own code. The
text and cursor stay what plain pyte shows (tests/unit/terminal checks it).
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from functools import partial
from itertools import chain, repeat
from typing import Any

import pyte
from pyte import modes
from pyte.screens import Char, Margins, StaticDefaultDict
from wcwidth import wcwidth

_CELLS: dict[str, Char] = {}
_NARROW: set[str] = set()  # characters known to take exactly one cell
_WIDTHS: dict[str, int] = {}
_STUB = Char("")  # the second cell of a wide character, as pyte draws it
_BLANK = Char(" ")  # an empty cell, as pyte's default_char without attributes
_IRM = modes.IRM
_DECOM = modes.DECOM
for _code in range(0x20, 0x7F):  # printable ASCII: one cell each
    _CELLS[chr(_code)] = Char(chr(_code))
    _NARROW.add(chr(_code))
    _WIDTHS[chr(_code)] = 1


def _width(char: str) -> int:
    width = _WIDTHS.get(char)
    if width is None:
        width = _WIDTHS[char] = wcwidth(char)
        _CELLS[char] = Char(char)
        if width == 1:
            _NARROW.add(char)
    return width


class TextScreen(pyte.Screen):  # type: ignore[misc]
    """pyte's screen without graphic rendition, with fast draw and erase."""

    def __init__(self, columns: int, lines: int) -> None:
        super().__init__(columns, lines)
        # pyte builds a fresh default Char for every new line; without attributes one
        # shared blank does (its text is the same " ").
        self.buffer = defaultdict(partial(StaticDefaultDict, _BLANK))
        # pyte's insert_characters can push a cell past the last column. pyte never
        # shows it, but keeps it through line erases (they write blanks over the
        # visible cells only) and delete_characters pulls it back. Once that may have
        # happened, erases here must keep such cells too.
        self._has_offscreen_cells = False

    def select_graphic_rendition(self, *attrs: int, **kwargs: Any) -> None:
        """Ignore SGR: the classifier reads text only."""

    def write_process_input(self, data: str) -> None:
        """Drop answers to terminal queries: nothing reads them back."""

    def draw(self, data: str) -> None:
        """Write ``data`` at the cursor, wrapping at the margin (same result as pyte's)."""
        # No charset translation: in UTF-8 mode pyte ignores charset designations too.
        cursor = self.cursor
        x = cursor.x
        end = x + len(data)
        # The fast path: narrow characters that fit on the line, so neither wrapping nor
        # wide characters come into it (isascii is a flag check; issuperset hashes).
        if (
            end <= self.columns
            and _IRM not in self.mode
            and (data.isascii() or _NARROW.issuperset(data))
        ):
            first = data[:1]
            if data.count(first) == len(data):  # one character repeated: a rule, a bar
                cells: Iterable[Char] = repeat(_CELLS[first])
            else:
                cells = map(_CELLS.__getitem__, data)
            self.buffer[cursor.y].update(zip(range(x, end), cells, strict=False))
            cursor.x = end
            self.dirty.add(cursor.y)
            return
        for char in data:
            if not self._draw_char(char, _width(char)):
                break
        self.dirty.add(cursor.y)

    def draw_spans(self, parts: list[str]) -> None:
        """Draw ``parts[0]``, then for each following (gap, text) pair move the cursor
        forward ``int(gap)`` cells and draw the text (what ``CSI n C`` between runs does).
        """
        cursor = self.cursor
        x = cursor.x
        texts = parts[::2]
        spans = []
        for index, text in enumerate(texts):
            if index:
                x += int(parts[2 * index - 1] or 0) or 1
            spans.append(range(x, x + len(text)))
            x += len(text)
        text = "".join(texts)
        # If everything fits on the line no gap is clamped at the margin and no text
        # wraps, so each character lands where pyte would put it.
        if (
            x <= self.columns
            and _IRM not in self.mode
            and (text.isascii() or _NARROW.issuperset(text))
        ):
            cells = map(_CELLS.__getitem__, text)
            self.buffer[cursor.y].update(zip(chain.from_iterable(spans), cells, strict=True))
            cursor.x = x
            self.dirty.add(cursor.y)
            return
        self.draw(parts[0])
        for index in range(1, len(parts), 2):
            self.cursor_forward(int(parts[index] or 0))
            self.draw(parts[index + 1])

    def cursor_position(self, line: int | None = None, column: int | None = None) -> None:
        """Move to 1-based ``line``/``column``, clamped to the screen (as pyte, faster)."""
        if self.margins is not None and _DECOM in self.mode:
            super().cursor_position(line, column)
            return
        # Parameters are never negative, so (n or 1) - 1 needs no lower clamp.
        cursor = self.cursor
        cursor.x = min((column or 1) - 1, self.columns - 1)
        cursor.y = min((line or 1) - 1, self.lines - 1)

    def cursor_to_line(self, line: int | None = None) -> None:
        """Move to 1-based ``line`` (VPA), as pyte does.

        In origin mode without margins pyte fails an assert. The stream comes from the
        sandbox, so a crash here would end the session's screen reading: count from the
        top of the screen instead (the margins are the whole screen).
        """
        if _DECOM in self.mode and self.margins is None:
            self.cursor.y = (line or 1) - 1
            self.ensure_vbounds()
            return
        super().cursor_to_line(line)

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
        self.dirty.update(range(self.cursor.y, self.lines))
        for y in range(self.cursor.y, bottom + 1):
            if y + count <= bottom and y + count in buffer:
                buffer[y] = buffer.pop(y + count)
            else:
                buffer.pop(y, None)
        self.carriage_return()

    def report_device_status(self, mode: int) -> None:
        """Ignore status queries: answers are dropped, and pyte's can fail an assert."""

    def cursor_forward(self, count: int | None = None) -> None:
        """Move right ``count`` cells (at least one), stopping at the last column."""
        cursor = self.cursor
        cursor.x = min(cursor.x + (count or 1), self.columns - 1)

    def erase_line_feeds(self, count: int) -> None:
        """``count`` times: erase to the end of the line, carriage return, line feed.

        tmux draws blank rows this way (``CSI K`` CR LF), often dozens in a row.
        """
        cursor, buffer, dirty = self.cursor, self.buffer, self.dirty
        bottom = self.lines - 1 if self.margins is None else self.margins.bottom
        y = cursor.y
        if y + count <= bottom and not self._has_offscreen_cells:
            # No row reaches the bottom margin, so nothing scrolls: erase the rest of
            # this row, drop the rows below it, and land ``count`` rows down.
            if cursor.x:
                self.erase_in_line()
                y += 1
            for row in range(y, cursor.y + count):
                buffer.pop(row, None)
            dirty.update(range(cursor.y, cursor.y + count))
            cursor.x, cursor.y = 0, cursor.y + count
            return
        for _ in range(count):
            y = cursor.y
            if cursor.x or self._has_offscreen_cells:
                self.erase_in_line()
                cursor.x = 0
            else:
                dirty.add(y)
                buffer.pop(y, None)
            # A line feed at x = 0: LNM's extra carriage return changes nothing.
            if y == bottom:
                self.index()  # scroll the region
            else:
                cursor.y = min(y + 1, bottom)

    def index(self) -> None:
        """Move down a line, scrolling at the bottom (pyte's code unless it is a plain move)."""
        bottom = self.lines - 1 if self.margins is None else self.margins.bottom
        if self.cursor.y == bottom:
            super().index()  # scroll the region
        else:
            self.cursor.y = min(self.cursor.y + 1, bottom)

    def _draw_char(self, char: str, width: int) -> bool:
        cursor, columns = self.cursor, self.columns
        if cursor.x == columns:
            if modes.DECAWM in self.mode:
                self.dirty.add(cursor.y)
                self.carriage_return()
                self.linefeed()
            elif width > 0:
                cursor.x -= width
        if modes.IRM in self.mode and width > 0:
            self.insert_characters(width)
        line = self.buffer[cursor.y]
        if width == 1:
            line[cursor.x] = _CELLS[char]
        elif width == 2:
            line[cursor.x] = _CELLS[char]
            if cursor.x + 1 < columns:
                line[cursor.x + 1] = _STUB
        elif width == 0 and unicodedata.combining(char):
            self._combine(char)
        else:
            return False  # unprintable: pyte stops drawing the run here too
        if width > 0:
            cursor.x = min(cursor.x + width, columns)
        return True

    def _combine(self, char: str) -> None:
        cursor = self.cursor
        if cursor.x:
            line, x = self.buffer[cursor.y], cursor.x - 1
        elif cursor.y:
            line, x = self.buffer[cursor.y - 1], self.columns - 1
        else:
            return
        line[x] = Char(unicodedata.normalize("NFC", line[x].data + char))

    def erase_characters(self, count: int | None = None) -> None:
        """Erase ``count`` cells from the cursor (absent cells are blank)."""
        self.dirty.add(self.cursor.y)
        line, start = self.buffer[self.cursor.y], self.cursor.x
        for x in range(start, min(start + (count or 1), self.columns)):
            line.pop(x, None)

    def erase_in_line(self, how: int = 0, private: bool = False) -> None:
        """Erase to the end (0), from the start (1) or all (2) of the cursor's line."""
        self.dirty.add(self.cursor.y)
        line, x = self.buffer[self.cursor.y], self.cursor.x
        if how == 0:
            self._erase_cells(line, x, self.columns)
        elif how == 1:
            self._erase_cells(line, 0, x + 1)
        elif how == 2:
            self._erase_cells(line, 0, self.columns)

    def _erase_cells(self, line: dict[int, Char], start: int, stop: int) -> None:
        # Deleting a cell reads the same as pyte's blank without attributes.
        columns = self.columns
        if start == 0 and (stop > columns or (stop == columns and not self._has_offscreen_cells)):
            line.clear()  # no cell at or past ``stop`` (see _has_offscreen_cells)
        else:
            for key in [key for key in line if start <= key < stop]:
                del line[key]

    def insert_characters(self, count: int | None = None) -> None:
        """Insert blank cells at the cursor, shifting the rest right (pyte's ICH)."""
        self._has_offscreen_cells = True
        super().insert_characters(count)

    def erase_in_display(self, how: int = 0, *args: Any, **kwargs: Any) -> None:
        """Erase below (0), above (1) or all (2, 3) of the screen."""
        if how == 0:
            interval = range(self.cursor.y + 1, self.lines)
        elif how == 1:
            interval = range(self.cursor.y)
        elif how in (2, 3):
            interval = range(self.lines)
        else:
            return
        self.dirty.update(interval)
        for y in interval:
            self.buffer.pop(y, None)
        if how in (0, 1):
            self.erase_in_line(how)
