"""Uploaded workspaces: tar, tar.gz and zip archives, checked when uploaded and when extracted.

An archive is refused if any entry has an absolute name, a ``..`` component, a link
that points outside the archive, a hard link, or is a device, FIFO or socket; and
entries are never written through a link (a symlink followed by a file "inside" it is
refused). Extraction writes beneath an open directory (``writer.TreeWriter``), clears
setuid/setgid bits, and counts bytes and entries against the policy's caps as it goes:
a zip bomb stops at the cap, not after.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from runner.errors import InvalidInputError
from runner.workspace.fstree import DIR_FLAGS
from runner.workspace.limits import Tally
from runner.workspace.members import ArchiveKind, Entry, Reader, open_members
from runner.workspace.writer import TreeWriter

__all__ = ["CONTENT_TYPES", "ArchiveKind", "ArchiveSummary", "extract_archive", "scan_archive"]

T = TypeVar("T")

#: More entries than this is not a workspace; refused at upload before any extraction.
MAX_ENTRIES = 1_000_000
#: Problems named in one refusal (the count is exact).
_LISTED = 20

#: Upload ``Content-Type`` → archive kind.
CONTENT_TYPES: dict[str, ArchiveKind] = {
    "application/x-tar": ArchiveKind.TAR,
    "application/tar": ArchiveKind.TAR,
    "application/gzip": ArchiveKind.TGZ,
    "application/x-gzip": ArchiveKind.TGZ,
    "application/zip": ArchiveKind.ZIP,
}


@dataclass(frozen=True)
class ArchiveSummary:
    """What an upload declares: its kind, entry count and total file bytes."""

    kind: ArchiveKind
    entries: int
    declared_bytes: int


def scan_archive(path: Path, kind: ArchiveKind) -> ArchiveSummary:
    """Check every entry without extracting anything.

    Raises:
        InvalidInputError: not an archive of that kind, or an entry is refused (all
            refused entries are named in the message's details).
    """
    problems: list[str] = []
    count = total = 0
    layout = _Layout()
    with open_members(path, kind) as members:
        for entry, _read in members:
            count += 1
            if count > MAX_ENTRIES:
                raise InvalidInputError(f"the archive has more than {MAX_ENTRIES} entries")
            problem = refusal(entry) or layout.clash(entry)
            if problem:
                problems.append(problem)
            total += entry.size if entry.kind == "file" else 0
    if problems:
        shown = "; ".join(problems[:_LISTED])
        more = f" (and {len(problems) - _LISTED} more)" if len(problems) > _LISTED else ""
        raise InvalidInputError(
            f"the archive is refused: {shown}{more}",
            details={"refused": problems[:_LISTED], "refused_count": len(problems)},
        )
    return ArchiveSummary(kind, count, total)


def extract_archive(
    path: Path, kind: ArchiveKind, dst_fd: int, *, tally: Tally, owner: tuple[int, int] | None
) -> None:
    """Extract into the empty directory ``dst_fd``, checking each entry again as it goes.

    Raises:
        InvalidInputError: a refused entry (see the module docstring).
        PolicyDeniedError: over ``max_bytes``/``max_files``; CancelledCopyError.
    """
    writer = TreeWriter(tally, owner)
    with open_members(path, kind) as members:
        for entry, read in members:
            tally.check()
            problem = refusal(entry)
            if problem:
                raise InvalidInputError(f"the archive is refused: {problem}")
            _extract_one(writer, dst_fd, entry, read)
    tally.report()


class _Layout:
    """The names seen so far, to refuse what extraction would refuse: a second entry of
    the same name, and an entry below a link (it would be written through it)."""

    def __init__(self) -> None:
        self._kinds: dict[str, str] = {}

    def clash(self, entry: Entry) -> str | None:
        parts = entry.name.split("/")
        for i in range(1, len(parts)):
            above = self._kinds.get("/".join(parts[:i]))
            if above is not None and above != "dir":
                return f"{entry.name}: it would be written through {above} {'/'.join(parts[:i])}"
        seen = self._kinds.get(entry.name)
        self._kinds[entry.name] = entry.kind
        if seen is not None and not (seen == "dir" and entry.kind == "dir"):
            return f"{entry.name}: a duplicate entry"
        return None


def refusal(entry: Entry) -> str | None:
    """Why ``entry`` may not be extracted, or None."""
    if entry.name.startswith("/"):
        return f"{entry.name}: absolute name"
    parts = entry.name.split("/")
    if ".." in parts:
        return f"{entry.name}: '..' in the name"
    if entry.kind == "encrypted":
        return f"{entry.name}: encrypted"
    if entry.kind in ("device", "fifo", "socket", "other"):
        return f"{entry.name}: a {entry.kind} (only files, directories and links are allowed)"
    if entry.kind == "hardlink":
        return f"{entry.name}: a hard link (to {entry.target})"
    if entry.kind == "symlink":
        if entry.target.startswith("/") or "\x00" in entry.target:
            return f"{entry.name}: a link to {entry.target}, outside the archive"
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(entry.name), entry.target))
        if joined == ".." or joined.startswith("../"):
            return f"{entry.name}: a link to {entry.target}, outside the archive"
    return None


def _extract_one(writer: TreeWriter, root_fd: int, entry: Entry, read: Reader | None) -> None:
    *dirs, name = entry.name.split("/")
    parent = _parent(writer, root_fd, dirs, entry.name)
    try:
        if entry.kind == "dir":
            try:
                os.close(writer.mkdir(parent, name, entry.mode))
            except FileExistsError:
                _existing_dir(parent, name, entry.name)
        elif entry.kind == "symlink":
            _exclusive(entry.name, lambda: writer.symlink(parent, name, entry.target))
        else:
            assert read is not None
            out = _exclusive(entry.name, lambda: writer.create(parent, name))
            try:
                writer.write_from(read, out)
            except BaseException:
                os.close(out)
                raise
            writer.finish(out, entry.mode, entry.mtime * 1_000_000_000)
    finally:
        os.close(parent)


def _parent(writer: TreeWriter, root_fd: int, dirs: list[str], name: str) -> int:
    """The entry's parent directory, made as needed; never reached through a link."""
    fd = os.dup(root_fd)
    try:
        for part in dirs:
            try:
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                child = writer.mkdir(fd, part)
            except OSError:
                raise InvalidInputError(
                    f"the archive is refused: {name}: it would be written through a link"
                    f" or a file ({part})"
                ) from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _existing_dir(parent: int, name: str, full: str) -> None:
    st = os.stat(name, dir_fd=parent, follow_symlinks=False)
    if not stat.S_ISDIR(st.st_mode):
        raise InvalidInputError(f"the archive is refused: {full}: a directory over another entry")


def _exclusive(name: str, make: Callable[[], T]) -> T:
    try:
        return make()
    except FileExistsError:
        raise InvalidInputError(f"the archive is refused: {name}: a duplicate entry") from None
