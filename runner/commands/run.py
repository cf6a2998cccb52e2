"""``warden run``: one policy-gated, unattended Claude Code run for CI (docs/ci.md).

Exit codes: 0 done; 1 configuration error (bad workdir, unknown policy, credentials,
``--apply`` refused); 2 policy violation; 3 timeout; 4 agent or model error;
5 infrastructure error (Docker, image, database, server unreachable).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from runner.ci.apply import Snapshot, apply_patch, snapshot
from runner.ci.follow import Listener
from runner.ci.local import LocalTarget
from runner.ci.outcome import (
    ExitCode,
    Outcome,
    Rules,
    ToolCheck,
    describe_retry,
    outcome_for_error,
)
from runner.ci.run import RunResult, execute, report_without_session, write_reports
from runner.ci.target import RunSpec, RunTarget, SessionView
from runner.client import AsyncWardenClient
from runner.commands.run_remote import RemoteTarget
from runner.core import Actor
from runner.errors import WardenError
from runner.policy.units import parse_duration
from runner.services import Services, build_services
from runner.settings import Settings

log = logging.getLogger(__name__)

app = typer.Typer()

#: Who an embedded run acts as in the audit log.
RUN_ACTOR = Actor("warden-run", "default")


class PlainProgress:
    """One line per state change and policy check (logs of CI jobs)."""

    def __init__(self, console: Console) -> None:
        self._console = console

    def state(self, view: SessionView, elapsed: float) -> None:
        extra = _state_note(view)
        suffix = f" ({extra})" if extra else ""
        self._line(elapsed, f"session {view.id[:8]} {view.state}{suffix}")

    def check(self, check: ToolCheck, elapsed: float) -> None:
        verdict = "DENIED" if check.is_denied else check.decision
        self._line(elapsed, f"policy {verdict}: {check.tool} {check.target} [{check.rule}]")

    def _line(self, elapsed: float, text: str) -> None:
        self._console.print(f"[{elapsed:6.1f}s] {text}", markup=False, highlight=False)


class RichProgress(PlainProgress):
    """The same, coloured, for a person watching a terminal."""

    def check(self, check: ToolCheck, elapsed: float) -> None:
        style = "bold red" if check.is_denied else "green"
        verdict = "denied" if check.is_denied else check.decision
        self._console.print(
            f"[dim]{elapsed:6.1f}s[/dim] [{style}]{verdict}[/{style}] {check.tool}"
            f" [cyan]{_escape(check.target)}[/cyan] [dim]({_escape(check.rule or '-')})[/dim]"
        )

    def state(self, view: SessionView, elapsed: float) -> None:
        note = _state_note(view)
        extra = f" [yellow]{_escape(note)}[/yellow]" if note else ""
        self._console.print(f"[dim]{elapsed:6.1f}s[/dim] state [bold]{view.state}[/bold]{extra}")


def _state_note(view: SessionView) -> str:
    """What is worth saying beside a state: the running command, a model error or retry."""
    details = view.details
    if details.get("retrying"):
        return f"model API error: {describe_retry(details)}"
    return str(details.get("running_command") or details.get("api_error") or "")


def _escape(text: str) -> str:
    return text.replace("[", "\\[")


@contextlib.asynccontextmanager
async def _embedded(work_dir: Path) -> AsyncIterator[RunTarget]:
    """Services built in this process (SQLite under the data dir unless WARDEN_DATABASE_URL)."""
    settings = Settings()
    # The person running this named the directory on their own command line: it is a
    # workspace root for this one run (the protected paths still apply).
    roots = [*(settings.workspace_roots or []), work_dir]
    settings = settings.model_copy(update={"workspace_roots": roots})
    services = await build_services(settings)
    # No ``services.start()``: it re-adopts every running session in the store, and a
    # one-shot run must not take over sessions that a server on the same data owns. Its
    # own session's lease is renewed all the same: an expired lease fences every write.
    renewing = asyncio.create_task(_keep_own_leases(services), name="session-leases")
    try:
        yield LocalTarget(services.manager, services.views, services.ledger, RUN_ACTOR)
    finally:
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing
        await services.close()


async def _keep_own_leases(services: Services) -> None:
    """Renew the leases this process holds, and take over nothing (runner.sessions.failover)."""
    every = services.settings.lease_renew_seconds
    while True:
        try:
            await services.tenures.renew(within=every)
        except Exception:  # the next round tries again; a lease not renewed fences writes
            log.exception("could not renew this run's session leases")
        await asyncio.sleep(every)


@contextlib.asynccontextmanager
async def _remote(server: str, token: str | None) -> AsyncIterator[RunTarget]:
    async with AsyncWardenClient(server, token) as client:
        yield RemoteTarget(client)


async def _run(
    spec: RunSpec, rules: Rules, server: str | None, token: str | None, out: Path | None,
    listener: Listener,
) -> RunResult | Outcome:  # fmt: skip
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        # CI runners cancel a job with SIGTERM: stop following, but remove the container.
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        target = _remote(server, token) if server else _embedded(spec.work_dir)
        async with target as opened:
            return await execute(opened, spec, rules, out=out, listener=listener)
    except asyncio.CancelledError:
        return Outcome(ExitCode.INFRASTRUCTURE, "the run was cancelled before it started")
    except Exception as exc:
        return outcome_for_error(exc)


def _prompt(prompt: str | None, prompt_file: Path | None) -> str | None:
    """The task text; None when the prompt file cannot be read."""
    if (prompt is None) == (prompt_file is None):
        raise typer.BadParameter("give exactly one of --prompt or --prompt-file")
    if prompt_file is not None:
        try:
            return prompt_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
    return prompt or ""


@app.command()
def run(
    prompt: Annotated[str | None, typer.Option(help="The task for the agent.")] = None,
    prompt_file: Annotated[Path | None, typer.Option(help="Read the task from a file.")] = None,
    policy: Annotated[str, typer.Option(help="Policy name or path.")] = "ci",
    workdir: Annotated[Path, typer.Option(help="Directory to work on.")] = Path(),
    server: Annotated[
        str | None,
        typer.Option(envvar="WARDEN_SERVER", help="Warden URL; without it the run is embedded."),
    ] = None,
    token: Annotated[str | None, typer.Option(envvar="WARDEN_TOKEN", help="API token.")] = None,
    timeout: Annotated[str, typer.Option(help="Time limit: seconds, 90s, 30m, 2h.")] = "30m",
    model: Annotated[str | None, typer.Option(help="Model name.")] = None,
    image: Annotated[str | None, typer.Option(help="Sandbox image.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the artifacts into this directory.")
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="Apply the patch to --workdir when the run is done.")
    ] = False,
    fail_on_deny: Annotated[
        bool, typer.Option(help="A denied tool call fails the run (exit 2) at once.")
    ] = True,
) -> None:
    """Run Claude Code once on WORKDIR under POLICY, unattended; the exit code says how it went."""
    try:
        seconds = parse_duration(timeout)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--timeout") from exc
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    console = Console(soft_wrap=True)  # CI logs: whole lines, never wrapped at 80
    listener = RichProgress(console) if console.is_terminal else PlainProgress(console)
    work_dir = workdir.resolve()
    text = _prompt(prompt, prompt_file)
    spec = RunSpec(text or "", policy, work_dir, model=model, image=image)
    if text is None or not work_dir.is_dir():
        # Nothing can run: a configuration error (exit 1), reported like any other.
        what = (
            f"--prompt-file {prompt_file} cannot be read"
            if text is None
            else f"--workdir {workdir} is not a directory"
        )
        _end(console, Outcome(ExitCode.CONFIGURATION, what), out, spec)
    # The run writes --out itself; inside the work dir it must not count as a change.
    ignore = [out.resolve()] if out is not None and out.resolve().is_relative_to(work_dir) else []
    before = snapshot(work_dir, ignore) if apply else {}
    mode = f"server {server}" if server else "embedded"
    console.print(f"warden run: policy {policy}, {work_dir} ({mode}), timeout {seconds}s",
                  markup=False, highlight=False)  # fmt: skip
    rules = Rules(timeout=seconds, fail_on_deny=fail_on_deny)
    with tempfile.TemporaryDirectory(prefix="warden-run-") as scratch:
        # --apply needs the patch even when the artifacts are not kept.
        folder = out or (Path(scratch) if apply else None)
        result = asyncio.run(_run(spec, rules, server, token, folder, listener))
    if isinstance(result, Outcome):
        _end(console, result, out, spec)
    outcome = result.report.outcome
    _print_exit(console, outcome)
    if out is not None:
        console.print(f"artifacts in {out}", markup=False, highlight=False)
    if apply and outcome.ok:
        _apply(console, work_dir, result.patch or "", before, ignore)
    raise typer.Exit(int(outcome.code))


def _end(console: Console, outcome: Outcome, out: Path | None, spec: RunSpec) -> NoReturn:
    """End a run that had no session (nothing could start); still leave a report for CI."""
    if out is not None:
        write_reports(out, report_without_session(spec, outcome))
    _print_exit(console, outcome)
    raise typer.Exit(int(outcome.code))


def _print_exit(console: Console, outcome: Outcome) -> None:
    console.print(f"exit {int(outcome.code)} ({outcome.code.name.lower()}): {outcome.reason}",
                  markup=False, highlight=False)  # fmt: skip


def _apply(
    console: Console, work_dir: Path, patch: str, before: Snapshot, ignore: list[Path]
) -> None:
    try:
        files = apply_patch(work_dir, patch, before, ignore=ignore)
    except WardenError as exc:
        console.print(f"--apply refused: {exc.message}", markup=False, highlight=False)
        raise typer.Exit(int(ExitCode.CONFIGURATION)) from exc
    noun = "file" if files == 1 else "files"
    console.print(f"applied the patch to {work_dir} ({files} {noun})", markup=False)
    sys.stdout.flush()
