"""A fast escape-sequence parser that drives a pyte screen.

pyte's own ``Stream`` walks every byte of every escape sequence through a Python
generator; a TUI redraw is half escape sequences, which made it the bottleneck
(about 0.3 MB/s). Here sequences that cannot change the text or the cursor are cut
out first with one C-level ``re.sub``; then one compiled regular expression cuts the
rest into runs of printable text and whole sequences. The sequences tmux sends most
(cursor moves, erase-and-newline runs) go straight to cheap ``TextScreen`` methods;
every other one is dispatched with pyte's own tables to the method pyte would call.
A sequence cut at the end of a chunk waits for the next chunk.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from typing import Any

import pyte

from runner.terminal.emulator import TextScreen

_TEXT = r"[^\x00-\x1f\x7f\x9b\x9d]+"
# Group numbers are what ``Match.lastindex`` reports: each alternative's outer group.
_TOKEN = re.compile(
    r"((?:\x1b\[([0-9]{0,4})(?:;([0-9]{0,4}))?H)?"  # 1: [cursor position (2, 3)] then
    rf"({_TEXT}(?:\x1b\[[0-9]{{0,4}}C{_TEXT})*))"  # 4: text, maybe with cursor-forward gaps
    r"|(\x1b\[([0-9]{0,4})(?:;([0-9]{0,4}))?H)"  # 5 (6, 7): cursor position alone
    r"|((?:\x1b\[K\r\n)+)"  # 8: erase to end of line + CR LF, repeated (blank rows)
    r"|(\r\n)"  # 9: CR LF
    r"|(\x1b\[K)"  # 10: erase to end of line
    r"|(\x1b\[([0-9]{0,4})C)"  # 11 (12): cursor forward
    r"|\x1b\[([<=>?]?)([0-9;:]*)([ -/]*)([@-~])"  # 13-16: CSI private, params, intermed., final
    r"|\x1b\]([^\x07\x1b]*)(?:\x07|\x1b\\)"  # 17: OSC, up to BEL or ST
    r"|\x1b[P_^X][^\x1b]*\x1b\\"  # DCS / APC / PM / SOS strings: ignored
    r"|\x1b#(.)"  # 18: ESC # n
    r"|\x1b([^\[\]P_^X()*+%#])"  # 19: two-character escape
    r"|([\x00-\x1a\x1c-\x1f\x7f\x9b\x9d])"  # 20: a control character other than ESC
    r"|(\x1b)"  # 21: an ESC that starts no whole sequence (cut short, or malformed)
)
_GAP = re.compile(r"\x1b\[([0-9]{0,4})C")
# Sequences that change neither the text nor the cursor, cut out before tokenising so
# the text around them is drawn in one run (a TUI sets a colour every few characters):
# colours and attributes (SGR); charset designations, which pyte ignores in UTF-8 mode
# too; and private modes pyte only records in ``Screen.mode`` without acting on them
# (cursor keys, blinking, mouse reporting, bracketed paste, alternate screen, ...), and
# cursor visibility (DECTCEM), which only sets ``cursor.hidden``: nothing here reads it.
_INERT = re.compile(
    r"\x1b\[[0-9;:]*m"
    r"|\x1b[()*+%][^\n]"
    r"|\x1b\[\?(?:1|12|25|1000|1002|1003|1004|1005|1006|1015|1049|2004|2026|7727)[hl]"
)
# A possibly unfinished sequence at the very end of a chunk.
_PARTIAL = re.compile(
    r"\x1b(?:\[[<=>?]?[0-9;:]*[ -/]*|\][^\x07\x1b]*\x1b?|[P_^X][^\x1b]*\x1b?|[()*+%#])?\Z"
)
_MAX_PENDING = 65536  # an unterminated string sequence longer than this is dropped
_CONTROLS = {"\x08": "backspace", "\t": "tab", "\n": "linefeed", "\x0b": "linefeed"}
_CONTROLS |= {"\x0c": "linefeed", "\r": "carriage_return"}


class FastStream:
    """Feed bytes (UTF-8, split anywhere) into a ``TextScreen``."""

    def __init__(self, screen: TextScreen) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._pending = ""
        self._screen = screen
        self._controls = {char: getattr(screen, name) for char, name in _CONTROLS.items()}
        self._escapes = _bind(screen, pyte.Stream.escape)
        self._sharp = _bind(screen, pyte.Stream.sharp)
        self._csi = _bind(screen, pyte.Stream.csi)

    def feed(self, data: bytes) -> None:
        """Decode ``data`` and apply it to the screen."""
        text = _INERT.sub("", self._pending + self._decoder.decode(data))
        self._pending = ""
        screen = self._screen
        # Every character starts some alternative of _TOKEN, so finditer skips nothing.
        for token in _TOKEN.finditer(text):
            kind = token.lastindex
            # The hot cases are tested first and inline: this loop is the detector's cost.
            if kind == 1:
                line, run = token.group(2, 4)
                if line is not None:
                    screen.cursor_position(int(line or 0), int(token.group(3) or 0))
                if "\x1b" in run:
                    # tmux moves over blank cells (CSI n C) instead of writing spaces, so
                    # the cells under a gap keep what they held.
                    screen.draw_spans(_GAP.split(run))
                else:
                    screen.draw(run)
            elif kind == 5:
                screen.cursor_position(int(token.group(6) or 0), int(token.group(7) or 0))
            elif kind == 8:
                screen.erase_line_feeds(len(token.group(8)) // 5)
            elif kind == 9:
                screen.cursor.x = 0
                screen.linefeed()
            elif kind == 10:
                screen.erase_in_line()
            elif kind == 11:
                screen.cursor_forward(int(token.group(12) or 0))
            elif kind == 16:
                self._csi_sequence(*token.group(13, 14, 15, 16))
            elif kind == 21:
                start = token.start()
                if _PARTIAL.match(text, start) and len(text) - start < _MAX_PENDING:
                    self._pending = text[start:]  # completed by the next chunk
                    return
                # A malformed escape: drop the ESC and read on.
            else:
                self._dispatch_rare(token)

    def _dispatch_rare(self, token: re.Match[str]) -> None:
        kind = token.lastindex
        if kind == 20:
            control = self._controls.get(token.group(20))
            if control is not None:
                control()
        elif kind == 19:
            escape = self._escapes.get(token.group(19))
            if escape is not None:
                escape()
        elif kind == 17:
            code, _, title = token.group(17).partition(";")
            if code in ("0", "2"):
                self._screen.set_title(title)
        elif kind == 18:
            sharp = self._sharp.get(token.group(18))
            if sharp is not None:
                sharp()

    def _csi_sequence(self, private: str, params: str, intermediates: str, final: str) -> None:
        if final == "m" or intermediates or private in ("<", "="):
            return  # colours, and sequences pyte does not act on either
        method = self._csi.get(final)
        if method is None:
            return
        if not params:
            method()  # pyte's methods treat a missing parameter like its default 0
            return
        args = [_parameter(p) for p in params.replace(":", ";").split(";")]
        if private == "?":
            method(*args, private=True)
        else:
            method(*args)


def _parameter(digits: str) -> int:
    # As pyte: missing is 0, above 9999 is 9999 (and no int() of a huge digit string).
    digits = digits.lstrip("0")
    return int(digits or 0) if len(digits) <= 4 else 9999


def _bind(screen: pyte.Screen, table: dict[str, str]) -> dict[str, Callable[..., Any]]:
    return {key: getattr(screen, name) for key, name in table.items()}
