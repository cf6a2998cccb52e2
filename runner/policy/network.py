"""Network rules: which host, port (and, for plain HTTP, method and path) a session may reach.

Pure. The proxy (``runner.gateway.egress``) asks :func:`judge_egress` before it resolves
anything, then checks the resolved address with :func:`address_refused`: a name is only
ever as good as the address it points at when the connection is made.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Cloud metadata endpoints: credentials of the host live there. Refused whatever the
#: policy says, even a rule naming them, because no session has a reason to ask.
METADATA_NETWORKS: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("169.254.169.254/32"),
    ipaddress.ip_network("169.254.170.2/32"),  # ECS task credentials
    ipaddress.ip_network("fd00:ec2::254/128"),
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud
)

DEFAULT_NETWORK_RULE = "network.default"


@dataclass(frozen=True)
class Injection:
    header: str
    secret: str


@dataclass(frozen=True)
class NetworkRule:
    id: str
    host: str  # lower case, no trailing dot; "*", "*.suffix", a name or an address
    ports: tuple[int, ...]
    methods: tuple[str, ...] | None = None
    paths: tuple[str, ...] | None = None
    addresses: tuple[IPNetwork, ...] = ()
    inject: Injection | None = None

    @property
    def is_http_only(self) -> bool:
        """Does this rule look inside requests, or add a header to them (so it cannot
        serve a CONNECT tunnel, whose content the proxy does not see)?"""
        return self.methods is not None or self.paths is not None or self.inject is not None


@dataclass(frozen=True)
class NetworkRules:
    allow: tuple[NetworkRule, ...] = ()
    deny: tuple[NetworkRule, ...] = ()
    max_bytes: int | None = None
    max_connections_per_minute: int | None = None

    @property
    def enabled(self) -> bool:
        """A session gets a proxy only when something is allowed."""
        return bool(self.allow)


@dataclass(frozen=True)
class EgressDecision:
    allowed: bool
    rule: str
    reason: str
    #: Refused-range addresses the deciding allow rule names (its literal host, ``addresses``).
    named: tuple[IPNetwork, ...] = ()
    inject: Injection | None = None


def normalise_host(host: str) -> str:
    """Lower case, no trailing dot, no IPv6 brackets; an address in its canonical form."""
    text = host.strip().lower().rstrip(".")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    address = parse_address(text)
    return str(address) if address is not None else text


def parse_address(text: str) -> IPAddress | None:
    """The address ``text`` is (an IPv4-mapped IPv6 address as its IPv4 one), or None."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def host_matches(pattern: str, host: str) -> bool:
    """``*`` any host; ``*.corp`` any name under corp (not corp itself); else exact."""
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and parse_address(host) is None
    return pattern == host


def _matches(rule: NetworkRule, host: str, port: int, method: str | None, path: str | None) -> bool:
    if port not in rule.ports or not host_matches(rule.host, host):
        return False
    if method is None:  # a CONNECT tunnel: nothing inside it can be seen
        return True
    if rule.methods is not None and method.upper() not in rule.methods:
        return False
    return rule.paths is None or any((path or "/").startswith(p) for p in rule.paths)


def judge_egress(
    rules: NetworkRules, host: str, port: int, method: str | None = None, path: str | None = None
) -> EgressDecision:
    """Allow or deny a connection (``method`` None: a CONNECT tunnel). Deny wins.

    A deny rule with methods or paths also stops a tunnel to its host and port (what
    the tunnel carries cannot be seen, so it might be what the rule denies); an allow
    rule with methods or paths never opens a tunnel, for the same reason.
    """
    name = normalise_host(host)
    for rule in rules.deny:
        if _matches(rule, name, port, method, path):
            return EgressDecision(False, rule.id, f"{name}:{port} is denied by {rule.id}")
    for rule in rules.allow:
        if method is None and rule.is_http_only:
            continue
        if _matches(rule, name, port, method, path):
            literal = parse_address(name)
            named = rule.addresses + ((ipaddress.ip_network(literal),) if literal else ())
            return EgressDecision(True, rule.id, f"allowed by {rule.id}", named, rule.inject)
    what = f"{method} {name}:{port}{path or ''}" if method else f"CONNECT {name}:{port}"
    reason = f"no network rule allows {what}" if rules.enabled else "this policy allows no egress"
    return EgressDecision(False, DEFAULT_NETWORK_RULE, reason)


def address_refused(
    address: IPAddress, named: tuple[IPNetwork, ...], own: frozenset[IPAddress] = frozenset()
) -> str | None:
    """Why the proxy must not connect to ``address``, or None when it may.

    Only globally routable addresses are open by default: loopback, link-local,
    private, shared, reserved and multicast ranges, and the controller's own addresses,
    reach the controller's neighbourhood, not the internet, so a rule must name them.
    """
    if any(address in network for network in METADATA_NETWORKS):
        return f"{address} is a cloud metadata address (always refused)"
    if any(address in network for network in named):
        return None
    if address in own:
        return f"{address} is an address of the controller itself"
    if not address.is_global or address.is_multicast:
        return f"{address} is not a public address and no rule names it"
    return None
