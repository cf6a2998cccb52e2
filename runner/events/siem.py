"""The audit stream to a SIEM: every ledger event, in sequence order, to a syslog
collector (RFC 5424 messages, RFC 6587 octet counting, over TCP or TLS).

At least once: the position reached is stored (``event_cursors``, name ``siem:syslog``)
and a restart or a reconnect resumes from it. Syslog over TCP has no acknowledgement, so
an event counts as delivered only once it was written at least ``confirm_seconds`` ago
on a connection that is still open; a connection that closes (collectors send nothing,
so any read that ends means it is gone) sends everything unconfirmed again. Each message
carries the event's seq and chain hash, so the SIEM can check continuity itself.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from audit.ledger import Entry, Ledger

log = logging.getLogger(__name__)

CURSOR = "siem:syslog"
#: facility 13 (log audit) × 8 + severity 6 (informational).
_PRI = 13 * 8 + 6
#: The structured-data id: the documentation enterprise number of RFC 5612.
_SD_ID = "warden@32473"


@dataclass(frozen=True)
class SyslogTarget:
    host: str
    port: int
    tls: ssl.SSLContext | None


def parse_target(url: str, ca_file: str | None = None) -> SyslogTarget:
    """``tcp://host:port`` or ``tls://host:port`` (certificates checked, fail closed)."""
    parts = urlsplit(url)
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or not parts.port:
        raise ValueError(f"siem_syslog_url must be tcp://host:port or tls://host:port: {url!r}")
    context = ssl.create_default_context(cafile=ca_file) if parts.scheme == "tls" else None
    return SyslogTarget(parts.hostname, parts.port, context)


def frame(entry: Entry, hostname: str) -> bytes:
    """One event as an octet-counted RFC 5424 message; the event's exact ledger bytes
    are the message body."""
    event, record = entry.event, entry.record
    params = {
        "seq": str(record.seq),
        "chainHash": record.chain_hash.hex(),
        "prevHash": record.prev_hash.hex(),
        "type": event.type,
        "tenant": event.tenant or "-",
        "session": event.session or "-",
    }
    sd = " ".join(f'{k}="{_escape(v)}"' for k, v in params.items())
    header = f"<{_PRI}>1 {event.ts} {hostname} warden - {event.type} [{_SD_ID} {sd}] "
    message = header.encode() + b"\xef\xbb\xbf" + record.canonical
    return str(len(message)).encode() + b" " + message


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


class SyslogForwarder:
    """Streams the ledger to one collector until cancelled (``run``)."""

    def __init__(
        self,
        ledger: Ledger,
        cursor: Callable[[], int | None],
        store_cursor: Callable[[int], None],
        target: SyslogTarget,
        *,
        hostname: str = "warden",
        poll_seconds: float = 0.2,
        confirm_seconds: float = 1.0,
        connect_seconds: float = 10.0,
        batch: int = 500,
    ) -> None:
        self._ledger = ledger
        self._cursor = cursor
        self._store_cursor = store_cursor
        self._target = target
        self._hostname = hostname
        self._poll = poll_seconds
        self._confirm = confirm_seconds
        self._connect = connect_seconds
        self._batch = batch

    async def run(self) -> None:
        backoff = 0.5
        while True:
            try:
                await self._stream()
            except (OSError, ConnectionError, TimeoutError) as exc:
                log.warning("SIEM collector %s:%s: %s; retrying in %.1fs",
                            self._target.host, self._target.port, exc or "timed out",
                            backoff)  # fmt: skip
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            else:
                backoff = 0.5

    async def _stream(self) -> None:
        target = self._target
        # Bounded: a collector that accepts and never finishes the TLS handshake (or a
        # host that drops the SYN) would otherwise hold the stream for minutes.
        async with asyncio.timeout(self._connect):
            reader, writer = await asyncio.open_connection(target.host, target.port, ssl=target.tls)
        gone = asyncio.ensure_future(reader.read(1))
        written: list[tuple[float, int]] = []  # (when, seq) not yet confirmed
        try:
            position = await asyncio.to_thread(self._cursor)
            while not gone.done():
                page = await asyncio.to_thread(
                    self._ledger.query, None, after_seq=position, limit=self._batch
                )
                for entry in page.entries:
                    writer.write(frame(entry, self._hostname))
                    position = entry.record.seq
                if page.entries:
                    await writer.drain()
                    written.append((time.monotonic(), page.entries[-1].record.seq))
                written = await self._confirm_old(written, gone)
                if not page.entries:
                    await asyncio.sleep(self._poll)
            raise ConnectionError("the collector closed the connection")
        finally:
            gone.cancel()
            if gone.done() and not gone.cancelled():
                gone.exception()  # retrieved: a reset is why we reconnect, not a fault
            writer.close()

    async def _confirm_old(
        self, written: list[tuple[float, int]], gone: asyncio.Future[bytes]
    ) -> list[tuple[float, int]]:
        now = time.monotonic()
        old = [seq for at, seq in written if now - at >= self._confirm]
        if not old or gone.done():
            return written
        await asyncio.to_thread(self._store_cursor, max(old))
        return [(at, seq) for at, seq in written if seq > max(old)]
