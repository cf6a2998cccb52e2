"""``KubernetesBackend``: session sandboxes as hardened Pods (the official ``kubernetes`` client).

One Pod per session, made from the chart's template (``runner.sandbox.pod``), in the
sessions namespace, with the same ``warden.session`` label as a Docker container (so
re-adoption lists Pods by label). The terminal is read through ``pods/attach`` and typed
into with ``pods/exec`` (``tmux send-keys``, as on Docker); files come out through exec
(``cat``/``tail``, ``tar``). What the Pod needs from the controller (its workspace, its
home, its model gateway and the hook's decisions) it fetches from the controller's
gateway port with its session token (``runner.gateway.mux``).

The client is blocking: every call runs in a worker thread, each attach stream has a
thread of its own. API errors are translated here into ``SandboxError`` and its
subclasses, so nothing above sees the client. The Role this needs, in the sessions
namespace only: pods create/get/list/delete, pods/exec and pods/attach create/get,
pods/log get (helm/warden/templates/rbac.yaml).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from runner.errors import SandboxError, SandboxNotFoundError
from runner.sandbox import files, kube_stream
from runner.sandbox.backend import SESSION_LABEL, ExecResult, ImageInfo, SandboxInfo, SandboxSpec
from runner.sandbox.kube_status import pod_failure, pod_info, sandbox_running
from runner.sandbox.pod import SANDBOX_CONTAINER, START_FILE, PodSettings, pod_manifest

log = logging.getLogger(__name__)
T = TypeVar("T")

_WORKERS = 32
#: How long a new Pod may take to run its sandbox container (image pull, workspace).
READY_SECONDS = 300.0
#: How long a removed Pod's processes get to exit.
_REMOVE_GRACE_SECONDS = 2


class KubernetesSettings(Protocol):
    """The settings this backend reads (``runner.settings.Settings`` has them)."""

    kubernetes_namespace: str
    kubernetes_gateway_port: int
    kubernetes_gateway_host: str | None
    kubernetes_pod_template: Path | None


class KubernetesBackend:
    """Implements ``SandboxBackend`` with Pods; see the module docstring."""

    def __init__(
        self,
        configuration: k8s.Configuration,
        pods: PodSettings,
        *,
        ready_seconds: float = READY_SECONDS,
    ) -> None:
        self._configuration = configuration
        self._pods = pods
        self._namespace = pods.namespace
        self._ready_seconds = ready_seconds
        self._api = k8s.CoreV1Api(k8s.ApiClient(configuration))
        self._pool = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="kube")
        self._attached: dict[str, list[kube_stream.AttachStream]] = {}
        self._attached_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: KubernetesSettings) -> KubernetesBackend:
        """In a Pod, the service account's in-cluster config; elsewhere ``$KUBECONFIG``.

        Raises:
            SandboxError: no gateway address, an unreadable template, or no config.
        """
        host = settings.kubernetes_gateway_host
        if not host:
            raise SandboxError(
                "WARDEN_KUBERNETES_GATEWAY_HOST is not set: session Pods would not know where"
                " their gateway is (the Helm chart sets it to the controller Pod's IP)"
            )
        template: dict[str, Any] = {}
        if settings.kubernetes_pod_template is not None:
            try:
                loaded = yaml.safe_load(settings.kubernetes_pod_template.read_text("utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise SandboxError(f"cannot read the session Pod template: {exc}") from exc
            if not isinstance(loaded, dict) or loaded.get("kind") != "Pod":
                raise SandboxError(f"{settings.kubernetes_pod_template} is not a v1 Pod manifest")
            template = loaded
        pods = PodSettings(
            namespace=settings.kubernetes_namespace,
            gateway_host=host,
            gateway_port=settings.kubernetes_gateway_port,
            template=template,
        )
        return cls(load_configuration(), pods)

    # -- SandboxBackend --------------------------------------------------------------

    @property
    def shares_files(self) -> bool:
        """The Pod's volumes are its own: files come out through exec."""
        return False

    async def image(self, reference: str) -> ImageInfo:
        """What a Pod will name: the cluster's nodes pull images, the controller sees no
        registry. A digest reference (``NAME@sha256:…``) is its own digest, so policies
        pinning digests still hold; a tag runs whatever the nodes resolve it to."""
        digests = (reference,) if "@sha256:" in reference else ()
        return ImageInfo(reference=reference, id=reference, repo_digests=digests)

    async def create(self, spec: SandboxSpec) -> SandboxInfo:
        """Create the Pod; it starts on its own, held before tmux until ``start``."""
        name = f"warden-{spec.session_id[:8].lower()}-{secrets.token_hex(3)}"
        manifest = pod_manifest(spec, self._pods, name=name)
        pod = await self._call(
            None, lambda: self._json(self._api.create_namespaced_pod, self._namespace, manifest)
        )
        return pod_info(pod)

    async def start(self, sandbox_id: str) -> None:
        """Wait until the sandbox container runs, then let its entrypoint start tmux."""
        await self._wait_running(sandbox_id)
        result = await self.exec(sandbox_id, ["touch", START_FILE])
        if result.exit_code != 0:
            raise SandboxError(
                f"could not start the session in Pod {sandbox_id}: {result.output[-300:]}"
            )

    async def attach(self, sandbox_id: str) -> kube_stream.AttachStream:
        """Connect to the TTY once the container runs; output flows from then on."""
        await self._wait_running(sandbox_id)
        loop = asyncio.get_running_loop()
        ws = await self._streamed(
            sandbox_id,
            lambda: kube_stream.open_attach(
                self._configuration, sandbox_id, self._namespace, SANDBOX_CONTAINER
            ),
        )
        stream: kube_stream.AttachStream

        def forget() -> None:
            with self._attached_lock:
                streams = self._attached.get(sandbox_id, [])
                if stream in streams:
                    streams.remove(stream)
                if not streams:
                    self._attached.pop(sandbox_id, None)

        stream = kube_stream.AttachStream(ws, loop, sandbox_id, forget)
        with self._attached_lock:
            self._attached.setdefault(sandbox_id, []).append(stream)
        return stream

    async def exec(
        self, sandbox_id: str, argv: Sequence[str], *, user: str | None = None
    ) -> ExecResult:
        if user is not None:
            # Exec runs as the container's user; pretending otherwise would mislead.
            raise SandboxError("the Kubernetes backend cannot exec as another user")
        code, out, err = await self._exec(sandbox_id, list(argv))
        return ExecResult(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))

    async def read_file(self, sandbox_id: str, path: str, *, offset: int = 0) -> bytes | None:
        code, out, err = await self._exec(sandbox_id, files.read_file_argv(path, offset))
        return files.read_outcome(path, code, out, err)

    async def archive(self, sandbox_id: str, path: str, dest: Path, *, limit: int) -> None:
        argv = files.archive_argv(path)

        def run() -> tuple[int, bytes, bytes]:
            with dest.open("wb") as out:
                return kube_stream.run_exec(
                    self._configuration, sandbox_id, self._namespace, SANDBOX_CONTAINER, argv,
                    stdout=out, limit=limit,
                )  # fmt: skip

        code, _out, err = await self._streamed(sandbox_id, run)
        if code != 0:
            raise files.archive_failed(path, code, err)

    async def resize(self, sandbox_id: str, cols: int, rows: int) -> None:
        """Resize the TTY on channel 4 of an open attach (a short one if none is open)."""
        with self._attached_lock:
            open_streams = [s for s in self._attached.get(sandbox_id, []) if s.is_open]
        if open_streams:
            await self._call(sandbox_id, lambda: open_streams[-1].resize(cols, rows))
            return
        stream = await self.attach(sandbox_id)
        try:
            await self._call(sandbox_id, lambda: stream.resize(cols, rows))
        finally:
            await stream.aclose()

    async def stop(self, sandbox_id: str, *, grace_seconds: float = 10.0) -> None:
        """A Pod cannot be stopped and kept: this deletes it, with the grace period."""
        await self._delete(sandbox_id, int(grace_seconds))

    async def remove(self, sandbox_id: str) -> None:
        await self._delete(sandbox_id, _REMOVE_GRACE_SECONDS)

    async def list(self, labels: Mapping[str, str]) -> list[SandboxInfo]:
        selector = ",".join([SESSION_LABEL, *(f"{k}={v}" for k, v in labels.items())])
        listed = await self._call(
            None,
            lambda: self._json(
                self._api.list_namespaced_pod, self._namespace, label_selector=selector
            ),
        )
        return [pod_info(pod) for pod in listed.get("items") or []]

    async def inspect(self, sandbox_id: str) -> SandboxInfo:
        return pod_info(await self._read(sandbox_id))

    async def runtimes(self, *, fresh: bool = False) -> frozenset[str] | None:
        # Which RuntimeClasses exist is cluster-scoped; the sessions Role is namespaced on
        # purpose. A policy's runtime is checked against the template at creation
        # (``pod._runtime_class``), and a missing RuntimeClass fails the Pod's admission.
        return None

    async def close(self) -> None:
        await self._call(None, self._api.api_client.close)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- internals -------------------------------------------------------------------

    async def _exec(self, sandbox_id: str, argv: Sequence[str]) -> tuple[int, bytes, bytes]:
        def run() -> tuple[int, bytes, bytes]:
            return kube_stream.run_exec(
                self._configuration, sandbox_id, self._namespace, SANDBOX_CONTAINER, [*argv]
            )

        return await self._streamed(sandbox_id, run)

    async def _streamed(self, sandbox_id: str, fn: Callable[[], T]) -> T:
        """An exec or attach; a refused upgrade is a missing Pod if the Pod is gone."""
        try:
            return await self._call(sandbox_id, fn)
        except SandboxNotFoundError:
            raise
        except SandboxError:
            await self._read(sandbox_id)  # raises SandboxNotFoundError when it is gone
            raise

    async def _read(self, sandbox_id: str) -> dict[str, Any]:
        return await self._call(
            sandbox_id,
            lambda: self._json(self._api.read_namespaced_pod, sandbox_id, self._namespace),
        )

    async def _delete(self, sandbox_id: str, grace: int) -> None:
        with contextlib.suppress(SandboxNotFoundError):  # already gone: that is the goal
            await self._call(
                sandbox_id,
                lambda: self._json(
                    self._api.delete_namespaced_pod,
                    sandbox_id,
                    self._namespace,
                    grace_period_seconds=grace,
                ),
            )

    async def _wait_running(self, sandbox_id: str) -> None:
        """Until the sandbox container runs. Raises: a failure the Pod reports, or the
        time running out (with what the Pod said last)."""
        deadline = time.monotonic() + self._ready_seconds
        delay = 0.05
        while True:
            pod = await self._read(sandbox_id)
            if sandbox_running(pod):
                return
            failure = pod_failure(pod)
            if failure is not None:
                raise await self._explained(sandbox_id, failure)
            if time.monotonic() > deadline:
                phase = (pod.get("status") or {}).get("phase", "unknown")
                raise SandboxError(
                    f"session Pod {sandbox_id} did not start within {self._ready_seconds:.0f} s"
                    f" (phase {phase})",
                    details={"pod": sandbox_id, "status": pod.get("status")},
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _explained(self, sandbox_id: str, failure: SandboxError) -> SandboxError:
        """The failure, with the init container's last log lines when it was the one."""
        if failure.details.get("container") != "workspace":
            return failure
        with contextlib.suppress(SandboxError):
            logs = await self._call(
                sandbox_id,
                lambda: self._api.read_namespaced_pod_log(
                    sandbox_id, self._namespace, container="workspace", tail_lines=20
                ),
            )
            failure.details["log"] = str(logs)[-2000:]
        return failure

    @staticmethod
    def _json(method: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Call without the client's model classes: the API's own JSON, as a dict."""
        response = method(*args, _preload_content=False, **kwargs)
        if response.status >= 400:
            raise ApiException(status=response.status, reason=response.reason, body=response.data)
        loaded = json.loads(response.data or b"{}")
        return loaded if isinstance(loaded, dict) else {}

    async def _call(self, sandbox_id: str | None, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn)
        except ApiException as exc:
            raise _translated(exc, sandbox_id) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise SandboxError(
                f"cannot reach the Kubernetes API server: {exc}", details={"pod": sandbox_id}
            ) from exc


def load_configuration() -> k8s.Configuration:
    """The in-cluster service account when running in a Pod, else ``$KUBECONFIG``.

    Raises:
        SandboxError: neither is usable.
    """
    configuration = k8s.Configuration()
    try:
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            k8s_config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError, TypeError) as exc:
        raise SandboxError(
            f"no Kubernetes configuration (in-cluster or kubeconfig): {exc}"
        ) from exc
    return configuration


def _translated(exc: ApiException, sandbox_id: str | None) -> SandboxError:
    message = _api_message(exc)
    if exc.status == 404:
        return SandboxNotFoundError(
            f"sandbox {sandbox_id or ''} not found", details={"sandbox": sandbox_id}
        )
    if exc.status == 403:
        return SandboxError(
            f"the Kubernetes API refused the controller (RBAC): {message}",
            details={"sandbox": sandbox_id},
        )
    if exc.status == 0 and sandbox_id:  # the WebSocket upgrade failed
        return SandboxError(
            f"cannot exec or attach in Pod {sandbox_id}: {message}", details={"sandbox": sandbox_id}
        )
    return SandboxError(f"Kubernetes API error: {message}", details={"sandbox": sandbox_id})


def _api_message(exc: ApiException) -> str:
    raw = exc.body
    body = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
    with contextlib.suppress(ValueError, TypeError, KeyError):
        return str(json.loads(body)["message"])
    return f"{exc.status} {exc.reason or ''} {(body or '')[:300]}".strip()
