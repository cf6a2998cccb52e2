"""Admitting a session's workspace source before anything is created or copied.

Every refusal is a 4xx with what to do instead (403 with the rule id when a root,
protected path, git host, cap or quota refuses; 404 for an upload that is not there;
422 for a malformed source) and a ``session.denied`` event in the ledger.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.core import Actor, EventSink, WorkspaceMode
from runner.errors import InvalidInputError, PolicyDeniedError, WardenError
from runner.policy import ContainerProfile, Policy
from runner.sandbox.quota import QuotaSupport
from runner.sessions.model import SessionRecord
from runner.sessions.policy_gate import PolicyGate
from runner.sessions.requests import SessionRequest
from runner.sessions.runtime import SessionPaths
from runner.workspace.confine import Confinement
from runner.workspace.git import check_host, file_url, parse_remote
from runner.workspace.limits import format_size
from runner.workspace.source import (
    ArchiveSource,
    GitSource,
    PathSource,
    SessionSource,
    WorkspaceSource,
    check_ref,
    describe,
    to_json,
)
from runner.workspace.uploads import Upload, Uploads

#: Where a taken upload waits in the session directory until it is extracted.
UPLOAD_FILE = "upload.archive"


@dataclass(frozen=True)
class AdmittedWorkspace:
    """A source that may be used: what the record stores, and the upload to take."""

    source: WorkspaceSource
    work_dir: str  # the resolved host directory, or a description of the source
    upload: Upload | None = None

    @property
    def is_host_path(self) -> bool:
        return isinstance(self.source, PathSource)

    def as_json(self) -> dict[str, Any]:
        return to_json(self.source)


class WorkspaceGate:
    """Checks sources against the server's confinement and the session's policy."""

    def __init__(
        self,
        *,
        confinement: Confinement,
        uploads: Uploads,
        gate: PolicyGate,
        events: EventSink,
        quota: Callable[[], QuotaSupport],
        quota_required: bool,
        lookup: Callable[[str, Actor], Awaitable[SessionRecord]],
    ) -> None:
        self._confinement = confinement
        self._uploads = uploads
        self._gate = gate
        self._events = events
        self._quota = quota
        self._quota_required = quota_required
        self._lookup = lookup

    async def admit(self, request: SessionRequest, actor: Actor) -> AdmittedWorkspace:
        """The source of ``request`` (``workspace``, or ``workDir`` as a host path), allowed.

        Raises:
            PolicyDeniedError, InvalidInputError, NotFoundError: see the module docstring.
        """
        source = request.workspace or PathSource(request.work_dir)
        # An unknown policy is the request's own 404 (not a workspace refusal).
        policy = self._gate.policy(request.policy)
        try:
            return await self._admit(source, policy, request, actor)
        except WardenError as exc:
            await self._denied(exc, request, source, actor)
            raise

    async def _admit(
        self, source: WorkspaceSource, policy: Policy, request: SessionRequest, actor: Actor
    ) -> AdmittedWorkspace:
        rules = policy.workspace
        if not isinstance(source, PathSource) and request.workspace_mode == WorkspaceMode.RW:
            raise InvalidInputError(
                f"a {_kind(source)} workspace is the session's own copy: use workspaceMode copy"
                " or ro (rw writes back to a host directory, which only a path source has)"
            )
        if isinstance(source, PathSource):
            path = self._confinement.check(
                source.path, policy_roots=rules.roots, policy=policy.name
            )
            return AdmittedWorkspace(PathSource(str(path)), str(path))
        if isinstance(source, ArchiveSource):
            upload = await self._uploads.get(source.upload_id, actor)
            _check_declared(upload, policy)
            return AdmittedWorkspace(source, describe(source), upload)
        if isinstance(source, GitSource):
            remote = parse_remote(source.url)
            ref = check_ref(source.ref)
            url = remote.url
            if remote.scheme == "file":
                # A local repository is a host path like any other: the same roots apply,
                # and the clone opens exactly the checked, resolved path (no re-resolving).
                checked = self._confinement.check(
                    remote.path, policy_roots=rules.roots, policy=policy.name
                )
                url = file_url(checked)
            else:
                check_host(remote, rules.git_hosts, policy.name)
            git = GitSource(url, ref)
            return AdmittedWorkspace(git, describe(git))
        await self._lookup(source.session_id, actor)  # 404 unless the actor may see it
        return AdmittedWorkspace(source, describe(source))

    async def admit_disk(
        self, record: SessionRecord, profile: ContainerProfile, actor: Actor
    ) -> None:
        """Refuse a policy's ``container.disk`` this host cannot enforce (fail closed).

        Raises:
            PolicyDeniedError: rule ``container.disk``, unless the operator opted out.
        """
        if profile.disk_bytes is None or not self._quota_required:
            return
        support = self._quota()
        if support.enforced:
            return
        exc = PolicyDeniedError(
            f"policy {record.policy!r} sets container.disk ({format_size(profile.disk_bytes)}),"
            f" but this host cannot enforce disk quotas: {support.reason}. See `warden doctor`;"
            " an operator may set WARDEN_DISK_QUOTA_REQUIRED=false to run such sessions"
            " without a quota",
            rule="container.disk",
            details={"policy": record.policy, "reason": support.reason},
        )
        await self._events.emit(
            "session.denied",
            actor=actor,
            session=None,
            data={"policy": record.policy, "rule": exc.rule, "reason": exc.message},
        )
        raise exc

    async def take(self, admitted: AdmittedWorkspace, actor: Actor, paths: SessionPaths) -> None:
        """Move an admitted upload into the session's directory (the upload is then gone)."""
        if admitted.upload is not None:
            await self._uploads.take(admitted.upload.id, actor, upload_file(paths))

    async def _denied(
        self, exc: WardenError, request: SessionRequest, source: WorkspaceSource, actor: Actor
    ) -> None:
        data: Mapping[str, Any] = {
            "workspace": to_json(source),
            "policy": request.policy,
            "code": exc.code,
            "rule": getattr(exc, "rule", None),
            "reason": exc.message,
        }
        await self._events.emit("session.denied", actor=actor, session=None, data=data)


def upload_file(paths: SessionPaths) -> Path:
    return paths.root / UPLOAD_FILE


def _check_declared(upload: Upload, policy: Policy) -> None:
    """Refuse at once an archive that says it is bigger than the policy allows."""
    rules = policy.workspace
    if upload.declared_bytes > rules.max_bytes:
        raise PolicyDeniedError(
            f"the archive expands to {format_size(upload.declared_bytes)}, more than policy"
            f" {policy.name!r} allows ({format_size(rules.max_bytes)}; workspace.max_bytes)",
            rule="workspace.max_bytes",
            details={"policy": policy.name, "limit": rules.max_bytes},
        )
    if upload.entries > rules.max_files:
        raise PolicyDeniedError(
            f"the archive has {upload.entries} entries, more than policy {policy.name!r}"
            f" allows ({rules.max_files}; workspace.max_files)",
            rule="workspace.max_files",
            details={"policy": policy.name, "limit": rules.max_files},
        )


def _kind(source: WorkspaceSource) -> str:
    return {ArchiveSource: "archive", GitSource: "git", SessionSource: "session"}.get(
        type(source), "path"
    )
