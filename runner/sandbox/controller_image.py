"""``warden image build --controller``: the controller image (the top-level ``Dockerfile``).

Built offline like the sandbox image: a debootstrap base with Debian's Python
(``images/controller/packages.txt``), then ``docker build`` of a staged context holding
the Dockerfile, ``images/controller/``, ``policies/`` and ``wheels/`` (Warden's wheel,
built from this checkout, and its dependencies, fetched from PyPI on the host). The
result is tagged ``warden-controller:<content hash>``, ``:<version>`` and ``:latest``;
a build whose content hash exists is skipped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker

from runner import __version__
from runner.errors import SandboxError
from runner.sandbox import base_image
from runner.sandbox.image_build import (
    BuildProgress,
    BuildResult,
    SilentProgress,
    docker_build,
    ensure_base,
    get_image,
    tag_image,
)
from runner.sandbox.wheelhouse import WHEEL_SOURCES, build_wheelhouse

REPOSITORY = "warden-controller"
#: Bump when the build procedure changes in a way the hashed files do not show.
_HASH_SCHEME = "controller-v1"
STEPS = ("wheels", "base rootfs", "import", "docker build")
_DEFINITION = Path("images") / "controller"
#: Everything the image is made of, besides the Dockerfile and the definition dir.
_HASHED = (*WHEEL_SOURCES, "policies")
_SKIPPED_PARTS = frozenset({"__pycache__"})
_SKIPPED_SUFFIXES = (".pyc", ".egg-info")


@dataclass(frozen=True)
class ControllerImageStatus:
    hash_tag: str
    content_hash: str
    image_id: str | None
    tags: tuple[str, ...]

    @property
    def is_built(self) -> bool:
        return self.image_id is not None


def source_root() -> Path:
    """The checkout this module runs from (the image builds from its sources).

    Raises:
        SandboxError: this is an installed wheel, not a checkout with the Dockerfile.
    """
    root = Path(__file__).resolve().parents[2]
    if not (root / "Dockerfile").is_file() or not (root / _DEFINITION).is_dir():
        raise SandboxError(
            f"no controller image definition at {root}: build it from a Warden checkout"
        )
    return root


def controller_packages(root: Path) -> list[str]:
    return base_image.read_packages(root / _DEFINITION / "packages.txt")


def content_hash(root: Path, base: str | None = None) -> str:
    """Hash of everything that shapes the image: the Dockerfile, the definition dir, the
    package list and suite, Warden's sources (the wheel) and the shipped policies, with
    each file's path, bytes and exec bit. Not the mirror, not the git revision."""
    digest = hashlib.sha256(f"{_HASH_SCHEME}\n{base or ''}\n".encode())
    packages = controller_packages(root)
    digest.update(f"{base_image.SUITE}:{base_image.VARIANT}:{','.join(packages)}\n".encode())
    for path in _hashed_files(root):
        relative = path.relative_to(root).as_posix()
        digest.update(f"{relative}\0{int(os.access(path, os.X_OK))}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def _hashed_files(root: Path) -> Iterator[Path]:
    yield root / "Dockerfile"
    for top in (_DEFINITION, *_HASHED):
        path = root / top
        candidates = [path] if path.is_file() else sorted(path.rglob("*"))
        for candidate in candidates:
            if candidate.is_file() and not _is_skipped(candidate.relative_to(root)):
                yield candidate


def _is_skipped(relative: Path) -> bool:
    return bool(_SKIPPED_PARTS.intersection(relative.parts)) or any(
        part.endswith(_SKIPPED_SUFFIXES) for part in relative.parts
    )


def version_tags() -> tuple[str, str]:
    return f"{REPOSITORY}:{__version__}", f"{REPOSITORY}:latest"


def controller_image_status(
    client: docker.DockerClient, *, base: str | None = None
) -> ControllerImageStatus:
    """Whether the image for the current sources is built, and under which names."""
    chash = content_hash(source_root(), base)
    hash_tag = f"{REPOSITORY}:{chash}"
    image = get_image(client, hash_tag)
    return ControllerImageStatus(
        hash_tag, chash, image.id if image else None, tuple(image.tags) if image else ()
    )


def build_controller_image(
    client: docker.DockerClient,
    cache_dir: Path,
    *,
    force: bool = False,
    base: str | None = None,
    mirror: str | None = None,
    source: str | None = None,
    extra_tag: str | None = None,
    progress: BuildProgress | None = None,
) -> BuildResult:
    """Build the controller image unless one with the same content hash exists.

    Args:
        base: a registry base image; None builds the offline debootstrap base.
        mirror: Debian mirror URL; None reads the host's apt sources.
        source: the ``org.opencontainers.image.source`` label (default: the git remote).
        extra_tag: one more name besides ``:<hash>``, ``:<version>`` and ``:latest``.

    Raises:
        SandboxError: a step failed (wheel build, PyPI download, debootstrap, build).
    """
    began = time.monotonic()
    root = source_root()
    chash = content_hash(root, base)
    hash_tag = f"{REPOSITORY}:{chash}"
    tags = [*version_tags(), *([extra_tag] if extra_tag else [])]
    existing = None if force else get_image(client, hash_tag)
    if existing is not None:
        for tag in tags:
            tag_image(existing, tag)
        return BuildResult(tags[-1], hash_tag, chash, existing.id or "", base or "", True,
                           time.monotonic() - began)  # fmt: skip
    steps = progress or SilentProgress()
    cache_dir.mkdir(parents=True, exist_ok=True)
    # A directory of its own per build: two checkouts may build at once on one cache.
    context = Path(tempfile.mkdtemp(dir=cache_dir, prefix="controller-context-"))
    try:
        steps.start("wheels")
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix="controller-wheel-") as scratch:
            wheels = build_wheelhouse(root, context / "wheels", Path(scratch))
        steps.finish("wheels", f"{len(wheels)} wheels")
        base_ref = base or ensure_base(
            client, cache_dir, controller_packages(root), mirror, force, steps
        )
        steps.start("docker build")
        _stage(root, context)
        buildargs = {
            "BASE": base_ref, "CONTENT_HASH": chash, "VERSION": __version__,
            "REVISION": _git(root, "rev-parse", "HEAD") or "unknown",
            "SOURCE": source or _remote_url(root),
        }  # fmt: skip
        image_id = docker_build(client, context, hash_tag, buildargs, steps)
    finally:
        shutil.rmtree(context, ignore_errors=True)
    image = client.images.get(image_id)
    for tag in tags:
        tag_image(image, tag)
    steps.finish("docker build", f"{hash_tag} ({image_id[:19]})")
    return BuildResult(tags[-1], hash_tag, chash, image_id, base_ref, False,
                       time.monotonic() - began)  # fmt: skip


def _stage(root: Path, context: Path) -> None:
    """Copy the Dockerfile, the definition dir and the policies into the context."""
    shutil.copyfile(root / "Dockerfile", context / "Dockerfile")
    for top in (_DEFINITION, Path("policies")):
        shutil.copytree(root / top, context / top, ignore=shutil.ignore_patterns("__pycache__"))
    # The classic builder has no COPY --chmod: modes come from the context.
    for path in (context / _DEFINITION).iterdir():
        path.chmod(0o755 if os.access(root / _DEFINITION / path.name, os.X_OK) else 0o644)


def _remote_url(root: Path) -> str:
    """The git remote, when it is a network URL (a local path says nothing to others)."""
    url = _git(root, "config", "--get", "remote.origin.url")
    return url if url and ("://" in url or url.startswith("git@")) else "unknown"


def _git(root: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=30, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None
