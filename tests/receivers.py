"""Local HTTP receivers standing in for webhook targets, Slack and Telegram.

Real servers on loopback (``http.server`` in a thread), so the controller's own HTTP
client, timeouts and signatures are exercised end to end. Each records what it got.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook as Verifier


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers its first ``fail_first`` requests with 503, and the first ``fail_each`` tries
    of every webhook-id; hangs ``hang_seconds`` on each request if set."""

    fail_first: int = 0
    fail_each: int = 0
    hang_seconds: float = 0.0
    secret: str | None = None
    requests: list[Received] = field(default_factory=list)
    #: webhook-ids of the requests answered 2xx (what the receiver accepted).
    accepted: list[str] = field(default_factory=list)
    bad_signatures: int = 0
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            self.requests.append(Received(path, headers, body, time.monotonic()))
            tries = sum(
                1 for r in self.requests if r.headers.get("webhook-id") == headers.get("webhook-id")
            )
            failing = len(self.requests) <= self.fail_first or tries <= self.fail_each
        if self.hang_seconds:
            time.sleep(self.hang_seconds)
        if failing:
            return 503
        if self.secret is not None:
            try:
                Verifier(self.secret).verify(body, headers)
            except Exception:
                with self._lock:
                    self.bad_signatures += 1
                return 400
        with self._lock:
            self.accepted.append(headers.get("webhook-id", ""))
        return 200

    def wait_for(self, count: int, seconds: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.accepted) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.accepted)} of {count} accepted: {self.requests}")


@contextmanager
def serve_receiver(receiver: Receiver, port: int = 0) -> Iterator[Receiver]:
    """Serve ``receiver`` on 127.0.0.1 until the block ends."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            code = receiver.handle(self.path, headers, body)
            payload = b'{"ok": true}' if code == 200 else b'{"ok": false}'
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def otlp_spans(requests: list[Received]) -> list[dict[str, Any]]:
    """The spans of OTLP/HTTP protobuf trace exports, flattened: name, ids, attributes."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    spans: list[dict[str, Any]] = []
    for request in requests:
        if request.path != "/v1/traces":
            continue
        export = ExportTraceServiceRequest.FromString(request.body)
        for resource in export.resource_spans:
            service = {a.key: _otlp_value(a.value) for a in resource.resource.attributes}
            for scope in resource.scope_spans:
                for span in scope.spans:
                    spans.append(
                        {
                            "name": span.name,
                            "trace": span.trace_id.hex(),
                            "id": span.span_id.hex(),
                            "parent": span.parent_span_id.hex() or None,
                            "attributes": {a.key: _otlp_value(a.value) for a in span.attributes},
                            "service": service.get("service.name"),
                        }
                    )
    return spans


def _otlp_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


class SyslogReceiver:
    """A syslog collector on loopback (RFC 6587 octet counting over TCP, or over TLS with
    ``tls``, a server context): records each message; ``stop`` closes it and every
    connection, ``start`` opens it on the same port."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.messages: list[bytes] = []
        #: TLS handshakes that failed (a client that refused this receiver's certificate).
        self.failed_handshakes: list[str] = []
        self.port = 0
        self._tls = tls
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self._clients: list[socket.socket] = []

    def start(self) -> SyslogReceiver:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen()
        self.port = server.getsockname()[1]
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()

    def seqs(self) -> list[int]:
        """The ``seq`` of every message received, in arrival order (repeats included)."""
        with self._lock:
            return [int(m.split(b' seq="', 1)[1].split(b'"', 1)[0]) for m in self.messages]

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            with self._lock:
                self._clients.append(client)
            threading.Thread(target=self._read, args=(client,), daemon=True).start()

    def _read(self, client: socket.socket) -> None:
        if self._tls is not None:
            try:
                client = self._tls.wrap_socket(client, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                with self._lock:
                    self.failed_handshakes.append(str(exc))
                client.close()
                return
            with self._lock:
                self._clients.append(client)  # so that stop() closes the TLS socket too
        buffer = b""
        while True:
            try:
                chunk = client.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b" " in buffer:
                length, _, rest = buffer.partition(b" ")
                if len(rest) < int(length):
                    break
                with self._lock:
                    self.messages.append(rest[: int(length)])
                buffer = rest[int(length) :]
