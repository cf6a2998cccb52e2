"""Bash's ``$'…'`` strings: ``$'\\x63url'`` is ``curl``, so the evaluator must decode them."""

from __future__ import annotations

import re

_SIMPLE = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r"}
_SIMPLE |= {"t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}
_NUMERIC = {
    "x": re.compile(r"[0-9a-fA-F]{1,2}"),
    "u": re.compile(r"[0-9a-fA-F]{1,4}"),
    "U": re.compile(r"[0-9a-fA-F]{1,8}"),
}
_OCTAL = re.compile(r"[0-7]{0,2}")


def decode_ansi_c(source: str, start: int) -> tuple[str, int]:
    """Decode from ``start`` (just after ``$'``) to the closing quote; return text and end.

    Raises:
        ValueError: no closing quote.
    """
    out: list[str] = []
    i = start
    while i < len(source):
        c = source[i]
        if c == "'":
            return "".join(out), i + 1
        if c != "\\" or i + 1 >= len(source):
            out.append(c)
            i += 1
            continue
        text, i = _escape(source, source[i + 1], i + 2)
        out.append(text)
    raise ValueError("unterminated $'…' string")


def _escape(source: str, esc: str, i: int) -> tuple[str, int]:
    if esc in _SIMPLE:
        return _SIMPLE[esc], i
    if esc in _NUMERIC:
        match = _NUMERIC[esc].match(source, i)
        if not match:
            return "\\" + esc, i
        return chr(min(int(match.group(), 16), 0x10FFFF)), match.end()
    if esc in "01234567":
        match = _OCTAL.match(source, i)
        digits = esc + (match.group() if match else "")
        return chr(int(digits, 8) & 0xFF), i + len(digits) - 1
    if esc == "c" and i < len(source):
        return chr(ord(source[i]) & 0x1F), i + 1
    return "\\" + esc, i
