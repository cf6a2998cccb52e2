"""What telemetry costs the controller's record path: audit append + bus publish.

    python bench/bench_telemetry.py [--events 3000] [--concurrency 20] [--rounds 3]

Each variant records the same events through ``EventRecorder`` into a fresh SQLite
ledger (group commit, as ``warden serve`` runs it), ``concurrency`` emitters at once:

- ``bare``: the recorder and ledger alone, as before telemetry existed;
- ``off``: as ``build_services`` wires it with no ``OTEL_*``: the timed append (latency
  histogram) and the bus observer (every counter), tracing disabled;
- ``traced``: the same with a tracer provider recording into an in-memory exporter.

Prints events/s and the mean/p95 emit latency per variant, best of ``rounds`` (wall
clock: on a loaded machine the ledger's fsyncs dominate and vary), then the CPU time the
observer adds per event, alone (process time, so other load does not count).
Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runner.core import Actor, utcnow
from runner.events.bus import Event, EventBus
from runner.events.ledger import LedgerAppender, open_ledger
from runner.events.observer import TelemetryObserver
from runner.events.sink import EventRecorder
from runner.services.telemetry import timed_append
from runner.telemetry.metrics import Metrics
from runner.telemetry.traces import SessionTraces

ACTOR = Actor("bench", "default")
DATA = {"tool": "Bash", "command": "npm test", "rule": "tools.allow[3]", "decision": "allow"}


async def run(variant: str, events: int, concurrency: int) -> tuple[float, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ledger = open_ledger(f"sqlite:///{root / 'ledger.db'}", root / "keys")
        try:
            bus = EventBus()
            append = LedgerAppender(ledger)
            if variant != "bare":
                provider = None
                if variant == "traced":
                    provider = TracerProvider()
                    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
                metrics, traces = Metrics(), SessionTraces(provider)
                bus.observe(TelemetryObserver(metrics, traces, lambda _s: "default"))
                append = timed_append(append, metrics, traces)  # type: ignore[assignment]
            recorder = EventRecorder(bus, append)
            latencies: list[float] = []

            async def emitter(count: int) -> None:
                for i in range(count):
                    began = time.perf_counter()
                    kind = "tool.decision" if i % 2 else "model.request"
                    await recorder.emit(kind, actor=ACTOR, session="bench", data=DATA)
                    latencies.append(time.perf_counter() - began)

            began = time.perf_counter()
            await asyncio.gather(*(emitter(events // concurrency) for _ in range(concurrency)))
            return len(latencies) / (time.perf_counter() - began), latencies
        finally:
            ledger.close()


def observer_cost(count: int = 200_000) -> float:
    """CPU microseconds the observer spends on one event (tracing off)."""
    observe = TelemetryObserver(Metrics(), SessionTraces(), lambda _s: "default")
    data = {**DATA, "model": "claude-x", "status": 200, "input_tokens": 10, "output_tokens": 5}
    events = [
        Event(kind, "bench", "system", "default", data, utcnow(), i)
        for i, kind in enumerate(["model.request", "tool.decision", "session.state", "x.y"] * 5)
    ]
    began = time.process_time()
    for i in range(count):
        observe(events[i % len(events)])
    return (time.process_time() - began) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.events} events, {args.concurrency} emitters, best of {args.rounds} rounds")
    for variant in ("bare", "off", "traced"):
        best: tuple[float, list[float]] | None = None
        for _ in range(args.rounds):
            rate, latencies = asyncio.run(run(variant, args.events, args.concurrency))
            if best is None or rate > best[0]:
                best = (rate, latencies)
        assert best is not None
        rate, latencies = best
        p95 = statistics.quantiles(latencies, n=20)[-1]
        print(
            f"{variant:>7}: {rate:8.0f} events/s   mean {statistics.mean(latencies) * 1e3:6.2f} ms"
            f"   p95 {p95 * 1e3:6.2f} ms"
        )
    print(f"observer, tracing off: {observer_cost():.2f} µs CPU per event")


if __name__ == "__main__":
    main()
