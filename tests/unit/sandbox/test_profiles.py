"""Toolchain profiles: the shipped definitions, their content hash, and build hints."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runner.errors import InvalidInputError, SandboxError
from runner.sandbox.profiles import (
    build_hint,
    default_profiles_dir,
    load_profiles,
    profile,
    profile_hash,
)


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "profiles"
    shutil.copytree(default_profiles_dir(), target)
    return target


def test_shipped_profiles_hold_the_toolchains_and_tag_the_sandbox_repository() -> None:
    """python, node, go and build exist, carry their toolchains, and are warden-sandbox tags."""
    profiles = load_profiles()
    assert list(profiles) == ["python", "node", "go", "build"]
    assert {"python3", "python3-pip", "python3-venv", "python3-pytest"} <= set(
        profiles["python"].packages
    )
    assert {"nodejs", "npm"} <= set(profiles["node"].packages)
    assert "golang-go" in profiles["go"].packages
    assert "build-essential" in profiles["build"].packages
    assert profiles["python"].tag == "warden-sandbox:python"
    assert profiles["python"].hash_tag("abc") == "warden-sandbox:python-abc"


def test_profile_hash_follows_the_base_the_entry_and_the_dockerfile(tmp_path: Path) -> None:
    """A new base image, another package or an edited layer Dockerfile each change the hash."""
    folder = _copy(tmp_path)
    python = profile("python", folder)
    before = profile_hash("base1", python, folder)
    assert profile_hash("base1", python, folder) == before
    assert profile_hash("base2", python, folder) != before
    assert profile_hash("base1", profile("node", folder), folder) != before
    (folder / "profiles.yaml").write_text(
        (folder / "profiles.yaml").read_text().replace("python3-pytest]", "python3-pytest, tox]")
    )
    assert profile_hash("base1", profile("python", folder), folder) != before
    dockerfile = folder / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "\n# edited\n")
    assert profile_hash("base1", python, folder) != before


def test_unknown_profile_names_the_known_ones() -> None:
    """Asking for a profile that does not exist is a 4xx-style error listing the profiles."""
    with pytest.raises(InvalidInputError, match="unknown image profile 'rust'; profiles: python"):
        profile("rust")


@pytest.mark.parametrize(
    "text",
    [
        "latest: {packages: [x1]}",  # a tag the repository already uses
        "py: {packages: []}",
        "py: {packages: ['python3; rm -rf /']}",  # names go onto apt-get's command line
        "py: [python3]",
    ],
)
def test_malformed_profile_files_are_refused(tmp_path: Path, text: str) -> None:
    """Reserved names, empty lists, shell text as a package, and non-mappings are errors."""
    (tmp_path / "profiles.yaml").write_text(text)
    with pytest.raises(SandboxError):
        load_profiles(tmp_path)


def test_build_hint_names_the_command_that_builds_the_image() -> None:
    """A missing profile image names its --profile build; others say what to do."""
    assert build_hint("warden-sandbox:python") == "run: warden image build --profile python"
    assert build_hint("warden-sandbox:latest") == "run: warden image build"
    other = build_hint("acme/sandbox:1")
    assert other == "pull or build acme/sandbox:1 on this Docker engine first"
