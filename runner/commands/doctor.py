"""``warden doctor``: is this machine ready to run sessions? Says how to fix each problem."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

from runner.sandbox.image import ImageStatus, image_status
from runner.settings import Settings

app = typer.Typer()
console = Console()

MIN_FREE_BYTES = 5 * 1024**3

Check = Callable[[Settings], tuple[bool, str, str]]


def _docker(settings: Settings) -> tuple[bool, str, str]:
    import docker

    try:
        client = docker.from_env()
        version = client.version().get("Version", "?")
        client.close()
    except Exception as exc:
        return False, f"no Docker daemon ({exc})", "start Docker, or set DOCKER_HOST"
    return True, f"Docker {version}", ""


def _image_status(settings: Settings) -> ImageStatus | None:
    import docker

    try:
        client = docker.from_env()
        try:
            return image_status(client, settings)
        finally:
            client.close()
    except Exception:
        return None


def _image(settings: Settings) -> tuple[bool, str, str]:
    status = _image_status(settings)
    if status is None or not status.is_built:
        return False, f"sandbox image {settings.image} not built", "run: warden image build"
    if not status.is_tagged:
        stale = f"{settings.image} is not the current image definition"
        return False, stale, "run: warden image build"
    return True, f"image {settings.image} = {status.hash_tag}", ""


def _claude(settings: Settings) -> tuple[bool, str, str]:
    status = _image_status(settings)
    version = status.claude_version if status is not None else None
    if not version:
        fix = "run: warden image build (fetches it from PyPI)"
        return False, "no Claude Code in a built image", fix
    sdk = settings.claude_sdk_version
    return True, f"Claude Code {version} in the image (claude-agent-sdk {sdk})", ""


def _database(settings: Settings) -> tuple[bool, str, str]:
    from runner.store.database import create_database_engine, migrate

    url = settings.resolved_database_url
    try:
        engine = create_database_engine(url)
        migrate(engine)
        engine.dispose()
    except Exception as exc:
        return False, f"database unreachable ({type(exc).__name__})", "check WARDEN_DATABASE_URL"
    return True, f"database {url.split('@')[-1]}", ""


def _disk(settings: Settings) -> tuple[bool, str, str]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(settings.data_dir).free
    ok = free >= MIN_FREE_BYTES
    hint = (
        "" if ok else f"free space under {settings.data_dir} (need 5 GiB), or set WARDEN_DATA_DIR"
    )
    return ok, f"{free / 1024**3:.1f} GiB free under the data dir", hint


def _quota(settings: Settings) -> tuple[bool, str, str]:
    """Whether policies' container.disk can be enforced (a real, tiny loop mount)."""
    from runner.sandbox.quota import DiskVolumes

    support = DiskVolumes(settings.data_dir / "tmp").probe()
    if support.enforced:
        return True, f"disk quotas enforced: {support.reason}", ""
    if not settings.disk_quota_required:
        return True, f"disk quotas NOT enforced ({support.reason}); allowed by settings", ""
    fix = (
        "run the controller as root with e2fsprogs and loop devices, or set"
        " WARDEN_DISK_QUOTA_REQUIRED=false to run policies with container.disk unbounded"
    )
    return False, f"disk quotas cannot be enforced: {support.reason}", fix


def _runtimes(settings: Settings) -> tuple[bool, str, str]:
    """gVisor and every runtime a policy names: registered, and able to start a container."""
    import docker

    from runner.policy import list_policies, load_policy
    from runner.sandbox.runtimes import GVISOR_RUNTIME, runtime_unavailable

    needed: dict[str, list[str]] = {GVISOR_RUNTIME: []}
    for name in list_policies(settings.policies_dir):
        with contextlib.suppress(Exception):  # a broken policy is `warden policy check`'s
            runtime = load_policy(name, policies_dir=settings.policies_dir).container.runtime
            if runtime != "runc":
                needed.setdefault(runtime, []).append(name)
    try:
        client = docker.from_env()
    except Exception as exc:
        return False, f"cannot ask Docker for its runtimes ({exc})", "start Docker"
    try:
        have = set(client.info().get("Runtimes") or {})
        seen, fixes = [], []
        for runtime, policies in needed.items():
            users = f" (policies: {', '.join(policies)})" if policies else " (no policy uses it)"
            if runtime not in have:
                seen.append(f"{runtime} not registered{users}")
                if policies:  # fail only where a policy would refuse its sessions
                    fixes.append(str(runtime_unavailable(runtime, have).details["fix"]))
                continue
            if not client.images.list(name=settings.image):
                seen.append(f"{runtime} registered, not tried: no image {settings.image}")
                fixes.append("run: warden image build")
                continue
            kernel = _probe(client, settings.image, runtime)
            seen.append(f"{runtime} {'starts' if kernel else 'FAILS'} a container{users}")
            if not kernel:
                fixes.append(f"see the engine's log for runtime {runtime!r}")
            elif runtime == GVISOR_RUNTIME:
                seen[-1] += f", kernel {kernel}"
    finally:
        client.close()
    return not fixes, "; ".join(seen), "; ".join(fixes)


def _probe(client: Any, image: str, runtime: str) -> str | None:
    """The kernel version a tiny network-less container under ``runtime`` reports."""
    container = None
    try:
        container = client.containers.create(
            image, ["uname", "-r"], entrypoint=[], runtime=runtime, network_mode="none",
            read_only=True, cap_drop=["ALL"], user="1000:1000", labels={"warden.doctor": "1"},
        )  # fmt: skip
        container.start()
        if container.wait(timeout=60).get("StatusCode") != 0:
            return None
        return bytes(container.logs()).decode("utf-8", "replace").strip() or None
    except Exception:
        return None
    finally:
        if container is not None:
            with contextlib.suppress(Exception):
                container.remove(force=True)


CHECKS: tuple[tuple[str, Check], ...] = (
    ("docker", _docker),
    ("image", _image),
    ("claude", _claude),
    ("database", _database),
    ("disk", _disk),
    ("quota", _quota),
    ("runtimes", _runtimes),
)


@app.command()
def doctor() -> None:
    """Check Docker, the image, Claude, the database, free disk, quotas and runtimes."""
    settings = Settings()
    failed = 0
    for name, check in CHECKS:
        ok, what, fix = check(settings)
        mark = "[green]ok[/green]  " if ok else "[red]FAIL[/red]"
        console.print(f"{mark} {name:9} {what}" + (f"\n           fix: {fix}" if fix else ""))
        failed += not ok
    raise typer.Exit(1 if failed else 0)
