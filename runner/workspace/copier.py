"""The bounded copy of a directory tree into a session's workspace.

It walks the source by descriptor (``O_NOFOLLOW`` at every step), so a symlink swapped
in while it runs is copied as a link or skipped, never followed. It counts files and
bytes against the policy's caps as it writes (a tree over the cap stops at the cap,
not after), checks the cancel flag per entry and per chunk, never descends into the
directories it is told to avoid (its own destination, Warden's data dir), and skips
FIFOs, sockets and devices, listing them instead of failing.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable

from runner.errors import InvalidInputError
from runner.workspace.fstree import DIR_FLAGS, entries, kind_of, open_file_at
from runner.workspace.limits import Tally
from runner.workspace.writer import TreeWriter

#: Deeper trees are refused: every level holds two open descriptors.
MAX_DEPTH = 128

Inode = tuple[int, int]  # (st_dev, st_ino)


def inode_of(fd: int) -> Inode:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def copy_tree(
    src_fd: int,
    dst_fd: int,
    *,
    tally: Tally,
    owner: tuple[int, int] | None,
    avoid: Iterable[Inode] = (),
    links: bool = True,
) -> None:
    """Copy the contents of directory ``src_fd`` into the empty directory ``dst_fd``.

    Args:
        avoid: directories (device, inode) never entered; the destination is always one.
        links: copy symlinks as links; False skips (and lists) them, for trees a host
            tool will read, which would follow them.

    Raises:
        PolicyDeniedError: over ``max_bytes`` or ``max_files`` (what was written stays:
            the caller removes the destination).
        CancelledCopyError: the cancel flag was set.
        WorkspaceFullError: the destination's disk is full.
        InvalidInputError: the tree is nested deeper than ``MAX_DEPTH``.
    """
    copier = _Copier(TreeWriter(tally, owner), {inode_of(dst_fd), *avoid}, links)
    copier.copy_dir(src_fd, dst_fd, "", 0)
    tally.report()


class _Copier:
    def __init__(self, writer: TreeWriter, avoid: set[Inode], links: bool) -> None:
        self._writer = writer
        self._tally = writer.tally
        self._avoid = avoid
        self._links = links

    def copy_dir(self, src: int, dst: int, prefix: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise InvalidInputError(
                f"the workspace is nested deeper than {MAX_DEPTH} directories at {prefix}"
            )
        for name in entries(src):
            self._tally.check()
            rel = prefix + name
            try:
                st = os.stat(name, dir_fd=src, follow_symlinks=False)
            except OSError:
                self._tally.skipped.add(rel, "vanished")
                continue
            if stat.S_ISDIR(st.st_mode):
                self._subdir(src, dst, name, rel, st, depth)
            elif stat.S_ISREG(st.st_mode):
                self._file(src, dst, name, rel, st)
            elif stat.S_ISLNK(st.st_mode) and self._links:
                self._link(src, dst, name, rel)
            else:
                # FIFOs, sockets and devices mean nothing in a copy (and a FIFO would
                # block the reader): they are listed, not fatal.
                self._tally.skipped.add(rel, kind_of(st.st_mode))

    def _subdir(
        self, src: int, dst: int, name: str, rel: str, st: os.stat_result, depth: int
    ) -> None:
        if (st.st_dev, st.st_ino) in self._avoid:
            self._tally.skipped.add(rel, "excluded")
            return
        try:
            child_src = os.open(name, DIR_FLAGS, dir_fd=src)
        except OSError:
            self._tally.skipped.add(rel, "unreadable")  # or swapped for a link: not followed
            return
        try:
            if inode_of(child_src) in self._avoid:
                self._tally.skipped.add(rel, "excluded")
                return
            child_dst = self._writer.mkdir(dst, name, st.st_mode)
            try:
                self.copy_dir(child_src, child_dst, rel + "/", depth + 1)
            finally:
                os.close(child_dst)
        finally:
            os.close(child_src)

    def _file(self, src: int, dst: int, name: str, rel: str, st: os.stat_result) -> None:
        in_fd = open_file_at(src, name)
        if in_fd is None:
            self._tally.skipped.add(rel, "unreadable")
            return
        try:
            out_fd = self._writer.create(dst, name)
            try:
                self._writer.copy_fd(in_fd, out_fd)
            except BaseException:
                os.close(out_fd)
                raise
            self._writer.finish(out_fd, st.st_mode, st.st_mtime_ns)
        finally:
            os.close(in_fd)

    def _link(self, src: int, dst: int, name: str, rel: str) -> None:
        try:
            target = os.readlink(name, dir_fd=src)
        except OSError:
            self._tally.skipped.add(rel, "vanished")
            return
        self._writer.symlink(dst, name, target)
