"""The Prometheus metric catalogue (docs/observability.md lists it), one registry per app.

Each controller builds its own ``Metrics`` (no process-global registry), so two apps in
one process, as in tests, count apart. Labels carry ids a platform team already knows
(tenant, policy, model, rule, state), never a prompt, a path or a command.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

#: The text format's media type, for the ``/metrics`` response.
CONTENT_TYPE = CONTENT_TYPE_LATEST

#: From a session's creation to its first state after the briefing (Claude Code ready).
_READY_BUCKETS = (1.0, 2.5, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0)
#: One audit append, submitted to durable (group commit).
_APPEND_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """Every metric Warden exports, in one registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events = Counter(
            "warden_events", "Audit events recorded, by type.", ["type"], registry=r
        )
        self.sessions_created = Counter(
            "warden_sessions_created", "Sessions created.", ["tenant", "policy"], registry=r
        )
        self.sessions_ended = Counter(
            "warden_sessions_ended", "Sessions ended, by final state and reason.",
            ["state", "reason"], registry=r,
        )  # fmt: skip
        self.sessions = Gauge(
            "warden_sessions", "Sessions this controller runs, by live state and policy.",
            ["state", "policy"], registry=r,
        )  # fmt: skip
        self.ready_seconds = Histogram(
            "warden_session_ready_seconds", "From a session's creation to Claude Code ready.",
            buckets=_READY_BUCKETS, registry=r,
        )  # fmt: skip
        self.inputs = Counter("warden_inputs", "Input delivered to sessions.", registry=r)
        self.input_retries = Counter(
            "warden_input_retries", "Enter pressed again: a typed prompt was not taken yet.",
            registry=r,
        )  # fmt: skip
        self.prompts = Counter(
            "warden_permission_prompts", "Permission prompts opened.", ["policy"], registry=r
        )
        self.decisions = Counter(
            "warden_permission_decisions",
            "Permission decisions: prompts answered (source prompt) and hook verdicts (hook).",
            ["source", "decision", "rule"], registry=r,
        )  # fmt: skip
        self.model_requests = Counter(
            "warden_gateway_requests", "Model requests relayed by the gateways.",
            ["tenant", "model", "status"], registry=r,
        )  # fmt: skip
        self.model_tokens = Counter(
            "warden_gateway_tokens", "Model tokens used, by kind (input, output, cache_…).",
            ["tenant", "model", "kind"], registry=r,
        )  # fmt: skip
        self.model_refusals = Counter(
            "warden_gateway_refusals", "Model requests refused (budget spent, model not allowed).",
            ["tenant", "reason"], registry=r,
        )  # fmt: skip
        self.append_seconds = Histogram(
            "warden_audit_append_seconds", "One audit append, from submit to durable.",
            buckets=_APPEND_BUCKETS, registry=r,
        )  # fmt: skip
        self.checkpoint_age = Gauge(
            "warden_audit_checkpoint_age_seconds",
            "Age of the newest signed checkpoint (-1 when there is none).", registry=r,
        )  # fmt: skip
        self.webhook_deliveries = Gauge(
            "warden_webhook_deliveries", "Webhook deliveries waiting (pending) or given up (dead).",
            ["status"], registry=r,
        )  # fmt: skip
        self.unknown_containers = Gauge(
            "warden_sandbox_unknown_containers",
            "Session containers running that this controller does not run (leaks).", registry=r,
        )  # fmt: skip

    def render(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)
