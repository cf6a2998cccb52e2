"""The exit-code decision of a CI run (``runner.ci.outcome.judge``)."""

from __future__ import annotations

from runner.ci.outcome import (
    ExitCode,
    ModelCall,
    Progress,
    Rules,
    ToolCheck,
    judge,
    outcome_for_error,
)
from runner.errors import (
    ImageNotFoundError,
    InvalidInputError,
    PolicyDeniedError,
    SandboxError,
    WardenError,
)

RULES = Rules(timeout=60, fail_on_deny=True, settle=1.5)
CURL = ToolCheck("Bash", "curl x", "deny", "net-curl", "no network")
LS = ToolCheck("Bash", "ls", "allow", "tools.allow[13]", "ok")


def _idle(**fields: object) -> Progress:
    base: dict[str, object] = {
        "state": "idle",
        "prompt_delivered": True,
        "worked": True,
        "idle_for": 2.0,
        "elapsed": 10.0,
    }
    return Progress(**{**base, **fields})  # type: ignore[arg-type]


def test_idle_after_work_is_done() -> None:
    """Idle, stable for the settle time, after the prompt was taken: exit 0."""
    outcome = judge(_idle(checks=(LS,)), RULES)
    assert outcome is not None and outcome.code == ExitCode.DONE


def test_idle_not_yet_settled_keeps_following() -> None:
    """An idle screen younger than the settle time may be a blink between steps."""
    assert judge(_idle(idle_for=0.5), RULES) is None


def test_idle_before_the_prompt_is_taken_keeps_following() -> None:
    """Idle before any work (the prompt not yet delivered) is not the end of the run."""
    assert judge(_idle(worked=False, prompt_delivered=False), RULES) is None


def test_a_denial_fails_the_run_with_its_rule() -> None:
    """Any denied tool call is a policy violation (exit 2), naming the rule."""
    outcome = judge(Progress(state="working", checks=(LS, CURL), elapsed=3), RULES)
    assert outcome is not None and outcome.code == ExitCode.POLICY_VIOLATION
    assert "net-curl" in outcome.reason and "curl x" in outcome.reason


def test_denials_do_not_fail_when_told_not_to() -> None:
    """With fail_on_deny off, a run with denials that finishes is done."""
    rules = Rules(timeout=60, fail_on_deny=False)
    assert judge(Progress(state="working", checks=(CURL,)), rules) is None
    outcome = judge(_idle(checks=(CURL,)), rules)
    assert outcome is not None and outcome.code == ExitCode.DONE


def test_a_prompt_rejected_by_the_fallback_counts_as_denied() -> None:
    """A permission prompt rejected by the CI fallback is a denial like a hook deny."""
    rejected = ToolCheck("Bash", "rm -rf x", "reject", "approvals.ci_fallback", "")
    outcome = judge(Progress(state="working", checks=(rejected,)), RULES)
    assert outcome is not None and outcome.code == ExitCode.POLICY_VIOLATION


def test_time_up_is_a_timeout() -> None:
    """Still working when the limit passes: exit 3, with the state it was stuck in."""
    outcome = judge(Progress(state="working", prompt_delivered=True, elapsed=60.2), RULES)
    assert outcome is not None and outcome.code == ExitCode.TIMEOUT
    assert "working" in outcome.reason


def test_finishing_on_time_wins_over_the_timeout() -> None:
    """A run that is done when the limit passes is done, not timed out."""
    outcome = judge(_idle(elapsed=61), RULES)
    assert outcome is not None and outcome.code == ExitCode.DONE


def test_api_error_on_screen_is_an_agent_error() -> None:
    """A turn that ended on "API Error" is exit 4, not done."""
    outcome = judge(_idle(details={"api_error": "400 Bad request"}), RULES)
    assert outcome is not None and outcome.code == ExitCode.AGENT_ERROR
    assert "400 Bad request" in outcome.reason


def test_last_failed_model_call_is_an_agent_error() -> None:
    """Idle right after a failed model call (and none that worked since) is exit 4."""
    calls = (ModelCall("/v1/messages", 200), ModelCall("/v1/messages", 529, error="overloaded"))
    outcome = judge(_idle(model_calls=calls), RULES)
    assert outcome is not None and outcome.code == ExitCode.AGENT_ERROR
    assert "529" in outcome.reason


def test_a_retried_call_that_then_worked_is_done() -> None:
    """A failed call followed by a good one (a retry) does not fail the run."""
    calls = (ModelCall("/v1/messages", 500), ModelCall("/v1/messages", 200))
    outcome = judge(_idle(model_calls=calls), RULES)
    assert outcome is not None and outcome.code == ExitCode.DONE


def test_failed_token_count_calls_are_ignored() -> None:
    """Only Messages calls speak for the turn; a count_tokens failure does not."""
    calls = (ModelCall("/v1/messages", 200), ModelCall("/v1/messages/count_tokens", 500))
    outcome = judge(_idle(model_calls=calls), RULES)
    assert outcome is not None and outcome.code == ExitCode.DONE


def test_error_before_the_prompt_is_infrastructure() -> None:
    """A session that failed before the agent got its prompt is exit 5."""
    outcome = judge(Progress(state="error", error="image not built"), RULES)
    assert outcome is not None and outcome.code == ExitCode.INFRASTRUCTURE
    assert "image not built" in outcome.reason


def test_error_after_the_prompt_is_an_agent_error() -> None:
    """An error screen once the agent worked is exit 4; so is Claude Code exiting."""
    errored = judge(Progress(state="error", prompt_delivered=True, details={"message": "x"}), RULES)
    exited = judge(Progress(state="exited", prompt_delivered=True), RULES)
    assert errored is not None and errored.code == ExitCode.AGENT_ERROR
    assert exited is not None and exited.code == ExitCode.AGENT_ERROR


def test_errors_raised_before_judging_map_to_codes() -> None:
    """Policy refusals → 2, bad requests → 1, sandbox/image/unknown faults → 5."""
    assert outcome_for_error(PolicyDeniedError("no", rule="image")).code == 2
    assert outcome_for_error(InvalidInputError("bad dir")).code == 1
    assert outcome_for_error(ImageNotFoundError("build it")).code == 5
    assert outcome_for_error(SandboxError("docker down")).code == 5
    assert outcome_for_error(WardenError("x")).code == 5
    assert outcome_for_error(OSError("disk")).code == 5


def test_error_outcomes_are_the_errors_own_sentence() -> None:
    """No class name in front ("InvalidInputError: …") and no second "policy 'ci' …"."""
    unknown = outcome_for_error(InvalidInputError("unknown policy 'nope'; known policies: ci"))
    assert unknown.reason == "unknown policy 'nope'; known policies: ci"
    refusal = "policy 'ci' does not allow image 'debian:12' (container.images)"
    denied = outcome_for_error(PolicyDeniedError(refusal, rule="container.images"))
    assert denied.reason == refusal
    missing = outcome_for_error(ImageNotFoundError("sandbox image x is not on this engine"))
    assert missing.reason == "sandbox image x is not on this engine"
    assert "Error" not in unknown.reason + denied.reason + missing.reason
    assert outcome_for_error(OSError("disk")).reason == "infrastructure error: OSError: disk"


RETRYING = {
    "retrying": True, "attempt": 7, "max_attempts": 10, "retry_in_seconds": 31,
    "error": "500 Internal server error",
}  # fmt: skip


def test_timing_out_while_retrying_a_failing_model_is_a_model_error() -> None:
    """Still retrying a failing model API at the limit: exit 4 naming the error, not 3."""
    progress = Progress(state="working", details=RETRYING, prompt_delivered=True, elapsed=61)
    outcome = judge(progress, RULES)
    assert outcome is not None and outcome.code == ExitCode.AGENT_ERROR
    assert outcome.reason == (
        "the model API kept failing until the time limit (60s): 500 Internal server error"
        " (retrying: attempt 7 of 10, next in 31s)"
    )
    plain_work = judge(Progress(state="working", prompt_delivered=True, elapsed=61), RULES)
    assert plain_work is not None and plain_work.code == ExitCode.TIMEOUT


def test_a_retry_before_the_limit_is_still_followed() -> None:
    """Retrying is work in progress until the limit (Claude Code may still succeed)."""
    assert judge(Progress(state="working", details=RETRYING, elapsed=30), RULES) is None
