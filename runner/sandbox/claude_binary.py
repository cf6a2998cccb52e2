"""The Claude Code CLI, taken from the pinned ``claude-agent-sdk`` wheel on PyPI.

The wheel bundles the native CLI at ``claude_agent_sdk/_bundled/claude``; npm is not
needed (and not reachable). The binary is cached per SDK version.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from runner.errors import SandboxError

_MEMBER = "claude_agent_sdk/_bundled/claude"


def claude_binary_path(cache_dir: Path, sdk_version: str) -> Path:
    """Where the binary of ``sdk_version`` lives once fetched."""
    return cache_dir / "claude" / sdk_version / "claude"


def ensure_claude_binary(cache_dir: Path, sdk_version: str) -> Path:
    """Return the cached Claude Code binary, downloading the wheel first if needed.

    Raises:
        SandboxError: pip could not fetch the wheel, or it holds no CLI.
    """
    target = claude_binary_path(cache_dir, sdk_version)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        wheel = _download_wheel(sdk_version, Path(tmp))
        with zipfile.ZipFile(wheel) as zf:
            try:
                info = zf.getinfo(_MEMBER)
            except KeyError as exc:
                raise SandboxError(f"{wheel.name} has no bundled Claude Code CLI") from exc
            extracted = Path(zf.extract(info, tmp))
        extracted.chmod(0o755)
        # rename is atomic: concurrent callers never see a half-written binary.
        extracted.replace(target)
    return target


def _download_wheel(sdk_version: str, into: Path) -> Path:
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--platform", "manylinux_2_17_x86_64", "--python-version", "3.11",
        "--dest", str(into), f"claude-agent-sdk=={sdk_version}",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SandboxError(
            f"could not download claude-agent-sdk=={sdk_version} from PyPI",
            details={"stderr": proc.stderr[-2000:]},
        )
    wheels = sorted(into.glob("claude_agent_sdk-*.whl"))
    if not wheels:
        raise SandboxError(f"pip downloaded no wheel for claude-agent-sdk=={sdk_version}")
    return wheels[0]
