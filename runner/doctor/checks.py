"""The doctor's checks, in the order they are printed. Each takes the shared ``Probe``."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx

from runner.doctor.probe import Probe, Result, skipped
from runner.doctor.runtimes import check_runtimes
from runner.errors import WardenError
from runner.sandbox.image import image_status
from runner.sandbox.quota import DiskVolumes
from runner.services.upstream import SCRIPTED
from runner.store.database import database_status

MIN_FREE_BYTES = 5 * 1024**3
_NO_ENGINE = "not checked: no Docker engine (see docker)"

Check = Callable[[Probe], Result]


def check_docker(probe: Probe) -> Result:
    client = probe.docker()
    if client is None:
        return Result(False, f"no Docker engine: {probe.docker_error}",
                      "start Docker, or point DOCKER_HOST at a running engine")  # fmt: skip
    return Result(True, f"Docker {client.version().get('Version', '?')}")


def check_image(probe: Probe) -> Result:
    client = probe.docker()
    if client is None:
        return skipped(_NO_ENGINE)
    settings = probe.settings
    try:
        status = image_status(client, settings)
    except WardenError as exc:
        return Result(False, exc.message, "run: warden image build")
    if not status.is_built:
        return Result(False, f"sandbox image {status.hash_tag} is not built",
                      "run: warden image build")  # fmt: skip
    if not status.is_tagged:
        return Result(False, f"{settings.image} is not the current image definition",
                      "run: warden image build (it retags)")  # fmt: skip
    return Result(True, f"image {settings.image} = {status.hash_tag}")


def check_claude(probe: Probe) -> Result:
    client = probe.docker()
    if client is None:
        return skipped(_NO_ENGINE)
    try:
        status = image_status(client, probe.settings)
    except WardenError as exc:
        return Result(False, exc.message)
    if not status.is_built:
        return skipped("not checked: the image is not built (see image)")
    if not status.claude_version:
        return Result(False, "the image names no Claude Code version",
                      "run: warden image build --force")  # fmt: skip
    sdk = probe.settings.claude_sdk_version
    version = status.claude_version
    return Result(True, f"Claude Code {version} in the image (claude-agent-sdk {sdk})")


def check_model(probe: Probe) -> Result:
    """Sessions need a model: the scripted one, or an upstream with a key."""
    settings = probe.settings
    if settings.model_upstream == SCRIPTED:
        return Result(True, "scripted model (offline; no key needed)")
    upstream = settings.model_upstream
    try:
        key = settings.upstream_key()
    except OSError as exc:
        return Result(False, f"cannot read WARDEN_UPSTREAM_API_KEY_FILE: {exc}",
                      "make the key file readable by this user")  # fmt: skip
    if not key:
        return Result(
            False, f"no model key: sessions cannot use {upstream}",
            "set WARDEN_UPSTREAM_API_KEY (or WARDEN_UPSTREAM_API_KEY_FILE), or"
            " WARDEN_MODEL_UPSTREAM=scripted for the offline scripted model",
        )  # fmt: skip
    try:
        httpx.get(upstream, timeout=5)  # any HTTP answer: the endpoint is reachable
    except httpx.HTTPError as exc:
        fix = "check the network or proxy (HTTPS_PROXY), or WARDEN_MODEL_UPSTREAM"
        return Result(False, f"cannot reach {upstream}: {exc}", fix)
    return Result(True, f"model upstream {upstream} (key set)")


def check_database(probe: Probe) -> Result:
    url = probe.settings.resolved_database_url
    try:
        status = database_status(url)
    except WardenError as exc:
        return Result(False, exc.message, "check WARDEN_DATABASE_URL and that the server runs")
    # Reachable is ready: a missing file or an older schema is migrated at the next start.
    return Result(True, status.describe())


def check_disk(probe: Probe) -> Result:
    data_dir = probe.settings.data_dir
    existing = _nearest_existing(data_dir)
    if not os.access(existing, os.W_OK):
        return Result(False, f"{existing} is not writable (data dir {data_dir})",
                      "set WARDEN_DATA_DIR to a directory this user can write")  # fmt: skip
    free = shutil.disk_usage(existing).free
    what = f"{free / 1024**3:.1f} GiB free under the data dir {data_dir}"
    if free < MIN_FREE_BYTES:
        fix = f"free space under {existing} (need 5 GiB), or set WARDEN_DATA_DIR"
        return Result(False, what, fix)
    return Result(True, what)


def check_quota(probe: Probe) -> Result:
    """Whether policies' ``container.disk`` can be enforced (a real, tiny loop mount)."""
    # The probe mounts in the system's temp dir, not the data dir: doctor creates nothing.
    support = DiskVolumes(Path(tempfile.gettempdir())).probe()
    if support.enforced:
        return Result(True, f"disk quotas enforced: {support.reason}")
    if not probe.settings.disk_quota_required:
        return Result(True, f"disk quotas NOT enforced ({support.reason}); allowed by settings")
    fix = (
        "run the controller as root with e2fsprogs and loop devices, or set"
        " WARDEN_DISK_QUOTA_REQUIRED=false to run policies with container.disk unbounded"
    )
    return Result(False, f"disk quotas cannot be enforced: {support.reason}", fix)


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest existing parent (nothing is created to measure it)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


#: Every check, in the order printed. Add a check by adding it here.
CHECKS: list[tuple[str, Check]] = [
    ("docker", check_docker),
    ("image", check_image),
    ("claude", check_claude),
    ("model", check_model),
    ("database", check_database),
    ("disk", check_disk),
    ("quota", check_quota),
    ("runtimes", check_runtimes),
]
