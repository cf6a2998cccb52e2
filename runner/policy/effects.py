"""What a command does besides running: the paths it writes and the commands it starts.

A program's options can write files (``find -fprintf F``, ``git diff --output=F``,
``sort -o F``) or run other programs (``find -exec``, ``tar --to-command``). The policy
judges each written path as a Write and each started command as a command of its own,
so an allowed program is never a way around the Write rules or the Bash allow list.
The per-program readers are in :mod:`runner.policy.effects_files` and
:mod:`runner.policy.effects_tools`; :mod:`runner.policy.programs` picks one by name.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass

from runner.policy.shell import Word

Argv = tuple[Word, ...]
UNKNOWN = Word("<only known at run time>", dynamic=True)


@dataclass(frozen=True)
class WriteTarget:
    """A path a command writes (or deletes, or changes the mode of)."""

    word: Word  # as written; dynamic: it may be any path
    via: str  # what writes it: "output redirection", "find -fprintf", …
    base: Word | None = None  # relative paths start here (git -C, tar -C), not the cwd
    tree: bool = False  # anything beneath it may be written (rm -r, tar -x, --basetemp)


@dataclass(frozen=True)
class Effects:
    """The writes and the started commands of one command."""

    writes: tuple[WriteTarget, ...] = ()
    scripts: tuple[Word, ...] = ()  # shell command lines it runs (tar --to-command='…')
    commands: tuple[Argv, ...] = ()  # argvs it runs directly (find -exec CMD … ;)
    chdir: Word | None = None  # cd/pushd: where later commands' relative paths may start

    def __add__(self, other: Effects) -> Effects:
        return Effects(
            self.writes + other.writes,
            self.scripts + other.scripts,
            self.commands + other.commands,
            self.chdir if self.chdir is not None else other.chdir,
        )


NOTHING = Effects()


def writes(
    words: Iterable[Word], via: str, *, base: Word | None = None, tree: bool = False
) -> Effects:
    """Effects writing each of ``words``."""
    return Effects(tuple(WriteTarget(w, via, base, tree) for w in words))


def unknown_write(via: str) -> Effects:
    """A write to a path nobody can know before it runs (judged as anywhere)."""
    return Effects((WriteTarget(UNKNOWN, via),))


def inside(directory: Word, name: Word) -> Word:
    """``directory/basename(name)``: where ``cp name directory`` puts its copy."""
    if directory.dynamic or name.dynamic:
        return UNKNOWN
    return Word(posixpath.join(directory.text, posixpath.basename(name.text.rstrip("/"))))
