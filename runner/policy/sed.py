"""The files a sed script writes and the commands it runs (GNU sed's ``w``, ``W``, ``e``).

``sed -n 'w ~/.claude/settings.json'`` writes a file and ``sed '1e touch x'`` runs a
command without any redirection in sight. This reads a script command by command
(addresses, ``s`` and ``y`` with any delimiter, text arguments of ``a``/``i``/``c``) and
collects the file names of ``w``/``W`` and of the ``s///w`` flag, and the commands of
``e``. ``s///e`` runs whatever the pattern space holds: that is a command nobody can know.
Anything it cannot read returns None, and the caller assumes the worst.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_SIMPLE = set("=dDgGhHlLnNpPqQxzF")
_TO_EOL = set("rRwWe")  # the rest of the line is the argument (a file name, a command)
_LABELLED = set("btT:v")
_TEXT = set("aic")


class _Unreadable(Exception):
    pass


@dataclass
class SedReading:
    writes: list[str] = field(default_factory=list)
    runs: list[str | None] = field(default_factory=list)  # None: a command nobody can know


def script_effects(script: str) -> SedReading | None:
    """What ``script`` writes and runs; None when it cannot be read with certainty."""
    reading = SedReading()
    try:
        _Reader(script, reading).run()
    except _Unreadable:
        return None
    return reading


class _Reader:
    def __init__(self, script: str, out: SedReading) -> None:
        self.s = script
        self.i = 0
        self.out = out

    def run(self) -> None:
        while True:
            self._skip(" \t\n;")
            if self.i >= len(self.s):
                return
            if self.s[self.i] == "#":
                self._rest_of_line()
                continue
            self._address()
            self._skip(" \t!")
            if self.i >= len(self.s):
                raise _Unreadable("address without a command")
            self._command(self.s[self.i])

    def _skip(self, chars: str) -> None:
        while self.i < len(self.s) and self.s[self.i] in chars:
            self.i += 1

    def _rest_of_line(self) -> str:
        end = self.s.find("\n", self.i)
        end = len(self.s) if end < 0 else end
        text, self.i = self.s[self.i : end], end
        return text

    def _address(self) -> None:
        for _ in range(2):
            self._skip(" \t")
            c = self.s[self.i : self.i + 1]
            if c == "/":
                self.i += 1
                self._delimited("/")
                self._skip("IM")
            elif c == "\\":
                self.i += 2
                self._delimited(self.s[self.i - 1])
                self._skip("IM")
            else:
                self._skip("0123456789$~+")
            self._skip(" \t")
            if self.s[self.i : self.i + 1] != ",":
                return
            self.i += 1

    def _delimited(self, delimiter: str) -> str:
        """Text up to an unescaped ``delimiter`` (the cursor moves past it)."""
        if not delimiter or delimiter in "\n\\":
            raise _Unreadable("bad delimiter")
        start = self.i
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "\\":
                self.i += 2
                continue
            if c == "[" and delimiter != "[":  # a bracket expression may hold the delimiter
                close = self.s.find("]", self.i + 2)
                self.i = close + 1 if close > 0 else len(self.s)
                continue
            if c == delimiter:
                self.i += 1
                return self.s[start : self.i - 1]
            self.i += 1
        raise _Unreadable("unterminated")

    def _command(self, c: str) -> None:
        self.i += 1
        if c in "{}" or c in _SIMPLE:
            self._skip("0123456789")  # q5, l 70
        elif c in _LABELLED:
            while self.i < len(self.s) and self.s[self.i] not in ";\n":
                self.i += 1
        elif c in _TEXT:
            self._text()
        elif c in _TO_EOL:
            self._skip(" \t")
            argument = self._rest_of_line().strip()
            if c in "wW":
                self.out.writes.append(argument)
            elif c == "e":
                self.out.runs.append(argument or None)  # bare `e` runs the pattern space
        elif c == "s":
            self._substitute()
        elif c == "y":
            delimiter = self.s[self.i : self.i + 1]
            self.i += 1
            self._delimited(delimiter)
            self._delimited(delimiter)
        else:
            raise _Unreadable(f"unknown command {c!r}")

    def _text(self) -> None:
        """``a text`` (GNU one-liner) or ``a\\`` + lines continued by a trailing backslash."""
        while True:
            line = self._rest_of_line()
            if not line.endswith("\\") or self.i >= len(self.s):
                return
            self.i += 1

    def _substitute(self) -> None:
        delimiter = self.s[self.i : self.i + 1]
        self.i += 1
        self._delimited(delimiter)
        self._delimited(delimiter)
        while self.i < len(self.s) and self.s[self.i] not in ";\n}":
            flag = self.s[self.i]
            self.i += 1
            if flag == "w":
                self._skip(" \t")
                self.out.writes.append(self._rest_of_line().strip())
            elif flag == "e":
                self.out.runs.append(None)
            elif flag not in "gpiImM0123456789 \t":
                raise _Unreadable(f"unknown flag {flag!r}")
