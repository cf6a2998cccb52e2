"""Benchmark the terminal detector over the recorded fixtures (one core, pure Python).

    python bench/bench_detect.py [--repeat N] [--rounds N]

Each recording is replayed chunk by chunk, exactly as its bytes arrived from the
tmux client. An *update* is one chunk: the time from handing its bytes to the
detector until the state is decided (pyte parsing + classification when the text
changed). Prints, per terminal size: throughput in MB/s of terminal output and in
classified screens/s (CPU time of this process, so other load on the machine does
not count), the per-update latency p50 / p95 / max (wall clock), and the
throughput when the same bytes arrive in 64 KiB reads, as from a busy stream.

Every figure is measured twice in one run, rounds alternating: telemetry **off** (no
tracer provider, no metrics: ``OTEL_*`` unset) and **on** (the provider ``warden serve``
builds from ``OTEL_EXPORTER_OTLP_ENDPOINT``, exporting to a local OTLP sink, and the
metric registry with the bus observer, told each state change as a live session's bus
would tell it), printed side by side with the ratio on/off (best of ``--rounds``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from telemetry_on import Telemetry, ratio, serve_telemetry

from runner.core import utcnow
from runner.events.bus import Event
from runner.terminal.detector import Detector
from runner.terminal.recorder import Output, Resize, open_recording

BULK_READ = 65536
SIZES = ("120x40", "100x30", "80x24", "60x20")
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "terminal"


def load(size: str) -> list[tuple[int, int, list[bytes]]]:
    """The chunks of every fixture recorded at ``size`` (``"120x40"``)."""
    casts = []
    for path in sorted(FIXTURES.glob(f"claude-*-{size}-*.cast")):
        recording = open_recording(path)
        chunks = [e.data for e in recording.events() if isinstance(e, Output) and e.data]
        assert not any(isinstance(e, Resize) for e in recording.events())
        casts.append((recording.columns, recording.rows, chunks))
    return casts


def run(
    casts: list[tuple[int, int, list[bytes]]], repeat: int, telemetry: Telemetry | None = None
) -> dict[str, float]:
    """Replay chunk by chunk as recorded; time every update (with ``telemetry``, each
    state change also goes to the bus observer, as in a live session)."""
    latencies: list[float] = []
    total_bytes = classified = told = 0
    cpu_started = time.process_time()
    for _ in range(repeat):
        for columns, rows, chunks in casts:
            detector = Detector(columns, rows)
            last = detector.state.state
            for chunk in chunks:
                before = time.perf_counter()
                state = detector.feed(chunk)  # parses, and classifies if the text changed
                if telemetry is not None and state.state != last:
                    last, told = state.state, told + 1
                    telemetry.observer(Event("session.state", "bench", "system", "default",
                                             {"state": last.value}, utcnow()))  # fmt: skip
                latencies.append(time.perf_counter() - before)
                total_bytes += len(chunk)
            classified += detector.classifications
    cpu = time.process_time() - cpu_started
    latencies.sort()
    return {
        "updates": len(latencies),
        "screens": classified,
        "told": told,
        "mb": total_bytes / 1e6,
        "mb_per_s": total_bytes / cpu / 1e6,
        "screens_per_s": classified / cpu,
        "p50_ms": statistics.median(latencies) * 1e3,
        "p95_ms": latencies[int(len(latencies) * 0.95)] * 1e3,
        "max_ms": latencies[-1] * 1e3,
    }


def run_bulk(casts: list[tuple[int, int, list[bytes]]], repeat: int) -> dict[str, float]:
    """Feed each recording in 64 KiB reads (a busy stream), classifying after each read."""
    streams = [(columns, rows, b"".join(chunks)) for columns, rows, chunks in casts]
    total_bytes = classified = 0
    cpu_started = time.process_time()
    for _ in range(repeat):
        for columns, rows, data in streams:
            detector = Detector(columns, rows)
            for offset in range(0, len(data), BULK_READ):
                detector.feed(data[offset : offset + BULK_READ])
            total_bytes += len(data)
            classified += detector.classifications
    cpu = time.process_time() - cpu_started
    return {"mb_per_s": total_bytes / cpu / 1e6, "screens_per_s": classified / cpu}


def best(
    casts: list[tuple[int, int, list[bytes]]], repeat: int, rounds: int
) -> dict[str, dict[str, float]]:
    """Each variant's best round (rounds alternate off, on, so load hits both alike)."""
    results: dict[str, dict[str, float]] = {}
    for _ in range(rounds):
        for variant in ("off", "on"):
            if variant == "off":
                figures = {**run(casts, repeat), **_bulk(run_bulk(casts, repeat))}
            else:
                with serve_telemetry() as telemetry:
                    figures = {**run(casts, repeat, telemetry), **_bulk(run_bulk(casts, repeat))}
            kept = results.get(variant)
            if kept is None or figures["mb_per_s"] > kept["mb_per_s"]:
                results[variant] = figures
    return results


def _bulk(figures: dict[str, float]) -> dict[str, float]:
    return {f"bulk_{name}": value for name, value in figures.items()}


ROWS = (
    ("as recorded, MB/s (CPU time)", "mb_per_s", "{:.2f}"),
    ("as recorded, screens/s (CPU time)", "screens_per_s", "{:.0f}"),
    ("latency per update p50, ms", "p50_ms", "{:.3f}"),
    ("latency per update p95, ms", "p95_ms", "{:.3f}"),
    ("bulk 64 KiB reads, MB/s (CPU time)", "bulk_mb_per_s", "{:.2f}"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description="terminal detector benchmark")
    parser.add_argument("--repeat", type=int, default=5, help="replays of the fixture set")
    parser.add_argument("--rounds", type=int, default=3, help="off/on rounds, best kept")
    args = parser.parse_args()
    print("load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    for size in SIZES:
        casts = load(size)
        run(casts, 1)  # warm up caches
        results = best(casts, args.repeat, args.rounds)
        off, on = results["off"], results["on"]
        print(
            f"{size}: {len(casts)} recordings x{args.repeat} = {off['mb']:.2f} MB, "
            f"{int(off['updates'])} updates, {int(off['screens'])} screens classified"
        )
        print(f"  {'':36} {'telemetry off':>14} {'on':>10} {'on/off':>7}")
        for label, key, shape in ROWS:
            print(f"  {label:36} {shape.format(off[key]):>14} {shape.format(on[key]):>10}"
                  f" {ratio(off[key], on[key]):>7}")  # fmt: skip
        assert on["screens"] == off["screens"]  # the same work both ways
        print(f"  (on: {int(on['told'])} state changes told to the observer)")
    print("load average (1, 5, 15 min) at end:   {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
