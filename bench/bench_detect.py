"""Benchmark the terminal detector over the recorded fixtures (one core, pure Python).

    python bench/bench_detect.py [--repeat N]

Each recording is replayed chunk by chunk, exactly as its bytes arrived from the
tmux client. An *update* is one chunk: the time from handing its bytes to the
detector until the state is decided (pyte parsing + classification when the text
changed). Prints, per terminal size: throughput in MB/s of terminal output and in
classified screens/s (CPU time of this process, so other load on the machine does
not count), the per-update latency p50 / p95 / max (wall clock), and the
throughput when the same bytes arrive in 64 KiB reads, as from a busy stream.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

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


def run(casts: list[tuple[int, int, list[bytes]]], repeat: int) -> dict[str, float]:
    """Replay chunk by chunk as recorded; time every update."""
    latencies: list[float] = []
    total_bytes = classified = 0
    cpu_started = time.process_time()
    for _ in range(repeat):
        for columns, rows, chunks in casts:
            detector = Detector(columns, rows)
            for chunk in chunks:
                before = time.perf_counter()
                detector.feed(chunk)  # parses, and classifies if the text changed
                latencies.append(time.perf_counter() - before)
                total_bytes += len(chunk)
            classified += detector.classifications
    cpu = time.process_time() - cpu_started
    latencies.sort()
    return {
        "updates": len(latencies),
        "screens": classified,
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


def main() -> None:
    parser = argparse.ArgumentParser(description="terminal detector benchmark")
    parser.add_argument("--repeat", type=int, default=5, help="replays of the fixture set")
    args = parser.parse_args()
    for size in SIZES:
        casts = load(size)
        run(casts, 1)  # warm up caches
        result = run(casts, args.repeat)
        bulk = run_bulk(casts, args.repeat)
        print(
            f"{size}: {len(casts)} recordings x{args.repeat} = {result['mb']:.2f} MB, "
            f"{result['updates']} updates, {result['screens']} screens classified\n"
            f"  as recorded (chunk by chunk): {result['mb_per_s']:.2f} MB/s, "
            f"{result['screens_per_s']:.0f} screens/s (CPU time, one core)\n"
            f"  latency per update: p50 {result['p50_ms']:.3f} ms, p95 {result['p95_ms']:.3f} ms, "
            f"max {result['max_ms']:.3f} ms (wall clock)\n"
            f"  bulk (64 KiB reads): {bulk['mb_per_s']:.2f} MB/s, "
            f"{bulk['screens_per_s']:.0f} screens/s (CPU time, one core)"
        )


if __name__ == "__main__":
    main()
