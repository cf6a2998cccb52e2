"""Split a shell command string into the simple commands it would run.

This is a conservative lexer for the POSIX/bash syntax an agent writes, not a shell:
it finds every place a command can start (``;``, ``&&``, ``||``, ``|``, ``&``, newlines,
subshells, ``$( )``, backticks, ``<( )``, here-doc bodies) and removes quoting the way
the shell would (``c''url`` and ``$'\\x63url'`` are both ``curl``). Whatever it cannot
read with certainty raises :class:`ShellSyntaxError`; the caller then treats the whole
command as the most dangerous thing it could be (fail closed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from runner.policy.ansi_c import decode_ansi_c

MAX_DEPTH = 24  # nested substitutions/subshells; deeper input is refused, not recursed


class ShellSyntaxError(ValueError):
    """The command cannot be read with certainty."""


@dataclass(frozen=True)
class Word:
    """One shell word after quote removal; ``dynamic`` when its value is only known at run time."""

    text: str
    dynamic: bool = False


@dataclass(frozen=True)
class Redirect:
    op: str
    target: Word


@dataclass(frozen=True)
class SimpleCommand:
    words: tuple[Word, ...]
    redirects: tuple[Redirect, ...]
    text: str


@dataclass
class _WordBuf:
    start: int
    text: list[str] = field(default_factory=list)
    unquoted: list[str] = field(default_factory=list)
    started: bool = False
    quoted: bool = False
    dynamic: bool = False

    def add(self, chars: str, *, quoted: bool) -> None:
        self.started = True
        self.text.append(chars)
        if quoted:
            self.quoted = True
        else:
            self.unquoted.append(chars)


_GLOB = re.compile(r"[*?]|\[.*\]|\{.*(?:,|\.\.).*\}", re.DOTALL)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def split_commands(source: str) -> tuple[SimpleCommand, ...]:
    """Every simple command in ``source``, substitutions first, in execution-ish order.

    Raises:
        ShellSyntaxError: unbalanced quotes/parentheses, function or array syntax, `case`.
    """
    lexer = _Lexer(source, depth=0)
    lexer.parse(stop=None)
    return tuple(lexer.out)


class _Lexer:
    def __init__(self, source: str, depth: int, out: list[SimpleCommand] | None = None) -> None:
        if depth > MAX_DEPTH:
            raise ShellSyntaxError("nesting too deep")
        self.s = source
        self.i = 0
        self.depth = depth
        self.out: list[SimpleCommand] = [] if out is None else out
        self.heredocs: list[tuple[str, bool, bool]] = []  # delimiter, quoted, strip tabs

    def _sub(self, source: str) -> _Lexer:
        return _Lexer(source, self.depth + 1, self.out)

    def parse(self, stop: str | None) -> None:
        """Read commands until ``stop`` (a closing ``)``) or the end of the input."""
        words: list[Word] = []
        redirects: list[Redirect] = []
        pending: list[str] = []  # a redirection operator waiting for its target word
        start = self.i
        cur = _WordBuf(self.i)

        def end_word() -> None:
            nonlocal cur
            if cur.started:
                word = _finish(cur, self.s)
                if pending:
                    op = pending.pop()
                    redirects.append(Redirect(op, word))
                    if op in ("<<", "<<-"):
                        self.heredocs.append((word.text, cur.quoted, op == "<<-"))
                else:
                    words.append(word)
            cur = _WordBuf(self.i)

        def end_command() -> None:
            nonlocal start
            end_word()
            if pending:
                raise ShellSyntaxError(f"redirection {pending[0]!r} has no target")
            if words or redirects:
                text = self.s[start : self.i].strip()
                self.out.append(SimpleCommand(tuple(words), tuple(redirects), text))
            words.clear()
            redirects.clear()
            start = self.i

        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c in " \t":
                end_word()
                self.i += 1
                cur.start = self.i
            elif c == "\n":
                end_command()
                self.i += 1
                self._read_heredoc_bodies()
                start = self.i
                cur.start = self.i
            elif c in ";&|":
                if c == "&" and s.startswith("&>", self.i):
                    end_word()
                    self._redirect(pending)
                    continue
                end_command()
                self.i += 2 if s[self.i : self.i + 2] in ("&&", "||", "|&", ";;", ";&") else 1
                start = self.i
                cur.start = self.i
            elif c == "(":
                if cur.started or words or redirects:
                    raise ShellSyntaxError("function definitions and arrays are not supported")
                self.i += 1
                self._nested()
                start = self.i
                cur.start = self.i
            elif c == ")":
                if stop != ")":
                    raise ShellSyntaxError("unbalanced ')'")
                end_command()
                self.i += 1
                return
            elif c in "<>":
                if s.startswith("(", self.i + 1):  # process substitution <(…) / >(…)
                    cur.started = cur.dynamic = True
                    self.i += 2
                    self._nested()
                    continue
                if cur.started and not cur.quoted and "".join(cur.text).isdigit():
                    cur = _WordBuf(self.i)  # a file descriptor number, e.g. 2>
                end_word()
                self._redirect(pending)
            elif c == "#" and not cur.started:
                while self.i < len(s) and s[self.i] != "\n":
                    self.i += 1
            else:
                self._word_char(cur)
        if stop is not None:
            raise ShellSyntaxError(f"missing {stop!r}")
        end_command()
        self._read_heredoc_bodies()

    def _nested(self) -> None:
        inner = _Lexer(self.s, self.depth + 1, self.out)
        inner.i = self.i
        inner.heredocs = self.heredocs
        inner.parse(stop=")")
        self.i = inner.i

    def _redirect(self, pending: list[str]) -> None:
        s = self.s
        for op in ("&>>", "<<<", "<<-", "&>", ">>", ">|", "<>", "<&", ">&", "<<", "<", ">"):
            if s.startswith(op, self.i):
                if pending:
                    raise ShellSyntaxError("two redirections in a row")
                pending.append(op)
                self.i += len(op)
                return
        raise ShellSyntaxError("bad redirection")  # pragma: no cover - "<" or ">" always matches

    def _word_char(self, cur: _WordBuf) -> None:
        s = self.s
        c = s[self.i]
        if c == "\\":
            if self.i + 1 >= len(s):
                raise ShellSyntaxError("trailing backslash")
            if s[self.i + 1] != "\n":  # backslash-newline is a line continuation
                cur.add(s[self.i + 1], quoted=True)
            self.i += 2
        elif c == "'":
            end = s.find("'", self.i + 1)
            if end < 0:
                raise ShellSyntaxError("unterminated single quote")
            cur.add(s[self.i + 1 : end], quoted=True)
            self.i = end + 1
        elif c == '"':
            self.i += 1
            self._double_quoted(cur, terminator='"')
        elif c == "$":
            self._dollar(cur, in_double=False)
        elif c == "`":
            self._backtick(cur)
        else:
            cur.add(c, quoted=False)
            self.i += 1

    def _double_quoted(self, cur: _WordBuf, terminator: str | None) -> None:
        s = self.s
        cur.started = cur.quoted = True
        while self.i < len(s):
            c = s[self.i]
            if terminator is not None and c == terminator:
                self.i += 1
                return
            if c == "\\" and self.i + 1 < len(s) and s[self.i + 1] in '$`"\\\n':
                if s[self.i + 1] != "\n":
                    cur.add(s[self.i + 1], quoted=True)
                self.i += 2
            elif c == "$":
                self._dollar(cur, in_double=True)
            elif c == "`":
                self._backtick(cur)
            else:
                cur.add(c, quoted=True)
                self.i += 1
        if terminator is not None:
            raise ShellSyntaxError("unterminated double quote")

    def _dollar(self, cur: _WordBuf, *, in_double: bool) -> None:
        s = self.s
        nxt = s[self.i + 1 : self.i + 2]
        if nxt == "'" and not in_double:
            self.i += 2
            cur.add(self._ansi_c(), quoted=True)
        elif nxt == '"' and not in_double:
            self.i += 2
            self._double_quoted(cur, terminator='"')
        elif nxt == "(" and s.startswith("((", self.i + 1):
            cur.started = cur.dynamic = True
            self.i += 3
            self._scan_text(self._balanced("(", ")", closing="))"))
        elif nxt == "(":
            cur.started = cur.dynamic = True
            self.i += 2
            self._nested()
        elif nxt == "{":
            cur.started = cur.dynamic = True
            self.i += 2
            self._scan_text(self._balanced("{", "}", closing="}"))
        elif nxt and (nxt in "@*#?$!-" or nxt.isdigit()):
            cur.started = cur.dynamic = True
            self.i += 2
        elif match := _NAME.match(s, self.i + 1):
            cur.started = cur.dynamic = True
            self.i = match.end()
        else:
            cur.add("$", quoted=in_double)
            self.i += 1

    def _balanced(self, open_: str, close: str, *, closing: str) -> str:
        """The text up to the matching ``closing``; the cursor moves past it."""
        depth = 0
        begin = self.i
        s = self.s
        while self.i < len(s):
            if s.startswith(closing, self.i) and depth == 0:
                text = s[begin : self.i]
                self.i += len(closing)
                return text
            c = s[self.i]
            if c == "\\":
                self.i += 1
            elif c == open_:
                depth += 1
            elif c == close:
                depth -= 1
            self.i += 1
        raise ShellSyntaxError(f"missing {closing!r}")

    def _scan_text(self, text: str) -> None:
        """Find substitutions inside text the shell expands like a double-quoted string."""
        if "$" in text or "`" in text:
            self._sub(text)._double_quoted(_WordBuf(0), terminator=None)

    def _backtick(self, cur: _WordBuf) -> None:
        s = self.s
        self.i += 1
        inner: list[str] = []
        while self.i < len(s) and s[self.i] != "`":
            if s[self.i] == "\\" and self.i + 1 < len(s) and s[self.i + 1] in "$`\\":
                self.i += 1
            inner.append(s[self.i])
            self.i += 1
        if self.i >= len(s):
            raise ShellSyntaxError("unterminated backtick")
        self.i += 1
        cur.started = cur.dynamic = True
        self._sub("".join(inner)).parse(stop=None)

    def _ansi_c(self) -> str:
        try:
            text, self.i = decode_ansi_c(self.s, self.i)
        except ValueError as exc:
            raise ShellSyntaxError(str(exc)) from exc
        return text

    def _read_heredoc_bodies(self) -> None:
        s = self.s
        while self.heredocs:
            delimiter, quoted, strip_tabs = self.heredocs.pop(0)
            body: list[str] = []
            while self.i < len(s):
                end = s.find("\n", self.i)
                end = len(s) if end < 0 else end
                line = s[self.i : end]
                self.i = min(end + 1, len(s))
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    break
                body.append(line)
            if not quoted:  # an unquoted delimiter means $(…) in the body runs
                self._scan_text("\n".join(body))


def _finish(cur: _WordBuf, source: str) -> Word:
    if cur.dynamic:
        return Word(source[cur.start : _end_of(cur, source)].strip() or "$?", dynamic=True)
    text = "".join(cur.text)
    if _GLOB.search("".join(cur.unquoted)):
        return Word(text, dynamic=True)  # pathname/brace expansion decides the value
    return Word(text)


def _end_of(cur: _WordBuf, source: str) -> int:
    end = cur.start
    while end < len(source) and source[end] not in " \t\n;&|":
        end += 1
    return end
