"""Reading files out of a running sandbox with the commands its image has (bash, tail, tar).

The Docker and Kubernetes backends run these argv through their exec APIs and keep the
raw bytes (``ExecResult`` decodes text, which would garble a binary file or a UTF-8
character cut at a read's boundary).
"""

from __future__ import annotations

from runner.errors import SandboxError
from runner.sandbox.backend import READ_LIMIT

#: ``read_file_argv``'s exit status when the path is not a regular file.
MISSING_STATUS = 44

_READ_SCRIPT = (
    f'set -o pipefail; test -f "$1" || exit {MISSING_STATUS}; tail -c "+$2" -- "$1" | head -c "$3"'
)


def read_file_argv(path: str, offset: int, limit: int = READ_LIMIT) -> list[str]:
    """Print the bytes of ``path`` from ``offset`` on, at most ``limit`` of them.

    Raises:
        SandboxError: a negative offset, or a relative path.
    """
    if offset < 0 or not path.startswith("/"):
        raise SandboxError(f"cannot read {path!r} from offset {offset} in a sandbox")
    # The path is an argument, never part of the script: no quoting to get wrong.
    return ["bash", "-c", _READ_SCRIPT, "read-file", path, str(offset + 1), str(limit)]


def archive_argv(path: str) -> list[str]:
    """Write an uncompressed tar of the directory ``path`` (members relative to it)."""
    if not path.startswith("/"):
        raise SandboxError(f"cannot archive the relative path {path!r} of a sandbox")
    return ["tar", "-c", "-f", "-", "-C", path, "."]


def read_outcome(path: str, exit_code: int, stdout: bytes, stderr: bytes) -> bytes | None:
    """What ``read_file_argv`` said: the bytes, None for no such file.

    Raises:
        SandboxError: the read failed for another reason (e.g. permission denied).
    """
    if exit_code == 0:
        return stdout
    if exit_code == MISSING_STATUS:
        return None
    message = stderr.decode("utf-8", "replace").strip()[-300:]
    raise SandboxError(
        f"reading {path} in the sandbox failed: {message or f'exit status {exit_code}'}",
        details={"path": path, "exitCode": exit_code},
    )


def archive_failed(path: str, exit_code: int, stderr: bytes) -> SandboxError:
    """The error for a tar of ``path`` that exited with ``exit_code``."""
    message = stderr.decode("utf-8", "replace").strip()[-300:]
    return SandboxError(
        f"archiving {path} in the sandbox failed: {message or f'exit status {exit_code}'}",
        details={"path": path, "exitCode": exit_code},
    )


def too_large(path: str, limit: int) -> SandboxError:
    """The error for an archive of ``path`` that grew past ``limit`` bytes."""
    return SandboxError(
        f"the archive of {path} in the sandbox is larger than {limit} bytes",
        details={"path": path, "limit": limit},
    )
