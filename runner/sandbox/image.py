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
from typing import Any, Protocol

import docker
import docker.errors

from runner.errors import SandboxError
from runner.sandbox import base_image
from runner.sandbox.apt_mirror import host_debian_mirror
from runner.sandbox.claude_binary import ensure_claude_binary

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


class BuildProgress(Protocol):
    """Receives the build's steps (names from ``STEPS``) and builder output lines."""

    def start(self, step: str) -> None: ...
    def finish(self, step: str, detail: str) -> None: ...
    def log(self, line: str) -> None: ...


@dataclass(frozen=True)
class ImageStatus:
    tag: str
    hash_tag: str
    content_hash: str
    image_id: str | None
    is_built: bool
    is_tagged: bool
    claude_version: str | None


@dataclass(frozen=True)
class BuildResult:
    tag: str
    hash_tag: str
    content_hash: str
    image_id: str
    base: str
    is_skipped: bool
    seconds: float


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
    image = _get_image(client, hash_tag)
    tagged = _get_image(client, settings.image)
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
    existing = None if force else _get_image(client, hash_tag)
    if existing is not None:
        _tag(existing, tag)
        return BuildResult(tag, hash_tag, chash, existing.id or "", base or "", True,
                           time.monotonic() - began)  # fmt: skip
    steps = progress or _SilentProgress()
    steps.start("claude binary")
    binary = ensure_claude_binary(settings.cache_dir, settings.claude_sdk_version)
    claude_version = _claude_version(binary)
    steps.finish("claude binary", claude_version)
    base_ref = base or _ensure_base(client, settings.cache_dir, image_dir, mirror, force, steps)
    steps.start("docker build")
    context = _stage_context(settings.cache_dir, image_dir, binary)
    buildargs = {"BASE": base_ref, "CONTENT_HASH": chash, "CLAUDE_VERSION": claude_version}
    try:
        image_id = _docker_build(client, context, hash_tag, buildargs, steps)
    finally:
        shutil.rmtree(context, ignore_errors=True)
    image = client.images.get(image_id)
    _tag(image, tag)
    steps.finish("docker build", f"{hash_tag} ({image_id[:19]})")
    return BuildResult(tag, hash_tag, chash, image_id, base_ref, False, time.monotonic() - began)


def _ensure_base(
    client: docker.DockerClient, cache_dir: Path, image_dir: Path, mirror: str | None,
    force: bool, steps: BuildProgress,
) -> str:  # fmt: skip
    packages = base_image.read_packages(image_dir / "packages.txt")
    tag = base_image.base_tag(packages)
    if not force and base_image.has_image(client, tag):
        steps.finish("base rootfs", f"cached ({tag})")
        steps.finish("import", "cached")
        return tag
    url = mirror or host_debian_mirror(base_image.SUITE)
    parent = cache_dir / "base"
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=parent, prefix="build-") as tmp:
        steps.start("base rootfs")
        tarball = base_image.build_base_rootfs(Path(tmp), packages, url)
        steps.finish("base rootfs", f"{tarball.stat().st_size // 2**20} MiB")
        steps.start("import")
        base_image.import_base(client, tarball, tag)
        steps.finish("import", tag)
    return tag


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
    return context


def _docker_build(
    client: docker.DockerClient, context: Path, tag: str, buildargs: dict[str, str],
    steps: BuildProgress,
) -> str:  # fmt: skip
    image_id = ""
    try:
        stream = client.api.build(
            path=str(context), tag=tag, buildargs=buildargs, rm=True, forcerm=True,
            pull=False, decode=True,
        )  # fmt: skip
        for chunk in stream:
            image_id = _consume(chunk, steps) or image_id
    except docker.errors.DockerException as exc:
        raise SandboxError(f"docker build of {tag} failed: {exc}") from exc
    if not image_id:
        raise SandboxError(f"docker build of {tag} produced no image")
    return image_id


def _consume(chunk: dict[str, Any], steps: BuildProgress) -> str | None:
    if "error" in chunk:
        raise SandboxError("docker build failed", details={"error": str(chunk["error"])[-2000:]})
    line = str(chunk.get("stream", "")).rstrip()
    if line:
        steps.log(line)
    aux = chunk.get("aux")
    if isinstance(aux, dict) and "ID" in aux:
        return str(aux["ID"])
    return None


def _claude_version(binary: Path) -> str:
    proc = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    if proc.returncode != 0 or not proc.stdout.strip():
        raise SandboxError(f"{binary} --version failed", details={"stderr": proc.stderr[-500:]})
    return proc.stdout.split()[0]


def _get_image(client: docker.DockerClient, name: str) -> Any:
    try:
        return client.images.get(name)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.DockerException as exc:
        raise SandboxError(f"cannot inspect image {name}: {exc}") from exc


def _tag(image: Any, tag: str) -> None:
    repository, _, version = tag.rpartition(":") if ":" in tag.split("/")[-1] else (tag, "", "")
    try:
        image.tag(repository, version or "latest")
    except docker.errors.DockerException as exc:
        raise SandboxError(f"cannot tag image as {tag}: {exc}") from exc


class _SilentProgress:
    def start(self, step: str) -> None:
        pass

    def finish(self, step: str, detail: str) -> None:
        pass

    def log(self, line: str) -> None:
        pass
