"""Decide one tool call: deny beats ask beats allow, nothing matched denies, errors deny.

A Bash call is decided part by part (see :mod:`runner.policy.bash`): one denied part
denies the whole call, an ``ask`` part makes it ask, and it is allowed only when every
part is. Deny and ask rules are matched against the most dangerous reading of the call
(``may``), allow rules only against what is certain (``must``). A policy that extends a
base is also checked against the base, and the stricter answer wins, so a child can
never allow what its base would not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.policy.argmatch import match_argv
from runner.policy.bash import Part, analyse
from runner.policy.compiled import Policy
from runner.policy.decision import (
    DEFAULT_RULE,
    ERROR_RULE,
    Decision,
    TraceEntry,
    deny,
    stricter,
)
from runner.policy.paths import pattern_covers, pattern_reaches_into
from runner.policy.rules import EFFECTS, PATH_TOOLS, Effect, Rule
from runner.policy.scope import Scope
from runner.policy.targets import Target, fetch_host, path_targets
from runner.policy.write_check import Dirs, Written, allowing, change_dir, first_hit, resolve

DEFAULT_WORKSPACE = "/workspace"
DEFAULT_HOME = "/home/warden"  # the sandbox user's HOME (images/sandbox/Dockerfile)
MAX_TRACE = 200


def evaluate(
    policy: Policy,
    tool_name: str,
    tool_input: dict[str, Any],
    *,
    workspace: str = DEFAULT_WORKSPACE,
    fs_root: Path | None = None,
    home: str = DEFAULT_HOME,
    cwd: str | None = None,
) -> Decision:
    """Decide a tool call under ``policy``; never raises (any fault is a deny, rule ``error``).

    ``cwd`` is the Bash tool's working directory (the hook's ``cwd``; default the
    workspace): a command's relative write paths start there.
    """
    try:
        scope = Scope(workspace=workspace, home=home, fs_root=fs_root, cwd=cwd)
        own = _decide(policy.rules, tool_name, tool_input, scope)
        if policy.base is None:
            return own
        base = evaluate(policy.base, tool_name, tool_input, **scope.kwargs(), cwd=cwd)
        return stricter(own, base)
    except Exception as exc:  # fail closed: a call we could not judge must not run
        return deny(ERROR_RULE, f"the policy could not evaluate this call: {exc}")


def decide_with_rules(
    rules: tuple[Rule, ...],
    tool_name: str,
    tool_input: dict[str, Any],
    *,
    workspace: str = DEFAULT_WORKSPACE,
    home: str = DEFAULT_HOME,
) -> Decision:
    """Decide against a bare list of rules (lint uses it to ask one rule about another)."""
    scope = Scope(workspace=workspace, home=home, fs_root=None)
    try:
        return _decide(rules, tool_name, tool_input, scope)
    except Exception as exc:  # fail closed, as evaluate()
        return deny(ERROR_RULE, f"the policy could not evaluate this call: {exc}")


def _decide(
    rules: tuple[Rule, ...], tool: str, tool_input: dict[str, Any], scope: Scope
) -> Decision:
    if not isinstance(tool_input, dict):
        raise TypeError("tool_input must be a JSON object")
    applicable = tuple(rule for rule in rules if rule.applies_to(tool))
    if tool == "Bash":
        command = tool_input.get("command")
        if not isinstance(command, str):
            raise TypeError("Bash input has no string 'command'")
        return _decide_bash(applicable, rules, command, scope)
    trace: list[TraceEntry] = []
    matcher = _matcher(tool, tool_input, scope)
    for effect in EFFECTS:
        for rule in (r for r in applicable if r.effect == effect):
            matched = matcher(rule, effect != "allow")
            trace.append(TraceEntry(rule.id, rule.effect, rule.text, matched))
            if matched:
                return Decision(effect, rule.id, _reason(rule, tool), tuple(trace), (rule.id,))
    return deny(DEFAULT_RULE, f"no rule allows {tool} (deny by default)", tuple(trace))


def _reason(rule: Rule, subject: str) -> str:
    verb = {"allow": "allows", "ask": "asks for", "deny": "denies"}[rule.effect]
    # No rule id here: every consumer shows the decision's rule next to its reason.
    return rule.reason or f"`{rule.text}` {verb} {subject}"


def _matcher(tool: str, tool_input: dict[str, Any], scope: Scope) -> Any:
    if tool in PATH_TOOLS:
        targets = path_targets(tool, tool_input, **scope.kwargs())
        return lambda rule, may: rule.is_bare or _match_paths(rule, targets, scope, may=may)
    if tool == "WebFetch":
        host = fetch_host(tool_input)
        return lambda rule, may: rule.is_bare or _match_host(rule, host, may=may)
    return lambda rule, may: rule.is_bare


def _match_paths(rule: Rule, targets: tuple[Target, ...], scope: Scope, *, may: bool) -> bool:
    if rule.kind != "path" or rule.specifier is None:
        return False
    pattern = scope.anchor(rule.specifier)
    if may:  # either the path as named or where its symlinks lead
        check = pattern_reaches_into if any(t.is_scan for t in targets) else pattern_covers
        return any(check(pattern, p) for t in targets for p in (t.place.path, t.place.target))
    return all(pattern_covers(pattern, t.place.target) for t in targets)


def _match_host(rule: Rule, host: str | None, *, may: bool) -> bool:
    if rule.kind != "domain" or rule.specifier is None:
        return False
    if host is None:
        return may  # an ambiguous URL may be any host
    if rule.specifier.startswith("*."):
        return host.endswith(rule.specifier[1:])
    return host == rule.specifier


def _decide_bash(
    applicable: tuple[Rule, ...], rules: tuple[Rule, ...], command: str, scope: Scope
) -> Decision:
    parts = analyse(command)
    if not parts:
        return deny(DEFAULT_RULE, "empty command (deny by default)")
    # Every path a command writes is judged as a Write, by the same rules as the Write tool.
    writers = tuple(r for r in rules if r.applies_to("Write"))
    trace: list[TraceEntry] = []
    outcomes: list[Decision] = []
    dirs: Dirs = (scope.shell_dir,)
    cdpath = "CDPATH" in command
    for part in parts:
        written = resolve(part.write_targets, dirs, scope)
        outcome = _decide_part(part, written, applicable, writers, scope, trace)
        if outcome.decision == "deny" and outcome.rule != DEFAULT_RULE:
            return Decision("deny", outcome.rule, outcome.reason, _capped(trace), outcome.rules)
        outcomes.append(outcome)
        if part.chdir is not None:  # `cd .git && echo x > config` writes .git/config
            dirs = change_dir(dirs, part.chdir, scope, cdpath=cdpath)
    # An explicit deny anywhere wins (above); then a part nothing allows; then an ask.
    unallowed = [o for o in outcomes if o.decision == "deny"]
    if unallowed:
        return Decision("deny", DEFAULT_RULE, unallowed[0].reason, _capped(trace), (DEFAULT_RULE,))
    asks = [o for o in outcomes if o.decision == "ask"]
    if asks:
        return Decision("ask", asks[0].rule, asks[0].reason, _capped(trace), asks[0].rules)
    used = tuple(dict.fromkeys(rule for o in outcomes for rule in o.rules))
    first = used[0] if used else DEFAULT_RULE
    reason = "every command is allowed: " + ", ".join(used) if used else "nothing to run"
    return Decision("allow", first, reason, _capped(trace), used)


def _decide_part(
    part: Part,
    written: tuple[Written, ...],
    applicable: tuple[Rule, ...],
    writers: tuple[Rule, ...],
    scope: Scope,
    trace: list[TraceEntry],
) -> Decision:
    label = part.text if len(part.text) <= 200 else part.text[:197] + "..."
    for effect in ("deny", "ask"):
        for rule in (r for r in applicable if r.effect == effect):
            matched = part.wildcard or _bash_may(rule, part)
            trace.append(TraceEntry(rule.id, effect, rule.text, matched, label, part.why or None))
            if matched:
                why = f"; {part.why}" if part.why else ""
                return Decision(
                    effect, rule.id, _reason(rule, f"`{label}`") + why, rules=(rule.id,)
                )
        hit = first_hit([r for r in writers if r.effect == effect], written, scope)
        if hit is not None:
            rule, item = hit
            what = _written_text(item)
            trace.append(TraceEntry(rule.id, effect, rule.text, True, label, what))
            reason = _reason(rule, f"a write by `{label}`") + f" ({what})"
            return Decision(effect, rule.id, reason, rules=(rule.id,))
    command = _allow_command(part, applicable, trace, label)
    if not command.allowed:
        return command
    used, missing = allowing([r for r in writers if r.effect == "allow"], written, scope)
    if missing is not None:
        what = _written_text(missing)
        trace.append(TraceEntry(DEFAULT_RULE, "deny", "", False, label, what))
        return deny(DEFAULT_RULE, f"no rule allows `{label}` to write there ({what})")
    return Decision("allow", command.rule, command.reason, rules=(*command.rules, *used))


def _allow_command(
    part: Part, applicable: tuple[Rule, ...], trace: list[TraceEntry], label: str
) -> Decision:
    """The Bash allow rule for the command itself (its writes are judged separately)."""
    if not part.needs_allow:
        return Decision("allow", DEFAULT_RULE, "runs only the commands inside it")
    for rule in (r for r in applicable if r.effect == "allow"):
        matched = rule.is_bare or (part.allow_argv is not None and _bash_must(rule, part))
        trace.append(TraceEntry(rule.id, "allow", rule.text, matched, label))
        if matched:
            return Decision("allow", rule.id, _reason(rule, f"`{label}`"), rules=(rule.id,))
    why = f" ({part.why})" if part.why else ""
    return deny(DEFAULT_RULE, f"no rule allows `{label}` (deny by default){why}")


def _written_text(item: Written) -> str:
    if item.unknown:
        return f"{item.target.via} writes a path only known at run time, which may be anywhere"
    return f"{item.target.via} writes {item.places[0].path}"


def _bash_may(rule: Rule, part: Part) -> bool:
    return rule.is_bare or any(match_argv(rule.tokens, argv, may=True) for argv in part.deny_argvs)


def _bash_must(rule: Rule, part: Part) -> bool:
    assert part.allow_argv is not None
    return match_argv(rule.tokens, part.allow_argv, may=False)


def _capped(trace: list[TraceEntry]) -> tuple[TraceEntry, ...]:
    if len(trace) <= MAX_TRACE:
        return tuple(trace)
    dropped = len(trace) - MAX_TRACE
    note = TraceEntry("trace", "deny", "", False, note=f"{dropped} more entries not shown")
    return (*trace[:MAX_TRACE], note)


__all__ = ["DEFAULT_HOME", "DEFAULT_WORKSPACE", "Effect", "decide_with_rules", "evaluate"]
