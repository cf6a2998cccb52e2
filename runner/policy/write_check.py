"""Judge the paths a Bash command writes as Writes: against Write and Edit rules, all effects.

A written path is read every way it could be: with ``~``/``~user`` expanded and as
written (a quoted ``'~'`` stays literal), from the shell's directory and from every
directory an earlier ``cd`` in the same command may have moved to, through symlinks in
the workspace. A deny or ask rule matches when *any* reading is under it (for a tree
write, when anything beneath it could be); an allow rule only when *every* reading is.
A path only known at run time (``> $F``, ``~bob/x``) may be anywhere: it matches every
deny and ask rule and only a bare ``Edit``/``Write`` allow allows it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from runner.policy.effects import WriteTarget
from runner.policy.paths import Place, expand_tilde, locate, pattern_covers, pattern_reaches_into
from runner.policy.rules import Rule
from runner.policy.scope import Scope
from runner.policy.shell import Word

MAX_DIRS = 16  # candidate working directories tracked through `cd`; more is unknown
_HARMLESS = ("/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty")

Dirs = tuple[str, ...] | None  # None: the working directory cannot be known


@dataclass(frozen=True)
class Written:
    """A write target with every place it may be (``places`` is empty when ``unknown``)."""

    target: WriteTarget
    places: tuple[Place, ...]
    unknown: bool

    @property
    def label(self) -> str:
        return f"{self.target.via} → {self.target.word.text}"


def resolve(targets: Iterable[WriteTarget], dirs: Dirs, scope: Scope) -> tuple[Written, ...]:
    """Every target with its possible places; harmless ones (``/dev/null``) are left out."""
    out: list[Written] = []
    for target in targets:
        bases = dirs if target.base is None else _moved(dirs, target.base, scope)
        texts = _readings(target.word, scope)
        if texts is None or (bases is None and any(not t.startswith("/") for t in texts)):
            out.append(Written(target, (), True))
            continue
        starts = bases or ("/",)
        joined = (posixpath.normpath(posixpath.join(b, t)) for b in starts for t in texts)
        paths = {"/" + p.lstrip("/") for p in joined}
        if all(p in _HARMLESS or p.startswith("/dev/fd/") for p in paths):
            continue
        places = tuple(
            locate(p, workspace=scope.workspace, home=scope.home, fs_root=scope.fs_root)
            for p in sorted(paths)
        )
        out.append(Written(target, places, False))
    return tuple(out)


def change_dir(dirs: Dirs, word: Word, scope: Scope, *, cdpath: bool) -> Dirs:
    """The directories the shell may be in after ``cd word`` (the old ones stay possible)."""
    if cdpath and not word.dynamic and not word.text.startswith(("/", ".", "~")):
        return None  # CDPATH may send a relative `cd` anywhere
    moved = _moved(dirs, word, scope)
    if dirs is None or moved is None:
        return None
    merged = tuple(dict.fromkeys((*dirs, *moved)))
    return merged if len(merged) <= MAX_DIRS else None


def _moved(dirs: Dirs, word: Word, scope: Scope) -> Dirs:
    texts = _readings(word, scope)
    if texts is None:
        return None
    if dirs is None and any(not t.startswith("/") for t in texts):
        return None
    starts = dirs or ("/",)
    return tuple(
        dict.fromkeys(posixpath.normpath(posixpath.join(b, t)) for b in starts for t in texts)
    )


def _readings(word: Word, scope: Scope) -> tuple[str, ...] | None:
    """The word as the shell (or the program) may take it; None when only known at run time."""
    if word.dynamic or "\x00" in word.text or not word.text:
        return None
    if not word.text.startswith("~"):
        return (word.text,)
    expanded = expand_tilde(word.text, home=scope.home)
    if expanded is None:
        return None  # ~bob/x: a home we cannot name may be anywhere
    return (expanded, word.text)  # unquoted it expands; quoted it is a literal ./~ path


def may_match(rule: Rule, written: Written, scope: Scope) -> bool:
    """A deny/ask rule: does any reading of the write fall under it?"""
    if rule.is_bare:
        return True
    if rule.kind != "path" or rule.specifier is None:
        return False
    if written.unknown:
        return True  # it may be anywhere, so also under this rule
    pattern = scope.anchor(rule.specifier)
    check = pattern_reaches_into if written.target.tree else pattern_covers
    return any(check(pattern, p) for place in written.places for p in (place.path, place.target))


def must_match(rule: Rule, written: Written, scope: Scope) -> bool:
    """An allow rule: is every reading of the write (and all beneath a tree) under it?"""
    if rule.is_bare:
        return True
    if written.unknown or rule.kind != "path" or rule.specifier is None:
        return False
    pattern = scope.anchor(rule.specifier)
    return all(pattern_covers(pattern, place.target) for place in written.places)


def first_hit(
    rules: Sequence[Rule], written: Sequence[Written], scope: Scope
) -> tuple[Rule, Written] | None:
    """The first deny/ask rule (in order) some write may fall under."""
    for rule in rules:
        for item in written:
            if may_match(rule, item, scope):
                return rule, item
    return None


def allowing(
    rules: Sequence[Rule], written: Sequence[Written], scope: Scope
) -> tuple[tuple[str, ...], Written | None]:
    """The allow rules that cover the writes, and the first write none covers (if any)."""
    used: list[str] = []
    for item in written:
        rule = next((r for r in rules if must_match(r, item, scope)), None)
        if rule is None:
            return tuple(used), item
        used.append(rule.id)
    return tuple(dict.fromkeys(used)), None
