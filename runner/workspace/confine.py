"""Which host directories an API caller may name as a workspace.

A path is allowed only when, fully resolved, it lies under one of the server's roots
(``WARDEN_WORKSPACE_ROOTS``) and under one of the policy's ``workspace.roots`` if the
policy names any (a policy narrows, never widens). Protected paths are refused even
under a root: ``/`` itself, Warden's data dir (its signing keys, database and the
sessions' own copies), the Docker socket's directory, the controller's key and config
files and its user's credential directories, and any directory that contains one.

The check here is on the resolved path; the copy then opens exactly that path by
descriptor without following links (``fstree.open_dir``), so a symlink swapped in
after the check makes the copy fail instead of redirecting it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from runner.errors import InvalidInputError, NotFoundError, PolicyDeniedError

#: Rule ids in refusals (a 403 names the rule, as policy refusals do).
RULE_SERVER_ROOTS = "server.workspace_roots"
RULE_POLICY_ROOTS = "workspace.roots"
RULE_PROTECTED = "workspace.protected"

#: Credential stores of the controller's own user: never a workspace, nor inside one.
CREDENTIAL_DIRS = (
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".kube",
    ".docker",
    ".config/gcloud",
    ".config/gh",
    ".git-credentials",
    ".netrc",
)


@dataclass(frozen=True)
class Protected:
    """A host path no workspace may be, be inside, or contain; ``why`` says what it is."""

    path: Path
    why: str
    #: Whether everything below it is refused too (not for ``/``, which holds every root).
    subtree: bool = True


@dataclass(frozen=True)
class Confinement:
    """The server's workspace roots and protected paths (built once, at start)."""

    roots: tuple[Path, ...]
    protected: tuple[Protected, ...]
    #: What to tell a caller when the server allows no host path at all.
    closed_hint: str = "set WARDEN_WORKSPACE_ROOTS on the server to allow host directories"

    @classmethod
    def build(
        cls, roots: Iterable[Path], protected: Iterable[Protected], *, closed_hint: str = ""
    ) -> Confinement:
        resolved = tuple(dict.fromkeys(Path(os.path.realpath(r)) for r in roots))
        guards = tuple(_expand(protected))
        return cls(resolved, guards, closed_hint or cls.closed_hint)

    def check(self, raw: str, *, policy_roots: Sequence[str] = (), policy: str = "") -> Path:
        """The resolved directory for ``raw``, if a session may use it.

        Raises:
            InvalidInputError: not an absolute path to an existing directory.
            PolicyDeniedError: outside the roots, or a protected path (with the rule id).
        """
        path = _resolved_dir(raw)
        shown = raw if str(path) == raw else f"{raw} (resolves to {path})"
        for guard in self.protected:
            relation = _relation(path, guard)
            if relation is not None:
                raise PolicyDeniedError(
                    f"workspace {shown} {relation} {guard.why} ({guard.path}), which no"
                    " session may copy; name a project directory instead",
                    rule=RULE_PROTECTED,
                    details={"path": str(path), "protected": str(guard.path)},
                )
        if not self.roots:
            raise PolicyDeniedError(
                f"this server accepts no host directory as a workspace ({shown} refused):"
                " upload an archive (POST /v1/workspaces) or name a git source instead,"
                f" or {self.closed_hint}",
                rule=RULE_SERVER_ROOTS,
                details={"path": str(path), "roots": []},
            )
        if not any(_within(path, root) for root in self.roots):
            roots = ", ".join(map(str, self.roots))
            raise PolicyDeniedError(
                f"workspace {shown} is outside this server's workspace roots ({roots});"
                " name a directory under one of them (WARDEN_WORKSPACE_ROOTS sets them)",
                rule=RULE_SERVER_ROOTS,
                details={"path": str(path), "roots": [str(r) for r in self.roots]},
            )
        narrowed = [Path(os.path.realpath(r)) for r in policy_roots]
        if narrowed and not any(_within(path, root) for root in narrowed):
            raise PolicyDeniedError(
                f"workspace {shown} is outside the roots policy {policy!r} allows"
                f" ({', '.join(map(str, narrowed))}; workspace.roots)",
                rule=RULE_POLICY_ROOTS,
                details={"path": str(path), "roots": [str(r) for r in narrowed]},
            )
        return path

    def protected_paths(self) -> tuple[Path, ...]:
        return tuple(guard.path for guard in self.protected)


def _resolved_dir(raw: str) -> Path:
    if not raw or "\x00" in raw:
        raise InvalidInputError("a workspace path must be a non-empty string")
    path = Path(raw)
    if not path.is_absolute():
        raise InvalidInputError(
            f"workspace path {raw!r} must be an absolute path on the controller host"
        )
    # No such directory is a 404, like any name that points at nothing.
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise NotFoundError(f"workDir {raw} is not a directory") from None
    if not resolved.is_dir():
        raise NotFoundError(f"workDir {raw} is not a directory")
    return resolved


def _relation(path: Path, guard: Protected) -> str | None:
    """How ``path`` touches the protected path, or None if it does not."""
    if path == guard.path:
        return "is"
    if _within(guard.path, path):
        return "contains"
    if guard.subtree and _within(path, guard.path):
        return "is inside"
    return None


def _within(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def _expand(protected: Iterable[Protected]) -> Iterable[Protected]:
    """Each guard as given and as resolved (``/var/run`` is ``/run``), plus ``/``."""
    seen: set[Path] = set()
    for guard in (Protected(Path("/"), "the filesystem root", subtree=False), *protected):
        for variant in (Path(os.path.normpath(guard.path)), Path(os.path.realpath(guard.path))):
            if variant not in seen:
                seen.add(variant)
                yield Protected(variant, guard.why, guard.subtree)
