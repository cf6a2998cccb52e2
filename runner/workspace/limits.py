"""Caps on what a copy, extraction or clone may write, checked as it goes (not afterwards).

A :class:`Tally` is handed to every writer: it counts files and bytes, refuses the one
that goes past a cap, stops at once when the session is cancelled, lists the entries it
skipped, and calls a progress callback at most a few times a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runner.errors import PolicyDeniedError, WardenError

#: How many skipped entries the session's details list by name (the count is exact).
MAX_LISTED_SKIPS = 50


def format_size(n: int) -> str:
    """``2.0 GiB``-style text for a byte count."""
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover (the loop always returns)


@dataclass(frozen=True)
class Limits:
    """The policy's ``workspace.max_bytes`` and ``workspace.max_files``."""

    max_bytes: int
    max_files: int
    policy: str = ""  # named in refusals, so a person knows which file sets the cap


#: For callers that bound nothing (tests building a sandbox by hand).
UNLIMITED = Limits(max_bytes=2**62, max_files=2**62, policy="none")


class CancelledCopyError(Exception):
    """The copy was asked to stop (the session was deleted while starting)."""


class WorkspaceFullError(WardenError):
    """The session's disk (its quota volume) filled up while the workspace was written."""

    code = "workspace_full"


class Skipped:
    """Entries left out of a copy, by kind (``fifo``, ``socket``, ``device``, ``unreadable``…)."""

    def __init__(self) -> None:
        self.count = 0
        self.listed: list[dict[str, str]] = []

    def add(self, path: str, kind: str) -> None:
        self.count += 1
        if len(self.listed) < MAX_LISTED_SKIPS:
            self.listed.append({"path": path, "kind": kind})


class Tally:
    """Counts files and bytes against ``limits``; see the module docstring."""

    def __init__(
        self,
        limits: Limits,
        *,
        cancel: threading.Event | None = None,
        progress: Callable[[Tally], None] | None = None,
        interval: float = 0.25,
    ) -> None:
        self.limits = limits
        self.files = 0
        self.bytes = 0
        self.skipped = Skipped()
        self._cancel = cancel or threading.Event()
        self._progress = progress
        self._interval = interval
        self._last = time.monotonic()

    @property
    def cancel(self) -> threading.Event:
        """The flag that stops this copy (shared with the tools it runs, e.g. git)."""
        return self._cancel

    def check(self) -> None:
        """Raise if the copy was cancelled; call it per entry and per chunk.

        Raises:
            CancelledCopyError: the cancel flag is set.
        """
        if self._cancel.is_set():
            raise CancelledCopyError("the workspace copy was cancelled")

    def add_file(self) -> None:
        """One more entry (file, directory or link) is about to be written.

        Raises:
            PolicyDeniedError: it would be one more than ``max_files``.
        """
        self.check()
        if self.files + 1 > self.limits.max_files:
            raise self._over("workspace.max_files", f"{self.limits.max_files} files")
        self.files += 1
        self._tick()

    def room(self) -> int:
        """Bytes that may still be written (a writer asks for at most one more)."""
        return max(0, self.limits.max_bytes - self.bytes)

    def add_bytes(self, n: int) -> None:
        """``n`` more bytes were written.

        Raises:
            PolicyDeniedError: the total is now over ``max_bytes``.
        """
        self.bytes += n
        if self.bytes > self.limits.max_bytes:
            raise self._over("workspace.max_bytes", format_size(self.limits.max_bytes))
        self.check()
        self._tick()

    def summary(self) -> dict[str, Any]:
        """What the session's details show about the copy."""
        out: dict[str, Any] = {"bytes": self.bytes, "files": self.files}
        if self.skipped.count:
            out["skipped"] = list(self.skipped.listed)
            out["skipped_count"] = self.skipped.count
        return out

    def report(self) -> None:
        """Call the progress callback now (e.g. when a phase ends)."""
        if self._progress is not None:
            self._progress(self)
        self._last = time.monotonic()

    def _tick(self) -> None:
        if self._progress is not None and time.monotonic() - self._last >= self._interval:
            self.report()

    def _over(self, rule: str, limit: str) -> PolicyDeniedError:
        policy = f"policy {self.limits.policy!r}" if self.limits.policy else "the policy"
        return PolicyDeniedError(
            f"the workspace is larger than {policy} allows: more than {limit} ({rule});"
            " use a smaller directory, or a policy with a higher limit",
            rule=rule,
            details={
                "policy": self.limits.policy,
                "limit": self.limits.max_bytes if rule.endswith("bytes") else self.limits.max_files,
                "bytes": self.bytes,
                "files": self.files,
            },
        )
