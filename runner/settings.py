"""Controller settings: environment variables prefixed ``WARDEN_``, optionally a YAML file.

Settings are built once by the entry point and passed down as arguments; no module
reads them from a global.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import platformdirs
import yaml
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from runner.auth.config import IssuerConfig

#: The claude-agent-sdk wheel whose bundled CLI we run; bump both together and
#: re-record the terminal fixtures (``tests/fixtures/record.py``).
CLAUDE_SDK_VERSION = "0.2.187"
CLAUDE_CODE_VERSION = "2.1.330"


def _default_data_dir() -> Path:
    return platformdirs.user_data_path("warden")


class _YamlSource(PydanticBaseSettingsSource):
    """Reads the file named by ``WARDEN_CONFIG``; environment variables win over it."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("WARDEN_CONFIG")
        if not path:
            return {}
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a mapping of settings at the top level")
        return {str(k).replace("-", "_"): v for k, v in loaded.items()}


class Settings(BaseSettings):
    """Everything the controller can be told; see docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix="WARDEN_", extra="forbid")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 9100
    #: ``json``: one JSON object a line, with request, trace and span ids (observability.md).
    log_format: Literal["text", "json"] = "text"

    #: This controller among replicas (docs/deployment.md): its id (default: on
    #: PostgreSQL hostname and pid; on SQLite, which has one controller, hostname and
    #: "sqlite", so a restarted controller holds its predecessor's leases at once), how
    #: long a session lease lasts unrenewed (a dead replica's sessions are taken over
    #: after it), how often leases are renewed, and the URL other replicas forward
    #: actions to (default http://host:port).
    replica_id: str = ""
    lease_seconds: float = Field(default=15.0, ge=1.0)
    lease_renew_seconds: float = Field(default=5.0, gt=0)
    replica_url: str | None = None

    #: Where sessions run: "docker" (the engine at DOCKER_HOST) or "kubernetes" (Pods).
    backend: Literal["docker", "kubernetes"] = "docker"
    #: Kubernetes backend (docs/deployment.md; the Helm chart sets these): the namespace
    #: session Pods run in; the TCP port and address session Pods reach this replica's
    #: gateway on (the only traffic their NetworkPolicy allows); a Pod manifest whose
    #: security settings, runtime class, resources and placement every session Pod gets.
    kubernetes_namespace: str = "warden-sessions"
    kubernetes_gateway_port: int = Field(default=8788, ge=1, le=65535)
    kubernetes_gateway_host: str | None = None
    kubernetes_pod_template: Path | None = None

    image: str = "warden-sandbox:latest"
    #: A create request that does not say ``reuse`` gets an idle session of the same
    #: caller matching it in every respect (Aegis's default); off: each request starts one.
    reuse_sessions: bool = False
    claude_sdk_version: str = CLAUDE_SDK_VERSION

    # "scripted" runs the project's scripted model in-process (tests, offline demo).
    model_upstream: str = "https://api.anthropic.com"
    upstream_api_key: SecretStr | None = None
    upstream_api_key_file: Path | None = None

    #: Credentials the egress proxy injects (policy ``network.allow[].inject.secret``): one
    #: file per secret name; read by the controller only, never given to a sandbox.
    egress_secrets_dir: Path | None = None

    #: Extra labels put on every session container (e.g. to find a test run's containers).
    container_labels: dict[str, str] = Field(default_factory=dict)

    #: Where named policies come from (default: the shipped ``policies/``).
    policies_dir: Path | None = None

    terminal_cols: int = 120
    terminal_rows: int = 40
    stall_seconds: float = 60.0
    #: How long typed input may take to be taken (Enter is retried within it).
    delivery_seconds: float = Field(default=15.0, gt=0)
    #: How long the idle input box must stay after work before the session counts as idle
    #: (Claude Code flashes it between the steps of a turn).
    idle_settle_seconds: float = Field(default=0.75, ge=0)
    #: How long any other new state must hold before it is published (and how long every
    #: change waits while the screen flaps): a repaint split in two, or the agent drawing
    #: over its dialog, is not news (docs/events.md, "States settle").
    state_settle_seconds: float = Field(default=0.25, ge=0)
    #: On a calm session, a new framed state (a dialog, the input box) is published once
    #: the screen has been quiet this long, instead of after ``state_settle_seconds``.
    state_quiet_seconds: float = Field(default=0.02, ge=0)

    #: Seconds between SSE keep-alive comments.
    sse_ping_seconds: float = Field(default=15.0, gt=0)
    #: Live events an SSE client may lag behind before it re-reads from the ledger.
    sse_queue_size: int = Field(default=256, ge=1)
    #: How often the running sessions' transcripts are read for new turns.
    transcript_poll_seconds: float = Field(default=1.0, gt=0)

    #: Networks (CIDR) webhooks and notifications may reach besides public addresses;
    #: loopback, link-local (cloud metadata) and private ranges are refused unless listed.
    outbound_allow_networks: list[str] = Field(default_factory=list)
    #: Tries per webhook delivery before it is dead; first retry delay (doubles each try).
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_backoff_seconds: float = Field(default=2.0, gt=0)
    webhook_backoff_cap_seconds: float = Field(default=600.0, gt=0)
    #: How long one webhook or notification request may take (a hanging receiver).
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    #: The controller's own address as people reach it (links in notifications).
    public_url: str = "http://127.0.0.1:9100"
    #: How long a remote approval link in a notification stays usable.
    approval_link_seconds: float = Field(default=900.0, gt=0)
    #: Extra CA certificates (PEM) to trust for SMTP STARTTLS (a private mail relay).
    notify_ca_file: Path | None = None
    #: Forward every audit event to this syslog collector (``tcp://host:port`` or
    #: ``tls://host:port``; RFC 5424, octet-counted), at least once (observability.md).
    siem_syslog_url: str | None = None
    #: The CA certificates (PEM) a ``tls://`` collector's certificate must chain to,
    #: trusted instead of the system store when set.
    siem_ca_file: Path | None = None

    #: Trusted OIDC issuers (docs/auth.md); any entry turns authentication on.
    auth_issuers: list[IssuerConfig] = Field(default_factory=list)
    #: Require credentials even with no issuer (API tokens only).
    auth_enabled: bool = False

    #: Host directories sessions may name as workspaces (colon-separated in the
    #: environment). None: the directory ``warden serve`` started in, on loopback only.
    workspace_roots: Annotated[list[Path] | None, NoDecode] = None
    #: Largest archive ``POST /v1/workspaces`` accepts, and how long it waits to be used.
    upload_max_bytes: int = Field(default=1024**3, gt=0)
    upload_ttl_seconds: int = Field(default=3600, gt=0)
    #: Largest request body (other than an upload) and request header block, in bytes:
    #: larger requests get 413 / 431 before the body is read in full.
    max_body_bytes: int = Field(default=1024**2, gt=0)
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    #: Authentication failures allowed per client address and per token: a burst, then
    #: a steady rate per minute (token buckets); past them 429, audited once per window.
    auth_failure_burst: int = Field(default=20, ge=1)
    auth_failures_per_minute: float = Field(default=10.0, gt=0)
    #: The window in which refused authentication floods are counted into one event.
    auth_flood_window_seconds: float = Field(default=60.0, gt=0)
    #: Mutating requests (POST, PUT, PATCH, DELETE) allowed per caller: burst, per minute.
    mutation_burst: int = Field(default=60, ge=1)
    mutations_per_minute: float = Field(default=600.0, gt=0)
    #: Session quotas: running sessions in all, per tenant and per user (0: no limit),
    #: and sessions a tenant may start per minute.
    max_sessions: int = Field(default=20, ge=0)
    max_sessions_per_tenant: int = Field(default=10, ge=0)
    max_sessions_per_user: int = Field(default=10, ge=0)
    session_starts_per_minute: int = Field(default=30, ge=0)
    #: Starts that may wait in line over those quotas (a request's "queue": true, where
    #: its policy's container.queue allows); past it they are refused with 429 as before.
    max_queued_sessions: int = Field(default=50, ge=0)
    #: Memory kept free for the host: a session whose memory limit would eat into it is
    #: refused (bytes; 0 turns memory admission off).
    memory_reserve_bytes: int = Field(default=512 * 1024**2, ge=0)
    #: Tokens for private git hosts ({"git.example.com": "token" or "user:token"}).
    git_tokens: dict[str, SecretStr] = Field(default_factory=dict)
    git_timeout_seconds: float = Field(default=300.0, gt=0)
    #: A policy that sets container.disk needs a kernel-enforced quota; false lets such
    #: sessions start without one on hosts that cannot enforce it (logged, not silent).
    disk_quota_required: bool = True
    #: The warm pool: this many pre-started sandboxes for each key in ``pool_keys``
    #: (``policy`` or ``policy@image``, comma-separated in the environment); 0 turns it
    #: off. A sandbox idle in the pool for ``pool_max_age_seconds`` is replaced.
    pool_size: int = Field(default=0, ge=0, le=100)
    pool_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    pool_max_age_seconds: float = Field(default=900.0, gt=0)

    @field_validator("pool_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("workspace_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in value.split(":") if part.strip()]
        if isinstance(value, list) and any(not Path(str(p)).is_absolute() for p in value):
            raise ValueError("WARDEN_WORKSPACE_ROOTS must list absolute paths (colon-separated)")
        return value

    @field_validator("siem_syslog_url")
    @classmethod
    def _check_siem_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("tcp", "tls") or not parts.hostname or not parts.port:
            raise ValueError("WARDEN_SIEM_SYSLOG_URL must be tcp://host:port or tls://host:port")
        return value

    @property
    def auth_enforced(self) -> bool:
        return self.auth_enabled or bool(self.auth_issuers)

    @model_validator(mode="after")
    def _one_key_source(self) -> Settings:
        if self.upstream_api_key is not None and self.upstream_api_key_file is not None:
            raise ValueError(
                "set WARDEN_UPSTREAM_API_KEY or WARDEN_UPSTREAM_API_KEY_FILE, not both"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls))

    @property
    def resolved_database_url(self) -> str:
        """The database to use: ``WARDEN_DATABASE_URL`` or a SQLite file in the data dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'warden.db'}"

    @property
    def resolved_replica_url(self) -> str:
        return self.replica_url or f"http://{self.host}:{self.port}"

    @model_validator(mode="after")
    def _default_replica_id(self) -> Settings:
        if not self.replica_id:
            # SQLite: `warden serve` holds the database's controller lock, so the one
            # controller of it is the same replica across restarts; its sessions' leases
            # must not wait out their expiry for a new pid (runner.store.controller_lock).
            alone = self.resolved_database_url.startswith("sqlite")
            self.replica_id = f"{socket.gethostname()}-{'sqlite' if alone else os.getpid()}"
        return self

    @model_validator(mode="after")
    def _renew_within_lease(self) -> Settings:
        if self.lease_renew_seconds * 2 > self.lease_seconds:
            raise ValueError(
                "lease_renew_seconds must be at most half of lease_seconds, so a lease is"
                " renewed at least twice before it could expire"
            )
        return self

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def sessions_dir(self) -> Path:
        return self.data_dir / "sessions"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    def upstream_key(self) -> str | None:
        """The real model API key, read only in the controller (it never enters a sandbox)."""
        if self.upstream_api_key is not None:
            return self.upstream_api_key.get_secret_value()
        if self.upstream_api_key_file is not None:
            return self.upstream_api_key_file.read_text(encoding="utf-8").strip()
        return None
