"""A screen as bytes that redraw it: what a terminal client gets before the live stream.

A client that attaches mid-session has missed the bytes that painted the screen; this
repaint (clear, each row at its place, the cursor where it is) brings an empty terminal
of the same size to the same text, and the live bytes that follow apply on top of it.
Colours and attributes are not kept (the controller's screen does not track them).
"""

from __future__ import annotations

from runner.terminal.screen import TerminalScreen

_CLEAR = "\x1b[0m\x1b[H\x1b[2J"


def repaint(screen: TerminalScreen) -> bytes:
    """Escape sequences that draw ``screen``'s text and put the cursor where it is."""
    parts = [_CLEAR]
    for row, line in enumerate(screen.lines(), start=1):
        if line:
            parts.append(f"\x1b[{row};1H{line}")
    column, row = screen.cursor
    parts.append(f"\x1b[{row + 1};{column + 1}H")
    return "".join(parts).encode("utf-8")
