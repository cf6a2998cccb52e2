"""The sandbox image's content hash: what changes it and what does not."""

from __future__ import annotations

import shutil
from pathlib import Path

from runner.sandbox.base_image import base_hash, read_packages
from runner.sandbox.image import content_hash, default_image_dir


def _copy_definition(tmp_path: Path) -> Path:
    target = tmp_path / "sandbox"
    shutil.copytree(default_image_dir(), target)
    return target


def test_hash_is_stable_for_the_same_inputs(tmp_path: Path) -> None:
    """Two copies of the same definition hash alike (paths do not matter)."""
    copy = _copy_definition(tmp_path)
    assert content_hash(copy, "0.2.187") == content_hash(default_image_dir(), "0.2.187")


def test_hash_changes_with_scripts_settings_packages_and_sdk(tmp_path: Path) -> None:
    """Editing the hook, the settings, the package list or the SDK version changes the hash."""
    copy = _copy_definition(tmp_path)
    before = content_hash(copy, "0.2.187")
    assert content_hash(copy, "0.2.188") != before
    assert content_hash(copy, "0.2.187", base="debian:bookworm-slim") != before
    seen = {before}
    for name in ("warden-hook", "managed-settings.json", "packages.txt", "Dockerfile"):
        path = copy / name
        original = path.read_bytes()
        path.write_bytes(original + b"\n")
        changed = content_hash(copy, "0.2.187")
        assert changed not in seen
        seen.add(changed)
        path.write_bytes(original)
    assert content_hash(copy, "0.2.187") == before


def test_hash_sees_the_exec_bit(tmp_path: Path) -> None:
    """A hook that lost its exec bit is a different image."""
    copy = _copy_definition(tmp_path)
    before = content_hash(copy, "0.2.187")
    (copy / "warden-hook").chmod(0o644)
    assert content_hash(copy, "0.2.187") != before


def test_package_list_drives_the_base_hash() -> None:
    """The base hash depends on the package set, not its order."""
    packages = read_packages(default_image_dir() / "packages.txt")
    assert {"tmux", "socat", "tini", "iproute2", "jq"} <= set(packages)
    assert base_hash(packages) == base_hash(list(reversed(packages)))
    assert base_hash(packages) != base_hash([*packages, "vim"])
