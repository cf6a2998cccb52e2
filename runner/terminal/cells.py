"""Cells of the text-only screen: one shared ``Char`` per character, and its width.

Colours are ignored, so a cell is only its character: one immutable ``Char`` per
character serves every cell that shows it, and a blank is the same as no cell.
"""

from __future__ import annotations

from pyte.screens import Char
from wcwidth import wcwidth

CELLS: dict[str, Char] = {}
NARROW: set[str] = set()  # characters known to take exactly one cell
STUB = Char("")  # the second cell of a wide character, as pyte draws it
BLANK = Char(" ")  # an empty cell, as pyte's default_char without attributes
_WIDTHS: dict[str, int] = {}
for _code in range(0x20, 0x7F):  # printable ASCII: one cell each
    CELLS[chr(_code)] = Char(chr(_code))
    NARROW.add(chr(_code))
    _WIDTHS[chr(_code)] = 1


def width(char: str) -> int:
    """The cells ``char`` takes (as pyte counts them), remembering its ``Char``."""
    cells = _WIDTHS.get(char)
    if cells is None:
        cells = _WIDTHS[char] = wcwidth(char)
        CELLS[char] = Char(char)
        if cells == 1:
            NARROW.add(char)
    return cells
