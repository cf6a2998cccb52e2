"""``warden image build``: the sandbox image, built offline and cached by content hash.

Steps: the Claude Code binary (from the pinned wheel), the Debian base root
(debootstrap from the host's apt mirror), its ``docker import``, and ``docker build``
of ``images/sandbox/``. The image is tagged ``warden-sandbox:<hash>`` and with the
configured name; a build whose hash already exists is skipped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import docker
import docker.errors

from runner.errors import SandboxError
from runner.sandbox import base_image
from runner.sandbox.claude_binary import ensure_claude_binary
from runner.sandbox.image_build import (
    BuildProgress,
    BuildResult,
    SilentProgress,
    docker_build,
    ensure_base,
    get_image,
    tag_image,
)
from runner.sandbox.shims import build_shims

HASH_REPOSITORY = "warden-sandbox"
#: Bump when the build procedure changes in a way the hashed files do not show.
_HASH_SCHEME = "sandbox-v1"
STEPS = ("claude binary", "base rootfs", "import", "docker build")


class ImageSettings(Protocol):
    """The settings an image build reads (``runner.settings.Settings`` has them)."""

    @property
    def cache_dir(self) -> Path: ...

    @property
    def claude_sdk_version(self) -> str: ...

    @property
    def image(self) -> str: ...


@dataclass(frozen=True)
class ImageStatus:
    tag: str
    hash_tag: str
    content_hash: str
    image_id: str | None
    is_built: bool
    is_tagged: bool
    claude_version: str | None


def default_image_dir() -> Path:
    """``images/sandbox`` of this source tree.

    Raises:
        SandboxError: the directory is not there (a wheel install without the repo).
    """
    path = Path(__file__).resolve().parents[2] / "images" / "sandbox"
    if not (path / "Dockerfile").is_file():
        raise SandboxError(f"no sandbox image definition at {path}; pass --context DIR")
    return path


def content_hash(image_dir: Path, sdk_version: str, base: str | None = None) -> str:
    """Hash of everything that shapes the image: its files (bytes and exec bit), the
    package list, the Debian suite, the Claude SDK version and an explicit base.
    Deliberately not the mirror URL: any mirror serves the same packages."""
    digest = hashlib.sha256(f"{_HASH_SCHEME}\n{sdk_version}\n{base or ''}\n".encode())
    packages = base_image.read_packages(image_dir / "packages.txt")
    digest.update(f"{base_image.SUITE}:{base_image.VARIANT}:{','.join(packages)}\n".encode())
    for path in sorted(p for p in image_dir.iterdir() if p.is_file()):
        executable = os.access(path, os.X_OK)
        digest.update(f"{path.name}\0{int(executable)}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def image_status(
    client: docker.DockerClient, settings: ImageSettings, *, image_dir: Path | None = None,
    base: str | None = None,
) -> ImageStatus:  # fmt: skip
    """Whether the image for the current definition is built and tagged."""
    chash = content_hash(image_dir or default_image_dir(), settings.claude_sdk_version, base)
    hash_tag = f"{HASH_REPOSITORY}:{chash}"
    image = get_image(client, hash_tag)
    tagged = get_image(client, settings.image)
    return ImageStatus(
        tag=settings.image, hash_tag=hash_tag, content_hash=chash,
        image_id=image.id if image else None, is_built=image is not None,
        is_tagged=bool(image and tagged and tagged.id == image.id),
        claude_version=(image.labels or {}).get("warden.claude.version") if image else None,
    )  # fmt: skip


def build_image(
    client: docker.DockerClient,
    settings: ImageSettings,
    *,
    force: bool = False,
    tag: str | None = None,
    base: str | None = None,
    mirror: str | None = None,
    image_dir: Path | None = None,
    progress: BuildProgress | None = None,
) -> BuildResult:
    """Build the sandbox image unless one with the same content hash exists.

    Args:
        tag: extra name for the image (default ``settings.image``).
        base: a registry base image; None builds the offline debootstrap base.
        mirror: Debian mirror URL; None reads the host's apt sources.
        force: rebuild the base and the image even if cached.

    Raises:
        SandboxError: a step failed (debootstrap, import, build).
    """
    began = time.monotonic()
    image_dir = image_dir or default_image_dir()
    tag = tag or settings.image
    chash = content_hash(image_dir, settings.claude_sdk_version, base)
    hash_tag = f"{HASH_REPOSITORY}:{chash}"
    existing = None if force else get_image(client, hash_tag)
    if existing is not None:
        tag_image(existing, tag)
        return BuildResult(tag, hash_tag, chash, existing.id or "", base or "", True,
                           time.monotonic() - began)  # fmt: skip
    steps = progress or SilentProgress()
    steps.start("claude binary")
    binary = ensure_claude_binary(settings.cache_dir, settings.claude_sdk_version)
    claude_version = _claude_version(binary)
    steps.finish("claude binary", claude_version)
    packages = base_image.read_packages(image_dir / "packages.txt")
    base_ref = base or ensure_base(client, settings.cache_dir, packages, mirror, force, steps)
    steps.start("docker build")
    context = _stage_context(settings.cache_dir, image_dir, binary)
    buildargs = {
        "BASE": base_ref, "CONTENT_HASH": chash, "CLAUDE_VERSION": claude_version,
        "PACKAGES": " ".join(packages),
    }  # fmt: skip
    try:
        image_id = docker_build(client, context, hash_tag, buildargs, steps)
    finally:
        shutil.rmtree(context, ignore_errors=True)
    image = client.images.get(image_id)
    tag_image(image, tag)
    steps.finish("docker build", f"{hash_tag} ({image_id[:19]})")
    return BuildResult(tag, hash_tag, chash, image_id, base_ref, False, time.monotonic() - began)


def _stage_context(cache_dir: Path, image_dir: Path, binary: Path) -> Path:
    """Copy the image files and the binary into a build context under the cache."""
    # A directory of its own per build: two builds at once (two checkouts, one cache)
    # must not empty each other's context.
    cache_dir.mkdir(parents=True, exist_ok=True)
    context = Path(tempfile.mkdtemp(dir=cache_dir, prefix="image-context-"))
    for path in image_dir.iterdir():
        if path.is_file():
            shutil.copyfile(path, context / path.name)
            (context / path.name).chmod(0o755 if os.access(path, os.X_OK) else 0o644)
    target = context / "claude"
    try:
        os.link(binary, target)  # the binary is ~370 MB: share it, do not copy it
    except OSError:
        shutil.copyfile(binary, target)
    target.chmod(0o755)
    try:
        build_shims(image_dir, context)
    except BaseException:
        shutil.rmtree(context, ignore_errors=True)
        raise
    return context


def _claude_version(binary: Path) -> str:
    proc = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    if proc.returncode != 0 or not proc.stdout.strip():
        raise SandboxError(f"{binary} --version failed", details={"stderr": proc.stderr[-500:]})
    return proc.stdout.split()[0]
