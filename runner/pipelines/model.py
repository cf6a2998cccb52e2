"""A pipeline as stored: its spec, its state and each stage's run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from runner.pipelines.spec import PipelineSpec

#: Stage states; the last three are final.
STAGE_STATES = ("pending", "running", "succeeded", "failed", "skipped")
PIPELINE_STATES = ("running", "succeeded", "failed")


@dataclass(frozen=True)
class StageRun:
    """How a stage ran; its fields fill in as it does."""

    name: str
    state: str = "pending"
    session_id: str | None = None
    exit_code: int | None = None
    reason: str | None = None
    denials: tuple[Mapping[str, Any], ...] = ()
    tokens: Mapping[str, int] = field(default_factory=dict)
    started_at: str | None = None
    ended_at: str | None = None

    @property
    def is_final(self) -> bool:
        return self.state in ("succeeded", "failed", "skipped")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["denials"] = [dict(d) for d in self.denials]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StageRun:
        return cls(**{**data, "denials": tuple(data.get("denials") or ())})


@dataclass(frozen=True)
class PipelineRecord:
    id: str
    tenant: str
    owner: str
    spec: PipelineSpec
    state: str
    stages: tuple[StageRun, ...]
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None = None
    error: str | None = None

    def stage_run(self, name: str) -> StageRun:
        return next(s for s in self.stages if s.name == name)


class PipelineStore(Protocol):
    """Where pipelines are kept (``runner.store.pipelines``)."""

    def add(self, record: PipelineRecord) -> None: ...

    def get(self, pipeline_id: str) -> PipelineRecord | None: ...

    def find(self, tenant: str | None) -> list[PipelineRecord]: ...

    def save(self, record: PipelineRecord) -> None:
        """Store the record's state, stages and times (the spec never changes)."""
        ...

    def unfinished(self) -> list[PipelineRecord]: ...
