"""A TCP port in front of PostgreSQL that a test can block, as a firewall dropping packets.

One replica connects to the database through it. While it is blocked nothing passes in
either direction and new connections are accepted but never answered: the replica's
statements neither fail nor return, which is how a network partition looks from inside.
Connections that were open when the block began are broken for good (their bytes were
lost); they are closed when it lifts, so the replica reconnects.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field

__all__ = ["BlockablePort"]


@dataclass
class _Pair:
    client: socket.socket
    server: socket.socket | None
    broken: bool = False
    closed: threading.Event = field(default_factory=threading.Event)

    def close(self) -> None:
        for end in (self.client, self.server):
            if end is not None:
                with contextlib.suppress(OSError):
                    end.close()
        self.closed.set()


class BlockablePort:
    """``127.0.0.1:port`` forwards to ``upstream`` until ``block``; ``unblock`` heals it."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._passing = threading.Event()
        self._passing.set()
        self._lock = threading.Lock()
        self._pairs: list[_Pair] = []
        self._stopped = False
        threading.Thread(target=self._accept, name="blocked-port", daemon=True).start()

    def block(self) -> None:
        """From now on nothing passes; every open connection is broken."""
        with self._lock:
            self._passing.clear()
            for pair in self._pairs:
                pair.broken = True

    def unblock(self) -> None:
        """Pass again; the connections broken meanwhile are closed (the client sees EOF)."""
        with self._lock:
            broken = [pair for pair in self._pairs if pair.broken]
            self._pairs = [pair for pair in self._pairs if not pair.broken]
            self._passing.set()
        for pair in broken:
            pair.close()

    def close(self) -> None:
        self._stopped = True
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            pair.close()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if not self._passing.is_set():  # accepted, then silence
                    self._pairs.append(_Pair(client, None, broken=True))
                    continue
            try:
                server = socket.create_connection(self._upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            pair = _Pair(client, server)
            with self._lock:
                self._pairs.append(pair)
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(pair, src, dst), daemon=True).start()

    def _pump(self, pair: _Pair, src: socket.socket, dst: socket.socket) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                break
            if not data:
                break
            if pair.broken:
                continue  # dropped on the floor
            try:
                dst.sendall(data)
            except OSError:
                break
        if pair.broken:
            return  # the client hears nothing more until ``unblock`` closes it
        pair.close()
