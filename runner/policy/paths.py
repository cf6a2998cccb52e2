"""Paths as Claude Code's tools name them, and gitignore-style rule patterns over them.

A tool's path is made absolute against the workspace root and ``..`` is collapsed
lexically, so ``src/../../etc/passwd`` is judged as ``/etc/passwd`` — outside the
workspace, where no relative rule reaches. When the host copy of the workspace is
given (``fs_root``), symlinks inside the workspace are followed component by component
so a link that points outside is judged by its target.

Rule patterns (Claude Code's four forms): ``//abs/path`` is absolute, ``~/path`` is in
the agent's home, ``/path`` is relative to the workspace root (Claude Code: the settings
file's project), ``path`` or ``./path`` is relative to the workspace root too (the agent's
working directory). A pattern without any ``/`` matches at any depth (``*.env``); write
``./.env`` for the one at the workspace root. ``*`` and
``?`` stay inside one path segment, ``**`` spans segments. As in gitignore, a pattern that
matches a directory matches everything beneath it.
"""

from __future__ import annotations

import functools
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

MAX_SYMLINKS = 40  # as the kernel's ELOOP limit


class PathError(ValueError):
    """A path that cannot be judged (NUL byte, symlink loop, not a string)."""


@dataclass(frozen=True)
class Place:
    """Where a path really is, in the sandbox's filesystem."""

    path: str  # normalised absolute path inside the sandbox
    target: str  # the same after following symlinks inside the workspace


def expand_tilde(raw: str, *, home: str) -> str | None:
    """``~``, ``~/x`` and ``~user/x`` as the shell expands them; None when it cannot be known.

    ``~`` and ``~<sandbox user>`` (the last component of ``home``: ``~warden``) are the
    agent's home and ``~root`` is ``/root``. Any other user, ``~+`` and ``~-`` (the shell's
    current and previous directory) cannot be resolved here: the caller must judge such a
    path as unknown (deny), since it may point anywhere.
    """
    if not raw.startswith("~"):
        return raw
    name, sep, rest = raw[1:].partition("/")
    homes = {"": home, posixpath.basename(home.rstrip("/")): home, "root": "/root"}
    base = homes.get(name)
    if base is None:
        return None
    return base.rstrip("/") + "/" + rest if sep else base


def normalise(raw: str, *, workspace: str, home: str) -> str:
    """Absolute, ``..``-collapsed sandbox path for ``raw`` as a tool would open it.

    Raises:
        PathError: the path is unusable, or names the home of a user we do not know.
    """
    if not isinstance(raw, str) or "\x00" in raw or not raw.strip():
        raise PathError(f"not a usable path: {raw!r}")
    expanded = expand_tilde(raw, home=home)
    if expanded is None:  # fail closed: an unknown home may be anywhere
        raise PathError(f"cannot tell which directory {raw.split('/', 1)[0]!r} is")
    joined = posixpath.join(workspace, expanded)
    path = posixpath.normpath(joined)
    return "/" + path.lstrip("/")  # POSIX keeps a leading "//"; the kernel does not


def locate(raw: str, *, workspace: str, home: str, fs_root: Path | None) -> Place:
    """Normalise ``raw`` and, with a host copy of the workspace, follow its symlinks."""
    path = normalise(raw, workspace=workspace, home=home)
    if fs_root is None:
        return Place(path, path)
    return Place(path, _follow(path, workspace=posixpath.normpath(workspace), fs_root=fs_root))


def _follow(path: str, *, workspace: str, fs_root: Path) -> str:
    """Resolve symlinks while the path is inside the workspace (the part we can see)."""
    pending = [p for p in path.split("/") if p]
    current = ""
    hops = 0
    while pending:
        name = pending.pop(0)
        candidate = posixpath.normpath(f"{current}/{name}")
        if not is_within(candidate, workspace) or candidate == workspace:
            current = candidate
            continue
        host = fs_root / posixpath.relpath(candidate, workspace)
        if not host.is_symlink():
            current = candidate
            continue
        hops += 1
        if hops > MAX_SYMLINKS:
            raise PathError(f"too many symlinks resolving {path}")
        link = str(host.readlink())
        base = "" if link.startswith("/") else current
        joined = posixpath.normpath(f"{base}/{link}")
        pending = [p for p in joined.split("/") if p] + pending
        current = ""
    return current or "/"


def is_within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def anchor_pattern(spec: str, *, workspace: str, home: str) -> str:
    """The rule pattern as an absolute glob (see the module docstring for the four forms)."""
    spec = spec.rstrip("/") or "/"
    if spec.startswith("//"):
        return "/" + spec.lstrip("/")
    if spec == "~" or spec.startswith("~/"):
        return home.rstrip("/") + spec[1:]
    if spec.startswith("/"):
        return workspace.rstrip("/") + spec
    if spec in (".", "./"):
        return workspace
    if "/" not in spec:  # `*.env`: gitignore floats a slash-less pattern to any depth
        return f"{workspace.rstrip('/')}/**/{spec}"
    return f"{workspace.rstrip('/')}/{spec.removeprefix('./')}"


@functools.lru_cache(maxsize=2048)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Regex for an absolute glob: ``*``/``?``/``[…]`` within a segment, ``**`` across."""
    out = []
    for segment in (s for s in pattern.split("/") if s):
        if segment == "**":
            out.append("(?:/[^/]+)*")
            continue
        out.append("/" + _segment_regex(segment))
    return re.compile("".join(out) or "/", re.DOTALL)


def _segment_regex(segment: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(segment):
        c = segment[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and (end := segment.find("]", i + 2)) > 0:
            body = segment[i + 1 : end].replace("\\", "\\\\")
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def pattern_covers(pattern: str, path: str) -> bool:
    """Whether ``pattern`` matches ``path`` or one of its ancestors (gitignore semantics)."""
    regex = compile_pattern(pattern)
    probe = path
    while True:
        if regex.fullmatch(probe):
            return True
        if probe == "/":
            return False
        probe = posixpath.dirname(probe)


def pattern_reaches_into(pattern: str, directory: str) -> bool:
    """Whether a recursive scan of ``directory`` could touch a path ``pattern`` matches."""
    segments = [s for s in pattern.split("/") if s]
    states = _closure({0}, segments)
    for name in (s for s in directory.split("/") if s):
        if len(segments) in states:
            return True  # the pattern matched an ancestor: everything beneath is covered
        step = set()
        for state in states:
            if state < len(segments):
                if segments[state] == "**":
                    step.add(state)
                elif re.fullmatch(_segment_regex(segments[state]), name, re.DOTALL):
                    step.add(state + 1)
        states = _closure(step, segments)
        if not states:
            return False
    return True  # the pattern matches the directory or continues beneath it


def _closure(states: set[int], segments: list[str]) -> set[int]:
    out = set(states)
    for state in sorted(states):
        while state < len(segments) and segments[state] == "**":
            state += 1
            out.add(state)
    return out
