"""The entries of a tar, tar.gz or zip archive, read one by one as :class:`Entry` values.

Names are normalised (``./`` and empty components dropped) but never collapsed:
a ``..`` stays in the name so that the checks in ``archive.py`` see and refuse it.
"""

from __future__ import annotations

import contextlib
import stat
import tarfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from runner.errors import InvalidInputError

#: A symlink's target is short; a zip "symlink" with a huge body is refused.
MAX_LINK = 4096

Reader = Callable[[int], bytes]
Members = Iterator[tuple["Entry", Reader | None]]


class ArchiveKind(StrEnum):
    TAR = "tar"
    TGZ = "tar.gz"
    ZIP = "zip"


@dataclass(frozen=True)
class Entry:
    """One archive member, as the checks see it."""

    name: str  # relative (unless absolute, which is refused), no ./ or trailing slash
    kind: str  # file | dir | symlink | hardlink | device | fifo | socket | encrypted | other
    size: int  # declared size (files only)
    mode: int  # permission bits
    mtime: int  # seconds
    target: str = ""  # symlinks and hard links


def normalise(raw: str) -> str:
    """Drop ``./`` and empty components; keep a leading ``/`` and every ``..``."""
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    return ("/" if raw.startswith("/") else "") + "/".join(parts)


_READ_ERRORS = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError)


@contextlib.contextmanager
def open_members(path: Path, kind: ArchiveKind) -> Iterator[Members]:
    """The archive's entries with a reader for each file's data (valid until the next).

    Raises:
        InvalidInputError: it is not an archive of that kind, or it is damaged.
    """
    handle: zipfile.ZipFile | tarfile.TarFile
    try:
        if kind == ArchiveKind.ZIP:
            handle = zipfile.ZipFile(path)
        else:
            # SIM115: closed by the ``with handle`` below.
            if kind == ArchiveKind.TAR:
                handle = tarfile.open(path, mode="r:")  # noqa: SIM115
            else:
                handle = tarfile.open(path, mode="r:gz")  # noqa: SIM115
    except _READ_ERRORS as exc:
        raise InvalidInputError(f"not a readable {kind} archive: {exc}") from exc
    with handle:
        members = _zip_members(handle) if isinstance(handle, zipfile.ZipFile) else (
            _tar_members(handle)
        )  # fmt: skip
        yield _guarded(members)


def _guarded(members: Members) -> Members:
    """Reading errors in the middle of an archive become the caller's 422, not a 500."""
    try:
        for entry, read in members:
            yield entry, (None if read is None else _guarded_reader(read))
    except _READ_ERRORS as exc:
        raise InvalidInputError(f"the archive is damaged: {exc}") from exc


def _guarded_reader(read: Reader) -> Reader:
    def guarded(size: int) -> bytes:
        try:
            return read(size)
        except _READ_ERRORS as exc:
            raise InvalidInputError(f"the archive is damaged: {exc}") from exc

    return guarded


def _tar_members(tar: tarfile.TarFile) -> Members:
    for member in tar:
        name = normalise(member.name)
        if not name:
            continue  # the archive's own top directory ("./")
        kind = _tar_kind(member)
        entry = Entry(
            name=name,
            kind=kind,
            size=member.size if kind == "file" else 0,
            mode=stat.S_IMODE(member.mode),
            mtime=int(member.mtime),
            target=member.linkname,
        )
        if kind == "file":
            data = tar.extractfile(member)
            assert data is not None  # a regular member always has data
            with data:
                yield entry, data.read
        else:
            yield entry, None


def _tar_kind(member: tarfile.TarInfo) -> str:
    if member.isreg():
        return "file"
    for test, kind in (
        (member.isdir, "dir"),
        (member.issym, "symlink"),
        (member.islnk, "hardlink"),
        (member.ischr, "device"),
        (member.isblk, "device"),
        (member.isfifo, "fifo"),
    ):
        if test():
            return kind
    return "other"


def _zip_members(zf: zipfile.ZipFile) -> Members:
    for info in zf.infolist():
        raw = info.filename
        name = normalise(raw)
        if not name:
            continue
        mode = (info.external_attr >> 16) & 0xFFFF if info.create_system == 3 else 0
        kind = _zip_kind(info, mode, raw)
        perm = stat.S_IMODE(mode) or (0o755 if kind == "dir" else 0o644)
        mtime = int(time.mktime((*info.date_time, 0, 0, -1)))
        entry = Entry(name, kind, info.file_size if kind == "file" else 0, perm, mtime)
        if kind == "symlink":
            with zf.open(info) as f:
                target = f.read(MAX_LINK + 1)
            if len(target) > MAX_LINK:
                entry = Entry(name, "other", 0, perm, mtime)
            else:
                entry = Entry(name, kind, 0, perm, mtime, target.decode("utf-8", "replace"))
            yield entry, None
        elif kind == "file":
            with zf.open(info) as f:
                yield entry, f.read
        else:
            yield entry, None


def _zip_kind(info: zipfile.ZipInfo, mode: int, raw: str) -> str:
    if info.flag_bits & 0x1:
        return "encrypted"
    if "\\" in raw:
        return "other"  # a Windows path separator: its meaning here is ambiguous
    if info.is_dir() or stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_IFMT(mode) in (0, stat.S_IFREG):
        return "file"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "other"
