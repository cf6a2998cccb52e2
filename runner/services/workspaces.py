"""Building the workspace pieces from settings: roots, protected paths, uploads, quotas."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import Engine

from runner.auth.config import is_loopback
from runner.core import Actor, EventSink
from runner.sandbox.hardening import DOCKER_SOCKETS
from runner.sandbox.quota import DiskVolumes
from runner.sessions.model import SessionRecord, SessionStore
from runner.sessions.policy_gate import PolicyGate
from runner.sessions.runtime import SessionPaths
from runner.sessions.workspace_gate import WorkspaceGate
from runner.sessions.workspace_setup import WorkspaceSetup
from runner.sessions.workspace_sources import SourceFetcher
from runner.settings import Settings
from runner.store.uploads import SqlUploadStore
from runner.workspace.confine import CREDENTIAL_DIRS, Confinement, Protected
from runner.workspace.uploads import Uploads

log = logging.getLogger(__name__)


@dataclass
class Workspaces:
    """The workspace services ``build_services`` wires into the session layer."""

    confinement: Confinement
    uploads: Uploads
    volumes: DiskVolumes
    setup: WorkspaceSetup
    gate: WorkspaceGate


def default_roots(settings: Settings, start_dir: Path) -> tuple[list[Path], str]:
    """The workspace roots, and the hint for a server that allows no host path."""
    hint = "set WARDEN_WORKSPACE_ROOTS on the server to allow host directories"
    if settings.workspace_roots is not None:
        return list(settings.workspace_roots), hint
    if not is_loopback(settings.host):
        # A server others reach must not hand out its own disk: uploads and git only.
        return [], f"{hint} (a server on {settings.host} allows none by default)"
    if start_dir == Path("/"):
        return [], f"{hint} (it was started in /, which is never a workspace root)"
    return [start_dir], hint


def protected_paths(settings: Settings) -> list[Protected]:
    """What no workspace may be, be inside, or contain (see ``runner.workspace.confine``)."""
    guards = [Protected(settings.data_dir, "Warden's data dir (signing keys, database, sessions)")]
    sockets = [*DOCKER_SOCKETS]  # the standard places: protected whether or not in use
    docker_host = os.environ.get("DOCKER_HOST", "")
    if docker_host.startswith("unix://") and Path(urlsplit(docker_host).path).exists():
        sockets.append(urlsplit(docker_host).path)
    for sock in sockets:
        # Protected.build resolves each path too (/var/run is /run on most hosts).
        guards.append(Protected(Path(sock).parent, "the Docker socket's directory"))
    if settings.upstream_api_key_file is not None:
        guards.append(Protected(settings.upstream_api_key_file, "the model API key file"))
    config = os.environ.get("WARDEN_CONFIG")
    if config:
        guards.append(Protected(Path(config), "Warden's configuration file"))
    home = Path.home()
    for name in CREDENTIAL_DIRS:
        guards.append(Protected(home / name, "the controller user's credentials"))
    return guards


def build_workspaces(
    settings: Settings,
    *,
    engine: Engine,
    store: SessionStore,
    gate: PolicyGate,
    events: EventSink,
    paths_of: Callable[[str], SessionPaths],
    lookup: Callable[[str, Actor], Awaitable[SessionRecord]],
    start_dir: Path | None = None,
    backend_limits_disk: bool = False,
) -> Workspaces:
    """Everything sessions need to admit, fetch, copy and bound their workspaces."""
    start = start_dir or Path.cwd()
    roots, hint = default_roots(settings, start)
    confinement = Confinement.build(roots, protected_paths(settings), closed_hint=hint)
    _announce(settings, confinement)
    uploads = Uploads(
        SqlUploadStore(engine),
        settings.uploads_dir,
        max_bytes=settings.upload_max_bytes,
        ttl_seconds=settings.upload_ttl_seconds,
        events=events,
    )
    volumes = DiskVolumes(settings.data_dir / "tmp", backend_limits=backend_limits_disk)
    fetcher = SourceFetcher(
        volumes=volumes,
        paths_of=paths_of,
        git_tokens={host: token.get_secret_value() for host, token in settings.git_tokens.items()},
        git_timeout=settings.git_timeout_seconds,
    )
    setup = WorkspaceSetup(
        volumes=volumes,
        store=store,
        gate=gate,
        fetcher=fetcher,
        avoid=(settings.data_dir,),
        quota_required=settings.disk_quota_required,
    )
    workspace_gate = WorkspaceGate(
        confinement=confinement,
        uploads=uploads,
        gate=gate,
        events=events,
        quota=volumes.probe,
        quota_required=settings.disk_quota_required,
        lookup=lookup,
    )
    return Workspaces(confinement, uploads, volumes, setup, workspace_gate)


def _announce(settings: Settings, confinement: Confinement) -> None:
    if confinement.roots:
        how = "WARDEN_WORKSPACE_ROOTS" if settings.workspace_roots is not None else (
            "the directory the server started in; set WARDEN_WORKSPACE_ROOTS to change it"
        )  # fmt: skip
        log.info("workspace roots: %s (%s)", ", ".join(map(str, confinement.roots)), how)
    else:
        log.warning(
            "no host directory may be a workspace (uploads and git sources only): %s",
            confinement.closed_hint,
        )
    if not settings.disk_quota_required:
        log.warning("WARDEN_DISK_QUOTA_REQUIRED=false: container.disk may go unenforced")
