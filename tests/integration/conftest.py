"""Fixtures shared by the integration tests: the built sandbox image, and real servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from runner.gateway.resolver import Resolver
from runner.sandbox.image import BuildResult
from tests.conftest import remove_test_containers
from tests.integration.inprocess import InProcessWarden
from tests.integration.sandbox_support import python_image, sandbox_image
from tests.integration.server import WardenServer, unmount_under

__all__ = ["python_image", "sandbox_image", "start_in_process", "start_warden"]

StartWarden = Callable[..., WardenServer]
StartInProcess = Callable[..., InProcessWarden]


@pytest.fixture(scope="module", autouse=True)
def _module_cleanup(
    docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """After each module: remove the sandboxes its servers left running (a stopped server
    leaves them for re-adoption) and detach their volumes, so they do not load the
    machine for the rest of the run. No fixture wider than a module starts containers."""
    yield
    remove_test_containers(docker_client)
    unmount_under(tmp_path_factory.getbasetemp())


@pytest.fixture
def start_warden(
    tmp_path: Path, sandbox_image: BuildResult, docker_client: docker.DockerClient
) -> Iterator[StartWarden]:
    """Start real ``warden serve`` processes (scripted model); all are stopped afterwards.

    ``start(database_url=None, *, data_dir=None, port=None, extra_env=None, cwd=None)``:
    SQLite in ``tmp_path`` unless a URL is given; an ``extra_env`` value None unsets it.
    """
    started: list[WardenServer] = []

    def start(
        database_url: str | None = None,
        *,
        data_dir: Path | None = None,
        port: int | None = None,
        extra_env: dict[str, str | None] | None = None,
        cwd: Path | None = None,
    ) -> WardenServer:
        warden = WardenServer(
            data_dir or tmp_path / "data",
            database_url or f"sqlite:///{tmp_path / 'warden.db'}",
            port=port,
            extra_env=extra_env,
            cwd=cwd,
        )
        started.append(warden)
        return warden.start()

    yield start
    for warden in started:
        warden.stop()
    unmount_under(tmp_path)


@pytest.fixture
def start_in_process(
    tmp_path: Path, sandbox_image: BuildResult, docker_client: docker.DockerClient
) -> Iterator[StartInProcess]:
    """Start a Warden in this process on real Docker (``InProcessWarden``), for a seam
    ``warden serve`` has not: ``start(resolver=None, **settings)``; stopped afterwards."""
    started: list[InProcessWarden] = []

    def start(*, resolver: Resolver | None = None, **settings: Any) -> InProcessWarden:
        warden = InProcessWarden(tmp_path / "data", resolver=resolver, **settings)
        started.append(warden)
        return warden.start()

    yield start
    for warden in started:
        warden.stop()
    unmount_under(tmp_path)
