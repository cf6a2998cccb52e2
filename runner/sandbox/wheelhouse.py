"""The wheels the controller image installs: Warden's own, built from this source tree,
and its dependencies from PyPI, for the image's Python and platform. Dependencies are
pinned to the versions installed where the build runs (the ones the tests ran with);
a package that is not installed here gets PyPI's newest matching release.

Both steps run on the host (which reaches PyPI); the image build itself needs no
network. The sources are copied to a scratch directory first, so building the wheel
never writes into the checkout.
"""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from runner.errors import SandboxError

#: Debian bookworm's Python, which the controller image runs.
PYTHON_VERSION = "3.11"
#: bookworm's glibc is 2.36: wheels for it and every older glibc run there.
_GLIBC_MINOR = 36
_LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
#: What goes into Warden's wheel (pyproject.toml names README.md as the readme).
WHEEL_SOURCES = ("pyproject.toml", "README.md", "runner", "audit")
#: The extras the controller image installs: PostgreSQL and the Kubernetes client.
EXTRAS = "postgres,k8s"
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


def build_wheelhouse(root: Path, dest: Path, scratch: Path) -> list[Path]:
    """Build Warden's wheel from ``root`` and download its dependencies into ``dest``.

    Returns the wheel files. Raises:
        SandboxError: the build or a download failed.
    """
    dest.mkdir(parents=True, exist_ok=True)
    source = scratch / "source"
    for name in WHEEL_SOURCES:
        path = root / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=_IGNORE)
        else:
            source.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, source / name)
    _pip(["wheel", "--no-deps", "--wheel-dir", str(dest), str(source)], "building Warden's wheel")
    wheels = sorted(dest.glob("warden-*.whl"))
    if len(wheels) != 1:
        raise SandboxError(f"expected one Warden wheel, found {[w.name for w in wheels]}")
    requirement = f"warden[{EXTRAS}] @ {wheels[0].resolve().as_uri()}"
    constraints = scratch / "constraints.txt"
    constraints.write_text(installed_versions(), encoding="utf-8")
    _pip(
        [
            "download", "--dest", str(dest), "--only-binary=:all:", "-c", str(constraints),
            *_platform_args(_machine()), "--python-version", PYTHON_VERSION,
            "--implementation", "cp", requirement,
        ],
        "downloading Warden's dependencies from PyPI",
    )  # fmt: skip
    return sorted(dest.glob("*.whl"))


def installed_versions() -> str:
    """``name==version`` of every distribution installed in this interpreter but Warden."""
    pins = {
        dist.metadata["Name"].lower(): dist.version
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"] and dist.metadata["Name"].lower() != "warden"
    }
    return "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))


def _platform_args(machine: str) -> list[str]:
    """``--platform`` for every manylinux tag bookworm runs (pip does not expand one)."""
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(_GLIBC_MINOR, 4, -1)]
    tags += [f"{name}_{machine}" for name in _LEGACY_MANYLINUX.values()]
    return [arg for tag in tags for arg in ("--platform", tag)]


def _machine() -> str:
    machine = platform.machine()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine.lower(), machine)


def _pip(args: list[str], what: str) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)
    if proc.returncode != 0:
        raise SandboxError(f"{what} failed", details={"output": proc.stderr[-3000:]})
