"""Host directories and files opened by descriptor, never through a symlink.

Every read of a host path an API caller named, and every read of a tree the agent
wrote, goes through these. Each path component is opened relative to its parent with
``O_NOFOLLOW``, so a symlink swapped in after a check cannot redirect the read: the
worst a swap can do is make the open fail.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from runner.errors import WardenError

#: A directory, opened without following a symlink at the last component.
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: A file to read. O_NONBLOCK: a FIFO swapped in for a file must not hang the reader.
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class PathChangedError(WardenError):
    """A checked path no longer leads where the check saw it go (a symlink, or gone)."""

    code = "path_changed"


def open_dir(path: Path) -> int:
    """Open the absolute, already resolved directory ``path`` without following any symlink.

    Raises:
        PathChangedError: a component is a symlink, not a directory, or missing.
    """
    if not path.is_absolute():
        raise PathChangedError(f"{path} is not an absolute path")
    fd = os.open("/", DIR_FLAGS)
    try:
        for part in path.parts[1:]:
            child = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except OSError as exc:
        os.close(fd)
        raise PathChangedError(
            f"{path} cannot be opened as checked: {_why(exc)}; nothing was read from it",
            details={"path": str(path)},
        ) from exc
    return fd


@contextlib.contextmanager
def opened_dir(path: Path) -> Iterator[int]:
    """:func:`open_dir` as a context manager that closes the descriptor."""
    fd = open_dir(path)
    try:
        yield fd
    finally:
        os.close(fd)


def fd_path(fd: int) -> Path:
    """A path that names the open directory ``fd`` itself (for tools that want a path)."""
    return Path(f"/proc/self/fd/{fd}")


def entries(dir_fd: int) -> list[str]:
    """The names in the directory, sorted (read in one go, before anything is opened)."""
    with os.scandir(dir_fd) as it:
        return sorted(entry.name for entry in it)


def open_file_at(dir_fd: int, name: str) -> int | None:
    """A read descriptor for the regular file ``name``, or None if it is anything else."""
    try:
        fd = os.open(name, READ_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    os.set_blocking(fd, True)
    return fd


def open_beneath(root_fd: int, rel: str) -> int | None:
    """A read descriptor for regular file ``rel`` under ``root_fd``; None if any part is a
    link or not what it should be (the agent may swap files while the controller reads)."""
    *dirs, name = rel.split("/")
    fd = os.dup(root_fd)
    try:
        for part in dirs:
            child = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        return open_file_at(fd, name)
    except OSError:
        return None
    finally:
        os.close(fd)


def read_beneath(root_fd: int, rel: str) -> bytes | None:
    """The bytes of regular file ``rel`` under ``root_fd`` (see :func:`open_beneath`)."""
    file_fd = open_beneath(root_fd, rel)
    if file_fd is None:
        return None
    with os.fdopen(file_fd, "rb") as f:
        return f.read()


def walk_files(root_fd: int, skip_dirs: frozenset[str] = frozenset()) -> Iterator[str]:
    """Relative paths of the regular files under ``root_fd``, without following links."""
    yield from _walk(root_fd, "", skip_dirs)


def _walk(dir_fd: int, prefix: str, skip_dirs: frozenset[str]) -> Iterator[str]:
    for name in entries(dir_fd):
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            yield prefix + name
        elif stat.S_ISDIR(st.st_mode) and name not in skip_dirs:
            try:
                child = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
            except OSError:
                continue  # swapped for a link meanwhile: not followed
            try:
                yield from _walk(child, f"{prefix}{name}/", skip_dirs)
            finally:
                os.close(child)


def kind_of(mode: int) -> str:
    """A word for a file type, as the session's details list skipped entries."""
    for test, word in (
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISLNK, "symlink"),
        (stat.S_ISDIR, "directory"),
        (stat.S_ISREG, "file"),
    ):
        if test(mode):
            return word
    return "unknown"


def _why(exc: OSError) -> str:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return "a component is now a symlink or not a directory"
    if exc.errno == errno.ENOENT:
        return "it no longer exists"
    return exc.strerror or str(exc)
