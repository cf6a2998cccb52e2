"""A loaded policy: the file's sections resolved to plain values, rules parsed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from runner.core import WorkspaceMode
from runner.policy.network import NetworkRules
from runner.policy.rules import Effect, Rule

#: A container runtime's name: "runc" (the engine's default), "runsc" (gVisor), or any other
#: runtime an operator registered with the engine.
Runtime = str


@dataclass(frozen=True)
class ContainerLimits:
    images: tuple[str, ...]
    cpus: float
    memory_bytes: int
    pids: int
    tmpfs_bytes: int
    disk_bytes: int | None
    runtime: Runtime
    max_duration_seconds: int
    idle_timeout_seconds: int
    #: None: no policy in the chain decided (no pooling); False forbids it for children.
    pool: bool | None = None
    #: None: no policy in the chain decided (no queueing); False forbids it for children.
    queue: bool | None = None


@dataclass(frozen=True)
class WorkspaceRules:
    mode: WorkspaceMode
    allowed_modes: tuple[WorkspaceMode, ...]
    max_bytes: int
    max_files: int
    roots: tuple[str, ...]  # empty: the server's roots apply unnarrowed
    git_hosts: tuple[str, ...]
    git_submodules: bool


@dataclass(frozen=True)
class ModelLimits:
    allowed: tuple[str, ...]
    max_tokens: int | None
    budget_usd: float | None


@dataclass(frozen=True)
class ApprovalRules:
    roles: tuple[str, ...]
    timeout_seconds: int
    fallback: Literal["allow", "deny"]
    ci_fallback: Literal["allow", "deny"]


@dataclass(frozen=True)
class InputRules:
    shell_escape: Literal["allow", "deny"]
    slash_commands: tuple[str, ...]
    mode_change: Literal["restore", "end"]


@dataclass(frozen=True)
class EnvRules:
    allowed: tuple[str, ...]  # the defaults plus the names the policy (and its bases) add


@dataclass(frozen=True)
class PolicyTest:
    name: str
    tool: str
    input: dict[str, Any] = field(hash=False, compare=False)
    expect: Effect
    rule: str | None


@dataclass(frozen=True)
class Policy:
    """Everything the evaluator and the session checks need; ``base`` when it extends one."""

    name: str
    version: int
    description: str
    source: Path | None
    rules: tuple[Rule, ...]  # own rules first, then the base's (ids prefixed ``base:``)
    own_rule_ids: tuple[str, ...]
    container: ContainerLimits
    workspace: WorkspaceRules
    model: ModelLimits
    approvals: ApprovalRules
    input: InputRules
    env: EnvRules
    tests: tuple[PolicyTest, ...]
    base: Policy | None = None
    network: NetworkRules = field(default_factory=NetworkRules)

    def rules_for(self, effect: Effect) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.effect == effect)

    @property
    def own_rules(self) -> tuple[Rule, ...]:
        ids = set(self.own_rule_ids)
        return tuple(rule for rule in self.rules if rule.id in ids)
