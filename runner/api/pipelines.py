"""``/v1/pipelines``: stages (each an unattended session) run in dependency order."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, status
from pydantic import Field, StrictBool

from runner.api.deps import OperatorDep, PipelinesDep, TemplatesDep, ViewerDep
from runner.api.schemas import Schema
from runner.core import Actor
from runner.errors import InvalidInputError
from runner.pipelines.model import PipelineRecord
from runner.pipelines.spec import DEFAULT_STAGE_TIMEOUT, PipelineSpec, StageSpec
from runner.policy.units import parse_duration
from runner.sessions.templates import TemplateStore

router = APIRouter(prefix="/v1/pipelines", tags=["pipelines"])

MAX_STAGE_SECONDS = 24 * 3600


_STAGE_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class StageIn(Schema):
    name: str | None = Field(
        default=None, pattern=_STAGE_NAME, description="Default: Aegis's id, else stage-N."
    )
    id: str | None = Field(default=None, pattern=_STAGE_NAME, description="Aegis's stage name.")
    dependencies: list[str] = Field(
        default_factory=list, max_length=50, description="Aegis's name for dependsOn."
    )
    prompt: str | None = Field(default=None, min_length=1, max_length=100_000)
    template: str | None = Field(default=None, description="Fill unset fields from a template.")
    policy: str | None = Field(default=None, description="Policy name (default: ci).")
    image: str | None = None
    model: str | None = None
    work_dir: str | None = Field(default=None, description="Default: the pipeline's workDir.")
    depends_on: list[str] = Field(default_factory=list, max_length=50)
    workspace_from: str | None = Field(
        default=None, description="Work on the copy this dependency's agent left behind."
    )
    timeout: int | str = Field(
        default=DEFAULT_STAGE_TIMEOUT, description='Seconds, or "90s", "30m", "2h".'
    )
    fail_on_deny: StrictBool = True


class CreatePipeline(Schema):
    name: str = Field(min_length=1, max_length=128)
    work_dir: str | None = None
    stages: list[StageIn] = Field(min_length=1, max_length=50)


class StageOut(Schema):
    name: str
    state: str
    policy: str
    depends_on: list[str]
    session_id: str | None
    exit_code: int | None
    reason: str | None
    denials: list[dict[str, Any]]
    tokens: dict[str, int]
    started_at: str | None
    ended_at: str | None


class PipelineOut(Schema):
    id: str
    name: str
    state: str
    status: str = Field(description="Aegis's name for state.")
    tenant: str
    owner: str
    stages: list[StageOut]
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    error: str | None


class PipelineList(Schema):
    pipelines: list[PipelineOut]


def _out(record: PipelineRecord) -> PipelineOut:
    stages = []
    for run in record.stages:
        spec = record.spec.stage(run.name)
        stages.append(
            StageOut(
                name=run.name,
                state=run.state,
                policy=spec.policy,
                depends_on=list(spec.depends_on),
                session_id=run.session_id,
                exit_code=run.exit_code,
                reason=run.reason,
                denials=[dict(d) for d in run.denials],
                tokens=dict(run.tokens),
                started_at=run.started_at,
                ended_at=run.ended_at,
            )
        )
    return PipelineOut(
        id=record.id,
        name=record.spec.name,
        state=record.state,
        status=record.state,
        tenant=record.tenant,
        owner=record.owner,
        stages=stages,
        created_at=record.created_at,
        updated_at=record.updated_at,
        ended_at=record.ended_at,
        error=record.error,
    )


def _seconds(stage: StageIn) -> int:
    try:
        seconds = parse_duration(stage.timeout)
    except ValueError as exc:
        raise InvalidInputError(f"stage {stage.name!r}: {exc}") from exc
    if seconds > MAX_STAGE_SECONDS:
        raise InvalidInputError(f"stage {stage.name!r}: the timeout is at most 24h")
    return seconds


def _stage(stage: StageIn, store: TemplateStore, actor: Actor) -> StageSpec:
    given = stage.model_dump(exclude_unset=True)
    if stage.template is not None:
        template = store.get(actor.tenant, stage.template)
        if template is None:
            raise InvalidInputError(f"stage {stage.name!r}: no template {stage.template!r}")
        defaults = template.defaults()
        given = {k: defaults[k] for k in ("prompt", "policy", "image", "model") if k in defaults}
        given.update(stage.model_dump(exclude_unset=True))
    if not given.get("prompt"):
        raise InvalidInputError(f"stage {stage.name!r} needs a prompt (or a template with one)")
    return StageSpec(
        name=str(stage.name),
        prompt=str(given["prompt"]),
        policy=str(given.get("policy") or "ci"),
        work_dir=stage.work_dir,
        depends_on=tuple(stage.depends_on),
        workspace_from=stage.workspace_from,
        image=given.get("image"),
        model=given.get("model"),
        timeout_seconds=_seconds(stage),
        fail_on_deny=stage.fail_on_deny,
    )


def _named(stage: StageIn, index: int) -> StageIn:
    """The stage under one name and one dependency list (Aegis's ``id``/``dependencies``
    or Warden's ``name``/``dependsOn``)."""
    if stage.name and stage.id and stage.name != stage.id:
        raise InvalidInputError(f"stage {index + 1}: name and id differ; give one")
    if stage.depends_on and stage.dependencies and stage.depends_on != stage.dependencies:
        raise InvalidInputError(f"stage {index + 1}: dependsOn and dependencies differ; give one")
    return stage.model_copy(
        update={
            "name": stage.name or stage.id or f"stage-{index + 1}",
            "depends_on": stage.depends_on or stage.dependencies,
        }
    )


def _spec(body: CreatePipeline, store: TemplateStore, actor: Actor) -> PipelineSpec:
    named = [_named(s, i) for i, s in enumerate(body.stages)]
    stages = tuple(_stage(s, store, actor) for s in named)
    return PipelineSpec(name=body.name, stages=stages, work_dir=body.work_dir)


@router.post("", response_model=PipelineOut, status_code=status.HTTP_201_CREATED)
async def create_pipeline(
    body: CreatePipeline, service: PipelinesDep, templates: TemplatesDep, actor: OperatorDep
) -> PipelineOut:
    """Start a pipeline (answers at once; poll ``GET /v1/pipelines/{id}``).

    422 for duplicate or unknown stage names, a dependency cycle, or a missing workDir.
    """
    spec = await asyncio.to_thread(_spec, body, templates, actor)
    return _out(await service.create(spec, actor))


@router.get("", response_model=PipelineList)
async def list_pipelines(service: PipelinesDep, actor: ViewerDep) -> PipelineList:
    return PipelineList(pipelines=[_out(r) for r in await service.list_pipelines(actor)])


@router.get("/{pipeline_id}", response_model=PipelineOut)
async def get_pipeline(pipeline_id: str, service: PipelinesDep, actor: ViewerDep) -> PipelineOut:
    """The pipeline and each stage's state, session id and result."""
    return _out(await service.get(pipeline_id, actor))
