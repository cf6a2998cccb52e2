"""What sandbox images this Docker engine holds, and what each one contains.

``warden image list`` reads the labels every build sets (profile, content hash, Claude
Code version, declared packages) and ``warden image manifest`` the full manifest file
each build writes (every Debian package and version, ``/etc/warden/manifest.json``).
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors

from runner.errors import ImageNotFoundError, SandboxError
from runner.sandbox.profiles import REPOSITORY

MANIFEST_PATH = "/etc/warden/manifest.json"
_MAX_MANIFEST_BYTES = 8 * 1024**2


@dataclass(frozen=True)
class CatalogEntry:
    """One sandbox image: its id, names, size and what its labels say it holds."""

    id: str
    tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    size_bytes: int
    created: str
    profile: str | None
    content_hash: str | None
    claude_version: str | None
    packages: tuple[str, ...]  # the sandbox image's own
    profile_packages: tuple[str, ...]  # what the profile adds

    @property
    def holds(self) -> str:
        """What the image holds, in words: its packages, a profile's after a ``+``."""
        if not self.profile_packages:
            return " ".join(self.packages) or "-"
        return "sandbox + " + " ".join(self.profile_packages)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "tags": list(self.tags), "repoDigests": list(self.repo_digests),
            "sizeBytes": self.size_bytes, "created": self.created, "profile": self.profile,
            "contentHash": self.content_hash, "claudeVersion": self.claude_version,
            "packages": list(self.packages), "profilePackages": list(self.profile_packages),
        }  # fmt: skip


def list_images(client: docker.DockerClient, repository: str = REPOSITORY) -> list[CatalogEntry]:
    """Every image with a tag in ``repository``, newest first.

    Raises:
        SandboxError: the engine cannot be asked.
    """
    try:
        images = client.images.list(name=repository)
    except docker.errors.DockerException as exc:
        raise SandboxError(f"cannot list images: {exc}") from exc
    entries = [_entry(image.attrs) for image in images]
    return sorted(entries, key=lambda e: e.created, reverse=True)


def _entry(attrs: dict[str, Any]) -> CatalogEntry:
    labels: dict[str, str] = dict((attrs.get("Config") or {}).get("Labels") or {})
    return CatalogEntry(
        id=str(attrs.get("Id", "")),
        tags=tuple(sorted(attrs.get("RepoTags") or ())),
        repo_digests=tuple(attrs.get("RepoDigests") or ()),
        size_bytes=int(attrs.get("Size") or 0),
        created=str(attrs.get("Created", "")),
        profile=labels.get("warden.profile"),
        content_hash=labels.get("warden.image.hash"),
        claude_version=labels.get("warden.claude.version"),
        packages=tuple(labels.get("warden.packages", "").split()),
        profile_packages=tuple(labels.get("warden.profile.packages", "").split()),
    )


def read_manifest(client: docker.DockerClient, image: str) -> dict[str, Any]:
    """The manifest file of ``image``, read from a container that is created, never started.

    Raises:
        ImageNotFoundError: no such image.
        SandboxError: the image has no readable manifest (built before manifests existed).
    """
    try:
        container = client.containers.create(image, network_disabled=True)
    except docker.errors.ImageNotFound as exc:
        raise ImageNotFoundError(f"no image {image} on this Docker engine") from exc
    except docker.errors.DockerException as exc:
        raise SandboxError(f"cannot open image {image}: {exc}") from exc
    try:
        stream, _stat = container.get_archive(MANIFEST_PATH)
        data = b"".join(stream)
    except docker.errors.NotFound as exc:
        raise SandboxError(f"{image} has no {MANIFEST_PATH}; rebuild it") from exc
    except docker.errors.DockerException as exc:
        raise SandboxError(f"cannot read the manifest of {image}: {exc}") from exc
    finally:
        container.remove(force=True)
    return _parse(image, data)


def _parse(image: str, archive: bytes) -> dict[str, Any]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        member = next((m for m in tar.getmembers() if m.isfile()), None)
        handle = tar.extractfile(member) if member is not None else None
        if handle is None or (member is not None and member.size > _MAX_MANIFEST_BYTES):
            raise SandboxError(f"{image}: {MANIFEST_PATH} is not a readable file")
        text = handle.read()
    try:
        manifest = json.loads(text)
    except ValueError as exc:
        raise SandboxError(f"{image}: {MANIFEST_PATH} is not JSON") from exc
    if not isinstance(manifest, dict):
        raise SandboxError(f"{image}: {MANIFEST_PATH} is not a JSON object")
    return manifest
