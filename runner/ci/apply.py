"""``--apply``: put a run's patch back into the working directory, only if nothing moved.

The patch is the difference between the directory as it is when the session ends and
the agent's copy. If the directory changed while the agent worked (another job step, a
person), applying could silently undo that change, so a snapshot taken before the run
must still match; ``git apply --check`` then refuses any hunk that does not fit. The
run's own ``--out`` directory may sit inside the working directory (``--workdir .
--out warden-out``): it is written by the run itself, so it is left out of the snapshot.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from runner.errors import ConflictError, WardenError

#: Not part of the patch, so not part of the snapshot (as in runner.sessions.artifacts).
_SKIP_DIRS = frozenset({".git", "__pycache__", ".pytest_cache", ".mypy_cache", "node_modules"})
#: How many changed paths a refusal names before it says "and N more".
_NAMED = 5

Snapshot = Mapping[str, str]


def snapshot(root: Path, ignore: Sequence[Path] = ()) -> dict[str, str]:
    """Every file under ``root`` (relative path) → a hash of its mode bit and content.

    ``ignore`` are directories left out (the run's own output directory).
    """
    skipped = {path.resolve() for path in ignore}
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if d not in _SKIP_DIRS and (here / d).resolve() not in skipped
        )
        for name in filenames:
            path = here / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[rel] = f"L {path.readlink()}"
            elif path.is_file():
                content = hashlib.sha256(path.read_bytes()).hexdigest()
                found[rel] = f"F {os.access(path, os.X_OK)} {content}"
    return found


def describe_changes(before: Snapshot, after: Snapshot) -> list[str]:
    """``"modified: a.py"``, ``"added: b.txt"``, ``"deleted: c.md"`` in path order."""
    changes = []
    for rel in sorted(set(before) | set(after)):
        if rel not in after:
            changes.append(f"deleted: {rel}")
        elif rel not in before:
            changes.append(f"added: {rel}")
        elif before[rel] != after[rel]:
            changes.append(f"modified: {rel}")
    return changes


def apply_patch(
    work_dir: Path, patch: str, before: Snapshot, *, ignore: Sequence[Path] = ()
) -> int:
    """Apply ``patch`` inside ``work_dir`` if it still matches the snapshot ``before``.

    Returns:
        The number of files the patch touched.
    Raises:
        ConflictError: the directory changed during the run (naming what changed), or
            the patch does not apply.
        WardenError: git is not available.
    """
    changes = describe_changes(before, snapshot(work_dir, ignore))
    if changes:
        named = "; ".join(changes[:_NAMED])
        more = f"; and {len(changes) - _NAMED} more" if len(changes) > _NAMED else ""
        raise ConflictError(
            f"{work_dir} changed while the agent worked ({named}{more});"
            " not applying its patch over it",
            details={"changed": changes},
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
            "the patch does not apply to the working directory: "
            + result.stderr.decode(errors="replace").strip()[-1000:],
        )
