"""Mounts the controller makes on the host: loop images, and directories bound by descriptor.

A directory a session may use in place (``ro``/``rw`` workspaces) is checked, opened by
descriptor, and bound from that descriptor (``/proc/self/fd/N``, not canonicalised), so
Docker mounts the very directory that was checked even if a symlink is swapped into its
path afterwards. Needs root, like every mount.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from runner.errors import SandboxError

log = logging.getLogger(__name__)

_TIMEOUT = 60


def can_mount() -> str | None:
    """What stops the controller from mounting, or None."""
    if os.geteuid() != 0:
        return "the controller does not run as root (mounting needs root)"
    for tool in ("mount", "umount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install mount)"
    return None


def run(argv: list[str], *, pass_fds: tuple[int, ...] = ()) -> None:
    """Run a mount tool; its message in the error if it fails.

    Raises:
        SandboxError: it could not run, or failed.
    """
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=_TIMEOUT, check=False, pass_fds=pass_fds
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(f"{argv[0]} failed: {exc}") from exc
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip()[-500:]
        raise SandboxError(f"{argv[0]} failed: {message}", details={"argv": argv})


def bind_fd(fd: int, target: Path) -> None:
    """Bind the open directory ``fd`` onto ``target`` (made if missing).

    Raises:
        SandboxError: the controller cannot mount, or the mount failed.
    """
    missing = can_mount()
    if missing:
        raise SandboxError(
            f"ro and rw workspaces bind the checked directory by descriptor, but {missing};"
            " use workspaceMode copy"
        )
    target.mkdir(mode=0o700, exist_ok=True)
    # --no-canonicalize: the kernel resolves the descriptor's magic link itself; mount(8)
    # would otherwise turn it back into a path and look that path up again.
    argv = ["mount", "--no-canonicalize", "--bind", f"/proc/self/fd/{fd}", str(target)]
    run(argv, pass_fds=(fd,))


def unmount(target: Path) -> None:
    """Unmount ``target`` if it is a mount point (lazily if it is busy)."""
    if not os.path.ismount(target):
        return
    try:
        run(["umount", str(target)])
    except SandboxError:
        log.warning("%s is busy; detaching it lazily", target)
        run(["umount", "-l", str(target)])
