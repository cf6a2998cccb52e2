"""A pyte ``Screen`` trimmed to what the classifier needs: text, cursor, no attributes.

Colours and other graphic renditions are ignored, so every cell holds the default
attributes. That makes an erased cell the same as an absent one, and a row can be
plain text (``rows.py``): drawing narrow text that fits on the line, the bulk of a
TUI's output, is a string splice; erasing is slicing. Rows that hold wide or
combined characters stay pyte's cells, written one shared ``Char`` per character.
A few more methods are rewritten for speed (cursor moves, blank-row runs, scrolling)
or where pyte fails an assert or depends on which blank rows it happens to store
(DL, VPA); the rest (margins, modes, tabs, insert/delete characters) is pyte's own
code. The text and cursor stay what plain pyte shows (tests/unit/terminal checks it).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from itertools import chain, repeat
from typing import Any

from pyte import modes
from pyte.screens import Char

from runner.terminal.cells import CELLS, NARROW, STUB, width
from runner.terminal.rows import RowScreen, blank, splice

_IRM = modes.IRM
_DECOM = modes.DECOM


class TextScreen(RowScreen):
    """pyte's screen without graphic rendition, with fast draw and erase."""

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
            and (data.isascii() or NARROW.issuperset(data))
        ):
            y = cursor.y
            row = self._text_row(y)
            if row is not None:
                self.text_rows[y] = row[:x] + data + row[end:]
            else:
                first = data[:1]
                if data.count(first) == len(data):  # one character repeated: a rule, a bar
                    cells: Iterable[Char] = repeat(CELLS[first])
                else:
                    cells = map(CELLS.__getitem__, data)
                self.buffer[y].update(zip(range(x, end), cells, strict=False))
            cursor.x = end
            self.dirty.add(y)
            return
        for char in data:
            if not self._draw_char(char, width(char)):
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
            spans.append((x, text))
            x += len(text)
        text = "".join(texts)
        # If everything fits on the line no gap is clamped at the margin and no text
        # wraps, so each character lands where pyte would put it.
        if (
            x <= self.columns
            and _IRM not in self.mode
            and (text.isascii() or NARROW.issuperset(text))
        ):
            y = cursor.y
            row = self._text_row(y)
            if row is not None:
                self.text_rows[y] = splice(row, spans)
            else:
                keys = chain.from_iterable(range(at, at + len(part)) for at, part in spans)
                cells = map(CELLS.__getitem__, text)
                self.buffer[y].update(zip(keys, cells, strict=True))
            cursor.x = x
            self.dirty.add(y)
            return
        self.draw(parts[0])
        for index in range(1, len(parts), 2):
            self.cursor_forward(int(parts[index] or 0))
            self.draw(parts[index + 1])

    def _draw_char(self, char: str, cells: int) -> bool:
        cursor, columns = self.cursor, self.columns
        if cursor.x == columns:
            if modes.DECAWM in self.mode:
                self.dirty.add(cursor.y)
                self.carriage_return()
                self.linefeed()
            elif cells > 0:
                cursor.x -= cells
        if modes.IRM in self.mode and cells > 0:
            self.insert_characters(cells)
        line = self._pyte_row(cursor.y)
        if cells == 1:
            line[cursor.x] = CELLS[char]
        elif cells == 2:
            line[cursor.x] = CELLS[char]
            if cursor.x + 1 < columns:
                line[cursor.x + 1] = STUB
        elif cells == 0 and unicodedata.combining(char):
            self._combine(char)
        else:
            return False  # unprintable: pyte stops drawing the run here too
        if cells > 0:
            cursor.x = min(cursor.x + cells, columns)
        return True

    def _combine(self, char: str) -> None:
        cursor = self.cursor
        if cursor.x:
            y, x = cursor.y, cursor.x - 1
        elif cursor.y:
            # After a wrap the mark joins the last cell of the row above, which the
            # caller does not mark as changed.
            y, x = cursor.y - 1, self.columns - 1
            self.dirty.add(y)
        else:
            return
        line = self._pyte_row(y)
        line[x] = Char(unicodedata.normalize("NFC", line[x].data + char))

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

    def cursor_forward(self, count: int | None = None) -> None:
        """Move right ``count`` cells (at least one), stopping at the last column."""
        cursor = self.cursor
        cursor.x = min(cursor.x + (count or 1), self.columns - 1)

    def report_device_status(self, mode: int) -> None:
        """Ignore status queries: answers are dropped, and pyte's can fail an assert."""

    def erase_characters(self, count: int | None = None) -> None:
        """Erase ``count`` cells from the cursor (absent cells are blank)."""
        y, start = self.cursor.y, self.cursor.x
        self.dirty.add(y)
        stop = min(start + (count or 1), self.columns)
        row = self.text_rows.get(y)
        if row is not None:
            if start < stop:
                self.text_rows[y] = row[:start] + blank(stop - start) + row[stop:]
            return
        line = self.buffer[y]
        for x in range(start, stop):
            line.pop(x, None)

    def erase_in_line(self, how: int = 0, private: bool = False) -> None:
        """Erase to the end (0), from the start (1) or all (2) of the cursor's line."""
        y, x = self.cursor.y, self.cursor.x
        self.dirty.add(y)
        row = self.text_rows.get(y)
        if row is not None:
            columns = self.columns
            if how == 0 and x < columns:
                self.text_rows[y] = row[:x] + blank(columns - x)
            elif how == 1:
                stop = min(x + 1, columns)
                self.text_rows[y] = blank(stop) + row[stop:]
            elif how == 2:
                del self.text_rows[y]
            return
        line = self.buffer[y]
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
            self.text_rows.pop(y, None)
        if how in (0, 1):
            self.erase_in_line(how)

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
                self.text_rows.pop(row, None)
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
                self.text_rows.pop(y, None)
            # A line feed at x = 0: LNM's extra carriage return changes nothing.
            if y == bottom:
                self.index()  # scroll the region
            else:
                cursor.y = min(y + 1, bottom)
