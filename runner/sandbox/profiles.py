"""Toolchain profiles (``images/profiles/``): the sandbox image plus Debian packages.

Each profile is a tag of the sandbox repository, ``warden-sandbox:<name>`` (and
``warden-sandbox:<name>-<hash>``), so policies' ``warden-sandbox:*`` patterns match it.
Its content hash covers the sandbox image's hash, the profile's entry and the layer's
Dockerfile: a profile rebuilds exactly when one of them changed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from runner.errors import InvalidInputError, SandboxError

REPOSITORY = "warden-sandbox"
#: Bump when the profile build procedure changes in a way the hashed files do not show.
_HASH_SCHEME = "profile-v1"
_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}")
_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+")
#: Tags the sandbox repository already uses for other things.
_RESERVED = frozenset({"latest", "base"})


@dataclass(frozen=True)
class Profile:
    """One toolchain image: a name, what it is for, and the Debian packages it adds."""

    name: str
    description: str
    packages: tuple[str, ...]

    @property
    def tag(self) -> str:
        return f"{REPOSITORY}:{self.name}"

    def hash_tag(self, content_hash: str) -> str:
        return f"{REPOSITORY}:{self.name}-{content_hash}"


def default_profiles_dir() -> Path:
    """``images/profiles`` of this source tree.

    Raises:
        SandboxError: the directory is not there (a wheel install without the repo).
    """
    path = Path(__file__).resolve().parents[2] / "images" / "profiles"
    if not (path / "profiles.yaml").is_file():
        raise SandboxError(f"no image profiles at {path}")
    return path


def load_profiles(profiles_dir: Path | None = None) -> dict[str, Profile]:
    """The profiles in ``profiles.yaml``, by name, in file order.

    Raises:
        SandboxError: the file is missing or malformed (it ships with Warden).
    """
    path = (profiles_dir or default_profiles_dir()) / "profiles.yaml"
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SandboxError(f"cannot read {path}: {exc}") from exc
    if not isinstance(loaded, dict) or not loaded:
        raise SandboxError(f"{path}: expected a mapping of profile names to entries")
    return {str(name): _profile(path, str(name), entry) for name, entry in loaded.items()}


def _profile(path: Path, name: str, entry: object) -> Profile:
    if not _NAME.fullmatch(name) or name in _RESERVED:
        raise SandboxError(f"{path}: {name!r} is not a usable profile name")
    if not isinstance(entry, dict):
        raise SandboxError(f"{path}: profile {name!r} must be a mapping")
    packages = entry.get("packages")
    if not isinstance(packages, list) or not packages:
        raise SandboxError(f"{path}: profile {name!r} needs a list of packages")
    for package in packages:
        # The names go into an apt-get command line: Debian package names only.
        if not isinstance(package, str) or not _PACKAGE.fullmatch(package):
            raise SandboxError(f"{path}: profile {name!r}: bad package name {package!r}")
    return Profile(name, str(entry.get("description") or ""), tuple(packages))


def profile(name: str, profiles_dir: Path | None = None) -> Profile:
    """The named profile.

    Raises:
        InvalidInputError: no profile has that name (the message lists them).
    """
    known = load_profiles(profiles_dir)
    if name not in known:
        raise InvalidInputError(
            f"unknown image profile {name!r}; profiles: {', '.join(known)}",
            details={"profile": name, "known": list(known)},
        )
    return known[name]


def profile_hash(base_hash: str, chosen: Profile, profiles_dir: Path | None = None) -> str:
    """Content hash of a profile image; never the mirror URL (any mirror serves the same)."""
    folder = profiles_dir or default_profiles_dir()
    digest = hashlib.sha256(f"{_HASH_SCHEME}\n{base_hash}\n{chosen.name}\n".encode())
    digest.update(f"{chosen.description}\n{' '.join(chosen.packages)}\n".encode())
    digest.update(hashlib.sha256((folder / "Dockerfile").read_bytes()).digest())
    return digest.hexdigest()[:16]


def build_hint(image: str, profiles_dir: Path | None = None) -> str:
    """The command that builds ``image``, when Warden knows how to."""
    repository, _, name = image.rpartition(":")
    if repository != REPOSITORY:
        return f"pull or build {image} on this Docker engine first"
    try:
        known = load_profiles(profiles_dir)
    except SandboxError:
        known = {}
    if name in known:
        return f"run: warden image build --profile {name}"
    return "run: warden image build"
