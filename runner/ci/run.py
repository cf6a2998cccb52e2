"""One CI run end to end: create, follow, always remove, collect, report."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from runner.ci.events import EventLog
from runner.ci.follow import Listener, catch_up, follow
from runner.ci.junit import render_junit
from runner.ci.outcome import ExitCode, Outcome, Rules, outcome_for_error
from runner.ci.report import RunReport, actions_from, changed_files, models_from, tokens_from
from runner.ci.summary import render_summary
from runner.ci.target import RunSpec, RunTarget, SessionView
from runner.sessions.transcript import TranscriptReader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    report: RunReport
    patch: str | None

    @property
    def code(self) -> ExitCode:
        return self.report.outcome.code


async def execute(
    target: RunTarget,
    spec: RunSpec,
    rules: Rules,
    *,
    out: Path | None,
    listener: Listener | None = None,
    on_session: Callable[[str], Awaitable[None]] | None = None,
) -> RunResult:
    """Run one unattended session to its outcome and write the artifacts into ``out``.

    Without ``out`` nothing is collected (the report comes from the audit events alone).
    ``on_session`` hears the session id as soon as the session exists. Never raises for
    the run's own failures: they become the outcome (and exit code). The session's
    container is removed whatever happens, even when the run is cancelled.
    """
    started_at, started = datetime.now(UTC), time.monotonic()
    events = EventLog()
    session_id: str | None = None
    view: SessionView | None = None
    try:
        session_id = await target.create(spec)
        if on_session is not None:
            await on_session(session_id)
        followed = await follow(
            target, session_id, rules, started=started, log=events, listener=listener
        )
        outcome, view = followed.outcome, followed.view
    except asyncio.CancelledError:
        outcome = Outcome(ExitCode.INFRASTRUCTURE, "the run was cancelled (interrupt or SIGTERM)")
    except Exception as exc:
        log.debug("run failed", exc_info=True)
        outcome = outcome_for_error(exc)
    seconds = time.monotonic() - started
    if session_id is None:
        report = _report(spec, outcome, started_at, seconds, None, events)
        patch = None
    else:
        view, outcome = await _finish(target, session_id, view, outcome, events)
        if out is None:
            report = replace(
                _report(spec, outcome, started_at, seconds, session_id, events),
                tokens=tokens_from(view.usage if view else {}, events.model_calls),
            )
            patch = None
        else:
            report, patch = await _collect(target, spec, outcome, session_id, view, events, out)
            report = replace(report, seconds=seconds, started_at=started_at)
    if out is not None:
        await asyncio.to_thread(write_reports, out, report)
    return RunResult(report, patch)


async def _finish(
    target: RunTarget,
    session_id: str,
    view: SessionView | None,
    outcome: Outcome,
    events: EventLog,
) -> tuple[SessionView | None, Outcome]:
    """Delete the session (its container goes, always) and read its last events."""
    try:
        # Shielded: a second interrupt must not leave the container running.
        view = await asyncio.shield(target.delete(session_id))
        await catch_up(target, session_id, events)
    except Exception as exc:
        log.warning("could not finish session %s: %s", session_id, exc)
        if outcome.ok:
            outcome = outcome_for_error(exc)
    return view, outcome


async def _collect(
    target: RunTarget,
    spec: RunSpec,
    outcome: Outcome,
    session_id: str,
    view: SessionView | None,
    events: EventLog,
    out: Path,
) -> tuple[RunReport, str | None]:
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    names: list[str] = []
    try:
        names = [p.name for p in await target.download(session_id, out)]
        await target.export_audit(session_id, out / "audit")
        names.append("audit/")
    except Exception as exc:
        log.warning("could not collect the artifacts of session %s: %s", session_id, exc)
        if outcome.ok:
            outcome = outcome_for_error(exc)
    report = _report(spec, outcome, datetime.now(UTC), 0.0, session_id, events)
    report = replace(
        report,
        model=(view.model if view else None) or spec.model,
        tokens=tokens_from(view.usage if view else {}, events.model_calls),
        artifacts=tuple([*names, "summary.md", "junit.xml"]),
    )
    return await asyncio.to_thread(_read_artifacts, report, out)


def _read_artifacts(report: RunReport, out: Path) -> tuple[RunReport, str | None]:
    """Add what the transcript and the patch say to ``report``; returns it and the patch."""
    patch_file = out / "changes.patch"
    patch = patch_file.read_text(encoding="utf-8") if patch_file.is_file() else None
    actions, final = actions_from(TranscriptReader(out / "transcript.jsonl").turns())
    report = replace(
        report,
        actions=tuple(actions),
        final_message=final,
        changes=tuple(changed_files(patch or "")),
    )
    return report, patch


def report_without_session(spec: RunSpec, outcome: Outcome) -> RunReport:
    """The report of a run that ended before it had a session (e.g. Docker was down)."""
    return _report(spec, outcome, datetime.now(UTC), 0.0, None, EventLog())


def _report(
    spec: RunSpec,
    outcome: Outcome,
    started_at: datetime,
    seconds: float,
    session_id: str | None,
    events: EventLog,
) -> RunReport:
    return RunReport(
        prompt=spec.prompt,
        policy=spec.policy,
        work_dir=str(spec.work_dir),
        outcome=outcome,
        started_at=started_at,
        seconds=seconds,
        session_id=session_id,
        model=spec.model,
        checks=tuple(events.checks),
        tokens=tokens_from({}, events.model_calls),
        models_used=models_from(events.model_calls),
    )


def write_reports(out: Path, report: RunReport) -> None:
    """``summary.md`` and ``junit.xml`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.md").write_text(render_summary(report), encoding="utf-8")
    (out / "junit.xml").write_text(render_junit(report), encoding="utf-8")
