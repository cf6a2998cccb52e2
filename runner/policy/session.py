"""Session-level checks: the container a request asks for, and the model it may use."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from runner.core import WorkspaceMode
from runner.policy.compiled import Policy, Runtime
from runner.policy.decision import Decision, TraceEntry
from runner.policy.images import image_allowed


@dataclass(frozen=True)
class SessionRequest:
    """What a session creation asks for; None means "the policy's value"."""

    image: str
    workspace_mode: WorkspaceMode | None = None
    #: What ``image`` resolves to (id, registry digests), for the policy's digest pins.
    image_digests: tuple[str, ...] = ()
    model: str | None = None
    cpus: float | None = None
    memory_bytes: int | None = None
    pids: int | None = None
    runtime: Runtime | None = None


@dataclass(frozen=True)
class ContainerProfile:
    """The limits to create the container with: the request, capped by the policy."""

    image: str
    workspace_mode: WorkspaceMode
    cpus: float
    memory_bytes: int
    pids: int
    tmpfs_bytes: int
    disk_bytes: int | None
    runtime: Runtime
    max_duration_seconds: int
    idle_timeout_seconds: int
    #: The policy lets something out: the sandbox gets the proxy's variables.
    egress: bool = False
    #: The policy lets this session take a pre-started sandbox from the warm pool.
    pool: bool = False
    #: The policy lets a start over a quota wait in line (when the request asks).
    queue: bool = False


def check_session(policy: Policy, request: SessionRequest) -> Decision:
    """Allow the request, or deny it with the first rule it breaks (``container.images``…)."""
    c = policy.container
    checks: list[tuple[str, bool, str]] = [
        (
            "container.images",
            image_allowed(c.images, request.image, request.image_digests),
            f"image {request.image!r}",
        ),
        (
            "workspace.allowed_modes",
            (request.workspace_mode or policy.workspace.mode) in policy.workspace.allowed_modes,
            f"workspace mode {request.workspace_mode!r}",
        ),
        (
            "container.cpus",
            request.cpus is None or 0 < request.cpus <= c.cpus,
            f"cpus {request.cpus}",
        ),
        (
            "container.memory",
            request.memory_bytes is None or 0 < request.memory_bytes <= c.memory_bytes,
            f"memory {request.memory_bytes} bytes",
        ),
        (
            "container.pids",
            request.pids is None or 0 < request.pids <= c.pids,
            f"pids {request.pids}",
        ),
        (
            "container.runtime",
            # The policy's runtime, or gVisor instead of the plain default: never weaker.
            request.runtime in (None, c.runtime)
            or (c.runtime == "runc" and request.runtime == "runsc"),
            f"runtime {request.runtime!r}",
        ),
    ]
    if request.model is not None:
        checks.append(
            (
                "model.allowed",
                _any_match(request.model, policy.model.allowed),
                f"model {request.model!r}",
            )
        )
    return _first_failure(policy, checks)


def container_profile(policy: Policy, request: SessionRequest) -> ContainerProfile:
    """The container to create for an allowed request (call :func:`check_session` first)."""
    c = policy.container
    return ContainerProfile(
        image=request.image,
        workspace_mode=request.workspace_mode or policy.workspace.mode,
        cpus=request.cpus or c.cpus,
        memory_bytes=request.memory_bytes or c.memory_bytes,
        pids=request.pids or c.pids,
        tmpfs_bytes=c.tmpfs_bytes,
        disk_bytes=c.disk_bytes,
        runtime=request.runtime or c.runtime,
        max_duration_seconds=c.max_duration_seconds,
        idle_timeout_seconds=c.idle_timeout_seconds,
        egress=policy.network.enabled,
        pool=bool(c.pool),
        queue=bool(c.queue),
    )


def check_model(
    policy: Policy, model: str, tokens_used: int = 0, cost_usd: float = 0.0
) -> Decision:
    """Whether one more model request may go out: allowed model, tokens and budget left."""
    m = policy.model
    checks = [
        ("model.allowed", _any_match(model, m.allowed), f"model {model!r}"),
        (
            "model.max_tokens",
            m.max_tokens is None or tokens_used < m.max_tokens,
            f"{tokens_used} tokens used",
        ),
        (
            "model.budget_usd",
            m.budget_usd is None or cost_usd < m.budget_usd,
            f"${cost_usd:.4f} spent",
        ),
    ]
    return _first_failure(policy, checks)


def _any_match(value: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatchcase(value, pattern) for pattern in patterns)


def _first_failure(policy: Policy, checks: list[tuple[str, bool, str]]) -> Decision:
    trace = tuple(TraceEntry(rule, "deny", what, not ok) for rule, ok, what in checks)
    for rule, ok, what in checks:
        if not ok:
            return Decision(
                "deny",
                rule,
                f"policy {policy.name!r} does not allow {what} ({rule})",
                trace,
                (rule,),
            )
    return Decision("allow", "session", f"policy {policy.name!r} allows this session", trace)
