"""A session's egress proxy, built from its policy's ``network`` section.

This is where the pure policy (``judge_egress``, ``address_refused``) meets the proxy
(``runner.gateway.egress``) and the controller's secrets. A session whose policy allows
nothing gets no proxy at all.
"""

from __future__ import annotations

from pathlib import Path

from runner.gateway.egress import EgressEventFn, EgressProxy, JudgeFn, Verdict
from runner.gateway.resolver import Resolver
from runner.policy import NetworkRules, address_refused, judge_egress, parse_address

#: A secret a rule names but the controller does not have: the request is refused.
INJECT_RULE = "network.inject"


class EgressSecrets:
    """Header values for credential injection: one file per secret name in ``directory``.

    Read on each use (a rotated token takes effect at once) and only here: the values
    are never part of an event, a session record or the sandbox.
    """

    def __init__(self, directory: Path | None) -> None:
        self._directory = directory

    def get(self, name: str) -> str | None:
        """The secret's value, or None when it is not configured."""
        if self._directory is None or "/" in name or name.startswith("."):
            return None
        try:
            value = (self._directory / name).read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return value or None


def policy_judge(rules: NetworkRules, secrets: EgressSecrets, own: frozenset[str]) -> JudgeFn:
    """The proxy's judge: the policy's decision, its address check and its injection."""
    own_addresses = frozenset(a for a in (parse_address(t) for t in own) if a is not None)

    def judge(host: str, port: int, method: str | None, path: str | None) -> Verdict:
        decision = judge_egress(rules, host, port, method, path)

        def refuses(text: str) -> str | None:
            address = parse_address(text.split("%")[0])
            if address is None:
                return f"{text} is not an address"  # fail closed on a resolver's oddity
            return address_refused(address, decision.named, own_addresses)

        inject: tuple[str, str] | None = None
        if decision.allowed and decision.inject is not None:
            value = secrets.get(decision.inject.secret)
            if value is None:
                reason = f"secret {decision.inject.secret!r} of rule {decision.rule} is not set"
                return Verdict(False, INJECT_RULE, reason, refuses)
            inject = (decision.inject.header, value)
        return Verdict(decision.allowed, decision.rule, decision.reason, refuses, inject)

    return judge


def build_egress(
    rules: NetworkRules,
    *,
    session_id: str,
    token: str,
    resolver: Resolver,
    secrets: EgressSecrets,
    own_addresses: frozenset[str],
    on_event: EgressEventFn,
) -> EgressProxy | None:
    """The session's proxy, or None when its policy lets nothing out."""
    if not rules.enabled:
        return None
    return EgressProxy(
        session_id=session_id,
        token=token,
        judge=policy_judge(rules, secrets, own_addresses),
        resolver=resolver,
        on_event=on_event,
        max_bytes=rules.max_bytes,
        max_connections_per_minute=rules.max_connections_per_minute,
    )
