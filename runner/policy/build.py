"""Turn a validated policy file into a :class:`Policy`: parse rules, resolve defaults, inherit.

A section a child leaves out is inherited from its base; a root policy falls back to
the defaults below, which are deny-by-default where it matters (no image and no model
is allowed unless listed).
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from pathlib import Path

from runner.core import WorkspaceMode
from runner.errors import InvalidInputError
from runner.policy.compiled import (
    ApprovalRules,
    ContainerLimits,
    EnvRules,
    InputRules,
    ModelLimits,
    Policy,
    PolicyTest,
    WorkspaceRules,
)
from runner.policy.model import NetworkRuleSpec, PolicyFile, RuleSpec
from runner.policy.network import Injection, NetworkRule, NetworkRules, normalise_host
from runner.policy.rules import Effect, Rule, RuleSyntaxError, parse_rule
from runner.policy.units import parse_duration, parse_size

ROOT_CONTAINER = ContainerLimits(
    images=(),
    cpus=2.0,
    memory_bytes=parse_size("2g"),
    pids=512,
    tmpfs_bytes=parse_size("256m"),
    disk_bytes=None,
    runtime="runc",
    max_duration_seconds=parse_duration("4h"),
    idle_timeout_seconds=parse_duration("30m"),
)
ROOT_WORKSPACE = WorkspaceRules(
    mode=WorkspaceMode.COPY,
    allowed_modes=(WorkspaceMode.COPY,),
    max_bytes=parse_size("2g"),
    max_files=200_000,
    roots=(),  # the server's roots, unnarrowed
    git_hosts=(),  # no remote git source unless listed
    git_submodules=False,
)
ROOT_MODEL = ModelLimits(allowed=(), max_tokens=None, budget_usd=None)
ROOT_APPROVALS = ApprovalRules(
    roles=("approver",), timeout_seconds=300, fallback="deny", ci_fallback="deny"
)

# Slash commands that only show or shrink the conversation. Everything that changes
# settings, permissions, hooks, the model, the working directories or the account
# (/permissions, /config, /hooks, /model, /add-dir, /login, …) stays out by default.
ROOT_INPUT = InputRules(
    shell_escape="deny",
    slash_commands=("/clear", "/compact", "/context", "/cost", "/help"),
    mode_change="restore",
)
# Names that change how text is shown, never which code runs (unlike NODE_OPTIONS,
# BASH_ENV, GIT_CONFIG_GLOBAL, PYTHONSTARTUP …, which load code into Claude Code or
# the programs it starts).
ROOT_ENV = EnvRules(allowed=("LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "CI", "NO_COLOR"))


def build_policy(spec: PolicyFile, *, source: Path | None, base: Policy | None) -> Policy:
    """The effective policy of ``spec`` on top of ``base``.

    Raises:
        InvalidInputError: a rule does not parse, ids collide, or a value is out of range.
    """
    where = str(source) if source else spec.name
    own = _rules(spec, where)
    inherited = tuple(_prefixed(rule, base.name) for rule in base.rules) if base else ()
    try:
        return Policy(
            name=spec.name,
            version=spec.version,
            description=spec.description,
            source=source,
            rules=own + inherited,
            own_rule_ids=tuple(rule.id for rule in own),
            container=_container(spec, base.container if base else ROOT_CONTAINER),
            workspace=_workspace(spec, base.workspace if base else ROOT_WORKSPACE),
            model=_model(spec, base.model if base else ROOT_MODEL),
            approvals=_approvals(spec, base.approvals if base else ROOT_APPROVALS),
            input=_input(spec, base.input if base else ROOT_INPUT),
            env=_env(spec, base.env if base else ROOT_ENV),
            tests=tuple(
                PolicyTest(t.name or f"tests[{i}]", t.tool, dict(t.input), t.expect, t.rule)
                for i, t in enumerate(spec.tests)
            ),
            base=base,
            network=_network(spec, base),
        )
    except ValueError as exc:
        raise InvalidInputError(f"{where}: {exc}", details={"file": where}) from exc


def _rules(spec: PolicyFile, where: str) -> tuple[Rule, ...]:
    out: list[Rule] = []
    seen: dict[str, str] = {}
    lists: tuple[tuple[Effect, list[str | RuleSpec] | None], ...] = (
        ("deny", spec.tools.deny),
        ("ask", spec.tools.ask),
        ("allow", spec.tools.allow),
    )
    for effect, entries in lists:
        for index, entry in enumerate(entries or ()):
            field = f"tools.{effect}[{index}]"
            text, rule_id, reason = (entry, field, None) if isinstance(entry, str) else (
                entry.rule, entry.id or field, entry.reason,
            )  # fmt: skip
            if rule_id in seen or rule_id in ("default", "error"):
                owner = seen.get(rule_id, "Warden")
                raise InvalidInputError(
                    f"{where}: {field}: rule id {rule_id!r} is already used by {owner}",
                    details={"file": where, "field": field},
                )
            seen[rule_id] = field
            try:
                out.append(parse_rule(text, effect=effect, rule_id=rule_id, reason=reason))
            except RuleSyntaxError as exc:
                raise InvalidInputError(
                    f"{where}: {field}: {exc}", details={"file": where, "field": field}
                ) from exc
    return tuple(out)


def _prefixed(rule: Rule, base_name: str) -> Rule:
    rule_id = rule.id if ":" in rule.id else f"{base_name}:{rule.id}"
    return Rule(
        rule_id,
        rule.effect,
        rule.text,
        rule.tool,
        rule.specifier,
        rule.kind,
        rule.reason,
        rule.tokens,
    )


def _container(spec: PolicyFile, base: ContainerLimits) -> ContainerLimits:
    c = spec.container
    return ContainerLimits(
        images=tuple(c.images) if c.images is not None else base.images,
        cpus=c.cpus if c.cpus is not None else base.cpus,
        memory_bytes=parse_size(c.memory) if c.memory is not None else base.memory_bytes,
        pids=c.pids if c.pids is not None else base.pids,
        tmpfs_bytes=parse_size(c.tmpfs) if c.tmpfs is not None else base.tmpfs_bytes,
        disk_bytes=parse_size(c.disk) if c.disk is not None else base.disk_bytes,
        runtime=c.runtime or base.runtime,
        max_duration_seconds=(
            parse_duration(c.max_duration)
            if c.max_duration is not None
            else base.max_duration_seconds
        ),
        idle_timeout_seconds=(
            parse_duration(c.idle_timeout)
            if c.idle_timeout is not None
            else base.idle_timeout_seconds
        ),
        pool=c.pool if c.pool is not None else base.pool,
        queue=c.queue if c.queue is not None else base.queue,
    )


def _workspace(spec: PolicyFile, base: WorkspaceRules) -> WorkspaceRules:
    w = spec.workspace
    allowed = (
        tuple(dict.fromkeys(w.allowed_modes)) if w.allowed_modes is not None else base.allowed_modes
    )
    if w.allowed_modes is None and w.mode is not None and w.mode not in allowed:
        allowed = (w.mode,)  # naming only a mode allows just that mode
    if not allowed:
        raise ValueError("workspace.allowed_modes must name at least one mode")
    mode = w.mode or (base.mode if base.mode in allowed else allowed[0])
    if mode not in allowed:
        raise ValueError(
            f"workspace.mode {mode!r} is not in workspace.allowed_modes {list(allowed)}"
        )
    return WorkspaceRules(
        mode=mode,
        allowed_modes=allowed,
        max_bytes=parse_size(w.max_bytes) if w.max_bytes is not None else base.max_bytes,
        max_files=w.max_files if w.max_files is not None else base.max_files,
        roots=tuple(w.roots) if w.roots is not None else base.roots,
        git_hosts=tuple(w.git_hosts) if w.git_hosts is not None else base.git_hosts,
        git_submodules=(w.git_submodules if w.git_submodules is not None else base.git_submodules),
    )


def _model(spec: PolicyFile, base: ModelLimits) -> ModelLimits:
    m = spec.model
    return ModelLimits(
        allowed=tuple(m.allowed) if m.allowed is not None else base.allowed,
        max_tokens=m.max_tokens if m.max_tokens is not None else base.max_tokens,
        budget_usd=m.budget_usd if m.budget_usd is not None else base.budget_usd,
    )


def _approvals(spec: PolicyFile, base: ApprovalRules) -> ApprovalRules:
    a = spec.approvals
    return ApprovalRules(
        roles=tuple(a.roles) if a.roles is not None else base.roles,
        timeout_seconds=a.timeout_seconds or base.timeout_seconds,
        fallback=a.fallback or base.fallback,
        ci_fallback=a.ci_fallback or base.ci_fallback,
    )


def _network(spec: PolicyFile, base: Policy | None) -> NetworkRules:
    """Own rules first, then the base's (ids prefixed); ``check_tightens`` refuses own allows."""
    n = spec.network
    inherited = base.network if base else NetworkRules()
    prefix = base.name if base else ""
    own_allow = tuple(_network_rule(r, f"network.allow[{i}]") for i, r in enumerate(n.allow or ()))
    own_deny = tuple(_network_rule(r, f"network.deny[{i}]") for i, r in enumerate(n.deny or ()))
    ids = [r.id for r in own_allow + own_deny]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"network rule ids used twice: {duplicates}")
    for rule in own_deny:
        if rule.inject is not None:
            raise ValueError(f"network rule {rule.id}: only allow rules inject credentials")
    return NetworkRules(
        allow=own_allow + tuple(_renamed(r, prefix) for r in inherited.allow),
        deny=own_deny + tuple(_renamed(r, prefix) for r in inherited.deny),
        max_bytes=parse_size(n.max_bytes) if n.max_bytes is not None else inherited.max_bytes,
        max_connections_per_minute=(
            n.max_connections_per_minute
            if n.max_connections_per_minute is not None
            else inherited.max_connections_per_minute
        ),
    )


def _network_rule(spec: NetworkRuleSpec, field: str) -> NetworkRule:
    try:
        addresses = tuple(ipaddress.ip_network(a, strict=False) for a in spec.addresses or ())
    except ValueError as exc:
        raise ValueError(f"{field}.addresses: {exc}") from exc
    return NetworkRule(
        id=spec.id,
        host=normalise_host(spec.host),
        ports=tuple(dict.fromkeys(spec.ports)),
        methods=tuple(m.upper() for m in spec.methods) if spec.methods is not None else None,
        paths=tuple(spec.paths) if spec.paths is not None else None,
        addresses=addresses,
        inject=Injection(spec.inject.header, spec.inject.secret) if spec.inject else None,
    )


def _renamed(rule: NetworkRule, base_name: str) -> NetworkRule:
    if ":" in rule.id or not base_name:
        return rule
    return replace(rule, id=f"{base_name}:{rule.id}")


def _input(spec: PolicyFile, base: InputRules) -> InputRules:
    i = spec.input
    return InputRules(
        shell_escape=i.shell_escape or base.shell_escape,
        slash_commands=(
            tuple(dict.fromkeys(i.slash_commands))
            if i.slash_commands is not None
            else base.slash_commands
        ),
        mode_change=i.mode_change or base.mode_change,
    )


def _env(spec: PolicyFile, base: EnvRules) -> EnvRules:
    added = spec.env.allowed or []
    return EnvRules(allowed=tuple(dict.fromkeys([*base.allowed, *added])))
