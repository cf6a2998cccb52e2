"""A Warden served in-process on real Docker, for tests that need a seam ``warden serve``
does not offer (the egress resolver): ``build_services`` with the real ``DockerBackend``,
``create_app`` under uvicorn on a loopback port, in a thread with its own event loop.

Settings are those ``WardenServer`` gives its subprocess (scripted model, test labels,
workspace roots beside the data dir), so the same API helpers drive either.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import uvicorn

from runner.app import create_app
from runner.gateway.resolver import Resolver
from runner.sandbox.docker import DockerBackend
from runner.services import build_services
from runner.settings import Settings
from tests.conftest import TEST_LABELS
from tests.integration.server import WardenApi, free_port


class InProcessWarden(WardenApi):
    """The API on ``127.0.0.1:<port>``; ``start`` waits for health, ``stop`` closes all."""

    def __init__(self, data_dir: Path, *, resolver: Resolver | None = None, **settings: Any):
        self.port = free_port()
        super().__init__(data_dir, f"http://127.0.0.1:{self.port}")
        self.settings = Settings(
            **{
                "data_dir": data_dir,
                "database_url": f"sqlite:///{data_dir.parent / 'warden.db'}",
                "model_upstream": "scripted",
                "port": self.port,
                "container_labels": TEST_LABELS,
                "stall_seconds": 120,
                "workspace_roots": [data_dir.parent],
                **settings,
            }
        )
        self._resolver = resolver
        self._server: uvicorn.Server | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="warden-inprocess", daemon=True)

    def start(self, timeout: float = 60) -> InProcessWarden:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._thread.start()

        def died() -> str | None:
            if self._failure is None and self._thread.is_alive():
                return None
            return f"in-process warden did not start: {self._failure!r}"

        self.wait_healthy(timeout, died)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(60)
        self.client.close()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # the test thread reports it
            self._failure = exc

    async def _serve(self) -> None:
        services = await build_services(
            self.settings, backend=DockerBackend.from_env(), resolver=self._resolver
        )
        app = create_app(self.settings, services=services)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        await self._server.serve()
