"""Density and idle cost: N idle sessions on one host, what they cost, and a burst.

    python bench/bench_density.py [--levels 10,25,50,100] [--idle-seconds 60] [--burst 20]

A real ``warden serve`` (scripted model, SQLite in a temp dir) and real sandboxes. For
each N in ``--levels`` it brings the number of idle sessions up to N and prints:
the controller's CPU while every screen is still (% of one core over ``--idle-seconds``),
the controller's RSS, memory per sandbox (the containers' cgroups: RSS and all charged
memory), the sandboxes' total CPU over the same window, and the time to ready of one
more session. It stops before a level the host's available memory cannot hold (and
says so). Then a burst: ``--burst`` sessions created at once, the time until each is
idle (p50/p95, and until all are). Last, where one sandbox's memory goes (RSS per
process). Prints figures; asserts nothing. Needs Docker and the built sandbox image.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import httpx

from runner.policy import shipped_policies_dir

POLL = 0.1
LABELS = {"warden.bench": "density"}
_TICKS = os.sysconf("SC_CLK_TCK")
#: Memory kept free for the host and the other processes on it, beyond the sandboxes.
_HEADROOM = 2 * 1024**3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _serve(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    data = root / "data"
    data.mkdir()
    policies = root / "policies"
    shutil.copytree(shipped_policies_dir(), policies)
    env = {
        **os.environ,
        "WARDEN_DATA_DIR": str(data),
        "WARDEN_POLICIES_DIR": str(policies),
        "WARDEN_MODEL_UPSTREAM": "scripted",
        "WARDEN_PORT": str(port),
        "WARDEN_WORKSPACE_ROOTS": str(root / "work"),
        "WARDEN_CONTAINER_LABELS": json.dumps(LABELS),
    }
    log = (data / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner.cli", "serve"], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/v1/health").status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("warden serve did not start")


def _create(client: httpx.Client, work: Path) -> str:
    response = client.post("/v1/sessions", json={"workDir": str(work)})
    if response.status_code >= 400:
        raise RuntimeError(f"create refused: {response.status_code} {response.text}")
    sid: str = response.json()["id"]
    return sid


def _until_idle(client: httpx.Client, sid: str, started: float, timeout: float = 300) -> float:
    while True:
        state = client.get(f"/v1/sessions/{sid}").json()["state"]
        if state == "idle":
            return time.monotonic() - started
        if state == "error" or time.monotonic() - started > timeout:
            raise RuntimeError(f"session {sid} ended in {state}")
        time.sleep(POLL)


def _one_session(url: str, work: Path) -> tuple[str, float]:
    """A new session and its seconds from POST to idle (own client: thread-safe).

    Each has a project directory of its own: a request naming the workDir of an idle
    session would reuse that session instead of starting one.
    """
    project = work / uuid.uuid4().hex
    project.mkdir()
    (project / "app.py").write_text("print('hello')\n")
    with httpx.Client(base_url=url, timeout=120) as client:
        started = time.monotonic()
        sid = _create(client, project)
        return sid, _until_idle(client, sid, started)


def _proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def _proc_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _cgroup_file(container_id: str, controller: str, name: str) -> Path | None:
    """A container's cgroup file (cgroup v1 or v2, cgroupfs or systemd driver)."""
    for candidate in (
        Path(f"/sys/fs/cgroup/{controller}/docker/{container_id}/{name}"),
        Path(f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/{name}"),
        Path(f"/sys/fs/cgroup/docker/{container_id}/{name}"),
    ):
        if candidate.exists():
            return candidate
    return None


def _sandbox_memory(container_id: str) -> tuple[int, int]:
    """(RSS, all memory charged) of one container, in bytes; (0, 0) if not found."""
    stat = _cgroup_file(container_id, "memory", "memory.stat")
    if stat is None:
        return 0, 0
    values = dict(line.split() for line in stat.read_text().splitlines())
    rss = int(values.get("total_rss", values.get("anon", 0)))
    usage = _cgroup_file(container_id, "memory", "memory.usage_in_bytes") or _cgroup_file(
        container_id, "memory", "memory.current"
    )
    return rss, int(usage.read_text()) if usage else 0


def _sandbox_cpu_seconds(container_id: str) -> float:
    usage = _cgroup_file(container_id, "cpuacct", "cpuacct.usage")
    if usage is not None:
        return int(usage.read_text()) / 1e9
    stat = _cgroup_file(container_id, "cpu", "cpu.stat")
    if stat is None:
        return 0.0
    values = dict(line.split() for line in stat.read_text().splitlines())
    return int(values.get("usage_usec", 0)) / 1e6


def _containers(client: docker.DockerClient) -> list[str]:
    filters = {"label": [f"{k}={v}" for k, v in LABELS.items()], "status": "running"}
    return [c.id for c in client.containers.list(filters=filters)]


def _available_memory() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def _measure_idle(pid: int, containers: list[str], seconds: float) -> dict[str, float]:
    cpu0, boxes0 = _proc_cpu_seconds(pid), sum(_sandbox_cpu_seconds(c) for c in containers)
    time.sleep(seconds)
    cpu1, boxes1 = _proc_cpu_seconds(pid), sum(_sandbox_cpu_seconds(c) for c in containers)
    memory = [_sandbox_memory(c) for c in containers]
    return {
        "controller_cpu": 100 * (cpu1 - cpu0) / seconds,
        "controller_rss": _proc_rss(pid),
        "sandbox_rss": statistics.mean(m[0] for m in memory) if memory else 0.0,
        "sandbox_usage": statistics.mean(m[1] for m in memory) if memory else 0.0,
        "sandboxes_cpu": 100 * (boxes1 - boxes0) / seconds,
    }


def _where_memory_goes(client: docker.DockerClient, container_id: str) -> None:
    top = client.api.top(container_id, ps_args="-o pid,rss,args")
    print(f"where one idle sandbox's memory goes ({container_id[:12]}, RSS per process):")
    rows = sorted(top.get("Processes") or [], key=lambda row: -int(row[1]))
    for _pid, rss, args in rows:
        print(f"  {int(rss) / 1024:8.1f} MiB  {args[:90]}")


def _row(n: int, idle: dict[str, float], one_more: float) -> None:
    print(
        f"{n:>5} {idle['controller_cpu']:>9.2f} % {idle['controller_rss'] / 2**20:>9.0f} MiB"
        f" {idle['sandbox_rss'] / 2**20:>8.0f} MiB {idle['sandbox_usage'] / 2**20:>8.0f} MiB"
        f" {idle['sandboxes_cpu']:>9.2f} % {one_more:>8.2f} s"
    )


def _fill(url: str, work: Path, count: int, sids: list[str]) -> None:
    """Bring the number of idle sessions up to ``count``, four at a time."""
    with ThreadPoolExecutor(4) as threads:
        new = list(threads.map(lambda _: _one_session(url, work)[0], range(count - len(sids))))
    sids.extend(new)


def _delete_all(url: str, sids: list[str]) -> None:
    with httpx.Client(base_url=url, timeout=300) as client, ThreadPoolExecutor(4) as threads:
        list(threads.map(lambda sid: client.delete(f"/v1/sessions/{sid}"), sids))
    sids.clear()


def _delete_everything(url: str) -> None:
    """Every session the controller still runs (also those of an interrupted step)."""
    with httpx.Client(base_url=url, timeout=60) as client:
        listed = client.get("/v1/sessions").json()
    rows = listed if isinstance(listed, list) else listed.get("sessions", [])
    _delete_all(url, [row["id"] for row in rows if row.get("state") not in ("exited", "error")])


def _burst(url: str, work: Path, count: int) -> None:
    started = time.monotonic()
    with ThreadPoolExecutor(count) as threads:
        results = list(threads.map(lambda _: _one_session(url, work), range(count)))
    everything = time.monotonic() - started
    times = sorted(seconds for _, seconds in results)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    print(
        f"burst of {count} created at once: p50 {statistics.median(times):.2f} s,"
        f" p95 {p95:.2f} s to idle; all idle after {everything:.2f} s"
    )
    _delete_all(url, [sid for sid, _ in results])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="10,25,50,100")
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--burst", type=int, default=20)
    args = parser.parse_args()
    levels = [int(part) for part in args.levels.split(",") if part.strip()]
    print("load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    docker_client = docker.from_env()
    sids: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        work = root / "work"
        work.mkdir()
        proc, url = _serve(root)
        try:
            print(f"idle sessions; controller and sandboxes over {args.idle_seconds:.0f} s")
            print(
                "    N  ctrl CPU   ctrl RSS  box RSS  box mem  boxes CPU  one more"
                "\n       (1 core)            (mean)   (mean)   (1 core)   to idle"
            )
            per_box = 0.0
            for n in levels:
                need = (n - len(sids)) * per_box
                if per_box and need > _available_memory() - _HEADROOM:
                    print(
                        f"stopped before N={n}: it needs ~{need / 2**30:.1f} GiB more"
                        f" ({per_box / 2**20:.0f} MiB a sandbox), the host has"
                        f" {_available_memory() / 2**30:.1f} GiB available"
                    )
                    break
                _fill(url, work, n, sids)
                idle = _measure_idle(proc.pid, _containers(docker_client), args.idle_seconds)
                per_box = max(idle["sandbox_usage"], idle["sandbox_rss"])
                sid, one_more = _one_session(url, work)
                _delete_all(url, [sid])
                _row(n, idle, one_more)
            boxes = _containers(docker_client)
            if boxes:
                _where_memory_goes(docker_client, boxes[0])
            _delete_all(url, sids)
            if args.burst:
                _burst(url, work, args.burst)
        finally:
            _delete_everything(url)
            proc.terminate()
            proc.wait(60)
            docker_client.close()
    print("load average (1, 5, 15 min) at end:   {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
