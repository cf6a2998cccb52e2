"""A real ``warden serve`` under oversized and abusive requests: refused, and unharmed."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import sqlite3
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.integration.conftest import StartWarden
from tests.integration.server import WardenServer

MB = 1024**2


def _rss(server: WardenServer) -> int:
    assert server.process is not None
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(kib) * 1024


def _send_until_answered(port: int, head: bytes, chunks: int, chunk: bytes) -> bytes:
    """Send ``head`` and up to ``chunks`` × ``chunk``, stopping once the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        sent = 0
        answer = b""
        try:
            for _ in range(chunks):
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break
                sock.sendall(chunk)
                sent += 1
        except (BrokenPipeError, ConnectionResetError):
            pass
        deadline = time.monotonic() + 30
        while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            answer += data
        print(f"sent {sent} of {chunks} chunks ({sent * len(chunk) / MB:.1f} MB) before the answer")
        return answer


def test_a_100_mb_body_is_413_and_the_server_does_not_grow(tmp_path: Path) -> None:
    """100 MB declared, then 100 MB chunked: 413 each, the server's RSS grows < 8 MB."""
    server = WardenServer(tmp_path / "data", f"sqlite:///{tmp_path / 'warden.db'}").start()
    try:
        before = _rss(server)
        declared = (
            b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {100 * MB}\r\n\r\n".encode()
        )
        answer = _send_until_answered(server.port, declared, 100, b"x" * MB)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
        assert b"payload_too_large" in answer or b"content-length" in answer.lower()
        chunked = (
            b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        piece = f"{MB:x}\r\n".encode() + b"x" * MB + b"\r\n"
        answer = _send_until_answered(server.port, chunked, 100, piece)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
        after = _rss(server)
        print(f"server RSS before {before / MB:.1f} MB, after {after / MB:.1f} MB")
        assert after - before < 8 * MB
        assert server.client.get("/v1/health").status_code == 200
    finally:
        server.stop()


def _ledger_counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT type, count(*) FROM audit_events GROUP BY type").fetchall()
    return {kind: count for kind, count in rows}


async def _health_p95(client: httpx.AsyncClient, samples: int) -> float:
    times = []
    for _ in range(samples):
        began = time.perf_counter()
        assert (await client.get("/v1/health")).status_code == 200
        times.append(time.perf_counter() - began)
    return statistics.quantiles(times, n=20)[18]


#: The attacker runs in its own process, so its event loop does not slow the prober's.
_FLOOD = """
import asyncio, collections, json, sys
import httpx

async def main(url, total, parallel):
    statuses = collections.Counter()
    numbers = iter(range(total))
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        async def worker():
            for i in numbers:
                reply = await client.get("/v1/sessions", headers={"Authorization": f"Bearer x{i}"})
                statuses[reply.status_code] += 1
        await asyncio.gather(*(worker() for _ in range(parallel)))
    print(json.dumps(statuses))

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""


def test_a_bad_token_flood_is_refused_and_the_ledger_stays_bounded(tmp_path: Path) -> None:
    """2,000 bad-token requests (20 at a time): all refused, the ledger grows by a bounded
    number of events, and /v1/health's p95 under the flood stays within 3x of idle."""
    db = tmp_path / "warden.db"
    server = WardenServer(
        tmp_path / "data", f"sqlite:///{db}", extra_env={"WARDEN_AUTH_ENABLED": "true"}
    ).start()

    async def main() -> tuple[Counter[int], float, float]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as prober:
            idle = await _health_p95(prober, 100)
            attacker = await asyncio.create_subprocess_exec(
                sys.executable, "-c", _FLOOD, server.url, "2000", "20",
                stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            await asyncio.sleep(0.5)
            loaded = await _health_p95(prober, 100)
            out, _ = await attacker.communicate()
            statuses = Counter({int(k): v for k, v in json.loads(out).items()})
            return statuses, idle, loaded

    try:
        before = sum(_ledger_counts(db).values())
        statuses, idle, loaded = asyncio.run(main())
        after = _ledger_counts(db)
        grown = sum(after.values()) - before
        print(f"flood statuses {dict(statuses)}; ledger grew by {grown} events: {after}")
        print(f"/v1/health p95 idle {idle * 1000:.1f} ms, under the flood {loaded * 1000:.1f} ms")
        assert sum(statuses.values()) == 2000
        assert set(statuses) <= {401, 429} and statuses[429] > 1900
        assert grown <= 60
        assert after.get("auth.throttled") == 1
        assert loaded <= 3 * max(idle, 0.005)
    finally:
        server.stop()
    # At shutdown the open window is summarised with the whole count.
    final = _ledger_counts(db)
    print(f"after shutdown: {final}")
    assert final.get("auth.flood") == 1


def test_real_sessions_over_the_tenant_quota(start_warden: StartWarden, tmp_path: Path) -> None:
    """Against real Docker: a batch of 4 with 2 allowed per tenant starts exactly 2, the
    rest and a further start get 429 naming the limit; the 2 reach idle and are deleted."""
    server = start_warden(extra_env={"WARDEN_MAX_SESSIONS_PER_TENANT": "2"})
    dirs = []
    for name in "abcd":
        (tmp_path / name).mkdir()
        dirs.append(str(tmp_path / name))
    body = {"sessions": [{"workDir": d, "prompt": f"quota {d[-1]}"} for d in dirs]}
    reply = server.client.post("/v1/sessions/batch", json=body)
    assert reply.status_code == 200, reply.text
    results = reply.json()["results"]
    started = [r["session"]["id"] for r in results if r["session"]]
    assert len(started) == 2
    assert [r["error"]["details"]["limit"] for r in results if r["error"]] == [
        "sessions_per_tenant"
    ] * 2
    over = server.client.post("/v1/sessions", json={"workDir": dirs[3]})
    assert over.status_code == 429 and over.headers["retry-after"] == "30"
    assert over.json()["error"]["details"]["limit"] == "sessions_per_tenant"
    for sid in started:
        server.wait_state(sid, "idle", timeout=180)
        assert server.client.delete(f"/v1/sessions/{sid}").status_code == 200
    again = server.client.post("/v1/sessions", json={"workDir": dirs[3]})
    assert again.status_code == 201, again.text
    server.client.delete(f"/v1/sessions/{again.json()['id']}")
