#!/usr/bin/env python3
"""Register gVisor's ``runsc`` with the running Docker engine, without restarting it.

Merges ``runtimes.runsc`` into the engine's ``daemon.json`` (every other key is kept;
the file is created when absent), then sends dockerd SIGHUP, which makes it re-read its
runtimes (dockerd 20.10 reloads ``runtimes`` on SIGHUP; running containers are not
touched), and waits until ``docker info`` lists the runtime. Idempotent: when the file
already says so and the engine already has it, nothing is written and no signal is sent.

Stdlib only: ``scripts/setup`` runs it as root, before or without Warden's own packages.
Usage: scripts/gvisor_runtime.py [--daemon-json PATH] [--name runsc] [--runsc PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DAEMON_JSON = Path("/etc/docker/daemon.json")
PID_FILE = Path("/var/run/docker.pid")

#: ptrace: works everywhere (no /dev/kvm needed). network=none: sessions have no network
#: anyway (Docker's network_mode none); gVisor then builds no network stack at all.
#: host-uds=open: the sandbox may connect to the host's unix sockets in its mounts, which
#: is how Claude Code reaches the session's gateway socket (it never creates any).
RUNTIME_ARGS = ("--platform=ptrace", "--network=none", "--host-uds=open")


def desired_entry(runsc: str) -> dict[str, Any]:
    """The ``runtimes.<name>`` value Warden needs."""
    return {"path": runsc, "runtimeArgs": list(RUNTIME_ARGS)}


def merged(config: dict[str, Any], name: str, entry: dict[str, Any]) -> dict[str, Any]:
    """``config`` with ``runtimes[name] = entry``; every other key and runtime kept."""
    runtimes = dict(config.get("runtimes") or {})
    runtimes[name] = entry
    return {**config, "runtimes": runtimes}


def read_config(path: Path) -> dict[str, Any]:
    """The daemon's configuration, or ``{}`` when there is no file (or an empty one)."""
    if not path.exists() or not path.read_text(encoding="utf-8").strip():
        return {}
    config = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(config, dict):
        raise SystemExit(f"{path} is not a JSON object; fix it by hand first")
    return config


def write_config(path: Path, config: dict[str, Any]) -> None:
    """Replace the file atomically (a half-written daemon.json breaks the next start)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".daemon.json.")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(config, out, indent=2)
        out.write("\n")
    Path(tmp).chmod(mode)
    Path(tmp).replace(path)


def engine_runtimes() -> dict[str, Any]:
    """The runtimes the running engine has, as ``docker info`` reports them."""
    out = subprocess.run(
        ["docker", "info", "--format", "{{json .Runtimes}}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    runtimes = json.loads(out or "{}")
    return runtimes if isinstance(runtimes, dict) else {}


def is_registered(runtimes: dict[str, Any], name: str, entry: dict[str, Any]) -> bool:
    """The engine has ``name`` with our path and arguments (``docker info`` names them)."""
    have = runtimes.get(name)
    if not isinstance(have, dict):
        return False
    args = have.get("runtimeArgs") or have.get("RuntimeArgs") or []
    return bool(have.get("path") == entry["path"] and list(args) == entry["runtimeArgs"])


def dockerd_pid() -> int:
    """dockerd's pid, from its pid file (the default ``--pidfile``), else by ``pidof``."""
    if PID_FILE.is_file():
        text = PID_FILE.read_text(encoding="utf-8").strip()
        if text.isdigit() and Path(f"/proc/{text}").exists():
            return int(text)
    found = subprocess.run(["pidof", "dockerd"], capture_output=True, text=True).stdout.split()
    if len(found) != 1:
        raise SystemExit(f"cannot tell which process is dockerd (pidof: {found or 'none'})")
    return int(found[0])


def reload_engine(name: str, entry: dict[str, Any], *, timeout: float = 20.0) -> None:
    """SIGHUP dockerd and wait until ``docker info`` shows the runtime."""
    os.kill(dockerd_pid(), signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_registered(engine_runtimes(), name, entry):
            return
        time.sleep(0.5)
    raise SystemExit(
        f"dockerd did not load runtime {name!r} after SIGHUP; see its log "
        "(a daemon started with --config-file reads another file: pass --daemon-json)"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--daemon-json", type=Path, default=DAEMON_JSON)
    parser.add_argument("--name", default="runsc")
    parser.add_argument("--runsc", default=shutil.which("runsc") or "/usr/bin/runsc")
    args = parser.parse_args(argv)
    entry = desired_entry(args.runsc)
    config = read_config(args.daemon_json)
    wanted = merged(config, args.name, entry)
    if wanted != config:
        write_config(args.daemon_json, wanted)
        print(f"{args.daemon_json}: runtime {args.name!r} -> {entry}")
    if is_registered(engine_runtimes(), args.name, entry):
        print(f"runtime {args.name!r} is registered with the Docker engine")
        return 0
    reload_engine(args.name, entry)
    print(f"runtime {args.name!r} registered with the Docker engine (reloaded by SIGHUP)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
