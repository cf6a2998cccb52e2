"""Runs the stand-in API server (``tests/kube/api.py``) in a thread with its own event loop,
and writes the kubeconfig that points the real ``kubernetes`` client at it."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from runner.gateway.serving import BackgroundServer
from tests.kube.api import Cluster, Kubelet, make_app

T = TypeVar("T")


class StandIn:
    """The API server on ``127.0.0.1:<port>``; use as a context manager."""

    def __init__(self, kubelet_factory: Callable[[], Kubelet], tmp: Path) -> None:
        self._factory = kubelet_factory
        self.token = "standin-" + secrets.token_hex(8)
        self.kubeconfig = tmp / "kubeconfig"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: BackgroundServer | None = None
        self.cluster: Cluster | None = None
        self.url = ""

    def __enter__(self) -> StandIn:
        self._thread.start()
        self.call(self._start)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.call(self._stop)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def call(self, fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run ``fn()`` in the server's loop and wait for it."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(fn(), self._loop)
        return future.result(60)

    @property
    def pods(self) -> Cluster:
        assert self.cluster is not None
        return self.cluster

    async def _start(self) -> None:
        self.cluster = Cluster(token=self.token, kubelet=self._factory())
        self._server = BackgroundServer(make_app(self.cluster), host="127.0.0.1", port=0)
        await self._server.start()
        self.url = f"http://127.0.0.1:{self._server.port}"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
            "users": [{"name": "warden", "user": {"token": self.token}}],
            "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "warden"}}],
            "current-context": "standin",
        }
        self.kubeconfig.write_text(yaml.safe_dump(config), encoding="utf-8")

    async def _stop(self) -> None:
        assert self.cluster is not None
        for _ns, name in list(self.cluster.pods):
            await self.cluster.kubelet.delete(name, 0)
        for task in list(self.cluster.tasks):
            task.cancel()
        close = getattr(self.cluster.kubelet, "close", None)
        if close is not None:
            await close()
        if self._server is not None:
            await self._server.close()

    def configuration(self) -> k8s.Configuration:
        """A client configuration loaded from the kubeconfig, as the backend loads it."""
        configuration = k8s.Configuration()
        k8s_config.load_kube_config(str(self.kubeconfig), client_configuration=configuration)
        return configuration
