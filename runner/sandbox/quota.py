"""Per-session disk quotas enforced by the kernel: a sparse ext4 image, loop-mounted.

A session whose policy sets ``container.disk`` gets ``<session>/disk.img`` of exactly
that size, formatted ext4 and mounted at ``<session>/volume``; its HOME and its
workspace copy live there (``home`` and ``workspace`` in the session dir are links to
``volume/home`` and ``volume/workspace``, made by the controller in its own 0700 dir).
The agent writing past the size gets ``ENOSPC`` from the kernel; the host's disk grows
by at most the image's size (it is sparse, and mounted with ``discard`` so deleted
files give their blocks back). Nothing polls.

The image is unmounted when the session is deleted and kept, like the copy it holds
(a pipeline's next stage may start from it); a session that never started has its
image removed. This needs root, ``mkfs.ext4`` and loop devices: :meth:`DiskVolumes.probe`
says whether this host has them (``warden doctor`` shows it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from runner.errors import SandboxError
from runner.sandbox.hostmounts import can_mount, run, unmount

log = logging.getLogger(__name__)

IMAGE = "disk.img"
VOLUME = "volume"
#: Smaller than this, ext4 has no room for its own metadata and a workspace.
MIN_BYTES = 16 * 1024**2
#: mkfs: no reserved blocks, no journal (the image lives as long as one session),
#: inode tables left unwritten (sparse) and never zeroed in the background.
_MKFS = ["-q", "-F", "-m", "0", "-O", "^has_journal", "-E", "lazy_itable_init=1,nodiscard"]
_MOUNT = "loop,nosuid,nodev,discard,noinit_itable"


@dataclass(frozen=True)
class QuotaSupport:
    """Whether this host can enforce disk quotas, and why not."""

    enforced: bool
    reason: str


def _tools() -> str | None:
    """What is missing for loop-mounted quotas, or None."""
    missing = can_mount()
    if missing:
        return missing
    if shutil.which("mkfs.ext4") is None:
        return "mkfs.ext4 is not installed (apt-get install e2fsprogs)"
    if not Path("/dev/loop-control").exists():
        return "this host has no loop devices (/dev/loop-control is missing)"
    return None


class DiskVolumes:
    """Creates, mounts and removes sessions' quota volumes (see the module docstring)."""

    def __init__(self, scratch: Path, *, backend_limits: bool = False) -> None:
        self._scratch = scratch
        self._support: QuotaSupport | None = None
        # A backend whose sandboxes keep their files to themselves (Kubernetes) bounds
        # their disk itself (a Pod's ephemeral-storage limit): no host volume is made.
        self._backend_limits = backend_limits

    def probe(self) -> QuotaSupport:
        """Try it once for real (a tiny image, mounted and written), and remember."""
        if self._backend_limits:
            return QuotaSupport(True, "the sandbox backend limits each sandbox's disk")
        if self._support is None:
            self._support = self._probe()
        return self._support

    def _probe(self) -> QuotaSupport:
        missing = _tools()
        if missing:
            return QuotaSupport(False, missing)
        self._scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="quota-probe-", dir=self._scratch) as tmp:
            root = Path(tmp)
            try:
                self._make(root, MIN_BYTES)
                (root / VOLUME / "probe").write_bytes(b"ok")
                self.unmount(root)
            except (SandboxError, OSError) as exc:
                with contextlib.suppress(SandboxError, OSError):
                    self.unmount(root)
                return QuotaSupport(False, f"a test loop mount failed: {exc}")
        return QuotaSupport(True, "per-session ext4 images on loop devices")

    def create(self, root: Path, size_bytes: int, owner: tuple[int, int] | None) -> None:
        """Make and mount the session's volume, with ``home/`` and ``workspace/`` in it.

        Raises:
            SandboxError: the size is too small, or mkfs/mount failed.
        """
        if self._backend_limits:
            return  # the backend's own limit applies (see __init__)
        if size_bytes < MIN_BYTES:
            raise SandboxError(
                f"container.disk must be at least {MIN_BYTES // 1024**2}m (got {size_bytes} bytes)"
            )
        self._make(root, size_bytes)
        volume = root / VOLUME
        for name, mode in (("home", 0o700), ("workspace", 0o755)):
            inside = volume / name
            inside.mkdir(mode=mode)
            if owner is not None:
                os.chown(inside, *owner)
            link = root / name
            if not link.is_symlink():
                link.symlink_to(Path(VOLUME) / name)

    def _make(self, root: Path, size_bytes: int) -> None:
        image, volume = root / IMAGE, root / VOLUME
        with image.open("xb") as f:  # a fresh image only; never reuse another's
            f.truncate(size_bytes)  # sparse: the host pays only for what is written
        image.chmod(0o600)
        run(["mkfs.ext4", *_MKFS, str(image)])
        volume.mkdir(mode=0o755, exist_ok=True)
        run(["mount", "-o", _MOUNT, str(image), str(volume)])

    def has_volume(self, root: Path) -> bool:
        return (root / IMAGE).is_file()

    def is_mounted(self, root: Path) -> bool:
        return os.path.ismount(root / VOLUME)

    def ensure_mounted(self, root: Path) -> None:
        """Mount the session's image again if it is not (re-adoption after a restart)."""
        if self.has_volume(root) and not self.is_mounted(root):
            log.info("remounting the disk quota volume of %s", root.name)
            run(["mount", "-o", _MOUNT, str(root / IMAGE), str(root / VOLUME)])

    def unmount(self, root: Path) -> None:
        """Unmount the volume (lazily if something still holds it); the image stays."""
        unmount(root / VOLUME)

    def discard(self, root: Path) -> None:
        """Unmount and delete the volume: nothing of what was written stays on the host."""
        self.unmount(root)
        (root / IMAGE).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            (root / VOLUME).rmdir()

    @contextlib.contextmanager
    def mounted_read_only(self, root: Path) -> Iterator[Path]:
        """The kept volume of an ended session, mounted read-only for the span of a copy."""
        if self.is_mounted(root):
            yield root / VOLUME
            return
        with tempfile.TemporaryDirectory(prefix="ro-", dir=root) as where:
            run(["mount", "-o", "loop,ro,nosuid,nodev,noexec", str(root / IMAGE), where])
            try:
                yield Path(where)
            finally:
                run(["umount", where])
