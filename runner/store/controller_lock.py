"""One controller per SQLite database: an exclusive lock file held for the server's life.

A controller re-adopts every running session it finds and keeps the audit chain's head
in its own process. Two controllers on one SQLite file would both drive the same
sessions and interleave the chain, and SQLite has no leases or advisory locks to share
the work safely: replicas need PostgreSQL. The lock is ``flock`` on a file beside the
database, so the kernel releases it when the holder dies, even by SIGKILL.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from sqlalchemy.engine import make_url

from runner.errors import WardenError


class ControllerLockedError(WardenError):
    """Another controller already serves this SQLite database."""

    code = "controller_locked"


class ControllerLock:
    """The held lock; ``release`` (or process exit) frees it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))


def claim_controller(url: str) -> ControllerLock | None:
    """Take the single-controller lock of a SQLite database (None: not SQLite, no lock).

    Raises:
        ControllerLockedError: another process holds it; the message says who and what to do.
    """
    database = sqlite_path(url)
    if database is None:
        return None  # PostgreSQL: replicas share the work through leases instead
    database.parent.mkdir(parents=True, exist_ok=True)
    path = database.with_name(database.name + ".controller.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(fd)
        os.close(fd)
        raise ControllerLockedError(
            f"another Warden controller{holder} already serves the SQLite database {database}:"
            " SQLite allows one controller. Stop it, give this one its own WARDEN_DATA_DIR, or"
            " run replicas on PostgreSQL (WARDEN_DATABASE_URL, docs/deployment.md)",
            details={"lock": str(path)},
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return ControllerLock(path, fd)


def _read_holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        pid = int(os.pread(fd, 32, 0).decode().strip())
        return f" (pid {pid})"
    return ""
