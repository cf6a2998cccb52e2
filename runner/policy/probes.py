"""A concrete tool call a rule certainly matches, to ask other rules (or a base) about it.

Used to find allow rules a base policy would not allow (tightening) and rules that a
stronger rule hides (lint). One sample cannot prove two patterns never overlap; it finds
the rules that are hidden outright, which is what a reviewer needs to hear about.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from runner.policy.paths import anchor_pattern
from runner.policy.rules import EDIT_TOOLS, READ_TOOLS, STAR, Rule

PROBE_NAME = "__warden_probe__"
PROBE_WORKSPACE = "/workspace"
PROBE_HOME = "/home/warden"


def probe_call(rule: Rule) -> tuple[str, dict[str, Any]]:
    """A (tool_name, tool_input) that ``rule`` matches."""
    if rule.kind == "mcp":
        server = rule.tool.removesuffix("__*")
        return (f"{server}__{PROBE_NAME}" if server.count("__") == 1 else rule.tool), {}
    if rule.tool == "Bash":
        words = [t.replace("*", "") for t in rule.tokens if t != STAR]
        words = [w for w in words if w]
        return "Bash", {"command": shlex.join(words) if words else PROBE_NAME}
    if rule.tool == "WebFetch":
        host = (rule.specifier or "warden-probe.invalid").replace("*", "probe")
        return "WebFetch", {"url": f"https://{host}/", "prompt": "probe"}
    if rule.tool in EDIT_TOOLS or rule.tool in READ_TOOLS:
        path = _probe_path(rule.specifier)
        if rule.tool in ("Grep", "Glob", "LS"):
            return rule.tool, {"path": path, "pattern": "*"}
        key = "notebook_path" if rule.tool == "NotebookEdit" else "file_path"
        return rule.tool, {key: path, "old_string": "", "new_string": "", "content": ""}
    return rule.tool, {}


def _probe_path(spec: str | None) -> str:
    if spec is None:
        return f"{PROBE_WORKSPACE}/{PROBE_NAME}"
    pattern = anchor_pattern(spec, workspace=PROBE_WORKSPACE, home=PROBE_HOME)
    segments = []
    for segment in (s for s in pattern.split("/") if s):
        if segment == "**":
            continue
        segment = re.sub(r"\[!?(.)[^\]]*\]", r"\1", segment)
        segments.append(segment.replace("*", "x").replace("?", "x"))
    return "/" + "/".join(segments)
