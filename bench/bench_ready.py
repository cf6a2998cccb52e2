"""Time to ready: ``POST /v1/sessions`` → ``idle`` cold under runc and under gVisor (runsc),
and from the warm pool, next to the same Claude Code started bare.

    python bench/bench_ready.py [--sessions 10]

All columns are measured in one loop, one sample of each in turn. Warden: a real
``warden serve`` (scripted model, SQLite in a temp dir), sessions created
one after another, alternating a runc policy (the shipped ``default``) and a runsc one
(``default`` under gVisor), each polled until idle, then deleted; and between them a
session under ``pooled`` (``default`` with ``container.pool``), claimed from a warm pool
of one once its sandbox is ready. Bare: the same Claude
Code binary in tmux on the host against the same scripted model, polled with
capture-pane until the same classifier says idle. Prints p50/p95 of each and their
ratios, then the controller's own breakdown of each start (``details.startup``: admission,
workspace, gateway and container, attach, start, Claude Code ready, briefing); asserts
nothing. Needs Docker and the built sandbox image (``warden image
build``); the runsc column needs gVisor registered (``scripts/setup --gvisor``).
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
from pathlib import Path
from typing import Any

import docker
import httpx

from runner.policy import shipped_policies_dir
from runner.sandbox.claude_binary import ensure_claude_binary
from runner.sandbox.statedir import claude_config
from runner.scripted.server import ScriptedModelServer
from runner.settings import Settings
from runner.terminal.classifier import classify

POLL = 0.02
GVISOR_POLICY = """\
version: 1
name: gvisor
description: the shipped default, under gVisor
extends: default
container: {runtime: runsc}
"""
POOLED_POLICY = """\
version: 1
name: pooled
description: the shipped default, from the warm pool
extends: default
container: {pool: true}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def bare_once(binary: Path, base_url: str, root: Path) -> float:
    """Seconds from starting Claude Code in tmux until its idle input box shows."""
    key = "bench-key-" + uuid.uuid4().hex
    home, work = root / "home", root / "work"
    home.mkdir(parents=True)
    work.mkdir()
    (home / ".claude.json").write_text(json.dumps(claude_config(key, str(work))))
    env = {
        "HOME": str(home),
        "PATH": os.environ["PATH"],
        "TERM": "xterm-256color",
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": key,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    sock = f"bench-{uuid.uuid4().hex[:8]}"
    command = f"{binary} --session-id {uuid.uuid4()} --permission-mode default"
    started = time.monotonic()
    subprocess.run(
        [
            "tmux",
            "-L",
            sock,
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "40",
            "-c",
            str(work),
            command,
        ],
        env=env,
        check=True,
    )
    try:
        while True:
            pane = subprocess.run(
                ["tmux", "-L", sock, "capture-pane", "-p"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            if classify(pane.splitlines()).state == "idle":
                return time.monotonic() - started
            if time.monotonic() - started > 120:
                raise RuntimeError(f"bare Claude Code never became idle:\n{pane}")
            time.sleep(POLL)
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], check=False, capture_output=True)


def warden_once(client: httpx.Client, work: Path, policy: str) -> tuple[float, dict[str, Any]]:
    """Seconds from POST /v1/sessions until the session reports idle, and the controller's
    own breakdown of that start (``details.startup``)."""
    started = time.monotonic()
    created = client.post("/v1/sessions", json={"workDir": str(work), "policy": policy})
    if created.status_code >= 400:
        raise RuntimeError(f"create refused: {created.status_code} {created.text}")
    sid = created.json()["id"]
    try:
        while True:
            state = client.get(f"/v1/sessions/{sid}").json()["state"]
            if state == "idle":
                elapsed = time.monotonic() - started
                break
            if state == "error" or time.monotonic() - started > 120:
                raise RuntimeError(f"session {sid} ended in {state}")
            time.sleep(POLL)
        while time.monotonic() - started < 130:  # stored a moment after reads show idle
            details = client.get(f"/v1/sessions/{sid}").json().get("details") or {}
            if "startup" in details:
                return elapsed, details["startup"]
            time.sleep(POLL)
        raise RuntimeError(f"session {sid} has no startup breakdown")
    finally:
        client.delete(f"/v1/sessions/{sid}")


def _breakdown(name: str, startups: list[dict[str, Any]]) -> None:
    """The median of each step, in the order the steps happen."""
    if not startups:
        return
    print(f"breakdown of {name} (p50 per step, from the controller's details.startup)")
    for step in startups[0]["steps"]:
        values = [s["steps"].get(step, 0.0) for s in startups]
        print(f"  {step:32} {statistics.median(values) * 1000:8.1f} ms")
    for moment in startups[0]["at"]:
        values = [s["at"].get(moment, 0.0) for s in startups]
        print(f"  ({moment} at {statistics.median(values) * 1000:.1f} ms)")
    total = statistics.median([s["total"] for s in startups])
    print(f"  {'total, in the controller':32} {total * 1000:8.1f} ms")


def _serve(data: Path, policies: Path, roots: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {
        **os.environ,
        "WARDEN_WORKSPACE_ROOTS": str(roots),
        "WARDEN_POOL_SIZE": "1",
        "WARDEN_POOL_KEYS": "pooled",
        "WARDEN_DATA_DIR": str(data),
        "WARDEN_POLICIES_DIR": str(policies),
        "WARDEN_MODEL_UPSTREAM": "scripted",
        "WARDEN_PORT": str(port),
        "WARDEN_CONTAINER_LABELS": json.dumps({"warden.bench": "1"}),
    }
    log = (data / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner.cli", "serve"], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/v1/health").status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("warden serve did not start")


def _summary(name: str, samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(f"{name:28} p50 {p50:6.2f} s   p95 {p95:6.2f} s   (n={len(samples)})")
    return p50, p95


def _has_gvisor() -> bool:
    client = docker.from_env()
    try:
        return "runsc" in (client.info().get("Runtimes") or {})
    finally:
        client.close()


def _policies(root: Path) -> Path:
    folder = root / "policies"
    shutil.copytree(shipped_policies_dir(), folder)
    (folder / "gvisor.yaml").write_text(GVISOR_POLICY)
    (folder / "pooled.yaml").write_text(POOLED_POLICY)
    return folder


def _pool_ready(log: Path, count: int, timeout: float = 180) -> None:
    """Until the controller has logged ``count`` pooled sandboxes ready (so a pooled
    sample is a claim, and the refill does not load the next cold sample)."""
    deadline = time.monotonic() + timeout
    while log.read_text(errors="replace").count("warm pool (pooled): sandbox ") < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the warm pool never became ready")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    args = parser.parse_args()
    settings = Settings()
    binary = ensure_claude_binary(settings.cache_dir, settings.claude_sdk_version)
    gvisor = _has_gvisor()
    print("load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    runc: list[float] = []
    runsc: list[float] = []
    pooled: list[float] = []
    steps: dict[str, list[dict[str, Any]]] = {"runc": [], "runsc": [], "pooled": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bare: list[float] = []
        (root / "data").mkdir()
        (root / "work").mkdir()
        proc, url = _serve(root / "data", _policies(root), root / "work")
        try:
            with httpx.Client(base_url=url, timeout=60) as client, ScriptedModelServer() as model:
                # Alternating, bare included, so a change in the machine's load (it is
                # shared) hits every column alike.
                for i in range(args.sessions):
                    bare.append(bare_once(binary, model.url, root / f"bare{i}"))
                    _pool_ready(root / "data" / "serve.log", i + 1)
                    seconds, startup = warden_once(client, root / "work", "pooled")
                    pooled.append(seconds)
                    steps["pooled"].append(startup)
                    _pool_ready(root / "data" / "serve.log", i + 2)
                    seconds, startup = warden_once(client, root / "work", "default")
                    runc.append(seconds)
                    steps["runc"].append(startup)
                    if gvisor:
                        seconds, startup = warden_once(client, root / "work", "gvisor")
                        runsc.append(seconds)
                        steps["runsc"].append(startup)
        finally:
            proc.terminate()
            proc.wait(30)
    print("load average (1, 5, 15 min) at end:   {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print("time to ready (idle input box), sequential sessions, 120x40")
    bare50, bare95 = _summary("bare Claude Code in tmux", bare)
    c50, c95 = _summary("warden session, runc", runc)
    print(f"{'ratio runc / bare':28} p50 {c50 / bare50:6.2f} x   p95 {c95 / bare95:6.2f} x")
    _breakdown("runc", steps["runc"])
    w50, w95 = _summary("warden session, warm pool", pooled)
    print(f"{'ratio pooled / bare':28} p50 {w50 / bare50:6.2f} x   p95 {w95 / bare95:6.2f} x")
    print(f"{'ratio pooled / runc':28} p50 {w50 / c50:6.2f} x   p95 {w95 / c95:6.2f} x")
    _breakdown("warm pool (claim)", steps["pooled"])
    if not gvisor:
        print("warden session, runsc        not measured: runsc is not registered with Docker")
        print("                             (scripts/setup --gvisor)")
        return
    g50, g95 = _summary("warden session, runsc", runsc)
    print(f"{'ratio runsc / bare':28} p50 {g50 / bare50:6.2f} x   p95 {g95 / bare95:6.2f} x")
    print(f"{'ratio runsc / runc':28} p50 {g50 / c50:6.2f} x   p95 {g95 / c95:6.2f} x")
    _breakdown("runsc", steps["runsc"])


if __name__ == "__main__":
    main()
