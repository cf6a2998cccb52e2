"""What a session leaves behind: the workspace patch and archive.

In ``copy`` mode the agent worked on a copy of the user's directory, so the patch is
the difference between the original and the copy, in ``git apply`` format.
"""

from __future__ import annotations

import difflib
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

#: Directories never diffed or archived: version control internals and caches.
_SKIP_DIRS = frozenset({".git", "__pycache__", ".pytest_cache", ".mypy_cache", "node_modules"})


def _files(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    if not root.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                found[path.relative_to(root).as_posix()] = path
    return found


def _text(path: Path | None) -> list[str] | None:
    """The file's lines, ``[]`` for no file, None when it is not UTF-8 text."""
    if path is None:
        return []
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def _file_diff(rel: str, old: Path | None, new: Path | None) -> Iterator[str]:
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
    before, after = _files(original), _files(copy)
    chunks: list[str] = []
    for rel in sorted(before.keys() | after.keys()):
        old, new = before.get(rel), after.get(rel)
        if old is not None and new is not None and old.read_bytes() == new.read_bytes():
            continue
        chunks.extend(_file_diff(rel, old, new))
    return "".join(chunks)


def workspace_archive(root: Path, out: Path) -> Path:
    """A ``.tar.gz`` of the workspace (without VCS internals and caches)."""
    with tarfile.open(out, "w:gz") as tar:
        for rel, path in sorted(_files(root).items()):
            tar.add(path, arcname=rel, recursive=False)
    return out
