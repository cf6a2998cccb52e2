"""``summary.md``: a run explained for the reviewer of the pull request."""

from __future__ import annotations

from runner.ci.outcome import ExitCode
from runner.ci.report import RunReport

_TITLES = {
    ExitCode.DONE: "done",
    ExitCode.CONFIGURATION: "configuration error",
    ExitCode.POLICY_VIOLATION: "policy violation",
    ExitCode.TIMEOUT: "timeout",
    ExitCode.AGENT_ERROR: "agent or model error",
    ExitCode.INFRASTRUCTURE: "infrastructure error",
}


def _cell(text: str, limit: int = 120) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped, bounded."""
    one_line = " ".join(text.split())
    if len(one_line) > limit:
        one_line = one_line[: limit - 1] + "…"
    return one_line.replace("|", "\\|").replace("`", "'")


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """``"1 file"``, ``"2 files"``."""
    return f"{count} {noun if count == 1 else plural_noun or noun + 's'}"


def _fence(text: str) -> str:
    """A fenced block that the text itself cannot close."""
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}\n{text.rstrip()}\n{ticks}"


def render_summary(report: RunReport) -> str:
    """The Markdown summary of one run."""
    outcome = report.outcome
    lines = [
        f"# Warden run: {_TITLES[outcome.code]} (exit {int(outcome.code)})",
        "",
        f"- **Result:** {outcome.reason}",
        f"- **Policy:** `{report.policy}`",
        f"- **Working directory:** `{report.work_dir}`",
        f"- **Session:** `{report.session_id or 'none'}`",
        f"- **Model:** {_models(report)}",
        f"- **Started:** {report.started_at.isoformat(timespec='seconds')}"
        f" · **Duration:** {report.seconds:.1f}s",
        f"- **Tokens used:** {report.tokens.total} ({report.tokens.input} in,"
        f" {report.tokens.output} out, {plural(report.tokens.requests, 'model request')})",
        "",
        "## What was asked",
        "",
        _fence(report.prompt),
        "",
        *_done(report),
        *_checks(report),
        *_changes(report),
    ]
    if report.artifacts:
        lines += ["## Artifacts", "", *[f"- `{name}`" for name in report.artifacts], ""]
    return "\n".join(lines).rstrip() + "\n"


def _done(report: RunReport) -> list[str]:
    lines = ["## What was done", ""]
    if not report.actions and report.checks:
        # The transcript shows no call, but the policy judged some: say what is known.
        lines += [f"No tool call in the transcript; the policy judged {len(report.checks)}"
                  " (below).", ""]  # fmt: skip
    elif not report.actions:
        lines += ["The agent made no tool calls.", ""]
    for number, action in enumerate(report.actions, 1):
        result = f" → {_cell(action.result)}" if action.result else ""
        lines.append(f"{number}. **{action.tool}** `{_cell(action.target)}`{result}")
    if report.actions:
        lines.append("")
    if report.final_message:
        lines += ["Last message from the agent:", "", _fence(report.final_message), ""]
    return lines


def _checks(report: RunReport) -> list[str]:
    denials = report.denials
    lines = [f"## Denied actions ({len(denials)})", ""]
    if not denials:
        lines += ["None: every tool call the agent attempted was allowed by the policy.", ""]
    else:
        lines += ["| tool | target | rule | reason |", "|---|---|---|---|"]
        lines += [
            f"| {_cell(c.tool)} | `{_cell(c.target)}` | `{_cell(c.rule or '-')}` |"
            f" {_cell(c.reason)} |"
            for c in denials
        ]
        lines.append("")
    judged = plural(len(report.checks), "tool call")
    lines += [f"Policy checks: {judged} judged, {len(denials)} denied.", ""]
    return lines


def _changes(report: RunReport) -> list[str]:
    lines = [f"## Changes ({plural(len(report.changes), 'file')})", ""]
    if not report.changes:
        return [*lines, "The workspace is unchanged.", ""]
    lines += ["| file | change | + | - |", "|---|---|---|---|"]
    lines += [
        f"| `{_cell(c.path)}` | {c.status} | {c.added} | {c.removed} |" for c in report.changes
    ]
    return [*lines, ""]


def _models(report: RunReport) -> str:
    """The models the run actually used (from its model calls), else the one asked for."""
    used = report.models_used or ((report.model,) if report.model else ())
    if not used:
        return "none (no model request was answered)"
    return ", ".join(f"`{_cell(name)}`" for name in used)
