"""What the doctor's checks share: the settings and one Docker client (or why there is none)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors

from runner.settings import Settings


@dataclass(frozen=True)
class Result:
    """One check's verdict: what was found, and how to fix it when it is not ok.

    ``skipped``: not checked, because what it needs failed in another check (which
    names the cause); it still counts as not ok.
    """

    ok: bool
    what: str
    fix: str = ""
    skipped: bool = False


def skipped(what: str) -> Result:
    return Result(False, what, skipped=True)


class Probe:
    """Lazily connects to Docker once; every check asking for it gets the same answer."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Any = None
        self._docker_error: str | None = None
        self._tried = False

    def docker(self) -> docker.DockerClient | None:
        """The Docker client, or None when the engine cannot be reached (see ``docker_error``)."""
        if not self._tried:
            self._tried = True
            try:
                self._client = docker.from_env()
                self._client.ping()
            except docker.errors.DockerException as exc:
                where = os.environ.get("DOCKER_HOST") or "the default socket"
                self._docker_error = f"{where}: {exc}"
                self.close()
                self._client = None
        found: docker.DockerClient | None = self._client
        return found

    @property
    def docker_error(self) -> str | None:
        return self._docker_error

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
