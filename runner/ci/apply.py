"""``--apply``: put a run's patch back into the working directory, only if nothing moved.

The patch is the difference between the directory as it is when the session ends and
the agent's copy. If the directory changed while the agent worked (another job step, a
person), applying could silently undo that change, so a fingerprint taken before the
run must still match; ``git apply --check`` then refuses any hunk that does not fit.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from runner.errors import ConflictError, WardenError

#: Not part of the patch, so not part of the fingerprint (as in runner.sessions.artifacts).
_SKIP_DIRS = frozenset({".git", "__pycache__", ".pytest_cache", ".mypy_cache", "node_modules"})


def fingerprint(root: Path) -> str:
    """A hash over every file's relative path, mode bit and content under ``root``."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                digest.update(f"L {rel} {path.readlink()}\n".encode())
            elif path.is_file():
                content = hashlib.sha256(path.read_bytes()).hexdigest()
                digest.update(f"F {rel} {os.access(path, os.X_OK)} {content}\n".encode())
    return digest.hexdigest()


def apply_patch(work_dir: Path, patch: str, expected: str) -> int:
    """Apply ``patch`` inside ``work_dir`` if it still has fingerprint ``expected``.

    Returns:
        The number of files the patch touched.
    Raises:
        ConflictError: the directory changed during the run, or the patch does not apply.
        WardenError: git is not available.
    """
    if fingerprint(work_dir) != expected:
        raise ConflictError(
            f"{work_dir} changed while the agent worked; not applying its patch over it"
        )
    files = sum(1 for line in patch.splitlines() if line.startswith("diff --git "))
    if files == 0:
        return 0
    _git_apply(work_dir, patch, "--check")
    _git_apply(work_dir, patch)
    return files


def _git_apply(work_dir: Path, patch: str, *flags: str) -> None:
    # Stop git from finding an enclosing repository: paths in the patch are relative
    # to work_dir itself, not to some repository root above it.
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(work_dir.resolve().parent)}
    try:
        result = subprocess.run(
            ["git", "apply", "--whitespace=nowarn", *flags, "-"],
            cwd=work_dir,
            input=patch.encode(),
            capture_output=True,
            env=env,
            check=False,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WardenError(f"cannot run git apply: {exc}") from exc
    if result.returncode != 0:
        raise ConflictError(
            "the patch does not apply to the working directory",
            details={"git": result.stderr.decode(errors="replace")[-2000:]},
        )
