"""Name resolution for the egress proxy: the one seam between it and DNS.

Tests give the proxy a resolver of their own (a fake at the process boundary); the
controller uses the system's. The proxy connects to exactly the address it checked,
never to a name, so an answer that changes between check and connect cannot matter.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Protocol


class Resolver(Protocol):
    """Turns a host name into addresses (as text), in the order to try them."""

    async def resolve(self, host: str) -> list[str]: ...


class SystemResolver:
    """The controller's own resolver (``getaddrinfo``), asked on every connection."""

    async def resolve(self, host: str) -> list[str]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError:
            return []
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


def controller_addresses() -> frozenset[str]:
    """Addresses this host answers on, as far as its own name says (refused as targets)."""
    found: set[str] = set()
    for name in {socket.gethostname(), socket.getfqdn()}:
        try:
            infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
        except OSError:
            continue
        found.update(str(ipaddress.ip_address(str(info[4][0]).split("%")[0])) for info in infos)
    return frozenset(found)
