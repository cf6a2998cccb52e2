"""``warden image build --profile NAME``: a toolchain layer on the sandbox image.

The layer installs the profile's Debian packages from the mirror the host's apt already
uses (read at build time, never written into the repository), so it needs the build's
network; the sessions that run the image still have none. Cached by content hash: a
profile whose hash tag exists is not rebuilt.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import docker

from runner.sandbox import base_image
from runner.sandbox.apt_mirror import host_debian_mirror
from runner.sandbox.image import ImageSettings
from runner.sandbox.image_build import (
    BuildProgress,
    BuildResult,
    SilentProgress,
    docker_build,
    get_image,
    tag_image,
)
from runner.sandbox.profiles import Profile, default_profiles_dir, profile_hash


def build_profile(
    client: docker.DockerClient,
    settings: ImageSettings,
    chosen: Profile,
    base: BuildResult,
    *,
    force: bool = False,
    mirror: str | None = None,
    profiles_dir: Path | None = None,
    progress: BuildProgress | None = None,
) -> BuildResult:
    """Build ``chosen`` on the sandbox image ``base`` unless its content hash is built.

    Tags it ``warden-sandbox:<name>`` and ``warden-sandbox:<name>-<hash>``.

    Raises:
        SandboxError: no mirror is configured, or the build failed.
    """
    began = time.monotonic()
    folder = profiles_dir or default_profiles_dir()
    chash = profile_hash(base.content_hash, chosen, folder)
    hash_tag = chosen.hash_tag(chash)
    existing = None if force else get_image(client, hash_tag)
    if existing is not None:
        tag_image(existing, chosen.tag)
        return BuildResult(chosen.tag, hash_tag, chash, existing.id or "", base.hash_tag, True,
                           time.monotonic() - began)  # fmt: skip
    steps = progress or SilentProgress()
    step = f"profile {chosen.name}"
    steps.start(step)
    buildargs = {
        "BASE": base.hash_tag,
        "MIRROR": mirror or host_debian_mirror(base_image.SUITE),
        "SUITE": base_image.SUITE,
        "PROFILE": chosen.name,
        "PACKAGES": " ".join(chosen.packages),
        "CONTENT_HASH": chash,
    }
    context = _stage(settings.cache_dir, folder / "Dockerfile")
    try:
        # Host networking for apt only: the mirror may be a proxy on this machine.
        image_id = docker_build(client, context, hash_tag, buildargs, steps, network_mode="host")
    finally:
        shutil.rmtree(context, ignore_errors=True)
    image = client.images.get(image_id)
    tag_image(image, chosen.tag)
    steps.finish(step, f"{hash_tag} ({image_id[:19]})")
    return BuildResult(chosen.tag, hash_tag, chash, image_id, base.hash_tag, False,
                       time.monotonic() - began)  # fmt: skip


def _stage(cache_dir: Path, dockerfile: Path) -> Path:
    """A build context of its own (two builds at once must not share one): the Dockerfile."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    context = Path(tempfile.mkdtemp(dir=cache_dir, prefix="profile-context-"))
    shutil.copyfile(dockerfile, context / "Dockerfile")
    return context
