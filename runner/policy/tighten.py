"""A policy that extends a base may only tighten it; anything looser is a load error.

Checked here at load time, field by field, so a reviewer sees the offending field. The
evaluator also takes the stricter of child and base for every tool call, so even a
loosening this check cannot see (two overlapping globs) never takes effect.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from runner.errors import InvalidInputError
from runner.policy.compiled import Policy
from runner.policy.evaluator import evaluate
from runner.policy.probes import PROBE_HOME, PROBE_WORKSPACE, probe_call


def check_tightens(child: Policy, base: Policy, *, where: str) -> None:
    """Raise if ``child`` allows anything ``base`` does not.

    Raises:
        InvalidInputError: naming each field that loosens the base.
    """
    problems = (
        _container(child, base)
        + _workspace(child, base)
        + _others(child, base)
        + _tool_rules(child, base)
        + _network(child, base)
    )
    if problems:
        fields = [field for field, _ in problems]
        text = "; ".join(f"{field}: {why}" for field, why in problems)
        raise InvalidInputError(
            f"{where}: extends {base.name!r} but loosens it: {text}",
            details={"file": where, "fields": fields},
        )


def _covered(patterns: tuple[str, ...], by: tuple[str, ...]) -> list[str]:
    return [p for p in patterns if not any(fnmatchcase(p, allowed) for allowed in by)]


def _container(child: Policy, base: Policy) -> list[tuple[str, str]]:
    c, b = child.container, base.container
    out: list[tuple[str, str]] = []
    extra = _covered(c.images, b.images)
    if extra:
        out.append(("container.images", f"{extra} not allowed by the base"))
    limits = (
        ("container.cpus", c.cpus, b.cpus),
        ("container.memory", c.memory_bytes, b.memory_bytes),
        ("container.pids", c.pids, b.pids),
        ("container.tmpfs", c.tmpfs_bytes, b.tmpfs_bytes),
        ("container.max_duration", c.max_duration_seconds, b.max_duration_seconds),
        ("container.idle_timeout", c.idle_timeout_seconds, b.idle_timeout_seconds),
    )
    for field, mine, theirs in limits:
        if mine > theirs:
            out.append((field, f"{mine} is above the base's {theirs}"))
    if b.disk_bytes is not None and (c.disk_bytes is None or c.disk_bytes > b.disk_bytes):
        out.append(("container.disk", f"{c.disk_bytes} is above the base's {b.disk_bytes}"))
    # runc is the baseline; any other runtime a base names (gVisor, or one an operator
    # registered) was chosen for its isolation, so the child must keep it.
    if b.runtime != "runc" and c.runtime != b.runtime:
        out.append(("container.runtime", f"the base requires {b.runtime}"))
    # A pooled sandbox has the same limits and isolation as a cold one, so a child may
    # turn pooling on where its base is silent; a base that says no is not overruled.
    if c.pool and b.pool is False:
        out.append(("container.pool", "the base does not allow pooled sandboxes"))
    # Waiting in line starts nothing more than the quotas allow; a base's no still holds.
    if c.queue and b.queue is False:
        out.append(("container.queue", "the base does not allow queued starts"))
    return out


def _workspace(child: Policy, base: Policy) -> list[tuple[str, str]]:
    c, b = child.workspace, base.workspace
    out: list[tuple[str, str]] = []
    for field, mine, theirs in (
        ("workspace.max_bytes", c.max_bytes, b.max_bytes),
        ("workspace.max_files", c.max_files, b.max_files),
    ):
        if mine > theirs:
            out.append((field, f"{mine} is above the base's {theirs}"))
    if b.roots:
        wider = [r for r in c.roots or ("(any)",) if not any(_under(r, mine) for mine in b.roots)]
        if wider:
            out.append(("workspace.roots", f"{wider} not under the base's {list(b.roots)}"))
    hosts = _covered(c.git_hosts, b.git_hosts)
    if hosts:
        out.append(("workspace.git_hosts", f"{hosts} not allowed by the base"))
    if c.git_submodules and not b.git_submodules:
        out.append(("workspace.git_submodules", "the base clones no submodules"))
    return out


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _others(child: Policy, base: Policy) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    modes = [m for m in child.workspace.allowed_modes if m not in base.workspace.allowed_modes]
    if modes:
        out.append(("workspace.allowed_modes", f"{modes} not allowed by the base"))
    models = _covered(child.model.allowed, base.model.allowed)
    if models:
        out.append(("model.allowed", f"{models} not allowed by the base"))
    for field, mine, theirs in (
        ("model.max_tokens", child.model.max_tokens, base.model.max_tokens),
        ("model.budget_usd", child.model.budget_usd, base.model.budget_usd),
    ):
        if theirs is not None and (mine is None or mine > theirs):
            out.append((field, f"{mine} is above the base's {theirs}"))
    roles = [r for r in child.approvals.roles if r not in base.approvals.roles]
    if roles:
        out.append(("approvals.roles", f"{roles} may not approve under the base"))
    for name, child_fallback, base_fallback in (
        ("approvals.fallback", child.approvals.fallback, base.approvals.fallback),
        ("approvals.ci_fallback", child.approvals.ci_fallback, base.approvals.ci_fallback),
    ):
        if base_fallback == "deny" and child_fallback != "deny":
            out.append((name, "the base falls back to deny"))
    if child.input.shell_escape == "allow" and base.input.shell_escape != "allow":
        out.append(("input.shell_escape", "the base refuses shell escapes"))
    slash = [c for c in child.input.slash_commands if c not in base.input.slash_commands]
    if slash:
        out.append(("input.slash_commands", f"{slash} not allowed by the base"))
    if base.input.mode_change == "end" and child.input.mode_change != "end":
        out.append(("input.mode_change", "the base ends the session on a mode change"))
    names = [n for n in child.env.allowed if n not in base.env.allowed]
    if names:
        out.append(("env.allowed", f"{names} not allowed by the base"))
    return out


def _tool_rules(child: Policy, base: Policy) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    own = set(child.own_rule_ids)
    for rule in child.rules:
        if rule.id not in own or rule.effect != "allow":
            continue
        tool, tool_input = probe_call(rule)
        verdict = evaluate(base, tool, tool_input, workspace=PROBE_WORKSPACE, home=PROBE_HOME)
        if verdict.decision != "allow":
            out.append(
                (
                    rule.id,
                    f"`{rule.text}` would be {verdict.decision} under the base ({verdict.rule})",
                )
            )
    return out


def _network(child: Policy, base: Policy) -> list[tuple[str, str]]:
    c, b = child.network, base.network
    out: list[tuple[str, str]] = []
    own = [rule.id for rule in c.allow if ":" not in rule.id]
    if own:
        # Any allow rule of the child's own would widen what the base lets out.
        out.append(("network.allow", f"{own}: a policy that extends another may only deny"))
    for field, mine, theirs in (
        ("network.max_bytes", c.max_bytes, b.max_bytes),
        ("network.max_connections_per_minute", c.max_connections_per_minute,
         b.max_connections_per_minute),
    ):  # fmt: skip
        if theirs is not None and (mine is None or mine > theirs):
            out.append((field, f"{mine} is above the base's {theirs}"))
    return out
