"""Running pipelines: each stage an unattended session, started once its dependencies succeeded.

A stage is a ``warden run`` inside the controller (``runner.ci.run.execute``): it ends
idle after its work, on a denied action, on an agent or model error, or at its
timeout, so a stage that never reaches idle fails instead of hanging. A stage whose
dependency did not succeed is skipped. The container of every stage is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from audit.ledger import Ledger
from runner.ci.local import LocalTarget
from runner.ci.outcome import Rules
from runner.ci.run import RunResult, execute
from runner.ci.target import RunSpec
from runner.core import Actor, EventSink, utcnow
from runner.errors import NotFoundError
from runner.pipelines.model import PipelineRecord, PipelineStore, StageRun
from runner.pipelines.spec import PipelineSpec, StageSpec, topological_order, validate
from runner.sessions.manager import SessionManager
from runner.sessions.views import SessionViews

log = logging.getLogger(__name__)


def _now() -> str:
    return utcnow().isoformat()


def stage_result(run: StageRun, result: RunResult) -> StageRun:
    """The stage's final record from its run's report."""
    report = result.report
    return replace(
        run,
        state="succeeded" if report.outcome.ok else "failed",
        session_id=report.session_id or run.session_id,
        exit_code=int(report.outcome.code),
        reason=report.outcome.reason,
        denials=tuple(
            {"tool": c.tool, "target": c.target, "rule": c.rule, "reason": c.reason}
            for c in report.denials
        ),
        tokens={
            "input": report.tokens.input,
            "output": report.tokens.output,
            "requests": report.tokens.requests,
        },
        ended_at=_now(),
    )


class PipelineService:
    """Creates pipelines, runs them in the background, answers for their state."""

    def __init__(
        self,
        *,
        store: PipelineStore,
        manager: SessionManager,
        views: SessionViews,
        ledger: Ledger,
        events: EventSink,
    ) -> None:
        self._store = store
        self._manager = manager
        self._views = views
        self._ledger = ledger
        self._events = events
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._save_locks: dict[str, asyncio.Lock] = {}

    async def create(self, spec: PipelineSpec, actor: Actor) -> PipelineRecord:
        """Validate and start a pipeline (returns at once, state ``running``).

        Raises:
            InvalidInputError: unknown or duplicate stages, a cycle, a bad work dir.
        """
        validate(spec)
        now = utcnow()
        record = PipelineRecord(
            id=str(uuid.uuid4()),
            tenant=actor.tenant,
            owner=actor.subject,
            spec=spec,
            state="running",
            stages=tuple(StageRun(s.name) for s in spec.stages),
            created_at=now,
            updated_at=now,
        )
        await self._events.emit(
            "pipeline.created",
            actor=actor,
            session=None,
            data={
                "pipeline": record.id,
                "name": spec.name,
                "stages": [s.name for s in spec.stages],
            },
        )
        await asyncio.to_thread(self._store.add, record)
        self._tasks[record.id] = asyncio.create_task(self._run(record, actor))
        return record

    async def get(self, pipeline_id: str, actor: Actor) -> PipelineRecord:
        record = await asyncio.to_thread(self._store.get, pipeline_id)
        if record is None or not (actor.sees_all_tenants or record.tenant == actor.tenant):
            raise NotFoundError(f"no pipeline {pipeline_id}")
        return record

    async def list_pipelines(self, actor: Actor) -> list[PipelineRecord]:
        tenant = None if actor.sees_all_tenants else actor.tenant
        return await asyncio.to_thread(self._store.find, tenant)

    async def wait(self, pipeline_id: str) -> None:
        """Until the pipeline's background run has ended (tests, shutdown)."""
        task = self._tasks.get(pipeline_id)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)

    async def recover(self) -> None:
        """Fail the pipelines a previous controller left running (their stages were lost)."""
        for record in await asyncio.to_thread(self._store.unfinished):
            runs = {
                s.name: s
                if s.is_final
                else replace(s, state="failed", reason="the controller restarted", ended_at=_now())
                for s in record.stages
            }
            await self._finish(record, runs, error="the controller restarted while it ran")

    async def close(self) -> None:
        """Stop running pipelines; their stages' containers are removed on the way."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- running -----------------------------------------------------------------------

    async def _run(self, record: PipelineRecord, actor: Actor) -> None:
        runs = {s.name: s for s in record.stages}
        order = topological_order(record.spec.stages)
        tasks: dict[asyncio.Task[StageRun], str] = {}
        try:
            while True:
                for name in order:
                    started = self._advance(record.spec.stage(name), runs)
                    if started:
                        task = asyncio.create_task(self._stage(record, name, runs, actor))
                        tasks[task] = name
                await self._save(record, runs)
                if not tasks:
                    break
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    runs[tasks.pop(task)] = task.result()
            await self._finish(record, runs)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            ended = await asyncio.gather(*tasks, return_exceptions=True)
            for name, result in zip(tasks.values(), ended, strict=True):
                if isinstance(result, StageRun):  # the stage removed its session and said so
                    runs[name] = result
            for name, run in runs.items():
                if not run.is_final:
                    runs[name] = replace(
                        run, state="failed", reason="the controller shut down", ended_at=_now()
                    )
            await self._finish(record, runs, error="the controller shut down while it ran")
            raise
        except Exception as exc:
            log.exception("pipeline %s failed", record.id)
            await self._finish(record, runs, error=f"{type(exc).__name__}: {exc}")
        finally:
            self._tasks.pop(record.id, None)

    @staticmethod
    def _advance(stage: StageSpec, runs: dict[str, StageRun]) -> bool:
        """Skip or start a pending stage by its dependencies; True when it starts now."""
        run = runs[stage.name]
        if run.state != "pending":
            return False
        deps = [runs[d] for d in stage.depends_on]
        failed = [d.name for d in deps if d.state in ("failed", "skipped")]
        if failed:
            reason = f"skipped: {', '.join(failed)} did not succeed"
            runs[stage.name] = replace(run, state="skipped", reason=reason, ended_at=_now())
            return False
        if all(d.state == "succeeded" for d in deps):
            runs[stage.name] = replace(run, state="running", started_at=_now())
            return True
        return False

    async def _stage(
        self, record: PipelineRecord, name: str, runs: dict[str, StageRun], actor: Actor
    ) -> StageRun:
        stage = record.spec.stage(name)
        spec = RunSpec(
            prompt=stage.prompt,
            policy=stage.policy,
            work_dir=Path(stage.work_dir or record.spec.work_dir or ""),
            model=stage.model,
            image=stage.image,
            workspace_from=self._workspace_from(stage, runs),
        )

        async def on_session(session_id: str) -> None:
            runs[name] = replace(runs[name], session_id=session_id)
            await self._save(record, runs)

        result = await execute(
            LocalTarget(self._manager, self._views, self._ledger, actor),
            spec,
            Rules(timeout=stage.timeout_seconds, fail_on_deny=stage.fail_on_deny),
            out=None,
            on_session=on_session,
        )
        return stage_result(runs[name], result)

    def _workspace_from(self, stage: StageSpec, runs: Mapping[str, StageRun]) -> str | None:
        """The earlier stage's session, whose copy (kept after it ended) this stage starts from."""
        if stage.workspace_from is None:
            return None
        source = runs[stage.workspace_from].session_id
        if source is None:
            raise NotFoundError(f"stage {stage.workspace_from!r} left no session")
        return source

    async def _save(
        self, record: PipelineRecord, runs: Mapping[str, StageRun], **changes: object
    ) -> PipelineRecord:
        lock = self._save_locks.setdefault(record.id, asyncio.Lock())
        async with lock:  # snapshots are written in the order they were taken
            updated = replace(
                record,
                stages=tuple(runs[s.name] for s in record.spec.stages),
                updated_at=utcnow(),
                **changes,  # type: ignore[arg-type]
            )
            await asyncio.to_thread(self._store.save, updated)
        return updated

    async def _finish(
        self, record: PipelineRecord, runs: Mapping[str, StageRun], *, error: str | None = None
    ) -> None:
        ok = error is None and all(r.state == "succeeded" for r in runs.values())
        state = "succeeded" if ok else "failed"
        await self._save(record, runs, state=state, ended_at=utcnow(), error=error)
        self._save_locks.pop(record.id, None)
        with contextlib.suppress(Exception):  # the stages' own events are already recorded
            await self._events.emit(
                "pipeline.finished",
                actor=Actor.system(),
                session=None,
                data={
                    "pipeline": record.id,
                    "state": state,
                    "stages": {name: run.state for name, run in runs.items()},
                    "error": error,
                },
            )
