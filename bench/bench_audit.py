"""Audit ledger benchmark: append throughput and latency on PostgreSQL, verify speed, proof sizes.

    python bench/bench_audit.py [--url postgresql://…] [--seconds 5] [--producers 1,16,64]
        [--depths 1,2] [--sessions 10] [--rounds 2] [--verify-events 1000000]

Appends from closed-loop producers, threads (``Ledger.append``) and asyncio tasks
(``append_async``, as the controller appends), with throughput, p50/p99 latency, the ratio
to one producer and this process's CPU per event. ``--depths 1,2`` runs each level with
and without pipelined batches back to back; ``--sessions N`` runs every level again
beside N working Warden sessions (``busy_sessions``) and prints both p99s. Uses
throw-away schemas (dropped at the end). Prints figures; asserts nothing.

Then appends from threads are measured twice at each level, off then on, in one run:
telemetry **off** (no tracer provider, no metrics) and **on** as ``warden serve`` has it
with ``OTEL_EXPORTER_OTLP_ENDPOINT`` set (its provider, exporting to a local OTLP sink;
each group-commit batch an ``audit.batch`` span through ``trace_batches``; each append
an ``audit.append`` span and an observation of the append-latency histogram, as
``timed_append`` does), side by side with the ratio on/off. Verification and proofs run
code telemetry does not reach (``audit/`` imports none of it), so they run once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg
from telemetry_on import Telemetry, ratio, serve_telemetry

from audit import EventFilter, Ledger, SequencerConfig
from audit.chain import GENESIS, Record, link_all
from audit.checkpoint import sign_checkpoint
from audit.event import Event
from audit.merkle import MerkleTree
from audit.signing import KeyRing
from audit.verify import verify_log
from audit.verify_export import verify_export
from runner.services.telemetry import trace_batches

DEFAULT_URL = os.environ.get(
    "WARDEN_TEST_POSTGRES_URL", "postgresql://warden:warden@127.0.0.1:5432/warden_test"
)


PAYLOAD = {"tool": "Bash", "command": "npm test", "rule": "tools.allow[3]"}


@dataclass(frozen=True)
class Level:
    """What one run of closed-loop producers measured."""

    rate: float  # appends/s
    p50: float  # seconds
    p99: float
    cpu: float  # this process's CPU per event, seconds
    events: int


def _level(latencies: list[float], elapsed: float, cpu: float) -> Level:
    cuts = statistics.quantiles(latencies, n=100)
    count = len(latencies)
    return Level(count / elapsed, cuts[49], cuts[98], cpu / count, count)


def appends_threads(ledger: Ledger, producers: int, seconds: float) -> Level:
    """``producers`` threads, each appending in a loop (``Ledger.append``)."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = threading.Event()

    def produce(worker: int) -> None:
        mine = []
        while not stop.is_set():
            t0 = time.perf_counter()
            ledger.append("permission.decided", actor=f"user:{worker}", session="s", data=PAYLOAD)
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(producers)]
    cpu, started = time.process_time(), time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return _level(latencies, time.perf_counter() - started, time.process_time() - cpu)


def appends_asyncio(ledger: Ledger, producers: int, seconds: float) -> Level:
    """``producers`` tasks on one event loop (``append_async``), as the controller appends."""
    latencies: list[float] = []

    async def produce(worker: int, until: float) -> None:
        while time.perf_counter() < until:
            t0 = time.perf_counter()
            await ledger.append_async(
                "permission.decided", actor=f"user:{worker}", session="s", data=PAYLOAD
            )
            latencies.append(time.perf_counter() - t0)

    async def run() -> None:
        until = time.perf_counter() + seconds
        await asyncio.gather(*(produce(w, until) for w in range(producers)))

    cpu, started = time.process_time(), time.perf_counter()
    asyncio.run(run())
    return _level(latencies, time.perf_counter() - started, time.process_time() - cpu)


MODES = {"threads": appends_threads, "asyncio": appends_asyncio}


def bench_appends(
    ledgers: dict[int, Ledger], levels: list[int], seconds: float, label: str
) -> dict[tuple[str, int, int], Level]:
    """Every mode and level, pipeline depths alternating back to back at each one."""
    depths = ", ".join(str(depth) for depth in ledgers)
    print(f"PostgreSQL appends, {label} ({seconds:.0f} s per level; pipeline depth {depths}):")
    print("  mode     depth producers   appends/s  x 1 prod.     p50      p99   CPU/event")
    results: dict[tuple[str, int, int], Level] = {}
    for mode, run in MODES.items():
        for producers in levels:
            for depth, ledger in ledgers.items():
                level = run(ledger, producers, seconds)
                results[mode, depth, producers] = level
                single = results.get((mode, depth, levels[0]), level)
                print(
                    f"  {mode:<8} {depth:>5} {producers:>9} {level.rate:>11,.0f}"
                    f" {level.rate / single.rate:>9.2f}x {level.p50 * 1000:>7.2f} ms"
                    f" {level.p99 * 1000:>6.2f} ms {level.cpu * 1e6:>7.1f} us"
                    f"   (load {os.getloadavg()[0]:.2f})"
                )
    return results


def appends_telemetry(
    ledger: Ledger, producers: int, seconds: float, telemetry: Telemetry | None = None
) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    stop = threading.Event()
    if telemetry is not None:
        trace_batches(ledger, telemetry.traces)
    else:
        ledger.observe_batches(None)

    def append(worker: int) -> int | None:
        event = ledger.append("permission.decided", actor=f"user:{worker}", session="s",
                              data=PAYLOAD)  # fmt: skip
        return event.seq

    def traced(worker: int) -> int | None:
        # What timed_append adds around the ledger's append with tracing on.
        assert telemetry is not None
        began = time.perf_counter()
        attributes = {"warden.event.type": "permission.decided"}
        try:
            with telemetry.traces.span("s", "audit.append", attributes) as span:
                seq = append(worker)
                span.set_attribute("warden.audit.seq", seq or 0)
                return seq
        finally:
            telemetry.metrics.append_seconds.observe(time.perf_counter() - began)

    one = append if telemetry is None else traced

    def produce(worker: int) -> None:
        mine = []
        while not stop.is_set():
            t0 = time.perf_counter()
            one(worker)
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(producers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {"rate": len(latencies) / elapsed, "p50": cuts[49] * 1000, "p99": cuts[98] * 1000,
            "events": len(latencies)}  # fmt: skip


def bench_appends_off_on(ledger: Ledger, producers: int, seconds: float, rounds: int) -> None:
    """Rounds alternate off and on (so the load and the growing table hit both alike);
    each variant's best round is printed."""
    off: dict[str, float] = {}
    on: dict[str, float] = {}
    exports: list[int] = []
    for _ in range(rounds):
        got = appends_telemetry(ledger, producers, seconds)
        off = got if got["rate"] > off.get("rate", 0) else off
        with serve_telemetry() as telemetry:
            got = appends_telemetry(ledger, producers, seconds, telemetry)
        exports.extend(telemetry.exports)
        on = got if got["rate"] > on.get("rate", 0) else on
    ledger.observe_batches(None)
    sent = sum(exports)
    print(f"  {producers:>3} producers   {'off':>9} {'on':>9} {'on/off':>7}")
    for label, key, shape in (("appends/s", "rate", "{:,.0f}"), ("p50 ms", "p50", "{:.2f}"),
                              ("p99 ms", "p99", "{:.2f}")):  # fmt: skip
        print(f"      {label:<12} {shape.format(off[key]):>9} {shape.format(on[key]):>9}"
              f" {ratio(off[key], on[key]):>7}")  # fmt: skip
    print(f"      ({off['events']:,.0f} and {on['events']:,.0f} events; on: "
          f"{len(exports)} OTLP exports, {sent:,} bytes in all rounds)")  # fmt: skip


def bench_producer_cpu(events: int = 20_000) -> None:
    """CPU a producer spends per append before the writer sees it (it holds the GIL)."""
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for _ in range(events):
            event = Event(type="permission.decided", actor="user:1", session="s", data=PAYLOAD)
            event.canonical()
            event.placed(1)
        best = min(best, (time.process_time() - started) / events)
    print(f"  producer CPU per event (build, encode, place): {best * 1e6:5.1f} us")


def synthetic_log(keys: KeyRing, count: int) -> tuple[list[Record], list]:  # type: ignore[type-arg]
    event = Event(type="input.sent", actor="user:alice", session="s", data={"text": "x" * 80})
    base = event.canonical()
    canonicals = [base.replace(event.id.encode(), f"{i:032x}".encode()) for i in range(count)]
    # As a database returns them: with the columns stored beside the bytes.
    records = [
        replace(r, columns=(event.ts, event.actor, None, event.session, event.type, f"{i:032x}"))
        for i, r in enumerate(link_all(0, GENESIS, canonicals))
    ]
    tree = MerkleTree([r.leaf_hash for r in records])
    sizes = list(range(count // 10, count + 1, count // 10))
    checkpoints = [
        sign_checkpoint(keys, n, tree.root(n), records[n - 1].chain_hash, event.ts) for n in sizes
    ]
    return records, checkpoints


def bench_verify(keys: KeyRing, count: int) -> None:
    with_columns, checkpoints = synthetic_log(keys, count)
    bare = [replace(r, columns=None) for r in with_columns]  # as an export holds them
    runs = (
        ("hashes, chain, Merkle roots, signatures", bare, checkpoints, False),
        ("the same + stored columns", with_columns, checkpoints, False),
        ("re-canonicalising (JCS)", bare[: min(count, 100_000)], [], True),
    )
    for label, sample, cps, strict in runs:
        t0 = time.perf_counter()
        result = verify_log(sample, cps, keys.public, check_canonical=strict)
        rate = len(sample) / (time.perf_counter() - t0)
        assert result.ok, result.describe()
        print(f"  in memory, {label}: {rate:>10,.0f} events/s ({len(sample):,} events)")


def bench_verify_store(ledger: Ledger, out: Path) -> None:
    size = ledger.store.head()[0]
    t0 = time.perf_counter()
    result = ledger.verify_db(check_canonical=False)
    assert result.ok, result.describe()
    rate = size / (time.perf_counter() - t0)
    print(f"  live PostgreSQL (fast):  {rate:>10,.0f} events/s ({result.events:,} events)")
    ledger.export(out)
    t0 = time.perf_counter()
    result = verify_export(out, check_canonical=False)
    assert result.ok, result.describe()
    rate = result.events / (time.perf_counter() - t0)
    print(f"  export directory (fast): {rate:>10,.0f} events/s ({result.events:,} events)")
    t0 = time.perf_counter()
    result = verify_export(out)
    assert result.ok, result.describe()
    rate = result.events / (time.perf_counter() - t0)
    print(f"  export directory (JCS):  {rate:>10,.0f} events/s ({result.events:,} events)")


def proof_sizes() -> None:
    for size in (1_000, 100_000, 1_000_000):
        tree = MerkleTree(b"".join(i.to_bytes(32, "big") for i in range(size)))
        inclusion = tree.inclusion_proof(size // 3, size)
        consistency = tree.consistency_proof(size // 2 + 1, size)
        print(
            f"  tree of {size:>9,}: inclusion {len(inclusion)} hashes ({32 * len(inclusion)} B), "
            f"consistency {len(consistency)} hashes ({32 * len(consistency)} B)"
        )


def _compare(quiet: dict[tuple[str, int, int], Level], busy: dict[tuple[str, int, int], Level]):  # type: ignore[no-untyped-def]
    print("Quiet against busy (p99, appends/s):")
    for key, level in quiet.items():
        other = busy[key]
        print(
            f"  {key[0]:<8} depth {key[1]} {key[2]:>3} producers: p99 {level.p99 * 1000:6.2f} ->"
            f" {other.p99 * 1000:6.2f} ms, {level.rate:>8,.0f} -> {other.rate:>8,.0f}/s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--producers", default="1,16,64", help="levels, comma-separated")
    parser.add_argument(
        "--depths", default="2", help="pipeline depths to compare back to back (1: no pipelining)"
    )
    parser.add_argument(
        "--sessions", type=int, default=0, help="then again beside N working Warden sessions"
    )
    parser.add_argument("--rounds", type=int, default=2, help="telemetry off/on rounds per level")
    parser.add_argument("--verify-events", type=int, default=1_000_000)
    args = parser.parse_args()
    levels = [int(part) for part in args.producers.split(",")]
    depths = [int(part) for part in args.depths.split(",")]
    schemas = {depth: f"audit_bench_{secrets.token_hex(4)}" for depth in depths}
    # The machine is shared: say how busy it was, so figures can be read in context.
    print("load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    with tempfile.TemporaryDirectory() as tmp:
        ledgers = {
            depth: Ledger.open(
                args.url,
                Path(tmp) / "keys",
                schema=schema,
                config=SequencerConfig(pipeline_depth=depth),
            )
            for depth, schema in schemas.items()
        }
        ledger = ledgers[depths[-1]]
        try:
            print("Producer side:")
            bench_producer_cpu()
            quiet = bench_appends(ledgers, levels, args.seconds, "this machine as it is")
            if args.sessions:
                from busy_sessions import working_sessions

                with working_sessions(args.sessions) as turns:
                    label = f"beside {args.sessions} working sessions"
                    busy = bench_appends(ledgers, levels, args.seconds, label)
                    print(f"  (the sessions took {sum(turns)} turns meanwhile)")
                _compare(quiet, busy)
            print(
                f"PostgreSQL appends from threads ({args.seconds:.0f} s per round, best of"
                f" {args.rounds}, pipeline depth {depths[-1]}), telemetry off and on:"
            )
            for producers in levels:
                bench_appends_off_on(ledger, producers, args.seconds, args.rounds)
            print("Verify speed:")
            bench_verify(ledger.keys, args.verify_events)
            bench_verify_store(ledger, Path(tmp) / "export")
            page = ledger.query(EventFilter(), limit=1)
            print(f"  (first event: {page.entries[0].event.type})")
        finally:
            for each in ledgers.values():
                each.close()
            with psycopg.connect(args.url, autocommit=True) as conn:
                for schema in schemas.values():
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")
    print("Proof sizes:")
    proof_sizes()
    print("load average (1, 5, 15 min) at end:   {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
