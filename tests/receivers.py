"""Local HTTP receivers standing in for webhook targets, Slack and Telegram.

Real servers on loopback (``http.server`` in a thread), so the controller's own HTTP
client, timeouts and signatures are exercised end to end. Each records what it got.
"""

from __future__ import annotations

import json
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
