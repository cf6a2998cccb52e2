"""Egress proxy benchmark: tunnel throughput through a session's gateway socket.

    python bench/bench_egress.py [--mib 256] [--runs 3]

A real gateway with its egress proxy on a unix socket (as a sandbox's forwarder reaches
it), a CONNECT tunnel to a sink server on loopback, and MiB pushed up and echoed back.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from runner.gateway.server import Gateway
from runner.policy.network import NetworkRule, NetworkRules
from runner.services.egress import EgressSecrets, build_egress

TOKEN = "bench-token"  # noqa: S105 - a throw-away session token
CHUNK = 256 * 1024


class _NoDns:
    async def resolve(self, host: str) -> list[str]:
        return []


async def _sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads everything; answers with the byte count once the client half-closes."""
    total = 0
    while chunk := await reader.read(CHUNK):
        total += len(chunk)
    writer.write(str(total).encode())
    await writer.drain()
    writer.close()


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while chunk := await reader.read(CHUNK):
        writer.write(chunk)
        await writer.drain()
    writer.close()


async def _tunnel(sock: Path, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_unix_connection(str(sock), limit=CHUNK * 4)
    auth = base64.b64encode(f"warden:{TOKEN}".encode()).decode()
    writer.write(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nProxy-Authorization: Basic {auth}"
                 "\r\n\r\n".encode())  # fmt: skip
    line = await reader.readline()
    assert line.startswith(b"HTTP/1.1 200"), line
    await reader.readline()
    return reader, writer


async def _upload(sock: Path, port: int, total: int) -> float:
    reader, writer = await _tunnel(sock, port)
    block = b"x" * CHUNK
    started = time.perf_counter()
    for _ in range(total // CHUNK):
        writer.write(block)
        await writer.drain()
    writer.write_eof()
    got = int(await reader.read())
    seconds = time.perf_counter() - started
    assert got == total, got
    writer.close()
    return total / seconds / 2**20


async def _round_trip(sock: Path, port: int, total: int) -> float:
    reader, writer = await _tunnel(sock, port)
    block = b"y" * CHUNK
    started = time.perf_counter()

    async def send() -> None:
        for _ in range(total // CHUNK):
            writer.write(block)
            await writer.drain()
        writer.write_eof()

    sender = asyncio.create_task(send())
    received = 0
    while received < total and (chunk := await reader.read(CHUNK * 4)):
        received += len(chunk)
    await sender
    seconds = time.perf_counter() - started
    writer.close()
    return 2 * total / seconds / 2**20


async def _main(mib: int, runs: int) -> None:
    sink = await asyncio.start_server(_sink, "127.0.0.1", 0)
    echo = await asyncio.start_server(_echo, "127.0.0.1", 0)
    sink_port = sink.sockets[0].getsockname()[1]
    echo_port = echo.sockets[0].getsockname()[1]
    rules = NetworkRules(allow=(
        NetworkRule("sink", "127.0.0.1", (sink_port, echo_port)),
    ))  # fmt: skip

    async def quiet(_name: str, _data: dict[str, Any]) -> None:
        return None

    proxy = build_egress(rules, session_id="bench", token=TOKEN, resolver=_NoDns(),
                         secrets=EgressSecrets(None), own_addresses=frozenset(),
                         on_event=quiet)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="eb") as tmp:
        sock = Path(tmp) / "gateway.sock"
        gateway = Gateway(
            session_id="bench", socket_path=sock, token=TOKEN,
            upstream_url="http://127.0.0.1:9", upstream_key=None, egress=proxy,
        )  # fmt: skip
        await gateway.start()
        try:
            total = mib * 2**20
            ups = [await _upload(sock, sink_port, total) for _ in range(runs)]
            trips = [await _round_trip(sock, echo_port, total) for _ in range(runs)]
        finally:
            await gateway.close()
    sink.close()
    echo.close()
    print(f"tunnel upload, {mib} MiB x {runs}: median {statistics.median(ups):.0f} MiB/s "
          f"(min {min(ups):.0f}, max {max(ups):.0f})")  # fmt: skip
    low, high = min(trips), max(trips)
    print(f"tunnel echo (both ways), {mib} MiB x {runs}: median "
          f"{statistics.median(trips):.0f} MiB/s (min {low:.0f}, max {high:.0f})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(_main(args.mib, args.runs))


if __name__ == "__main__":
    main()
