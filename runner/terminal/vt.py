"""A fast escape-sequence parser that drives a pyte screen.

pyte's own ``Stream`` walks every byte of every escape sequence through a Python
generator; a TUI redraw is half escape sequences, which made it the bottleneck
(about 0.3 MB/s). Here one compiled regular expression cuts the text into runs of
printable text and whole sequences, which are dispatched with pyte's own tables to
the same screen methods pyte would call. SGR (colours) is skipped outright. A
sequence cut at the end of a chunk waits for the next chunk.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from typing import Any

import pyte

_TOKEN = re.compile(
    r"([^\x00-\x1f\x7f\x9b\x9d]+)"  # 1: printable text
    r"|(\r\n)"  # 2: CR LF, the end of most rows tmux draws
    r"|(\x1b\[K)"  # 3: erase to end of line, the next most common
    r"|\x1b\[([<=>?]?)([0-9;:]*)([ -/]*)([@-~])"  # 4-7: CSI private, params, intermediates, final
    r"|\x1b\]([^\x07\x1b]*)(?:\x07|\x1b\\)"  # 8: OSC, up to BEL or ST
    r"|\x1b[P_^X][^\x1b]*\x1b\\"  # DCS / APC / PM / SOS strings: ignored
    r"|\x1b[()*+%]."  # charset designation: meaningless in UTF-8
    r"|\x1b#(.)"  # 9: ESC # n
    r"|\x1b([^\[\]P_^X()*+%#])"  # 10: two-character escape
    r"|([\x00-\x1a\x1c-\x1f\x7f\x9b\x9d])"  # 11: a control character other than ESC
)
# Colours and text attributes: removed before tokenising, so text around them is drawn
# in one run (a TUI sets a colour every few characters).
_SGR = re.compile(r"\x1b\[[0-9;:]*m")
# A possibly unfinished sequence at the very end of a chunk.
_PARTIAL = re.compile(
    r"\x1b(?:\[[<=>?]?[0-9;:]*[ -/]*|\][^\x07\x1b]*\x1b?|[P_^X][^\x1b]*\x1b?|[()*+%#])?\Z"
)
_MAX_PENDING = 65536  # an unterminated string sequence longer than this is dropped
_CONTROLS = {"\x08": "backspace", "\t": "tab", "\n": "linefeed", "\x0b": "linefeed"}
_CONTROLS |= {"\x0c": "linefeed", "\r": "carriage_return"}


class FastStream:
    """Feed bytes (UTF-8, split anywhere) into a pyte screen."""

    def __init__(self, screen: pyte.Screen) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._pending = ""
        self._draw = screen.draw
        self._controls = {char: getattr(screen, name) for char, name in _CONTROLS.items()}
        self._escapes = _bind(screen, pyte.Stream.escape)
        self._sharp = _bind(screen, pyte.Stream.sharp)
        self._csi = _bind(screen, pyte.Stream.csi)
        self._set_title = screen.set_title
        self._carriage_return = screen.carriage_return
        self._linefeed = screen.linefeed
        self._erase_in_line = screen.erase_in_line

    def feed(self, data: bytes) -> None:
        """Decode ``data`` and apply it to the screen."""
        text = _SGR.sub("", self._pending + self._decoder.decode(data))
        self._pending = ""
        position, end = 0, len(text)
        match, draw = _TOKEN.match, self._draw
        while position < end:
            token = match(text, position)
            if token is None:
                if _PARTIAL.match(text, position) and end - position < _MAX_PENDING:
                    self._pending = text[position:]
                    return
                position += 1  # a malformed escape: drop the ESC and read on
                continue
            position = token.end()
            kind = token.lastindex
            # The hot cases are tested first and inline: this loop is the detector's cost.
            if kind == 1:
                draw(token.group(1))
            elif kind == 2:
                self._carriage_return()
                self._linefeed()
            elif kind == 3:
                self._erase_in_line()
            elif kind == 7:
                self._csi_sequence(token.group(4), token.group(5), token.group(6), token.group(7))
            else:
                self._dispatch_rare(token)

    def _dispatch_rare(self, token: re.Match[str]) -> None:
        kind = token.lastindex
        if kind == 11:
            control = self._controls.get(token.group(11))
            if control is not None:
                control()
        elif kind == 10:
            escape = self._escapes.get(token.group(10))
            if escape is not None:
                escape()
        elif kind == 8:
            code, _, title = token.group(8).partition(";")
            if code in ("0", "2"):
                self._set_title(title)
        elif kind == 9:
            sharp = self._sharp.get(token.group(9))
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
        args = [min(int(p or 0), 9999) for p in params.replace(":", ";").split(";")]
        if private == "?":
            method(*args, private=True)
        else:
            method(*args)


def _bind(screen: pyte.Screen, table: dict[str, str]) -> dict[str, Callable[..., Any]]:
    return {key: getattr(screen, name) for key, name in table.items()}
