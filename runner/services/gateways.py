"""Each session's model gateway, configured from its policy."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from runner.core import Actor, EventSink
from runner.gateway.egress import EgressProxy
from runner.gateway.hooks import EventFn, HookDecision, ToolCall
from runner.gateway.mux import GatewayMux, MuxedGateway
from runner.gateway.provision import provision_app, session_app
from runner.gateway.relay import Upstream
from runner.gateway.resolver import Resolver, SystemResolver, controller_addresses
from runner.gateway.server import Gateway
from runner.policy import NetworkRules
from runner.sandbox.statedir import SessionLayout
from runner.services.egress import EgressSecrets, build_egress
from runner.sessions.hooklog import HookLog
from runner.sessions.model import SessionRecord, SessionStore
from runner.sessions.ownership import FencedError
from runner.sessions.policy_gate import PolicyGate

log = logging.getLogger(__name__)

#: Rule id recorded when an unattended session's ``ask`` is answered by the CI fallback.
CI_FALLBACK_RULE = "approvals.ci_fallback"


class SessionGateways:
    """Builds a ``Gateway`` whose decisions, model allowlist and budget come from policy.

    With a ``mux`` (sandboxes that share no files with this host: Pods), the gateway is
    served there under the session's token, with the routes the Pod provisions itself
    from (its workspace and home, from ``sessions_dir``), instead of on its socket.
    """

    def __init__(
        self,
        *,
        upstream: Upstream,
        gate: PolicyGate,
        events: EventSink,
        store: SessionStore,
        hooks: HookLog,
        mux: GatewayMux | None = None,
        sessions_dir: Path | None = None,
        resolver: Resolver | None = None,
        secrets: EgressSecrets | None = None,
    ) -> None:
        self._mux = mux
        self._resolver = resolver or SystemResolver()
        self._secrets = secrets or EgressSecrets(None)
        self._own_addresses: frozenset[str] | None = None
        self._sessions_dir = sessions_dir
        self._upstream = upstream
        self._gate = gate
        self._events = events
        self._store = store
        self._hooks = hooks

    @property
    def serves_egress(self) -> bool:
        """Egress is served on a session's own socket, and on the mux for Pods."""
        return True

    def __call__(
        self, *, record: SessionRecord, socket_path: Path, token: str, workspace: Path
    ) -> Gateway | MuxedGateway:
        policy = self._gate.policy(record.policy)

        async def decide(call: ToolCall) -> HookDecision:
            verdict = self._gate.judge_tool(
                record.policy, call.tool_name, call.tool_input, workspace, cwd=call.cwd
            )
            if verdict.decision == "ask" and record.unattended:
                # Nobody will answer a prompt: the policy's CI fallback decides now.
                fallback = policy.approvals.ci_fallback
                reason = (
                    f"unattended session, CI fallback {fallback} ({verdict.rule}: {verdict.reason})"
                )
                return HookDecision(fallback, reason, CI_FALLBACK_RULE)
            return HookDecision(verdict.decision, verdict.reason, verdict.rule)

        gateway: Gateway

        # Everything the gateway records came from inside the sandbox: it is the agent's
        # word, and says so (never "system", which stands for the controller itself).
        agent = Actor(f"agent:{record.id}", tenant=record.tenant)

        async def on_event(kind: str, data: dict[str, Any]) -> None:
            await self._events.emit(kind, actor=agent, session=record.id, data=data)
            if kind == "tool.decision":
                self._hooks.record(record.id, data)
            if kind == "model.request":
                usage = gateway.usage
                try:
                    await asyncio.to_thread(
                        self._store.update,
                        record.id,
                        usage={
                            "requests": usage.requests,
                            "inputTokens": usage.input_tokens,
                            "outputTokens": usage.output_tokens,
                        },
                    )
                except FencedError:
                    # The session ended (its lease went with it) or moved to another
                    # replica while this reply was still streaming: the ledger has the
                    # request; the record is no longer this replica's to write.
                    log.info("session %s: usage not stored, not this replica's", record.id)

        egress = self._egress(record, policy.network, token, on_event)
        muxed = self._mux is not None and self._sessions_dir is not None
        gateway = Gateway(
            session_id=record.id,
            socket_path=socket_path,
            token=token,
            upstream_url=self._upstream.url,
            upstream_key=self._upstream.key,
            allowed_models=frozenset(policy.model.allowed),
            max_tokens=policy.model.max_tokens,
            decide=decide,
            on_event=on_event,
            # On the mux, the mux's own front serves the proxy (by the session's token).
            egress=None if muxed else egress,
        )
        if self._mux is None or self._sessions_dir is None:
            return gateway
        home = SessionLayout(self._sessions_dir / record.id).home
        provision = provision_app(token, workspace=workspace, home=home)
        app = session_app(gateway.app(), provision)
        return MuxedGateway(gateway, self._mux, token, app, proxy=egress)

    def _egress(
        self, record: SessionRecord, rules: NetworkRules, token: str, on_event: EventFn
    ) -> EgressProxy | None:
        if not rules.enabled:
            return None
        if self._own_addresses is None:
            self._own_addresses = controller_addresses()
        return build_egress(
            rules,
            session_id=record.id,
            token=token,
            resolver=self._resolver,
            secrets=self._secrets,
            own_addresses=self._own_addresses,
            on_event=on_event,
        )
