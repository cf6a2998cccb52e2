"""Client side of workspace sources: a directory packed for upload, ``URL@REF`` split.

A directory is packed the way the server accepts it: regular files, directories and
symlinks that stay inside it. Links that point outside, hard links (stored as separate
files here) and special files are what the server would refuse, so they are left out
and named, instead of failing the upload.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

#: Archive file suffix → the upload's Content-Type.
_TYPES = ((".tar.gz", "application/gzip"), (".tgz", "application/gzip"),
          (".tar", "application/x-tar"), (".zip", "application/zip"))  # fmt: skip


def split_git(value: str) -> tuple[str, str | None]:
    """``URL@REF`` → (url, ref); the ref is optional (``URL`` alone means its HEAD)."""
    url, sep, ref = value.rpartition("@")
    if not sep or not url or ":" in ref or not ref:
        return value, None  # no "@REF" (an "@" inside the URL is followed by host:path)
    return url, ref


def content_type(path: Path) -> str:
    """The Content-Type for an archive file, by its name.

    Raises:
        ValueError: not a .tar, .tar.gz, .tgz or .zip file.
    """
    for suffix, media in _TYPES:
        if path.name.lower().endswith(suffix):
            return media
    raise ValueError(f"{path} is not a .tar, .tar.gz, .tgz or .zip file, nor a directory")


@contextmanager
def packed(path: Path, skipped: list[str]) -> Iterator[tuple[BinaryIO, str]]:
    """An open archive of ``path`` (a directory is tarred into a temporary file)."""
    if not path.is_dir():
        media = content_type(path)
        with path.open("rb") as f:
            yield f, media
        return
    with tempfile.TemporaryFile(prefix="warden-upload-") as out:
        with tarfile.open(fileobj=out, mode="w:gz") as tar:
            _add_tree(tar, path.resolve(), skipped)
        out.seek(0)
        yield out, "application/gzip"


def _add_tree(tar: tarfile.TarFile, root: Path, skipped: list[str]) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames.sort()
        for name in [*dirnames, *sorted(filenames)]:
            path = here / name
            rel = path.relative_to(root).as_posix()
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                _add_link(tar, path, rel, skipped)
            elif stat.S_ISDIR(st.st_mode):
                info = tarfile.TarInfo(rel)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, st.st_mode & 0o777, st.st_mtime
                tar.addfile(info)
            elif stat.S_ISREG(st.st_mode):
                info = tarfile.TarInfo(rel)
                info.size, info.mode, info.mtime = st.st_size, st.st_mode & 0o777, st.st_mtime
                with path.open("rb") as f:
                    tar.addfile(info, f)
            else:
                skipped.append(f"{rel} (not a file, directory or link)")


def _add_link(tar: tarfile.TarFile, path: Path, rel: str, skipped: list[str]) -> None:
    target = str(path.readlink())
    # The server's own check: lexical, relative to the link's directory.
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
    if target.startswith("/") or joined == ".." or joined.startswith("../"):
        skipped.append(f"{rel} (a link to {target}, outside the directory)")
        return
    info = tarfile.TarInfo(rel)
    info.type, info.linkname = tarfile.SYMTYPE, target
    tar.addfile(info)
