"""A small Kubernetes API server of our own: the real paths and wire formats the
``kubernetes`` client uses for Pods, served over HTTP and WebSocket.

Served: ``pods`` create (201, 409 on a taken name), get, list with a ``labelSelector``
(``k``, ``!k``, ``k=v``, ``k==v``, ``k!=v``), delete (with ``gracePeriodSeconds``),
``pods/log``, and ``pods/exec`` and ``pods/attach`` as WebSockets speaking the channel
protocol (``v5.channel.k8s.io`` or ``v4.channel.k8s.io``: a channel byte then the data;
1 stdout, 2 stderr, 3 the exec status as JSON, 4 resize from the client). Errors are
``Status`` objects with the API server's codes. Every request needs the bearer token.

What runs "in" a Pod is a ``Kubelet``'s business (``tests/kube/local.py`` runs local
processes, ``tests/kube/docker.py`` real containers). Not served: watch, patch,
admission (Pod Security), scheduling, RBAC (the token is all or nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDOUT, STDERR, STATUS, RESIZE = 1, 2, 3, 4


class Exec(Protocol):
    """A running exec: its output as (channel, bytes), then its exit code."""

    def output(self) -> AsyncIterator[tuple[int, bytes]]: ...

    async def wait(self) -> int: ...


class Attach(Protocol):
    """A connection to a container's TTY."""

    def output(self) -> AsyncIterator[bytes]: ...

    async def resize(self, cols: int, rows: int) -> None: ...

    async def close(self) -> None: ...


class Kubelet(Protocol):
    """Runs Pods; ``set_status`` publishes a new ``status`` of the named Pod."""

    async def run(self, pod: Mapping[str, Any], cluster: Cluster) -> None: ...

    async def exec(self, name: str, container: str, argv: list[str]) -> Exec: ...

    async def attach(self, name: str, container: str) -> Attach: ...

    async def delete(self, name: str, grace: int) -> None: ...

    async def logs(self, name: str, container: str) -> str: ...


@dataclass
class Cluster:
    """The API server's state: Pods by namespace and name, and what clients sent."""

    token: str
    kubelet: Kubelet
    pods: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    created: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    resizes: list[tuple[str, int, int]] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def set_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        pod = self.pods.get((namespace, name))
        if pod is not None:
            pod["status"] = copy.deepcopy(dict(status))

    def authorizations(self) -> set[tuple[str, str]]:
        """(resource, verb) of every request so far, as RBAC would check it; a
        WebSocket upgrade is a GET (newer API servers also check create)."""
        verbs = {("POST", 0): "create", ("GET", 0): "list", ("GET", 1): "get",
                 ("DELETE", 1): "delete", ("WS", 2): "get", ("GET", 2): "get"}  # fmt: skip
        found = set()
        for method, path, _query in self.requests:
            tail = path.split("/pods", 1)[1].strip("/").split("/")
            depth = len([t for t in tail if t])
            resource = "pods" if depth < 2 else f"pods/{tail[1]}"
            found.add((resource, verbs[(method, depth)]))
        return found

    def background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def status(code: int, reason: str, message: str) -> JSONResponse:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}  # fmt: skip
    return JSONResponse(body, status_code=code)


def selects(selector: str, labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` match a label selector (equality-based terms)."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def make_app(cluster: Cluster) -> Starlette:
    """The API server's ASGI app over ``cluster``."""
    base = "/api/v1/namespaces/{namespace}/pods"

    def authorized(headers: Mapping[str, str]) -> bool:
        return headers.get("authorization", "") == f"Bearer {cluster.token}"

    async def pods(request: Request) -> Response:
        ns = request.path_params["namespace"]
        cluster.requests.append((request.method, request.url.path, request.url.query))
        if not authorized(request.headers):
            return status(401, "Unauthorized", "Unauthorized")
        if request.method == "GET":
            selector = request.query_params.get("labelSelector", "")
            items = [p for (n, _), p in sorted(cluster.pods.items()) if n == ns]
            items = [p for p in items if selects(selector, p["metadata"].get("labels") or {})]
            return JSONResponse({"kind": "PodList", "apiVersion": "v1",
                                 "metadata": {"resourceVersion": "1"}, "items": items})  # fmt: skip
        body = json.loads(await request.body())
        meta = body.setdefault("metadata", {})
        name = meta.get("name")
        if body.get("kind") != "Pod" or not name:
            return status(422, "Invalid", "a Pod needs kind Pod and metadata.name")
        if meta.get("namespace", ns) != ns:
            return status(400, "BadRequest", "the namespace of the body does not match")
        if (ns, name) in cluster.pods:
            return status(409, "AlreadyExists", f'pods "{name}" already exists')
        cluster.created.append(copy.deepcopy(body))
        meta.update({"namespace": ns, "uid": f"uid-{len(cluster.created)}"})
        body["status"] = {"phase": "Pending"}
        cluster.pods[(ns, name)] = body
        cluster.background(cluster.kubelet.run(copy.deepcopy(body), cluster))
        return JSONResponse(body, status_code=201)

    async def pod(request: Request) -> Response:
        ns, name = request.path_params["namespace"], request.path_params["name"]
        cluster.requests.append((request.method, request.url.path, request.url.query))
        if not authorized(request.headers):
            return status(401, "Unauthorized", "Unauthorized")
        found = cluster.pods.get((ns, name))
        if found is None:
            return status(404, "NotFound", f'pods "{name}" not found')
        if request.method == "DELETE":
            grace = int(request.query_params.get("gracePeriodSeconds", "30"))
            found["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
            await cluster.kubelet.delete(name, grace)
            cluster.pods.pop((ns, name), None)
        return JSONResponse(found)

    async def log(request: Request) -> Response:
        ns, name = request.path_params["namespace"], request.path_params["name"]
        cluster.requests.append((request.method, request.url.path, request.url.query))
        if not authorized(request.headers):
            return status(401, "Unauthorized", "Unauthorized")
        if (ns, name) not in cluster.pods:
            return status(404, "NotFound", f'pods "{name}" not found')
        text = await cluster.kubelet.logs(name, request.query_params.get("container", ""))
        lines = int(request.query_params.get("tailLines", "0") or 0)
        if lines:
            text = "".join(text.splitlines(keepends=True)[-lines:])
        return Response(text, media_type="text/plain")

    async def stream(ws: WebSocket) -> None:
        ns, name = ws.path_params["namespace"], ws.path_params["name"]
        kind = ws.url.path.rsplit("/", 1)[1]
        cluster.requests.append(("WS", ws.url.path, ws.url.query))
        offered = [p.strip() for p in ws.headers.get("sec-websocket-protocol", "").split(",")]
        chosen = next((p for p in offered if p in PROTOCOLS), None)
        if not authorized(ws.headers) or chosen is None or (ns, name) not in cluster.pods:
            await ws.close(code=1008)  # refused before the upgrade: the client sees 403
            return
        container = ws.query_params.get("container", "")
        try:
            if kind == "exec":
                argv = ws.query_params.getlist("command")
                running = await cluster.kubelet.exec(name, container, argv)
                await ws.accept(subprotocol=chosen)
                await _serve_exec(ws, running)
            else:
                attached = await cluster.kubelet.attach(name, container)
                await ws.accept(subprotocol=chosen)
                await _serve_attach(ws, attached, name, cluster)
        except LookupError:
            await ws.close(code=1008)

    return Starlette(
        routes=[
            Route(base, pods, methods=["GET", "POST"]),
            Route(base + "/{name}", pod, methods=["GET", "DELETE"]),
            Route(base + "/{name}/log", log, methods=["GET"]),
            WebSocketRoute(base + "/{name}/exec", stream),
            WebSocketRoute(base + "/{name}/attach", stream),
        ]
    )


async def _serve_exec(ws: WebSocket, running: Exec) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        async for channel, data in running.output():
            await ws.send_bytes(bytes([channel]) + data)
        code = await running.wait()
        if code == 0:
            body: dict[str, Any] = {"metadata": {}, "status": "Success"}
        else:
            causes = [{"reason": "ExitCode", "message": str(code)}]
            body = {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
                    "message": f"command terminated with non-zero exit code: {code}",
                    "details": {"causes": causes}}  # fmt: skip
        await ws.send_bytes(bytes([STATUS]) + json.dumps(body).encode())
        await ws.close()


async def _serve_attach(ws: WebSocket, attached: Attach, name: str, cluster: Cluster) -> None:
    async def pump() -> None:
        async for data in attached.output():
            await ws.send_bytes(bytes([STDOUT]) + data)
        await ws.close()

    sender = asyncio.create_task(pump())
    try:
        while True:
            message = await ws.receive_bytes()
            if message[:1] == bytes([RESIZE]):
                size = json.loads(message[1:])
                cluster.resizes.append((name, int(size["Width"]), int(size["Height"])))
                await attached.resize(int(size["Width"]), int(size["Height"]))
    except (WebSocketDisconnect, RuntimeError, KeyError, ValueError):
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        await attached.close()
