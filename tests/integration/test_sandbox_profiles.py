"""Toolchain profiles: warden-sandbox:python holds Python and pytest, works with no network,
carries its manifest, and is cached by content hash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import docker
import pytest

from runner.sandbox.image import BuildResult
from runner.sandbox.profile_build import build_profile
from runner.sandbox.profiles import profile
from runner.settings import CLAUDE_CODE_VERSION, Settings
from tests.conftest import TEST_LABELS
from tests.integration.sandbox_support import (  # noqa: F401 (fixtures)
    python_image,
    sandbox_image,
)

pytestmark = pytest.mark.docker


def _warden(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner.cli", *args],
        env=os.environ.copy(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_python_profile_runs_pytest_with_no_network(
    python_image: BuildResult,  # noqa: F811
    docker_client: docker.DockerClient,
) -> None:
    """python3, pytest, pip and venv work in a network-less, read-only container as warden."""
    script = (
        "python3 -m pytest --version && pip --version && python3 -m venv /tmp/v && echo venv-ok"
        " && id -un && ls /var/lib/apt/lists | wc -l"
    )
    output: bytes = docker_client.containers.run(
        python_image.hash_tag, ["-c", script], entrypoint=["/bin/bash"], network_mode="none",
        read_only=True, tmpfs={"/tmp": "rw,exec"}, labels=TEST_LABELS, remove=True,
        stdout=True, stderr=True,
    )  # fmt: skip
    text = output.decode()
    assert "pytest 7." in text and "pip " in text and "venv-ok" in text
    assert "\nwarden\n" in text
    assert text.rstrip().endswith("0")  # no apt lists left behind (and no mirror in them)


def test_the_manifest_lists_packages_versions_and_claude_code(
    python_image: BuildResult,  # noqa: F811
) -> None:
    """`warden image manifest` prints every Debian package with its version, and Claude Code."""
    result = _warden("image", "manifest", python_image.hash_tag)
    assert result.returncode == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest["profile"] == "python"
    assert manifest["contentHash"] == python_image.content_hash
    assert manifest["claudeCode"]["version"] == CLAUDE_CODE_VERSION
    versions = {p["name"]: p["version"] for p in manifest["debian"]["packages"]}
    for name in ("python3-pytest", "python3-pip", "python3-venv", "tmux", "socat", "bash"):
        assert versions.get(name), name


def test_image_list_shows_the_profile_its_digest_size_and_contents(
    python_image: BuildResult,  # noqa: F811
) -> None:
    """`warden image list` names each image's tags, profile, id, size and packages."""
    listed = json.loads(_warden("image", "list", "--json").stdout)
    entry = next(e for e in listed if e["id"] == python_image.image_id)
    assert python_image.hash_tag in entry["tags"] and entry["profile"] == "python"
    assert entry["sizeBytes"] > 100_000_000
    assert entry["claudeVersion"] == CLAUDE_CODE_VERSION
    assert "python3-pytest" in entry["profilePackages"] and "tmux" in entry["packages"]
    plain = _warden("image", "list").stdout  # into a pipe: whole lines, tab-separated
    line = next(row for row in plain.splitlines() if python_image.image_id in row)
    assert line.split("\t")[1] == "python" and "sandbox + python3" in line


def test_a_second_profile_build_is_a_cache_hit(
    python_image: BuildResult,  # noqa: F811
    sandbox_image: BuildResult,  # noqa: F811
    docker_client: docker.DockerClient,
) -> None:
    """Nothing changed: the build is skipped in seconds and names the same image."""
    began = time.monotonic()
    again = build_profile(docker_client, Settings(), profile("python"), sandbox_image)
    assert again.is_skipped and again.image_id == python_image.image_id
    assert time.monotonic() - began < 10
    assert docker_client.images.get("warden-sandbox:python").id == python_image.image_id
