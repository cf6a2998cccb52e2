"""Writing a workspace tree beneath an open directory, counted against the caps.

New entries are created relative to their parent's descriptor with ``O_EXCL`` and
``O_NOFOLLOW``: nothing is ever written through a link or over an existing entry, so a
hostile archive or source tree cannot make the controller write outside the
destination. Modes keep only the permission bits (setuid, setgid and sticky are
cleared); entries belong to the sandbox user when the controller runs as root.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Iterator

from runner.workspace.fstree import DIR_FLAGS
from runner.workspace.limits import Tally, WorkspaceFullError, format_size

#: Bytes per write; the cancel flag is checked between chunks.
CHUNK = 1024 * 1024
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class TreeWriter:
    """Creates directories, files and symlinks, counting each in ``tally``."""

    def __init__(self, tally: Tally, owner: tuple[int, int] | None) -> None:
        self.tally = tally
        self._owner = owner

    def mkdir(self, parent_fd: int, name: str, mode: int = 0o755) -> int:
        """Make directory ``name`` and return its descriptor (the caller closes it)."""
        self.tally.add_file()
        with _full_disk(self.tally):
            os.mkdir(name, 0o700, dir_fd=parent_fd)
        fd = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
        self._own(fd, (mode & 0o777) | 0o700)
        return fd

    def open_dir(self, parent_fd: int, name: str) -> int:
        """An existing directory made by this writer (never a link)."""
        return os.open(name, DIR_FLAGS, dir_fd=parent_fd)

    def create(self, parent_fd: int, name: str) -> int:
        """A new, empty file ``name``, open for writing."""
        self.tally.add_file()
        with _full_disk(self.tally):
            return os.open(name, _CREATE, 0o600, dir_fd=parent_fd)

    def finish(self, fd: int, mode: int, mtime_ns: int | None = None) -> None:
        """Set the file's mode (permission bits only), owner and time, and close it."""
        try:
            self._own(fd, (mode & 0o777) | 0o600)
            if mtime_ns is not None:
                os.utime(fd, ns=(mtime_ns, mtime_ns))
        finally:
            os.close(fd)

    def symlink(self, parent_fd: int, name: str, target: str) -> None:
        """A symlink, copied as it is: it is resolved only inside the sandbox, and nothing
        on the host follows links in a workspace (every reader opens with O_NOFOLLOW)."""
        self.tally.add_file()
        with _full_disk(self.tally):
            os.symlink(target, name, dir_fd=parent_fd)
        if self._owner is not None:
            os.chown(name, *self._owner, dir_fd=parent_fd, follow_symlinks=False)

    def copy_fd(self, src_fd: int, out_fd: int) -> None:
        """Copy ``src_fd`` from its position to its end into ``out_fd``, within the caps."""
        while True:
            room = self.tally.room()
            # One byte past the room is enough to know the file does not fit.
            with _full_disk(self.tally):
                n = os.sendfile(out_fd, src_fd, None, min(CHUNK, room + 1))
            if n == 0:
                return
            self.tally.add_bytes(n)

    def write_from(self, read: Callable[[int], bytes], out_fd: int) -> None:
        """Write what ``read(size)`` returns until it returns nothing, within the caps."""
        while True:
            data = read(min(CHUNK, self.tally.room() + 1))
            if not data:
                return
            view = memoryview(data)
            while view:
                with _full_disk(self.tally):
                    written = os.write(out_fd, view)
                view = view[written:]
            self.tally.add_bytes(len(data))

    def _own(self, fd: int, mode: int) -> None:
        os.fchmod(fd, mode)
        if self._owner is not None:
            os.fchown(fd, *self._owner)


@contextlib.contextmanager
def _full_disk(tally: Tally) -> Iterator[None]:
    """Turns ENOSPC/EDQUOT into a clear error: the session's disk quota is full."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise WorkspaceFullError(
            "the session's disk (container.disk) filled up while its workspace was written"
            f" ({format_size(tally.bytes)} in {tally.files} entries so far); use a smaller"
            " workspace, or a policy with a larger container.disk",
            details={"bytes": tally.bytes, "files": tally.files},
        ) from exc
