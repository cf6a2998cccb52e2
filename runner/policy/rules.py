"""Permission rules in Claude Code's syntax, parsed once into matchers with stable ids.

``Tool`` or ``Tool(specifier)``:

* ``Bash`` / ``Bash(*)`` — every Bash call; ``Bash(npm test:*)`` — argv starts with
  ``npm test``; ``Bash(git * main)`` — ``*`` is any run of words, ``ls*`` a glob inside a
  word; anything else is an exact argv. Specifiers are split like a shell would (shlex).
* ``Read(…)``/``Edit(…)`` and the other file tools — gitignore-style path patterns
  (see :mod:`runner.policy.paths`). ``Edit`` rules cover every editing tool and
  ``Read`` rules every reading tool; ``Write(…)``, ``Grep(…)`` etc. cover just that tool.
* ``WebFetch(domain:example.com)`` — the URL's host; ``domain:*.example.com`` its subdomains.
* ``mcp__server`` / ``mcp__server__*`` — every tool of an MCP server; ``mcp__server__tool``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Literal

Effect = Literal["allow", "ask", "deny"]
EFFECTS: tuple[Effect, ...] = ("deny", "ask", "allow")  # precedence order

EDIT_TOOLS = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"})
READ_TOOLS = frozenset({"Read", "Grep", "Glob", "LS", "NotebookRead"})
PATH_TOOLS = EDIT_TOOLS | READ_TOOLS
KNOWN_TOOLS = PATH_TOOLS | {
    "Bash", "BashOutput", "KillShell", "WebFetch", "WebSearch", "Agent", "Task", "TodoWrite",
    "AskUserQuestion", "ExitPlanMode", "Skill", "SlashCommand", "ListMcpResourcesTool",
    "ReadMcpResourceTool",
}  # fmt: skip

STAR = "*"  # a Bash pattern token that matches any run of words (also none)
_RULE = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)(?:\((.*)\))?$", re.DOTALL)
_DOMAIN = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")

Kind = Literal["tool", "bash", "path", "domain", "mcp"]


class RuleSyntaxError(ValueError):
    """A rule string is not valid Claude Code rule syntax (or uses an unsupported form)."""


@dataclass(frozen=True)
class Rule:
    """One parsed rule; ``id`` is ``tools.deny[2]`` or the explicit id given in the file."""

    id: str
    effect: Effect
    text: str
    tool: str
    specifier: str | None
    kind: Kind
    reason: str | None = None
    tokens: tuple[str, ...] = ()

    def applies_to(self, tool_name: str) -> bool:
        """Whether this rule speaks about calls to ``tool_name`` at all."""
        if self.kind == "mcp":
            server = self.tool.removesuffix("__*")
            if server.count("__") == 1:
                return tool_name.startswith(server + "__")
            return tool_name == self.tool
        if self.tool == tool_name:
            return True
        return (self.tool == "Edit" and tool_name in EDIT_TOOLS) or (
            self.tool == "Read" and tool_name in READ_TOOLS
        )

    @property
    def is_bare(self) -> bool:
        return self.specifier is None


def parse_rule(text: str, *, effect: Effect, rule_id: str, reason: str | None = None) -> Rule:
    """Parse one rule string.

    Raises:
        RuleSyntaxError: the text is not ``Tool`` or ``Tool(specifier)`` in a supported form.
    """
    match = _RULE.match(text.strip())
    if not match:
        raise RuleSyntaxError(f"{text!r} is not `Tool` or `Tool(specifier)`")
    tool, spec = match.group(1), match.group(2)
    if spec is not None and spec.strip() in ("", "*") and tool != "WebFetch":
        spec = None  # Bash(*) is the same as Bash

    def make(kind: Kind, specifier: str | None, tokens: tuple[str, ...] = ()) -> Rule:
        return Rule(rule_id, effect, text.strip(), tool, specifier, kind, reason, tokens)

    if tool.startswith("mcp__"):
        if spec is not None:
            raise RuleSyntaxError(f"{text!r}: MCP rules take no specifier")
        return make("mcp", None)
    if spec is None:
        return make("tool", None)
    if tool == "Bash":
        return make("bash", spec, _bash_tokens(text, spec))
    if tool in PATH_TOOLS:
        if "\x00" in spec:
            raise RuleSyntaxError(f"{text!r}: NUL in path pattern")
        return make("path", spec.strip())
    if tool == "WebFetch":
        domain = spec.strip().removeprefix("domain:").strip().lower().rstrip(".")
        if not spec.strip().startswith("domain:") or not _DOMAIN.match(domain):
            raise RuleSyntaxError(f"{text!r}: expected WebFetch(domain:host) or domain:*.host")
        return make("domain", domain)
    raise RuleSyntaxError(
        f"{text!r}: a specifier is only supported for Bash, file tools and WebFetch; "
        f"use the bare tool name `{tool}`"
    )


def _bash_tokens(text: str, spec: str) -> tuple[str, ...]:
    legacy_prefix = spec.endswith(":*")
    body = spec[:-2] if legacy_prefix else spec
    try:
        tokens = shlex.split(body)
    except ValueError as exc:
        raise RuleSyntaxError(f"{text!r}: {exc}") from exc
    if not tokens:
        raise RuleSyntaxError(f"{text!r}: empty command pattern")
    if legacy_prefix:
        tokens.append(STAR)
    return tuple(tokens)
