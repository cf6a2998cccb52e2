"""What a session leaves behind: the workspace patch and archive.

In ``copy`` mode the agent worked on a copy of the user's directory, so the patch is
the difference between the original and the copy, in ``git apply`` format.

The copy is the agent's: it may hold links to host files, and swap files for links
while the controller reads. Both trees are read by descriptor without following any
link (``runner.workspace.fstree``), so the patch and archive only ever contain what is
really inside them. ``original`` must be a resolved path (it is opened without
following links at all); ``copy`` may be the controller's own link into a quota volume.
"""

from __future__ import annotations

import difflib
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

from runner.workspace.fstree import open_beneath, opened_dir, read_beneath, walk_files

#: Directories never diffed or archived: version control internals and caches.
_SKIP_DIRS = frozenset({".git", "__pycache__", ".pytest_cache", ".mypy_cache", "node_modules"})


def _text(data: bytes | None) -> list[str] | None:
    """The file's lines, ``[]`` for no file, None when it is not UTF-8 text."""
    if data is None:
        return []
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def _file_diff(rel: str, old: bytes | None, new: bytes | None) -> Iterator[str]:
    yield f"diff --git a/{rel} b/{rel}\n"
    if old is None:
        yield "new file mode 100644\n"
    elif new is None:
        yield "deleted file mode 100644\n"
    old_lines, new_lines = _text(old), _text(new)
    if old_lines is None or new_lines is None:
        yield f"Binary files a/{rel} and b/{rel} differ\n"
        return
    fromfile = f"a/{rel}" if old is not None else "/dev/null"
    tofile = f"b/{rel}" if new is not None else "/dev/null"
    for line in difflib.unified_diff(old_lines, new_lines, fromfile, tofile):
        yield line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


def workspace_patch(original: Path, copy: Path) -> str:
    """A unified diff (``git apply``-able for text files) from ``original`` to ``copy``."""
    if not copy.exists():
        return ""
    with opened_dir(original) as before_fd, opened_dir(copy.resolve()) as after_fd:
        before = set(walk_files(before_fd, _SKIP_DIRS))
        after = set(walk_files(after_fd, _SKIP_DIRS))
        chunks: list[str] = []
        for rel in sorted(before | after):
            old = read_beneath(before_fd, rel) if rel in before else None
            new = read_beneath(after_fd, rel) if rel in after else None
            if old == new:
                continue  # unchanged, or neither side readable as a regular file
            chunks.extend(_file_diff(rel, old, new))
    return "".join(chunks)


def workspace_archive(root: Path, out: Path) -> Path:
    """A ``.tar.gz`` of the workspace (without VCS internals and caches)."""
    with opened_dir(root.resolve()) as fd, tarfile.open(out, "w:gz") as tar:
        for rel in sorted(walk_files(fd, _SKIP_DIRS)):
            file_fd = open_beneath(fd, rel)
            if file_fd is None:
                continue  # swapped for a link or a special file meanwhile: not followed
            with os.fdopen(file_fd, "rb") as f:
                st = os.fstat(f.fileno())
                info = tarfile.TarInfo(rel)
                info.size, info.mode, info.mtime = st.st_size, st.st_mode & 0o777, st.st_mtime
                tar.addfile(info, f)
    return out
