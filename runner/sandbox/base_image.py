"""The offline Debian base of the sandbox image: ``debootstrap`` a root, ``docker import`` it.

No container registry is needed: the root filesystem comes from the Debian mirror the
host's apt already uses, and is imported as ``warden-base:<hash>``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import docker
import docker.errors

from runner.errors import SandboxError

BASE_REPOSITORY = "warden-base"
SUITE = "bookworm"
VARIANT = "minbase"

# Dropped from the root before import: package downloads and indexes only make the
# image larger (the sandbox has no network, so apt cannot use them anyway).
_PRUNE = ("var/cache/apt/archives", "var/lib/apt/lists")


def read_packages(packages_file: Path) -> list[str]:
    """The package names in ``packages.txt`` (comments and blank lines skipped)."""
    lines = packages_file.read_text(encoding="utf-8").splitlines()
    return [word for line in lines for word in line.split("#", 1)[0].split()]


def base_hash(packages: Sequence[str]) -> str:
    """Content hash of the base: what debootstrap is asked for, never the mirror's host."""
    spec = f"v1\n{SUITE}\n{VARIANT}\n" + "\n".join(sorted(packages))
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


def base_tag(packages: Sequence[str]) -> str:
    return f"{BASE_REPOSITORY}:{base_hash(packages)}"


def has_image(client: docker.DockerClient, tag: str) -> bool:
    """Whether the daemon holds an image named ``tag``."""
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.DockerException as exc:
        raise SandboxError(f"cannot inspect image {tag}: {exc}") from exc
    return True


def build_base_rootfs(work_dir: Path, packages: Sequence[str], mirror: str) -> Path:
    """Debootstrap a minimal bookworm root into ``work_dir/rootfs`` and tar it.

    Returns the tarball's path. Raises:
        SandboxError: not root, or debootstrap/tar failed.
    """
    if os.geteuid() != 0:
        raise SandboxError("debootstrap needs root to build the sandbox base image")
    rootfs = work_dir / "rootfs"
    cmd = [
        "debootstrap", f"--variant={VARIANT}", f"--include={','.join(packages)}",
        SUITE, str(rootfs), mirror,
    ]  # fmt: skip
    _run(cmd, "debootstrap failed")
    for relative in _PRUNE:
        target = rootfs / relative
        for child in target.glob("*"):
            if child.is_file():
                child.unlink()
    tarball = work_dir / "rootfs.tar"
    # numeric owners: the image must keep root:root files whatever the host's names are.
    _run(
        ["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf", str(tarball), "."],
        "tar of the base root failed",
    )
    shutil.rmtree(rootfs)
    return tarball


def import_base(client: docker.DockerClient, tarball: Path, tag: str) -> None:
    """``docker import`` the tarball as ``tag``.

    Raises:
        SandboxError: the daemon refused the import.
    """
    repository, _, version = tag.partition(":")
    try:
        client.api.import_image_from_file(str(tarball), repository=repository, tag=version)
    except docker.errors.DockerException as exc:
        raise SandboxError(f"docker import of {tag} failed: {exc}") from exc
    if not has_image(client, tag):
        raise SandboxError(f"docker import reported success but {tag} is missing")


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SandboxError(
            what, details={"command": cmd[0], "output": proc.stdout[-2000:] + proc.stderr[-2000:]}
        )
