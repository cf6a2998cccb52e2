"""Fixtures for sandbox tests: the real image (built once, cached) and started sandboxes.

Every container carries ``TEST_LABEL`` so the session fixture in tests/conftest.py
removes it even when a test fails; each factory also removes its own at teardown.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import docker
import pytest

from runner.sandbox.backend import SandboxInfo, SandboxSpec
from runner.sandbox.docker import DockerBackend
from runner.sandbox.image import BuildResult, build_image
from runner.sandbox.profile_build import build_profile
from runner.sandbox.profiles import profile
from runner.sandbox.statedir import SessionDir, new_session_token, prepare_session_dir
from runner.settings import Settings
from tests.conftest import TEST_LABELS
from tests.polling import wait_for_text

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion (the tests are plain functions)."""
    return asyncio.run(coro)


@pytest.fixture(scope="session")
def sandbox_image(docker_client: docker.DockerClient, claude_binary: Path) -> BuildResult:
    """The real sandbox image, built through ``build_image`` (a cache hit once built).

    Servers and runs the tests start use it by its content-hash tag (``WARDEN_IMAGE``),
    so two checkouts testing on one Docker engine never run each other's image.
    """
    result = build_image(docker_client, Settings())
    os.environ["WARDEN_IMAGE"] = result.hash_tag
    return result


@pytest.fixture(scope="session")
def python_image(docker_client: docker.DockerClient, sandbox_image: BuildResult) -> BuildResult:
    """The ``python`` toolchain profile on the sandbox image (a cache hit once built).

    CI builds it before the tests (``scripts/test``), so this only checks the hash.
    """
    return build_profile(docker_client, Settings(), profile("python"), sandbox_image)


@dataclass(frozen=True)
class Sandbox:
    """A started sandbox and where its host-side state lives."""

    backend: DockerBackend
    info: SandboxInfo
    spec: SandboxSpec
    state: SessionDir

    @property
    def id(self) -> str:
        return self.info.id

    def pane(self) -> str:
        """The tmux pane's text, read through exec."""
        result = run(self.backend.exec(self.id, ["tmux", "capture-pane", "-p", "-t", "main"]))
        return result.stdout if result.exit_code == 0 else ""

    def wait_for_pane(self, text: str, timeout: float = 60.0) -> str:
        """Poll the pane until ``text`` shows; fail the test with the pane if it never does."""
        return wait_for_text(self.pane, text, timeout=timeout, interval=0.5)


SandboxFactory = Callable[..., Sandbox]


def session_spec(
    image: str, session_id: str, state: SessionDir, token: str, **fields: Any
) -> SandboxSpec:
    """A copy-mode spec for a test sandbox (labelled for cleanup)."""
    return SandboxSpec(
        session_id=session_id,
        image=image,
        workspace=state.workspace,
        workspace_mode="copy",
        home_dir=state.home,
        run_dir=state.run,
        token=token,
        claude_session=str(uuid.uuid4()),
        labels=TEST_LABELS,
        **fields,
    )


@pytest.fixture
def make_sandbox(
    docker_client: docker.DockerClient, sandbox_image: BuildResult, tmp_path: Path
) -> Iterator[SandboxFactory]:
    """Create and start hardened sandboxes; ``before_start(state)`` runs in between."""
    backend = DockerBackend(docker_client)
    made: list[str] = []

    def factory(
        *,
        work_dir: Path | None = None,
        token: str | None = None,
        before_start: Callable[[SessionDir], None] | None = None,
        **spec_fields: Any,
    ) -> Sandbox:
        session_id = f"test-{uuid.uuid4().hex[:12]}"
        work = work_dir or tmp_path / f"work-{session_id}"
        work.mkdir(parents=True, exist_ok=True)
        token = token or new_session_token()
        state = prepare_session_dir(
            tmp_path / session_id, work_dir=work, workspace_mode="copy", token=token
        )
        spec = session_spec(sandbox_image.hash_tag, session_id, state, token, **spec_fields)
        info = run(backend.create(spec))
        made.append(info.id)
        if before_start is not None:
            before_start(state)
        run(backend.start(info.id))
        return Sandbox(backend, info, spec, state)

    yield factory
    for sandbox_id in made:
        run(backend.remove(sandbox_id))
