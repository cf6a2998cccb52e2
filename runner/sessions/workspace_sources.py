"""Fetching a non-path source into the session's ``source/`` directory (in a worker thread).

An upload is extracted, a repository cloned (a local one is first copied by descriptor,
its git dir only and without links, so git never reads a path that was not checked),
an earlier session's copy copied. Each counts against the policy's caps as it runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from runner.policy.compiled import WorkspaceRules
from runner.sandbox.quota import DiskVolumes
from runner.sessions.runtime import SessionPaths
from runner.workspace.archive import ArchiveKind, extract_archive
from runner.workspace.copier import copy_tree
from runner.workspace.fstree import opened_dir
from runner.workspace.git import (
    auth_header,
    check_local_copy,
    clone,
    file_url,
    local_git_dir,
    parse_remote,
    update_submodules,
)
from runner.workspace.gitrun import GitRunner
from runner.workspace.limits import Tally
from runner.workspace.source import ArchiveSource, GitSource, SessionSource, WorkspaceSource


class SourceFetcher:
    """Materialises archive, git and session sources (see the module docstring)."""

    def __init__(
        self,
        *,
        volumes: DiskVolumes,
        paths_of: Callable[[str], SessionPaths],
        git_tokens: Mapping[str, str],
        git_timeout: float,
    ) -> None:
        self._volumes = volumes
        self._paths_of = paths_of
        self._tokens = dict(git_tokens)
        self._timeout = git_timeout

    def fetch(
        self,
        source: WorkspaceSource,
        paths: SessionPaths,
        upload: Path,
        rules: WorkspaceRules,
        tally: Tally,
        owner: tuple[int, int] | None,
    ) -> None:
        """Fill ``paths.source`` (which must not exist yet) from ``source``."""
        target = paths.source
        if isinstance(source, GitSource):
            self._clone(source, paths, rules, tally)
        else:
            target.mkdir(mode=0o755)
            with opened_dir(Path(os.path.realpath(target))) as dst:
                if isinstance(source, ArchiveSource):
                    extract_archive(upload, _kind(upload), dst, tally=tally, owner=owner)
                    upload.unlink()  # used: the upload is gone
                elif isinstance(source, SessionSource):
                    with self._session_copy(source.session_id) as origin, opened_dir(origin) as src:
                        copy_tree(src, dst, tally=tally, owner=owner)
        tally.report()

    def _clone(
        self, source: GitSource, paths: SessionPaths, rules: WorkspaceRules, tally: Tally
    ) -> None:
        remote = parse_remote(source.url)
        cancel = tally.cancel
        runner = GitRunner(timeout=self._timeout, cancel=cancel, limits=tally.limits)
        fetch_url = None
        if remote.scheme == "file":
            # The admitted, resolved path: opened without following links, never resolved again.
            fetch_url = self._local_copy(Path(remote.path), paths, tally)
        try:
            auth = auth_header(remote, self._tokens)
            clone(remote, source.ref, paths.source, runner=runner, fetch_url=fetch_url, auth=auth)
            if rules.git_submodules:
                update_submodules(
                    paths.source, remote, allowed=rules.git_hosts, policy=tally.limits.policy,
                    runner=runner, tokens=self._tokens,
                )  # fmt: skip
        finally:
            shutil.rmtree(paths.root / "gitsrc", ignore_errors=True)

    def _local_copy(self, repo: Path, paths: SessionPaths, tally: Tally) -> str:
        """Copy the local repository's git dir (by descriptor, no links) for git to read."""
        with opened_dir(repo):  # the checked path, opened without following links
            git_dir = local_git_dir(repo)
        copy = paths.root / "gitsrc"
        copy.mkdir(mode=0o700)
        with opened_dir(git_dir) as src, opened_dir(Path(os.path.realpath(copy))) as dst:
            copy_tree(src, dst, tally=Tally(tally.limits, cancel=tally.cancel), owner=None,
                      links=False)  # fmt: skip
        check_local_copy(copy)
        return file_url(copy)

    @contextlib.contextmanager
    def _session_copy(self, session_id: str) -> Iterator[Path]:
        """The workspace an earlier session left: in its kept quota image, or its dir."""
        paths = self._paths_of(session_id)
        if self._volumes.has_volume(paths.root):
            with self._volumes.mounted_read_only(paths.root) as volume:
                yield Path(os.path.realpath(volume / "workspace"))
        else:
            yield Path(os.path.realpath(paths.workspace_copy))


def _kind(upload: Path) -> ArchiveKind:
    """The upload's kind from its first bytes (it was checked as that kind when uploaded)."""
    with upload.open("rb") as f:
        head = f.read(4)
    if head.startswith(b"PK"):
        return ArchiveKind.ZIP
    if head.startswith(b"\x1f\x8b"):
        return ArchiveKind.TGZ
    return ArchiveKind.TAR
