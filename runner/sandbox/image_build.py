"""Shared steps of Warden's offline image builds: the debootstrap base, ``docker build``
with progress, looking up and tagging images.

Both the sandbox image (``image.py``) and the controller image (``controller_image.py``)
build this way: no registry, a base made from the host's Debian mirror, and a result
named by its content hash so an unchanged definition is never rebuilt.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import docker
import docker.errors

from runner.errors import SandboxError
from runner.sandbox import base_image
from runner.sandbox.apt_mirror import host_debian_mirror


class BuildProgress(Protocol):
    """Receives the build's steps and builder output lines."""

    def start(self, step: str) -> None: ...
    def finish(self, step: str, detail: str) -> None: ...
    def log(self, line: str) -> None: ...


@dataclass(frozen=True)
class BuildResult:
    tag: str
    hash_tag: str
    content_hash: str
    image_id: str
    base: str
    is_skipped: bool
    seconds: float


class SilentProgress:
    """A ``BuildProgress`` that shows nothing."""

    def start(self, step: str) -> None:
        pass

    def finish(self, step: str, detail: str) -> None:
        pass

    def log(self, line: str) -> None:
        pass


def ensure_base(
    client: docker.DockerClient, cache_dir: Path, packages: Sequence[str], mirror: str | None,
    force: bool, steps: BuildProgress,
) -> str:  # fmt: skip
    """The offline base holding ``packages`` (``warden-base:<hash>``), built if missing.

    Raises:
        SandboxError: debootstrap or the import failed, or no apt source names the suite.
    """
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


def docker_build(
    client: docker.DockerClient, context: Path, tag: str, buildargs: dict[str, str],
    steps: BuildProgress, *, network_mode: str | None = None,
) -> str:  # fmt: skip
    """``docker build`` of ``context`` (never pulling) as ``tag``; returns the image id.

    ``network_mode`` (e.g. ``host``) is the network of the build's RUN steps only.

    Raises:
        SandboxError: the build failed or produced no image.
    """
    image_id = ""
    try:
        stream = client.api.build(
            path=str(context), tag=tag, buildargs=buildargs, rm=True, forcerm=True,
            pull=False, decode=True, network_mode=network_mode,
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


def get_image(client: docker.DockerClient, name: str) -> Any:
    """The image named ``name``, or None.

    Raises:
        SandboxError: the daemon could not be asked.
    """
    try:
        return client.images.get(name)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.DockerException as exc:
        raise SandboxError(f"cannot inspect image {name}: {exc}") from exc


def tag_image(image: Any, tag: str) -> None:
    """Name ``image`` as ``tag`` (``repository[:version]``, default version ``latest``).

    Raises:
        SandboxError: the daemon refused.
    """
    repository, _, version = tag.rpartition(":") if ":" in tag.split("/")[-1] else (tag, "", "")
    try:
        image.tag(repository, version or "latest")
    except docker.errors.DockerException as exc:
        raise SandboxError(f"cannot tag image as {tag}: {exc}") from exc
