"""The composition root: every adapter built once from settings, and closed again.

``build_services`` is the one place that chooses implementations (the SQL stores, the
Docker backend or another ``SandboxBackend``, the model upstream, the authenticator);
everything below receives them as arguments. The API's lifespan and the CLI's embedded
runs both call it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from dataclasses import dataclass, field

import httpx
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import Engine, text

from audit.ledger import Ledger
from runner.auth.authenticator import Authenticator, open_authenticator
from runner.auth.browser import CookieSealer, load_cookie_key
from runner.auth.ratelimit import Buckets, FloodLog
from runner.auth.throttle import Throttle
from runner.auth.tokens import ApiTokens
from runner.errors import SandboxError, WardenError
from runner.events.bus import EventBus
from runner.events.channels import ChannelStore, Senders
from runner.events.feed import EventFeed, TenantOf
from runner.events.ledger import LedgerAppender, last_turn_cursor, open_ledger
from runner.events.links import ApprovalLinks, load_key
from runner.events.notifier import Notifier
from runner.events.observer import TelemetryObserver
from runner.events.outbox import Outbox, OutboxConfig
from runner.events.registry import WebhookService
from runner.events.siem import CURSOR, SyslogForwarder, parse_target
from runner.events.sink import EventRecorder
from runner.events.targets import TargetPolicy
from runner.events.tickets import TerminalTickets
from runner.gateway.mux import GatewayMux
from runner.gateway.resolver import Resolver
from runner.pipelines.executor import PipelineService
from runner.sandbox.backend import SandboxBackend
from runner.services.approval_links import LinkDesk
from runner.services.egress import EgressSecrets
from runner.services.gateways import SessionGateways
from runner.services.pending_asks import restore_pending_asks, restore_session_asks
from runner.services.telemetry import (
    Gauges,
    shutdown,
    timed_append,
    trace_batches,
    tracer_provider_from_env,
)
from runner.services.upstream import open_upstream
from runner.services.workspaces import Workspaces, build_workspaces
from runner.sessions.failover import Failover
from runner.sessions.hooklog import HookLog
from runner.sessions.launcher import Launcher
from runner.sessions.manager import SessionManager
from runner.sessions.memory import MemoryStore
from runner.sessions.model import SessionStore
from runner.sessions.policy_gate import PolicyGate
from runner.sessions.pool import WarmPool
from runner.sessions.quotas import QuotaLimits, Quotas, host_available_memory
from runner.sessions.registry import SessionRegistry
from runner.sessions.settling import SettleTimes
from runner.sessions.templates import TemplateStore
from runner.sessions.tenures import Tenures
from runner.sessions.turns import TurnRecorder
from runner.sessions.views import SessionViews
from runner.settings import Settings
from runner.store.database import create_database_engine, migrate, with_application_name
from runner.store.leases import SqlLeaseStore
from runner.store.memory import SqlMemoryStore
from runner.store.notify import SqlChannelStore, SqlLinkStore
from runner.store.pipelines import SqlPipelineStore
from runner.store.sessions import SqlSessionStore
from runner.store.templates import SqlTemplateStore
from runner.store.tokens import SqlTokenStore
from runner.store.webhooks import SqlWebhookStore
from runner.telemetry.metrics import Metrics
from runner.telemetry.traces import SessionTraces

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything the API handlers and CLI commands work with (``runner.api.deps``)."""

    settings: Settings
    engine: Engine
    backend: SandboxBackend
    bus: EventBus
    recorder: EventRecorder
    ledger: Ledger
    gate: PolicyGate
    store: SessionStore
    manager: SessionManager
    views: SessionViews
    templates: TemplateStore
    memory: MemoryStore
    auth: Authenticator
    pipelines: PipelineService
    resources: contextlib.AsyncExitStack
    workspaces: Workspaces
    feed: EventFeed
    turns: TurnRecorder
    tickets: TerminalTickets
    webhooks: WebhookService
    outbox: Outbox
    targets: TargetPolicy
    channels: ChannelStore
    notifier: Notifier
    link_desk: LinkDesk
    #: Seals the dashboard's session cookies (runner.auth.browser).
    browser: CookieSealer
    throttle: Throttle
    metrics: Metrics
    traces: SessionTraces
    gauges: Gauges
    tenures: Tenures
    failover: Failover
    #: The provider built from ``OTEL_*`` (shut down on close); None when tracing is off
    #: or the caller brought its own.
    owned_tracer: TracerProvider | None = None
    siem: SyslogForwarder | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    #: When these services were built (Unix seconds): the uptime Aegis's metrics report.
    started_at: float = field(default_factory=time.time)

    async def start(self) -> None:
        # On the replica list before adopting, so other replicas count this one's share.
        await asyncio.to_thread(
            self.tenures.leases.heartbeat,
            self.tenures.replica,
            self.settings.resolved_replica_url,
        )
        try:
            adopted = await self.manager.readopt()
        except SandboxError as exc:
            # Serve anyway: /v1/health names the fault and sessions are refused until the
            # runtime answers; the sessions left running are re-adopted at the next start.
            log.error("sandbox runtime unreachable, no session re-adopted: %s", exc.message)
            adopted = []
        if adopted:
            log.info("re-adopted %d running session(s): %s", len(adopted), ", ".join(adopted))
        await self.pipelines.recover()
        await self._warm_pool()
        sweeper = asyncio.create_task(self.workspaces.uploads.sweep_forever())
        self.resources.push_async_callback(_cancel, sweeper)
        self.tasks.append(asyncio.create_task(self.turns.run(), name="transcript-turns"))
        self.tasks.append(asyncio.create_task(self.outbox.run(), name="webhook-outbox"))
        self.tasks.append(asyncio.create_task(self.notifier.run(), name="notifier"))
        self.tasks.append(asyncio.create_task(self.failover.run(), name="session-leases"))
        if self.siem is not None:
            self.tasks.append(asyncio.create_task(self.siem.run(), name="siem-syslog"))
        self.tasks.append(asyncio.create_task(self.throttle.run(), name="flood-audit"))

    async def _warm_pool(self) -> None:
        """Start the warm pool's keys (a key whose policy or image is refused is skipped)."""
        if not (self.settings.pool_size and self.settings.pool_keys):
            return
        for key in self.settings.pool_keys:
            try:
                await self.manager.keep_warm(key)
            except WardenError as exc:
                log.error("warm pool: key %s not kept: %s", key, exc.message)
        self.manager.start_pool()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.tasks:  # bounded: a task that ignores its cancel must not hold shutdown
            stopped, stuck = await asyncio.wait(self.tasks, timeout=10)
            for task in stopped:
                if not task.cancelled() and task.exception() is not None:
                    log.error("background task %s failed: %s", task.get_name(), task.exception())
            for task in stuck:
                log.error("background task %s did not stop when cancelled", task.get_name())
        # The open floods' counts, while the ledger is still open.
        with contextlib.suppress(Exception):
            await self.throttle.flush(everything=True)
        await self.pipelines.close()  # first: its stages delete their sessions
        await self.manager.close()
        try:  # after detaching: the other replicas take the sessions over at once
            await self.failover.hand_over()
        except Exception:
            log.exception("could not hand the sessions over; they are taken over on expiry")
        await self.resources.aclose()
        await self.backend.close()
        await asyncio.to_thread(self.ledger.close)
        self.engine.dispose()
        await asyncio.to_thread(shutdown, self.owned_tracer)

    async def health(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            await asyncio.to_thread(_ping_db, self.engine)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {exc}"
        try:
            await self.backend.list({})
            checks["sandbox"] = "ok"
        except Exception as exc:
            checks["sandbox"] = f"error: {exc}"
        return checks


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _ping_db(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _default_backend(settings: Settings) -> SandboxBackend:
    if settings.backend == "kubernetes":
        # Imported here: the Kubernetes client is only loaded when it is chosen.
        from runner.sandbox.kubernetes import KubernetesBackend

        return KubernetesBackend.from_settings(settings)
    # Imported here: docker-py is only loaded when the Docker backend is chosen.
    from runner.sandbox.docker import DockerBackend

    return DockerBackend.from_env()


async def _open_mux(settings: Settings, backend: SandboxBackend) -> GatewayMux | None:
    """The gateway port for sandboxes that cannot reach a socket of ours (Pods)."""
    if backend.shares_files:
        return None
    # The Pod IP when the chart sets it: the gateway listens on no other interface.
    host = settings.kubernetes_gateway_host or "0.0.0.0"  # noqa: S104
    mux = GatewayMux(host, settings.kubernetes_gateway_port)
    await mux.start()
    return mux


async def build_services(
    settings: Settings,
    *,
    backend: SandboxBackend | None = None,
    resolver: Resolver | None = None,
    tracer_provider: TracerProvider | None = None,
) -> Services:
    """Build the stores, ledger, sandbox backend, gateways and session manager.

    Args:
        backend: the sandbox backend to use; default the Docker engine of the host.
        resolver: how the egress proxies resolve names; default the system's.
        tracer_provider: where spans go; default OTLP when ``OTEL_*`` asks, else nowhere.
    """
    owned_tracer = None
    if tracer_provider is None:
        tracer_provider = owned_tracer = tracer_provider_from_env(os.environ)
    metrics = Metrics()
    traces = SessionTraces(tracer_provider)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # Every connection of this replica (the stores' and the ledger's) carries its id.
    database_url = with_application_name(
        settings.resolved_database_url, f"warden:{settings.replica_id}"
    )
    engine = create_database_engine(database_url)
    await asyncio.to_thread(migrate, engine)
    tenures = Tenures(
        SqlLeaseStore(engine, duration=settings.lease_seconds),
        settings.replica_id,
        duration=settings.lease_seconds,
    )
    # Every session write is fenced by this replica's lease on it (runner.sessions.tenures).
    store = SqlSessionStore(engine, fence=tenures.fence)
    backend = backend or _default_backend(settings)
    bus = EventBus()
    # The ledger opens before anything can act: with no ledger, nothing runs.
    # On PostgreSQL the ledger is shared: one replica sequences, the others relay to it.
    ledger = await asyncio.to_thread(
        open_ledger,
        database_url,
        settings.data_dir / "keys",
        shared=engine.dialect.name == "postgresql",
    )
    trace_batches(ledger, traces)
    recorder = EventRecorder(bus, timed_append(LedgerAppender(ledger), metrics, traces))
    resources = contextlib.AsyncExitStack()
    upstream = await resources.enter_async_context(open_upstream(settings))
    gate = PolicyGate(settings.policies_dir)
    hooks = HookLog()
    # Prompts that outlived the last controller stay approvable (runner.services.pending_asks).
    await asyncio.to_thread(restore_pending_asks, ledger, hooks, store)
    mux = await _open_mux(settings, backend)
    if mux is not None:
        resources.push_async_callback(mux.close)
    gateways = SessionGateways(
        upstream=upstream, gate=gate, events=recorder, store=store, hooks=hooks,
        mux=mux, sessions_dir=settings.sessions_dir, resolver=resolver,
        secrets=EgressSecrets(settings.egress_secrets_dir),
    )  # fmt: skip
    registry = SessionRegistry(store, settings.sessions_dir)
    workspaces = build_workspaces(
        settings,
        engine=engine,
        store=store,
        gate=gate,
        events=recorder,
        paths_of=registry.paths,
        lookup=registry.get,
        backend_limits_disk=not backend.shares_files,
    )
    # Probed once, now, so no request waits on a test mount (and the log says it).
    quota = await asyncio.to_thread(workspaces.volumes.probe)
    if quota.enforced:
        log.info("disk quotas: enforced (%s)", quota.reason)
    else:
        log.warning("disk quotas cannot be enforced here: %s", quota.reason)
    launcher = Launcher(
        backend=backend,
        gateways=gateways,
        cols=settings.terminal_cols,
        rows=settings.terminal_rows,
        stall_seconds=settings.stall_seconds,
        delivery_seconds=settings.delivery_seconds,
        settle=SettleTimes(
            state=settings.state_settle_seconds,
            idle=settings.idle_settle_seconds,
            quiet=settings.state_quiet_seconds,
        ),
        setup=workspaces.setup,
        labels=settings.container_labels,
        traces=traces,
        on_input_retry=metrics.input_retries.inc,
        # Nothing is typed into a session whose lease this replica may not trust now.
        tenure=tenures.tenure,
    )

    async def last_cursor(session_id: str) -> int:
        return await asyncio.to_thread(last_turn_cursor, ledger, session_id)

    turns = TurnRecorder(
        registry,
        recorder,
        last_cursor,
        poll_seconds=settings.transcript_poll_seconds,
        mirror=launcher.mirror,
    )
    pool = (
        WarmPool(
            launcher=launcher,
            paths=registry.paths,
            size=settings.pool_size,
            max_age_seconds=settings.pool_max_age_seconds,
        )
        if settings.pool_size and settings.pool_keys
        else None
    )
    manager = SessionManager(
        pool=pool,
        registry=registry,
        backend=backend,
        launcher=launcher,
        events=recorder,
        gate=gate,
        hooks=hooks,
        default_image=settings.image,
        workspaces=workspaces.gate,
        turns=turns,
        traces=traces,
        tenures=tenures,
        replicated=engine.dialect.name == "postgresql",
        reuse_default=settings.reuse_sessions,
        restore_asks=lambda session_id: asyncio.to_thread(
            restore_session_asks, ledger, hooks, session_id
        ),
        max_queued=settings.max_queued_sessions,
        quotas=Quotas(
            _quota_limits(settings),
            store,
            # Host memory says nothing about Pods on other nodes: admission there is the
            # cluster scheduler's.
            available_memory=host_available_memory if backend.shares_files else None,
        ),
    )
    views = SessionViews(registry, workspaces.setup.patch, mirror=launcher.mirror)
    tokens = ApiTokens(SqlTokenStore(engine), recorder)
    auth = await resources.enter_async_context(
        open_authenticator(
            enabled=settings.auth_enabled, issuers=settings.auth_issuers, tokens=tokens
        )
    )
    pipelines = PipelineService(
        store=SqlPipelineStore(engine), manager=manager, views=views, ledger=ledger, events=recorder
    )
    feed = EventFeed(ledger, bus, _tenants(store), queue_size=settings.sse_queue_size)
    bus.observe(TelemetryObserver(metrics, traces, feed.tenant_of))
    targets = TargetPolicy(settings.outbound_allow_networks)
    outbound = await resources.enter_async_context(_outbound_client())
    outbox = Outbox(
        SqlWebhookStore(engine), feed, bus, targets, outbound, _outbox_config(settings), traces
    )
    webhooks = WebhookService(SqlWebhookStore(engine), recorder, targets, feed, outbox)
    links = ApprovalLinks(
        SqlLinkStore(engine),
        await asyncio.to_thread(load_key, settings.data_dir / "keys" / "approval-links.key"),
        ttl_seconds=settings.approval_link_seconds,
    )
    channels = SqlChannelStore(engine)
    senders = Senders(
        outbound, targets, timeout=settings.webhook_timeout_seconds, ca_file=settings.notify_ca_file
    )
    notifier = Notifier(
        bus=bus,
        channels=channels,
        senders=senders,
        links=links,
        tenant_of=feed.tenant_of,
        events=recorder,
        public_url=settings.public_url,
    )
    return Services(
        settings=settings,
        engine=engine,
        backend=backend,
        bus=bus,
        recorder=recorder,
        ledger=ledger,
        gate=gate,
        store=store,
        manager=manager,
        views=views,
        templates=SqlTemplateStore(engine),
        memory=SqlMemoryStore(engine),
        auth=auth,
        pipelines=pipelines,
        resources=resources,
        workspaces=workspaces,
        feed=feed,
        turns=turns,
        tickets=TerminalTickets(),
        webhooks=webhooks,
        outbox=outbox,
        targets=targets,
        channels=channels,
        notifier=notifier,
        link_desk=LinkDesk(links, manager, recorder),
        browser=CookieSealer(
            await asyncio.to_thread(load_cookie_key, settings.data_dir / "keys" / "dashboard.key")
        ),
        metrics=metrics,
        traces=traces,
        gauges=Gauges(
            metrics=metrics,
            registry=registry,
            store=store,
            engine=engine,
            webhooks=SqlWebhookStore(engine),
            backend=backend,
            labels=settings.container_labels,
        ),
        tenures=tenures,
        failover=Failover(
            tenures,
            manager,
            url=settings.resolved_replica_url,
            renew_seconds=settings.lease_renew_seconds,
        ),
        owned_tracer=owned_tracer,
        siem=_siem(settings, ledger, SqlWebhookStore(engine)),
        throttle=_throttle(settings, recorder),
    )


def _quota_limits(settings: Settings) -> QuotaLimits:
    return QuotaLimits(
        sessions=settings.max_sessions,
        per_tenant=settings.max_sessions_per_tenant,
        per_user=settings.max_sessions_per_user,
        starts_per_minute=settings.session_starts_per_minute,
        memory_reserve_bytes=settings.memory_reserve_bytes,
    )


def _siem(settings: Settings, ledger: Ledger, cursors: SqlWebhookStore) -> SyslogForwarder | None:
    """The audit stream to the configured syslog collector, if one is configured."""
    if settings.siem_syslog_url is None:
        return None
    ca_file = str(settings.siem_ca_file) if settings.siem_ca_file else None
    target = parse_target(settings.siem_syslog_url, ca_file)
    return SyslogForwarder(
        ledger,
        lambda: cursors.cursor(CURSOR),
        lambda seq: cursors.set_cursor(CURSOR, seq),
        target,
        hostname=socket.gethostname(),
    )


def _outbox_config(settings: Settings) -> OutboxConfig:
    return OutboxConfig(
        max_attempts=settings.webhook_max_attempts,
        backoff_seconds=settings.webhook_backoff_seconds,
        backoff_cap_seconds=settings.webhook_backoff_cap_seconds,
        timeout_seconds=settings.webhook_timeout_seconds,
    )


def _outbound_client() -> httpx.AsyncClient:
    # No redirects (a redirect could lead past the address check) and no proxy settings
    # from the environment: outbound calls go where the allowlist says, directly.
    return httpx.AsyncClient(follow_redirects=False, trust_env=False)


def _tenants(store: SessionStore) -> TenantOf:
    """Which tenant a session belongs to, remembered (a session never changes tenant)."""
    known: dict[str, str] = {}

    def tenant_of(session_id: str) -> str | None:
        tenant = known.get(session_id)
        if tenant is None:
            record = store.get(session_id)
            if record is None:
                return None
            tenant = known[session_id] = record.tenant
        return tenant

    return tenant_of


def _throttle(settings: Settings, events: EventRecorder) -> Throttle:
    return Throttle(
        failures=Buckets(
            burst=settings.auth_failure_burst, per_minute=settings.auth_failures_per_minute
        ),
        mutations=Buckets(burst=settings.mutation_burst, per_minute=settings.mutations_per_minute),
        floods=FloodLog(window_seconds=settings.auth_flood_window_seconds),
        events=events,
    )
