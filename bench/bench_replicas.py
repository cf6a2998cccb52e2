"""Replica benchmarks: audit append throughput with one shared chain, and failover time.

    python bench/bench_replicas.py throughput [--url postgresql://…] [--seconds 5]
    python bench/bench_replicas.py failover [--url …] [--runs 5] [--lease 6]

``throughput``: one process x 16 producers on the ledger alone (single replica), then
three processes x 16 producers sharing it (one elected sequencer, the others relaying
through ``audit_pending``); appends/s summed over the processes. Throw-away schemas.

``failover``: two real ``warden serve`` replicas (Docker, the scripted model, the
sandbox image built), two sessions created on the first; SIGKILL it and time until the
second reports both sessions as its own and idle again. Needs Docker and the image.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
import psycopg

from audit.stores.pg_schema import install_schema

DEFAULT_URL = os.environ.get(
    "WARDEN_TEST_POSTGRES_URL", "postgresql://warden:warden@127.0.0.1:5432/warden_test"
)

_PRODUCER = textwrap.dedent(
    """
    import sys, threading, time
    from pathlib import Path
    from audit import Ledger
    url, keys, schema, shared, producers, seconds = sys.argv[1:7]
    ledger = Ledger.open(url, Path(keys), schema=schema, install=False, shared=shared == "1")
    print("ready", flush=True)
    sys.stdin.readline()  # every process starts together
    stop, counts = threading.Event(), []
    def produce(worker):
        n = 0
        while not stop.is_set():
            ledger.append("permission.decided", actor=f"user:{worker}", session="s",
                          data={"tool": "Bash", "command": "npm test"})
            n += 1
        counts.append(n)
    threads = [threading.Thread(target=produce, args=(w,)) for w in range(int(producers))]
    t0 = time.perf_counter()
    for t in threads: t.start()
    time.sleep(float(seconds)); stop.set()
    for t in threads: t.join()
    print(f"{sum(counts)} {time.perf_counter() - t0}", flush=True)
    ledger.close()
    """
)


def _schema(url: str) -> str:
    name = "bench_rep_" + secrets.token_hex(4)
    with psycopg.connect(url) as conn, conn.transaction():
        install_schema(conn, schema=name)
    return name


def _drop(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _appends(url: str, processes: int, producers: int, seconds: float, shared: bool) -> float:
    schema = _schema(url)
    keys = Path(tempfile.mkdtemp()) / "keys"
    args = [url, str(keys), schema, "1" if shared else "0", str(producers), str(seconds)]
    procs = []
    try:
        for _ in range(processes):
            proc = subprocess.Popen(
                [sys.executable, "-c", _PRODUCER, *args],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            procs.append(proc)
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        total = 0.0
        for proc in procs:
            out, _ = proc.communicate(timeout=seconds + 120)
            count, elapsed = out.split()[-2:]
            total += int(count) / float(elapsed)
        return total
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        _drop(url, schema)


def throughput(url: str, seconds: float) -> None:
    single = _appends(url, 1, 16, seconds, shared=False)
    print(f"audit appends, 1 replica x 16 producers:  {single:8.0f} events/s")
    three = _appends(url, 3, 16, seconds, shared=True)
    print(f"audit appends, 3 replicas x 16 producers: {three:8.0f} events/s"
          f" ({three / single:.2f}x the single replica)")  # fmt: skip


def _serve(data: Path, url: str, name: str, lease: float) -> tuple[subprocess.Popen[bytes], str]:
    port = 20000 + secrets.randbelow(20000)
    env = {
        **os.environ,
        "WARDEN_DATA_DIR": str(data), "WARDEN_DATABASE_URL": url, "WARDEN_PORT": str(port),
        "WARDEN_MODEL_UPSTREAM": "scripted", "WARDEN_WORKSPACE_ROOTS": str(data.parent),
        "WARDEN_REPLICA_ID": name, "WARDEN_LEASE_SECONDS": str(lease),
        "WARDEN_LEASE_RENEW_SECONDS": str(max(0.5, lease / 6)),
        "WARDEN_CONTAINER_LABELS": json.dumps({"warden.bench": "replicas"}),
    }  # fmt: skip
    with (data / f"{name}.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "runner.cli", "serve"], env=env, stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/v1/health").status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"replica {name} did not come up")


def _wait(check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(0.1)


def _failover_once(url: str, lease: float) -> float:
    root = Path(tempfile.mkdtemp(prefix="warden-bench-"))
    data = root / "data"
    data.mkdir()
    database = "bench_failover_" + secrets.token_hex(4)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    db_url = url.rpartition("/")[0] + "/" + database
    procs: list[subprocess.Popen[bytes]] = []
    try:
        first, a = _serve(data, db_url, "a", lease)
        procs.append(first)
        second, b = _serve(data, db_url, "b", lease)
        procs.append(second)
        ids = []
        for name in ("one", "two"):
            (root / name).mkdir()
            body = {"workDir": str(root / name), "prompt": "stay idle"}
            ids.append(httpx.post(f"{a}/v1/sessions", json=body, timeout=60).json()["id"])

        def state(base: str, sid: str) -> dict[str, str]:
            got: dict[str, str] = httpx.get(f"{base}/v1/sessions/{sid}", timeout=30).json()
            return got

        _wait(lambda: all(state(a, s)["state"] == "idle" for s in ids), 300)
        first.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        _wait(
            lambda: all(
                (got := state(b, s))["replica"] == "b" and got["state"] == "idle" for s in ids
            ),
            lease + 60,
        )
        return time.monotonic() - killed
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(30)
        subprocess.run(
            ["docker", "rm", "-f", "-v", *_bench_containers()], capture_output=True, check=False
        )
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        _unmount_under(root)


def _unmount_under(root: Path) -> None:
    """The sessions' quota volumes (loop mounts) under the run's directory."""
    mounts = Path("/proc/mounts").read_text().splitlines()
    for point in (line.split()[1] for line in mounts if len(line.split()) > 1):
        if point.startswith(str(root) + "/"):
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def _bench_containers() -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", "label=warden.bench=replicas"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return out.stdout.split()


def failover(url: str, runs: int, lease: float) -> None:
    times = [_failover_once(url, lease) for _ in range(runs)]
    cuts = statistics.quantiles(times, n=20) if len(times) > 1 else times * 19
    print(f"failover (SIGKILL -> 2 sessions owned and idle on the survivor), lease {lease:g} s,"
          f" {runs} runs: p50 {statistics.median(times):.1f} s, p95 {cuts[18]:.1f} s,"
          f" each {', '.join(f'{t:.1f}' for t in times)}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["throughput", "failover"])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lease", type=float, default=6.0)
    args = parser.parse_args()
    if args.what == "throughput":
        throughput(args.url, args.seconds)
    else:
        failover(args.url, args.runs, args.lease)


if __name__ == "__main__":
    main()
