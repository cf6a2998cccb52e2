"""Where the controller may send webhooks and notifications (outbound request forgery).

A webhook URL is chosen by a tenant admin, and the controller sits inside a network
that may expose cloud metadata (169.254.169.254), loopback services or a private LAN.
So by default only globally routable addresses are reached: every address the host
name resolves to must be global, or inside a network the operator listed in
``outbound_allow_networks`` (tests list 127.0.0.0/8 for their local receivers). The
check runs when the URL is set and again before every attempt, since DNS can change;
redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from runner.errors import InvalidInputError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetRefusedError(InvalidInputError):
    """The URL is malformed or resolves to an address outside the allowlist."""

    code = "target_refused"


class TargetPolicy:
    """Checks outbound URLs against the global-only default and the operator's networks."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        try:
            self._allow: list[Network] = [ipaddress.ip_network(n, strict=False) for n in allow]
        except ValueError as exc:
            raise InvalidInputError(f"outbound_allow_networks: {exc}") from exc

    def is_allowed(self, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback, whatever it looks like
        if any(ip in network for network in self._allow):
            return True
        return ip.is_global and not ip.is_multicast

    async def check(self, url: str) -> None:
        """Refuse ``url`` unless it is http(s) and every address it resolves to is allowed.

        Raises:
            TargetRefusedError: with the reason a person can act on.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TargetRefusedError(f"{url!r} is not an http(s) URL with a host")
        if parts.username or parts.password:
            raise TargetRefusedError("put credentials in the secret, not in the URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise TargetRefusedError(f"{parts.hostname} does not resolve: {exc}") from exc
        addresses = sorted({str(info[4][0]) for info in infos})
        refused = [a for a in addresses if not self.is_allowed(a)]
        if refused or not addresses:
            raise TargetRefusedError(
                f"{parts.hostname} resolves to {', '.join(refused) or 'nothing'}, which is not a "
                "public address; an operator may allow it with outbound_allow_networks",
                details={"host": parts.hostname, "addresses": addresses},
            )
