"""Where a session's workspace comes from: one of four sources, as plain values.

The API parses ``{"path": …}``, ``{"archive": …}`` or ``{"git": {"url", "ref"}}`` into
these; pipelines use :class:`SessionSource` for the copy an earlier stage left. The
record keeps the source as JSON (:func:`to_json` / :func:`from_json`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.errors import InvalidInputError

#: A git ref we pass to ``git fetch``: branch, tag or commit names only (no options).
_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/+-]{0,254}$")


@dataclass(frozen=True)
class PathSource:
    """A host directory (must be under the server's workspace roots)."""

    path: str


@dataclass(frozen=True)
class ArchiveSource:
    """An archive uploaded with ``POST /v1/workspaces``."""

    upload_id: str


@dataclass(frozen=True)
class GitSource:
    """A repository the controller clones (shallow) at ``ref`` (default: its HEAD)."""

    url: str
    ref: str | None = None


@dataclass(frozen=True)
class SessionSource:
    """The workspace an earlier session of the same tenant left (pipelines)."""

    session_id: str


WorkspaceSource = PathSource | ArchiveSource | GitSource | SessionSource


def check_ref(ref: str | None) -> str | None:
    """``ref`` if it is a plain ref name.

    Raises:
        InvalidInputError: it could be read as an option, or holds odd characters.
    """
    if ref is None:
        return None
    if not _REF.fullmatch(ref) or ".." in ref or ref.endswith((".lock", "/", ".")):
        raise InvalidInputError(
            f"git ref {ref!r} is not a branch, tag or commit name",
            details={"ref": ref},
        )
    return ref


def to_json(source: WorkspaceSource) -> dict[str, Any]:
    """The source as stored on the record and shown by the API."""
    if isinstance(source, PathSource):
        return {"path": source.path}
    if isinstance(source, ArchiveSource):
        return {"archive": source.upload_id}
    if isinstance(source, GitSource):
        return {"git": {"url": source.url, "ref": source.ref}}
    return {"session": source.session_id}


def from_json(data: Mapping[str, Any], work_dir: str) -> WorkspaceSource:
    """The stored source; records from before sources existed have only ``work_dir``."""
    if "archive" in data:
        return ArchiveSource(str(data["archive"]))
    if "git" in data:
        git = data["git"]
        return GitSource(str(git["url"]), git.get("ref"))
    if "session" in data:
        return SessionSource(str(data["session"]))
    return PathSource(str(data.get("path", work_dir)))


def describe(source: WorkspaceSource) -> str:
    """One line naming the source (the record's ``workDir`` for non-path sources)."""
    if isinstance(source, PathSource):
        return source.path
    if isinstance(source, ArchiveSource):
        return f"archive:{source.upload_id}"
    if isinstance(source, GitSource):
        return f"git:{source.url}" + (f"@{source.ref}" if source.ref else "")
    return f"session:{source.session_id}"
