"""What a client may ask for when it creates a session, and the checks on it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.core import PermissionMode, WorkspaceMode
from runner.errors import InvalidInputError, NotFoundError
from runner.sessions.model import SessionRecord
from runner.workspace.source import WorkspaceSource

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# The sandbox sets these itself; letting a client override them could point Claude Code
# at another endpoint or key, or change which binary runs.
_RESERVED_ENV_PREFIXES = ("ANTHROPIC_", "CLAUDE_", "WARDEN_")
_RESERVED_ENV = frozenset({"HOME", "PATH", "USER", "SHELL", "DISABLE_AUTOUPDATER", "LD_PRELOAD"})
#: The same rule as one pattern, for the API's schema (``check_request`` stays the judge).
ENV_NAME_PATTERN = (
    "^(?!(?:"
    + "|".join(_RESERVED_ENV_PREFIXES)
    + ")|(?:"
    + "|".join(sorted(_RESERVED_ENV))
    + ")$)[A-Za-z_][A-Za-z0-9_]{0,127}$"
)


@dataclass(frozen=True)
class SessionRequest:
    """What a client asks for when it creates a session."""

    work_dir: str
    prompt: str | None = None
    policy: str = "default"
    image: str | None = None
    permission_mode: PermissionMode = PermissionMode.DEFAULT
    model: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    workspace_mode: WorkspaceMode | None = None  # None: the policy's workspace.mode
    unattended: bool = False
    #: Where the workspace comes from; None: ``work_dir``, a host path.
    workspace: WorkspaceSource | None = None
    #: Return an idle session that matches this request in every respect, if there is one
    #: (None: the manager's default, WARDEN_REUSE_SESSIONS).
    reuse: bool | None = None
    #: A label for people and orchestrators (Aegis's ``name``); not an identifier.
    name: str | None = None
    #: Over a quota, wait in line (state ``queued``) if the policy allows, instead of 429.
    queue: bool = False


def check_request(request: SessionRequest) -> None:
    """Refuse a request that cannot work (its workspace is admitted separately).

    Raises:
        InvalidInputError: what to fix, in words.
    """
    if request.workspace is None:  # the workDir shorthand for a host path
        path = Path(request.work_dir)
        if not path.is_absolute():
            raise InvalidInputError("workDir must be an absolute path on the controller host")
        if not path.is_dir():
            raise NotFoundError(f"workDir {request.work_dir} is not a directory")
    for name in request.env:
        if (
            not _ENV_NAME.fullmatch(name)
            or name.startswith(_RESERVED_ENV_PREFIXES)
            or name in _RESERVED_ENV
        ):
            raise InvalidInputError(
                f"env name {name!r} is not allowed: names must be shell identifiers and may not"
                " set ANTHROPIC_*, CLAUDE_*, WARDEN_*, HOME or PATH (the sandbox owns those)",
                details={"env": name},
            )


def summary(record: SessionRecord) -> dict[str, Any]:
    """The request's fields as recorded in the audit log."""
    return {
        "workDir": record.work_dir,
        "workspace": dict(record.workspace),
        "policy": record.policy,
        "image": record.image,
        "model": record.model,
        "permissionMode": record.permission_mode,
        "workspaceMode": record.workspace_mode,
    }
