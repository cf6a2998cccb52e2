"""Telemetry switched on as ``warden serve`` switches it on, for side-by-side bench runs.

``serve_telemetry()`` points ``OTEL_EXPORTER_OTLP_ENDPOINT`` at a local OTLP/HTTP sink
(it answers every export 200, so the batch exporter really encodes and sends) and builds
the provider with the controller's own ``tracer_provider_from_env``, plus what
``build_services`` always adds: the metric registry, the session traces and the bus
observer. On exit the provider is shut down (queued spans flushed) and the environment
put back. ``ratio`` prints on/off.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

from runner.events.observer import TelemetryObserver
from runner.services.telemetry import shutdown, tracer_provider_from_env
from runner.telemetry.metrics import Metrics
from runner.telemetry.traces import SessionTraces


@dataclass
class Telemetry:
    provider: TracerProvider
    metrics: Metrics
    traces: SessionTraces
    observer: TelemetryObserver
    #: Bytes of each export the sink received (so a run can show spans went out).
    exports: list[int] = field(default_factory=list)


@contextmanager
def serve_telemetry() -> Iterator[Telemetry]:
    """Tracing to a local OTLP sink and the metrics, as ``warden serve`` would have them."""
    exports: list[int] = []

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            exports.append(len(self.rfile.read(int(self.headers.get("content-length") or 0))))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    saved = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{sink.server_address[1]}"
    provider = tracer_provider_from_env(os.environ)
    assert provider is not None
    metrics, traces = Metrics(), SessionTraces(provider)
    observer = TelemetryObserver(metrics, traces, lambda _s: "default")
    try:
        yield Telemetry(provider, metrics, traces, observer, exports)
    finally:
        shutdown(provider)
        if saved is None:
            os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        else:
            os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = saved
        sink.shutdown()
        sink.server_close()


def ratio(off: float, on: float) -> str:
    """``on/off`` as a factor (1.00: no change)."""
    return f"{on / off:.3f}" if off else "n/a"
