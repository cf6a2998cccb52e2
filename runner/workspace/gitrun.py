"""Running git for a clone: a locked-down environment, a deadline, cancel, and a size cap."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from runner.errors import WardenError
from runner.workspace.limits import CancelledCopyError, Limits, format_size

_POLL = 0.2


class GitError(WardenError):
    """A clone failed: git's own message, a timeout, or the size cap."""

    code = "git_failed"


def git_env(home: Path, scheme: str, extra_config: Mapping[str, str]) -> dict[str, str]:
    """The environment git runs in: nothing from the controller's user or system config.

    Config goes in through ``GIT_CONFIG_*`` variables, not ``-c`` arguments, so a token
    is never visible in the process list and never written to ``.git/config``.
    """
    config = {
        "core.hooksPath": os.devnull,  # no hook runs on the controller
        "protocol.allow": "never",
        f"protocol.{scheme}.allow": "always",  # only the URL's own transport (no ext::)
        "http.followRedirects": "false",  # a listed host cannot send us to another
        "credential.helper": "",  # no stored credentials, no helper prompts
        "transfer.fsckObjects": "true",
        "submodule.recurse": "false",
        "fetch.recurseSubmodules": "false",
        "init.defaultBranch": "main",
        "advice.detachedHead": "false",
        "safe.directory": "*",  # we own the clone; the source may belong to someone else
        **extra_config,
    }
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": shutil.which("false") or "/bin/false",
        "SSH_ASKPASS": shutil.which("false") or "/bin/false",
        "GIT_CONFIG_COUNT": str(len(config)),
    }
    for i, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


class GitRunner:
    """Runs git commands until a shared deadline, stopping them when cancelled or too big."""

    def __init__(self, *, timeout: float, cancel: threading.Event, limits: Limits) -> None:
        self._deadline = time.monotonic() + timeout
        self._timeout = timeout
        self._cancel = cancel
        self._limits = limits

    def run(self, args: Sequence[str], *, env: Mapping[str, str], watch: Path | None = None) -> str:
        """git's stdout; ``watch`` is a directory whose size is capped while git runs.

        Raises:
            GitError: non-zero exit (with git's message), the deadline, or the size cap.
            CancelledCopyError: the cancel flag was set (git is killed first).
        """
        git = shutil.which("git")
        if git is None:
            raise GitError("git is not installed on the controller host")
        proc = subprocess.Popen(
            [git, *args],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        reason = self._wait(proc, watch)
        out, err = proc.communicate()
        if reason is not None:
            raise reason
        if proc.returncode != 0:
            message = err.strip()[-1500:] or f"exit status {proc.returncode}"
            raise GitError(f"git {args[2] if args[0] == '-C' else args[0]} failed: {message}")
        return out

    def _wait(self, proc: subprocess.Popen[str], watch: Path | None) -> Exception | None:
        """None once git exits by itself; else the reason it was killed."""
        checked = 0.0
        while proc.poll() is None:
            reason: Exception | None = None
            if self._cancel.is_set():
                reason = CancelledCopyError("the clone was cancelled")
            elif time.monotonic() > self._deadline:
                reason = GitError(f"the clone took longer than {self._timeout:.0f} s")
            elif watch is not None and time.monotonic() - checked >= 1.0:
                checked = time.monotonic()
                reason = self._too_big(watch)
            if reason is not None:
                proc.kill()
                proc.wait()
                return reason
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(_POLL)
        return None

    def _too_big(self, watch: Path) -> Exception | None:
        files, size = _usage(watch)
        if size > self._limits.max_bytes or files > self._limits.max_files:
            policy = f"policy {self._limits.policy!r}" if self._limits.policy else "the policy"
            return GitError(
                f"the repository is larger than {policy} allows (more than"
                f" {format_size(self._limits.max_bytes)} or {self._limits.max_files} files"
                " with its .git; workspace.max_bytes / workspace.max_files)"
            )
        return None


def _usage(top: Path) -> tuple[int, int]:
    """(entries, bytes) under ``top`` without following links; racing deletions ignored."""
    files = size = 0
    for dirpath, dirnames, filenames in os.walk(top):
        files += len(dirnames) + len(filenames)
        for name in filenames:
            try:
                size += os.lstat(os.path.join(dirpath, name)).st_size  # noqa: PTH118
            except OSError:
                continue
    return files, size
