"""A kubelet for the stand-in API server that runs each Pod's containers in Docker.

What a node would do, within reason: the init container runs to completion first, then
the sandbox container starts with the Pod's command, env, user, read-only root,
dropped capabilities, no-new-privileges, limits, TTY and volume mounts; exec and attach
go to the Docker exec/attach APIs; a resize resizes the container's TTY.

The Pod network: every container of a Pod joins the network namespace of a small
"net" container that has no network but loopback, where a forwarder listens on
127.0.0.1:<gateway port> and passes each connection through a unix socket to the
controller's gateway port on this host. So a Pod reaches its gateway and nothing else,
as the chart's NetworkPolicy allows. emptyDir volumes are host directories (mode 1777,
as a kubelet makes them), medium Memory included.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.utils.socket
from kubernetes.utils.quantity import parse_quantity

from tests.kube.api import STDERR, STDOUT, Cluster

_POD_LABEL = "warden.standin.pod"
_NO_NEW_PRIVS = ["no-new-privileges"]


def _mode(mount: Mapping[str, Any]) -> str:
    return "ro" if mount.get("readOnly") else "rw"


class _Exec:
    def __init__(self, api: Any, exec_id: str) -> None:
        self._api, self._id = api, exec_id

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def pump() -> None:
            try:
                for out, err in self._api.exec_start(self._id, stream=True, demux=True):
                    for channel, data in ((STDOUT, out), (STDERR, err)):
                        if data:
                            loop.call_soon_threadsafe(queue.put_nowait, (channel, data))
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        worker = asyncio.ensure_future(asyncio.to_thread(pump))
        while (item := await queue.get()) is not None:
            yield item
        await worker

    async def wait(self) -> int:
        info = await asyncio.to_thread(self._api.exec_inspect, self._id)
        return int(info.get("ExitCode") or 0)


class _Attach:
    def __init__(self, api: Any, container: str, sock: Any) -> None:
        self._api, self._container, self._sock = api, container, sock
        self._raw: socket.socket = getattr(sock, "_sock", sock)
        self._raw.settimeout(None)

    async def output(self) -> AsyncIterator[bytes]:
        while True:
            data = await asyncio.to_thread(_read, self._sock)
            if not data:
                return
            yield data

    async def resize(self, cols: int, rows: int) -> None:
        await asyncio.to_thread(self._api.resize, self._container, height=rows, width=cols)

    async def close(self) -> None:
        with contextlib.suppress(OSError):
            self._raw.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._sock.close()


def _read(sock: Any) -> bytes:
    try:
        return bytes(docker.utils.socket.read(sock, 65536) or b"")
    except (OSError, ValueError):
        return b""


class DockerKubelet:
    """Runs Pods as Docker containers (see the module docstring)."""

    def __init__(
        self, client: docker.DockerClient, root: Path, *, gateway_port: int, net_image: str,
        labels: Mapping[str, str],
    ) -> None:  # fmt: skip
        self._client = client
        self._root = root
        self._port = gateway_port
        self._net_image = net_image
        self._labels = dict(labels)
        self._containers: dict[str, dict[str, str]] = {}  # pod → container name → id
        self._logs: dict[str, str] = {}
        self._forwarder: asyncio.AbstractServer | None = None

    async def _forward(self) -> Path:
        """The host end of every Pod's network: a unix socket to the gateway port."""
        path = self._root / "net" / "gw.sock"
        if self._forwarder is None:
            path.parent.mkdir(parents=True, exist_ok=True)

            async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                up_r, up_w = await asyncio.open_connection("127.0.0.1", self._port)
                await asyncio.gather(_pipe(reader, up_w), _pipe(up_r, writer))

            self._forwarder = await asyncio.start_unix_server(relay, path=str(path))
            path.chmod(0o666)
        return path.parent

    async def run(self, pod: Mapping[str, Any], cluster: Cluster) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        name, ns = meta["name"], meta["namespace"]
        self._containers[name] = {}
        volumes = await asyncio.to_thread(self._volumes, name, spec)
        net = await self._start_net(name)
        init_status = []
        for container in spec.get("initContainers", []):
            code, logs = await asyncio.to_thread(
                self._run_init, name, spec, container, volumes, net
            )
            self._logs[f"{name}/{container['name']}"] = logs
            state = {
                "terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}
            }
            init_status.append({"name": container["name"], "state": state})
            if code != 0:
                cluster.set_status(
                    ns, name, {"phase": "Failed", "initContainerStatuses": init_status}
                )
                return
        main = spec["containers"][0]
        cid = await asyncio.to_thread(self._start_main, name, spec, main, volumes, net)
        running = {"name": main["name"], "state": {"running": {}}}
        cluster.set_status(ns, name, {"phase": "Running", "initContainerStatuses": init_status,
                                      "containerStatuses": [running]})  # fmt: skip
        code = await asyncio.to_thread(self._wait, cid)
        if code is not None and name in self._containers:
            done = {"name": main["name"], "state": {"terminated": {"exitCode": code}}}
            phase = "Succeeded" if code == 0 else "Failed"
            cluster.set_status(ns, name, {"phase": phase, "initContainerStatuses": init_status,
                                          "containerStatuses": [done]})  # fmt: skip

    def _volumes(self, name: str, spec: Mapping[str, Any]) -> dict[str, Path]:
        found = {}
        for volume in spec.get("volumes", []):
            assert set(volume) - {"name"} == {"emptyDir"}, f"only emptyDir is run here: {volume}"
            path = self._root / name / volume["name"]
            path.mkdir(parents=True)
            path.chmod(0o1777)
            found[volume["name"]] = path
        return found

    async def _start_net(self, name: str) -> str:
        net_dir = await self._forward()
        command = ["socat", f"TCP-LISTEN:{self._port},bind=127.0.0.1,fork,reuseaddr",
                   "UNIX-CONNECT:/net/gw.sock"]  # fmt: skip
        container = await asyncio.to_thread(
            self._client.containers.run, self._net_image, command, entrypoint=[],
            name=f"{name}-net", detach=True, network_mode="none", read_only=True,
            user="1000:1000", cap_drop=["ALL"], security_opt=["no-new-privileges"],
            volumes={str(net_dir): {"bind": "/net", "mode": "ro"}},
            labels={**self._labels, _POD_LABEL: name},
        )  # fmt: skip
        self._containers[name]["net"] = container.id
        return str(container.id)

    def _config(
        self, pod: str, spec: Mapping[str, Any], c: Mapping[str, Any],
        volumes: Mapping[str, Path], net: str,
    ) -> dict[str, Any]:  # fmt: skip
        pod_sc, sc = spec.get("securityContext") or {}, c.get("securityContext") or {}
        uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
        gid = sc.get("runAsGroup", pod_sc.get("runAsGroup", uid))
        limits = (c.get("resources") or {}).get("limits") or {}
        config: dict[str, Any] = {
            "image": c["image"],
            "entrypoint": c.get("command"),
            "command": c.get("args"),
            "environment": {e["name"]: e["value"] for e in c.get("env", [])},
            "working_dir": c.get("workingDir"),
            "user": f"{uid}:{gid}" if uid is not None else None,
            "read_only": bool(sc.get("readOnlyRootFilesystem")),
            "cap_drop": list((sc.get("capabilities") or {}).get("drop") or []),
            "security_opt": []
            if sc.get("allowPrivilegeEscalation", True)
            else ["no-new-privileges"],
            "network_mode": f"container:{net}",
            "volumes": {
                str(volumes[m["name"]]): {
                    "bind": m["mountPath"],
                    "mode": "ro" if m.get("readOnly") else "rw",
                }
                for m in c.get("volumeMounts", [])
            },
            "labels": {**self._labels, _POD_LABEL: pod},
            "tty": bool(c.get("tty")),
            "stdin_open": bool(c.get("stdin")),
            "name": f"{pod}-{c['name']}",
        }
        if "memory" in limits:
            config["mem_limit"] = int(parse_quantity(limits["memory"]))
        if "cpu" in limits:
            config["nano_cpus"] = int(parse_quantity(limits["cpu"]) * 10**9)
        return config

    def _run_init(self, pod: str, spec: Any, c: Any, volumes: Any, net: str) -> tuple[int, str]:
        container = self._client.containers.create(**self._config(pod, spec, c, volumes, net))
        self._containers[pod][c["name"]] = container.id
        container.start()
        code = int(container.wait(timeout=300).get("StatusCode", 1))
        return code, container.logs().decode("utf-8", "replace")

    def _start_main(self, pod: str, spec: Any, c: Any, volumes: Any, net: str) -> str:
        container = self._client.containers.create(**self._config(pod, spec, c, volumes, net))
        self._containers[pod]["sandbox"] = container.id
        container.start()
        return str(container.id)

    def _wait(self, cid: str) -> int | None:
        try:
            return int(self._client.api.wait(cid).get("StatusCode", 1))
        except docker.errors.DockerException:
            return None  # removed

    def _main(self, name: str, container: str) -> str:
        cid = self._containers.get(name, {}).get(container)
        if cid is None:
            raise LookupError(f"container {container!r} of {name} is not running")
        return cid

    async def exec(self, name: str, container: str, argv: list[str]) -> _Exec:
        cid = self._main(name, container)
        created = await asyncio.to_thread(
            self._client.api.exec_create, cid, argv, stdout=True, stderr=True
        )
        return _Exec(self._client.api, created["Id"])

    async def attach(self, name: str, container: str) -> _Attach:
        cid = self._main(name, container)
        params = {"stdout": 1, "stderr": 1, "stream": 1, "logs": 0}
        sock = await asyncio.to_thread(self._client.api.attach_socket, cid, params)
        return _Attach(self._client.api, cid, sock)

    async def delete(self, name: str, grace: int) -> None:
        containers = self._containers.pop(name, {})
        for cid in containers.values():
            with contextlib.suppress(docker.errors.DockerException):
                await asyncio.to_thread(self._client.api.remove_container, cid, force=True, v=True)
        await asyncio.to_thread(shutil.rmtree, self._root / name, True)

    async def logs(self, name: str, container: str) -> str:
        return self._logs.get(f"{name}/{container}", "")

    async def close(self) -> None:
        if self._forwarder is not None:
            self._forwarder.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()
