"""A real ``warden serve`` under oversized and abusive requests: refused, and unharmed."""

from __future__ import annotations

import select
import socket
import time
from pathlib import Path

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
