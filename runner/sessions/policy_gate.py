"""Policy enforcement for sessions: admission, tool calls, and answers to prompts.

Three layers, one policy: the container profile at creation, the structured tool call
(through the PreToolUse hook), and the permission prompt on screen (a human or a
fallback answering it). Each can only narrow what the one before allowed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runner.core import Actor, WorkspaceMode
from runner.errors import AuthorizationError, InvalidInputError, NotFoundError, PolicyDeniedError
from runner.policy import (
    ContainerProfile,
    Decision,
    Policy,
    SessionRequest,
    check_session,
    container_profile,
    evaluate,
    list_policies,
    load_policy,
)
from runner.policy.loader import parse_policy_file, resolve_reference
from runner.sandbox.backend import SANDBOX_HOME, SANDBOX_WORKSPACE
from runner.sessions.input_text import ParsedInput
from runner.sessions.model import SessionRecord

#: The parsed prompt's tool kind → the Claude Code tool and the input key of its target.
_PROMPT_TOOLS: Mapping[str, tuple[str, str]] = {
    "bash": ("Bash", "command"),
    "write": ("Write", "file_path"),
    "create": ("Write", "file_path"),
    "edit": ("Edit", "file_path"),
    "fetch": ("WebFetch", "url"),
}


class PolicyGate:
    """Loads policies by name and judges sessions, tool calls and prompt answers."""

    def __init__(self, policies_dir: Path | None = None) -> None:
        self._dir = policies_dir
        self._cache: dict[str, Policy] = {}

    def names(self) -> list[str]:
        return list_policies(self._dir)

    def policy(self, name: str) -> Policy:
        """The named policy.

        Only names of known policies are accepted: a client must never be able to make
        the controller read an arbitrary file as a policy.

        Raises:
            NotFoundError: no policy has that name (404, like any unknown name).
        """
        if name not in self._cache:
            known = self.names()
            if name not in known:
                raise NotFoundError(
                    f"unknown policy {name!r}; known policies: {', '.join(known)}",
                    details={"policy": name, "known": known},
                )
            self._cache[name] = load_policy(name, policies_dir=self._dir)
        return self._cache[name]

    def _known(self, name: str) -> None:
        if name not in self.names():
            raise NotFoundError(f"no policy {name!r}", details={"known": self.names()})

    def document(self, name: str) -> dict[str, Any]:
        """The policy file's content as JSON (before ``extends`` is applied).

        Raises:
            NotFoundError: no policy has that name.
        """
        self._known(name)
        path = resolve_reference(name, policies_dir=self._dir)
        return parse_policy_file(path).model_dump(mode="json", exclude_none=True)

    def explain(
        self, name: str, tool_name: str, tool_input: Mapping[str, Any], workspace: str
    ) -> Decision:
        """The decision with its trace, for a tool call given by hand (no filesystem).

        Raises:
            NotFoundError: no policy has that name.
        """
        self._known(name)
        return evaluate(self.policy(name), tool_name, dict(tool_input), workspace=workspace)

    def workspace_mode(self, policy_name: str, requested: str | None) -> WorkspaceMode:
        """The mode a session gets: the one asked for, else the policy's ``workspace.mode``.

        Raises:
            NotFoundError: no policy has that name.
        """
        return WorkspaceMode(requested or self.policy(policy_name).workspace.mode)

    def admit(self, record: SessionRecord, image_digests: Sequence[str] = ()) -> ContainerProfile:
        """The container profile for a new session, or 403 with the rule it breaks.

        ``image_digests`` are what the record's image resolves to, for digest pins.

        Raises:
            PolicyDeniedError: the request is outside the policy.
        """
        policy = self.policy(record.policy)
        request = SessionRequest(
            image=record.image,
            workspace_mode=record.workspace_mode,
            model=record.model,
            image_digests=tuple(image_digests),
        )
        decision = check_session(policy, request)
        if decision.decision != "allow":
            # The reason already names the policy, what it refuses and the rule.
            raise PolicyDeniedError(
                decision.reason, rule=decision.rule, details={"policy": record.policy}
            )
        return container_profile(policy, request)

    def judge_tool(
        self,
        policy_name: str,
        tool_name: str,
        tool_input: Mapping[str, Any],
        fs_root: Path | None,
        cwd: str | None = None,
    ) -> Decision:
        """The policy's decision on a structured tool call (never raises: errors deny).

        ``cwd`` is where the hook says the call runs (a Bash command's relative writes
        start there); None: the workspace.
        """
        return evaluate(
            self.policy(policy_name),
            tool_name,
            dict(tool_input),
            workspace=SANDBOX_WORKSPACE,
            fs_root=fs_root,
            home=SANDBOX_HOME,
            cwd=cwd,
        )

    def check_env(self, policy_name: str, env: Mapping[str, str]) -> None:
        """Refuse environment names outside the policy's ``env.allowed``.

        An allowlist, not a denylist: NODE_OPTIONS, BASH_ENV, GIT_CONFIG_GLOBAL,
        PYTHONSTARTUP and their like load code into Claude Code or what it runs, and
        no list of bad names is ever complete.

        Raises:
            InvalidInputError: naming the refused variables and the allowed ones.
        """
        allowed = self.policy(policy_name).env.allowed
        refused = sorted(name for name in env if name not in allowed)
        if refused:
            raise InvalidInputError(
                f"env {', '.join(refused)} not allowed by policy {policy_name!r}; allowed:"
                f" {', '.join(allowed)} (a policy adds names under env.allowed)",
                details={"env": refused, "allowed": list(allowed), "rule": "env.allowed"},
            )

    def check_input(
        self, policy_name: str, parsed: ParsedInput, fs_root: Path | None
    ) -> Decision | None:
        """Judge what an operator's text makes Claude Code do; None for a plain prompt.

        A shell escape (``!cmd``) runs in Claude Code's bash mode, where no PreToolUse
        hook fires: unless the policy allows escapes it is refused, and then it is judged
        as the Bash call it is, here, since nothing later will judge it. A slash command
        can change settings, permissions, hooks or the model, so only listed ones pass.

        Raises:
            InvalidInputError: the policy refuses shell escapes, or the slash command.
            PolicyDeniedError: the policy does not allow the escape's command.
        """
        rules = self.policy(policy_name).input
        if parsed.kind == "slash":
            if parsed.target not in rules.slash_commands:
                raise InvalidInputError(
                    f"slash command {parsed.target} is not allowed by policy {policy_name!r};"
                    f" allowed: {', '.join(rules.slash_commands) or 'none'} (text that starts"
                    " with / is a command to Claude Code, not a prompt)",
                    details={"command": parsed.target, "rule": "input.slash_commands"},
                )
            return None
        if parsed.kind != "shell":
            return None
        if rules.shell_escape != "allow":
            raise InvalidInputError(
                f"policy {policy_name!r} refuses shell escapes: text starting with '!' runs"
                " as a shell command without a tool call (set input.shell_escape: allow to"
                " have them judged as Bash calls)",
                details={"rule": "input.shell_escape"},
            )
        verdict = self.judge_tool(policy_name, "Bash", {"command": parsed.target}, fs_root)
        if verdict.decision != "allow":
            # Nobody can be asked: bash mode shows no permission prompt. Only allow runs.
            raise PolicyDeniedError(
                f"the policy does not allow this shell escape ({verdict.decision}):"
                f" {verdict.reason}",
                rule=verdict.rule or "default",
                details={"decision": verdict.decision},
            )
        return verdict

    def judge_prompt(
        self, policy_name: str, details: Mapping[str, Any], fs_root: Path | None
    ) -> Decision | None:
        """The decision on what a permission prompt shows, or None when it names no target."""
        kind = str(details.get("tool", ""))
        if kind not in _PROMPT_TOOLS:
            return None
        tool, key = _PROMPT_TOOLS[kind]
        target = details.get("command") or details.get("path") or details.get("url")
        if not target:
            return None
        return self.judge_tool(policy_name, tool, {key: str(target)}, fs_root)

    def check_approver(self, policy_name: str, actor: Actor) -> None:
        """Only the policy's approver roles may answer a permission prompt.

        Raises:
            AuthorizationError: the actor holds none of them.
        """
        roles = set(self.policy(policy_name).approvals.roles)
        if not roles & set(actor.roles):
            raise AuthorizationError(
                f"approving needs one of the roles {sorted(roles)}",
                details={"required": sorted(roles)},
            )

    def approvals(self, policy_name: str) -> tuple[float, str, str]:
        """(timeout seconds, fallback, CI fallback) for prompts left unanswered."""
        approvals = self.policy(policy_name).approvals
        return float(approvals.timeout_seconds), approvals.fallback, approvals.ci_fallback
