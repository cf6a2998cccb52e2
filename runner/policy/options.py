"""Read a program's arguments the way its option parser does, to find the words it writes to.

GNU ``getopt_long`` style by default: ``-o FILE``, ``-oFILE``, bundled short options
(``-cf out.tar``), ``--output=FILE`` and ``--output FILE``, unique prefixes of long
options (GNU tools and git accept ``--out=x`` for ``--output``), options after operands
(GNU permutes), ``--`` ending the options. Go's flag package (``-flag``, ``--flag``,
``-flag=v``, ``-flag v``, no bundling) is the ``single_dash`` syntax.

Only options that take a value need to be listed: the rest are flags. When in doubt this
reads *more* words as values of the listed options (an abbreviation is taken for the
listed option it may stand for), so a write option is never read as something harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runner.policy.shell import Word


@dataclass(frozen=True)
class Syntax:
    """How one program reads its options."""

    valued: frozenset[str]  # "-o", "--output": take a value, attached or the next word
    optional: frozenset[str] = frozenset()  # "--backup": a value only when attached
    abbreviate: bool = True  # unique prefixes of long options are accepted
    single_dash: bool = False  # Go: -flag is a long flag, no bundling

    def long_name(self, name: str) -> str:
        """The listed option a long ``name`` stands for (itself when none)."""
        if name in self.valued or name in self.optional or not self.abbreviate:
            return name
        for full in sorted(self.valued | self.optional):
            if full.startswith("--") and full.startswith(name) and len(name) > 2:
                return full
        return name


def syntax(*valued: str, optional: Sequence[str] = (), **flags: bool) -> Syntax:
    """A :class:`Syntax` from option names (``"-o"``, ``"--output"``)."""
    return Syntax(frozenset(valued), frozenset(optional), **flags)


@dataclass(frozen=True)
class Parsed:
    """Options with their values (None for flags), the operands, and whether it was certain."""

    options: tuple[tuple[str, Word | None], ...]
    operands: tuple[Word, ...]
    dynamic: bool  # a word only known at run time may have been any option

    def has(self, *names: str) -> bool:
        return any(name in names for name, _ in self.options)

    def values(self, *names: str) -> list[Word]:
        return [value for name, value in self.options if name in names and value is not None]


def parse(args: Sequence[Word], spec: Syntax) -> Parsed:
    """Split ``args`` (without the program name) into options and operands."""
    options: list[tuple[str, Word | None]] = []
    operands: list[Word] = []
    # A word only known at run time (`$X`, a glob) may expand to several words, one of them
    # `--output=/etc/x`, wherever it stands: the caller must then assume the worst.
    dynamic = any(word.dynamic for word in args)
    index = 0
    while index < len(args):
        word = args[index]
        index += 1
        text = word.text
        if word.dynamic:
            operands.append(word)
        elif text == "--":
            operands.extend(args[index:])
            break
        elif not text.startswith("-") or text == "-":
            operands.append(word)
        elif spec.single_dash or text.startswith("--"):
            index = _long(args, index, word, spec, options)
        else:
            index = _short(args, index, word, spec, options)
    return Parsed(tuple(options), tuple(operands), dynamic)


def _long(
    args: Sequence[Word], index: int, word: Word, spec: Syntax, out: list[tuple[str, Word | None]]
) -> int:
    body, eq, attached = word.text.lstrip("-").partition("=")
    prefix = "-" if spec.single_dash else "--"
    name = spec.long_name(prefix + body)
    if eq:
        out.append((name, Word(attached)))
    elif name in spec.valued and index < len(args):
        out.append((name, args[index]))
        return index + 1
    else:
        out.append((name, None))
    return index


def _short(
    args: Sequence[Word], index: int, word: Word, spec: Syntax, out: list[tuple[str, Word | None]]
) -> int:
    letters = word.text[1:]
    for position, letter in enumerate(letters):
        name = "-" + letter
        rest = letters[position + 1 :]
        if name in spec.valued:
            if rest:
                out.append((name, Word(rest)))
            elif index < len(args):
                out.append((name, args[index]))
                return index + 1
            else:
                out.append((name, None))
            return index
        if name in spec.optional and rest:
            out.append((name, Word(rest)))
            return index
        out.append((name, None))
    return index
