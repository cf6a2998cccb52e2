"""Per-session quota volumes: real sparse ext4 images on loop devices (needs root)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.sandbox.quota import IMAGE, VOLUME, DiskVolumes
from tests.conftest import require

SIZE = 32 * 1024**2


@pytest.fixture
def volumes(tmp_path: Path) -> Iterator[DiskVolumes]:
    made = DiskVolumes(tmp_path / "scratch")
    support = made.probe()
    require(support.enforced, f"disk quotas need root and loop devices: {support.reason}")
    yield made
    for root in tmp_path.iterdir():
        made.unmount(root)


def _allocated(path: Path) -> int:
    return path.stat().st_blocks * 512


def test_writing_past_the_quota_is_enospc_and_the_host_pays_at_most_the_quota(
    volumes: DiskVolumes, tmp_path: Path
) -> None:
    """A writer gets ENOSPC at the volume's size; the sparse image never takes more."""
    root = tmp_path / "s1"
    root.mkdir()
    volumes.create(root, SIZE, owner=None)
    assert (root / "home").resolve() == (root / VOLUME / "home").resolve()
    assert _allocated(root / IMAGE) < 2 * 1024**2  # sparse until written
    written = 0
    with pytest.raises(OSError) as e, (root / "workspace" / "big").open("wb") as f:
        while True:
            f.write(b"\0" * 1024**2)
            f.flush()
            os.fsync(f.fileno())
            written += 1024**2
    assert e.value.errno == errno.ENOSPC
    assert SIZE * 0.8 < written <= SIZE
    assert _allocated(root / IMAGE) <= SIZE * 1.05


def test_unmount_keeps_the_image_discard_removes_it_and_remount_restores(
    volumes: DiskVolumes, tmp_path: Path
) -> None:
    """Unmounted, the files are kept in the image; remounted they are back; discarded, gone."""
    root = tmp_path / "s2"
    root.mkdir()
    volumes.create(root, SIZE, owner=None)
    (root / "workspace" / "kept.txt").write_text("still here")
    volumes.unmount(root)
    assert not volumes.is_mounted(root) and volumes.has_volume(root)
    with volumes.mounted_read_only(root) as where:
        assert (where / "workspace" / "kept.txt").read_text() == "still here"
    volumes.ensure_mounted(root)
    assert (root / "workspace" / "kept.txt").read_text() == "still here"
    volumes.discard(root)
    assert not volumes.is_mounted(root) and not (root / IMAGE).exists()


def test_a_volume_smaller_than_ext4_can_hold_is_refused(
    volumes: DiskVolumes, tmp_path: Path
) -> None:
    """container.disk below 16m is an error that says the minimum."""
    from runner.errors import SandboxError

    root = tmp_path / "s3"
    root.mkdir()
    with pytest.raises(SandboxError, match="at least 16m"):
        volumes.create(root, 1024**2, owner=None)
