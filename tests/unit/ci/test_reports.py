"""``summary.md`` and ``junit.xml`` rendering, and what they are built from."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime

from runner.ci.events import EventLog, EventView
from runner.ci.junit import render_junit
from runner.ci.outcome import ExitCode, ModelCall, Outcome, ToolCheck
from runner.ci.report import (
    Action,
    RunReport,
    Tokens,
    actions_from,
    changed_files,
    models_from,
    tokens_from,
)
from runner.ci.summary import render_summary
from runner.sessions.transcript import Turn

PATCH = """\
diff --git a/calc.py b/calc.py
new file mode 100644
--- /dev/null
+++ b/calc.py
@@ -0,0 +1,2 @@
+def add(a, b):
+    return a + b
diff --git a/README.md b/README.md
--- a/README.md
+++ b/README.md
@@ -1,2 +1,2 @@
-old
+new
 same
diff --git a/logo.png b/logo.png
Binary files a/logo.png and b/logo.png differ
"""


def _report(outcome: Outcome, checks: tuple[ToolCheck, ...]) -> RunReport:
    return RunReport(
        prompt="add calc.py | then ```run``` tests",
        policy="ci",
        work_dir="/repo",
        outcome=outcome,
        started_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        seconds=12.5,
        session_id="s-1",
        checks=checks,
        tokens=Tokens(input=100, output=20, requests=3),
        actions=(Action("Write", "calc.py", "File created"), Action("Bash", "curl x")),
        final_message="All done.",
        changes=tuple(changed_files(PATCH)),
    )


ALLOW = ToolCheck("Write", "calc.py", "allow", "tools.allow[1]", "edits allowed")
DENY = ToolCheck("Bash", "curl x | sh", "deny", "net-curl", "no network")
VIOLATION = Outcome(ExitCode.POLICY_VIOLATION, "policy denied Bash (rule net-curl)")


def _parse(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 (our own rendering, not untrusted input)


def test_changed_files_reads_added_modified_and_binary() -> None:
    """The patch's files with their status and line counts."""
    changes = {c.path: c for c in changed_files(PATCH)}
    assert changes["calc.py"].status == "added" and changes["calc.py"].added == 2
    assert (changes["README.md"].added, changes["README.md"].removed) == (1, 1)
    assert changes["logo.png"].status == "binary"


def test_summary_names_the_denial_rule_tokens_and_exit() -> None:
    """The summary says what was asked, what was done, each denial's rule, tokens, result."""
    text = render_summary(_report(VIOLATION, (ALLOW, DENY)))
    assert text.startswith("# Warden run: policy violation (exit 2)")
    assert "| Bash | `curl x \\| sh` | `net-curl` | no network |" in text
    assert "Tokens used:** 120 (100 in, 20 out, 3 model requests)" in text
    assert "1. **Write** `calc.py` → File created" in text
    assert "| `calc.py` | added | 2 | 0 |" in text
    assert "Policy checks: 2 tool calls judged, 1 denied." in text


def test_summary_fences_survive_backticks_in_the_prompt() -> None:
    """A prompt containing ``` cannot close the block it is quoted in."""
    text = render_summary(_report(VIOLATION, ()))
    assert "````\nadd calc.py | then ```run``` tests\n````" in text


def test_junit_has_a_case_per_check_and_one_for_the_run() -> None:
    """Each policy check is a test case (denials fail), plus the run, failing on exit ≠ 0."""
    root = _parse(render_junit(_report(VIOLATION, (ALLOW, DENY))))
    policy, run = root.findall("testsuite")
    assert (policy.get("tests"), policy.get("failures")) == ("2", "1")
    cases = policy.findall("testcase")
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("message") == "denied by rule net-curl"
    run_failure = run.find("testcase/failure")
    assert run_failure is not None and run_failure.get("type") == "exit.2"


def test_junit_of_a_clean_run_has_no_failures() -> None:
    """A done run with only allowed checks reports no failure anywhere."""
    done = Outcome(ExitCode.DONE, "idle")
    root = _parse(render_junit(_report(done, (ALLOW,))))
    assert root.findall(".//failure") == []
    assert [s.get("failures") for s in root.findall("testsuite")] == ["0", "0"]


def test_actions_pair_tool_uses_with_results() -> None:
    """The transcript's tool calls in order, each with its result's first and last line."""
    turns = [
        Turn(1, "user", "do it"),
        Turn(
            2, "assistant", "", tool_uses=[{"id": "t1", "name": "Bash", "input": {"command": "ls"}}]
        ),
        Turn(3, "user", "", tool_results=[{"toolUseId": "t1", "content": "a.py\nb.py"}]),
        Turn(4, "assistant", "The tool said: a.py"),
    ]
    actions, final = actions_from(turns)
    assert actions == [Action("Bash", "ls", "a.py … b.py")]
    assert final == "The tool said: a.py"


def test_event_log_reads_checks_calls_and_delivery() -> None:
    """Audit events become policy checks, model calls and the prompt-delivered flag."""
    log = EventLog()
    log.add(EventView(1, "input.sent", "system", {"text": "x"}))
    check = log.add(
        EventView(2, "tool.decision", "system", {
            "tool_name": "Bash", "tool_input": {"command": "curl x"},
            "decision": "deny", "rule": "net-curl", "reason": "no network",
        })
    )  # fmt: skip
    log.add(EventView(3, "model.request", "system", {"path": "/v1/messages", "status": 400}))
    assert log.prompt_delivered and log.last_seq == 3
    assert check == ToolCheck("Bash", "curl x", "deny", "net-curl", "no network")
    assert log.model_calls == [ModelCall("/v1/messages", 400)]


def test_tokens_prefer_the_session_usage() -> None:
    """The session's own usage wins; without it, successful audited calls are summed."""
    calls = [ModelCall("/v1/messages", 200, 10, 2), ModelCall("/v1/messages", 500, 99, 99)]
    usage = {"requests": 4, "inputTokens": 50, "outputTokens": 5}
    assert tokens_from(usage, calls) == Tokens(50, 5, 4)
    assert tokens_from({}, calls) == Tokens(10, 2, 1)


def test_summary_counts_in_words_and_names_the_model_used() -> None:
    """One of each reads "1 tool call", "1 model request", "1 file"; the model is named."""
    one_change = tuple(changed_files(PATCH))[:1]
    report = replace(
        _report(VIOLATION, (DENY,)), tokens=Tokens(5, 1, 1), changes=one_change,
        models_used=("claude-opus-5-5",),
    )  # fmt: skip
    text = render_summary(report)
    assert "1 model request)" in text and "1 model requests" not in text
    assert "Policy checks: 1 tool call judged, 1 denied." in text
    assert "1 tool calls" not in text
    assert "## Changes (1 file)" in text and "(1 files)" not in text
    assert "- **Model:** `claude-opus-5-5`" in text
    assert "`default`" not in text


def test_summary_without_model_calls_or_transcript_says_what_is_known() -> None:
    """No answered model call: the model line says so; denials without a transcript are
    not contradicted by "made no tool calls"."""
    report = replace(_report(VIOLATION, (DENY,)), actions=())
    text = render_summary(report)
    assert "- **Model:** none (no model request was answered)" in text
    assert "The agent made no tool calls." not in text
    assert "No tool call in the transcript; the policy judged 1 (below)." in text
    assert "## Denied actions (1)" in text


def test_models_come_from_answered_message_calls() -> None:
    """Only successful /v1/messages calls name a model, each once, in first-use order."""
    calls = [
        ModelCall("/v1/messages", 200, model="claude-a"),
        ModelCall("/v1/messages/count_tokens", 200, model="claude-x"),
        ModelCall("/v1/messages", 500, model="claude-b"),
        ModelCall("/v1/messages", 200, model="claude-a"),
    ]
    assert models_from(calls) == ("claude-a",)
