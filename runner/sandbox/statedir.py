"""The per-session host directory: the agent's HOME, the gateway socket dir, the workspace.

Layout of ``<sessions_dir>/<session id>/``::

    home/       mounted at /home/warden; pre-seeded so Claude Code opens no dialog
    run/        mounted read-only at /run/warden; the gateway creates gateway.sock here
    workspace/  copy mode only: the session's copy of its source
    source/     archive, git and session sources: the pristine tree (never mounted in
                copy mode; the patch is taken against it)
    disk.img    with a disk quota: the ext4 image; ``volume/`` is where it is mounted,
                and ``home``/``workspace`` are links into it (``runner.sandbox.quota``)

Anything else the controller keeps there (token, recording) is never mounted.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.core import WorkspaceMode
from runner.errors import InvalidInputError
from runner.sandbox.backend import SANDBOX_WORKSPACE
from runner.sandbox.hardening import SANDBOX_GID, SANDBOX_UID
from runner.workspace.copier import copy_tree
from runner.workspace.fstree import opened_dir
from runner.workspace.limits import UNLIMITED, Tally

#: How many trailing characters of the API key Claude Code remembers as approved.
_APPROVED_KEY_SUFFIX = 20


@dataclass(frozen=True)
class SessionLayout:
    """Where things are in a session's host directory ``root``."""

    root: Path

    @property
    def home(self) -> Path:
        """The agent's HOME (mounted at /home/warden)."""
        return self.root / "home"

    @property
    def run(self) -> Path:
        """Holds the gateway socket (mounted at /run/warden)."""
        return self.root / "run"

    @property
    def socket(self) -> Path:
        return self.run / "gateway.sock"

    @property
    def workspace_copy(self) -> Path:
        """The copy of the user's directory in ``copy`` mode."""
        return self.root / "workspace"

    @property
    def source(self) -> Path:
        """The extracted archive, the clone, or an earlier session's copy."""
        return self.root / "source"


@dataclass(frozen=True)
class SessionDir:
    root: Path
    home: Path
    run: Path
    workspace: Path  # the host directory to mount at /workspace

    @property
    def socket(self) -> Path:
        return SessionLayout(self.root).socket


def new_session_token() -> str:
    """A fresh per-session opaque gateway token (it is not, and never contains, the
    upstream key: a leak from the sandbox only reaches this session's gateway)."""
    return "wdn_" + secrets.token_urlsafe(32)


def claude_config(token: str, workdir: str = SANDBOX_WORKSPACE) -> dict[str, Any]:
    """``~/.claude.json`` that pre-answers Claude Code's first-run dialogs.

    Onboarding/theme, "use this custom API key?" (default answer is No, which would
    leave the agent without a model) and "do you trust this folder?".
    """
    return {
        "hasCompletedOnboarding": True,
        "theme": "dark",
        "customApiKeyResponses": {"approved": [token[-_APPROVED_KEY_SUFFIX:]], "rejected": []},
        "projects": {workdir: {"hasTrustDialogAccepted": True}},
    }


def sandbox_owner() -> tuple[int, int] | None:
    """Who owns what the agent may write: the sandbox user when we are root, else us."""
    return (SANDBOX_UID, SANDBOX_GID) if os.geteuid() == 0 else None


def make_session_dir(root: Path, *, token: str, owner: tuple[int, int] | None = None) -> None:
    """Create (or complete) ``home/`` and ``run/`` of the session directory; idempotent.

    ``home`` may already be a link into the session's quota volume (``sandbox.quota``).
    """
    owner = owner or sandbox_owner()
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)  # the token and recordings live here: the controller's eyes only
    layout = SessionLayout(root)
    home, run = layout.home, layout.run
    home.mkdir(mode=0o700, exist_ok=True)
    # run/ stays ours (mounted read-only inside); the socket's own mode lets the agent in.
    run.mkdir(mode=0o755, exist_ok=True)
    config = home / ".claude.json"
    if not config.exists():
        config.write_text(json.dumps(claude_config(token), indent=2), encoding="utf-8")
    if owner is not None:
        _chown_tree(home, owner)
    # root/ may stay 0700: the daemon resolves bind mounts, the agent never walks root/.


def prepare_session_dir(
    root: Path,
    *,
    work_dir: Path,
    workspace_mode: WorkspaceMode | str,
    token: str,
    owner: tuple[int, int] | None = None,
) -> SessionDir:
    """Create (or complete) the session directory, copying ``work_dir`` in ``copy`` mode.

    For sandboxes built by hand (tests, tools): the copy is the same bounded,
    descriptor-walking copy sessions use, without caps. Sessions themselves go through
    ``runner.sessions.workspace_setup`` (roots, caps, quota, progress, cancel).

    Args:
        root: ``<sessions_dir>/<session id>``.
        work_dir: the user's directory; copied in ``copy`` mode, else mounted as is.
        owner: uid, gid to own home/ and the copy; default the sandbox user when we
            are root (so the unprivileged agent can write), else leave as ours.

    Raises:
        InvalidInputError: an unknown mode, or ``work_dir`` is not a directory.
    """
    try:
        mode = WorkspaceMode(workspace_mode)
    except ValueError:
        raise InvalidInputError(f"unknown workspace mode {workspace_mode!r}") from None
    if not work_dir.is_dir():
        raise InvalidInputError(f"workDir {work_dir} is not a directory")
    owner = owner or sandbox_owner()
    make_session_dir(root, token=token, owner=owner)
    layout = SessionLayout(root)
    workspace = work_dir.resolve()
    if mode == WorkspaceMode.COPY:
        workspace = layout.workspace_copy
        if not workspace.exists():
            workspace.mkdir(mode=0o755)
            if owner is not None:
                os.chown(workspace, *owner)
            with opened_dir(work_dir.resolve()) as src, opened_dir(workspace) as dst:
                copy_tree(src, dst, tally=Tally(UNLIMITED), owner=owner)
    return SessionDir(root=root, home=layout.home, run=layout.run, workspace=workspace)


def _chown_tree(top: Path, owner: tuple[int, int]) -> None:
    uid, gid = owner
    top = top.resolve()  # home may be our own link into the quota volume
    os.chown(top, uid, gid, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in (*dirnames, *filenames):
            os.chown(Path(dirpath) / name, uid, gid, follow_symlinks=False)
