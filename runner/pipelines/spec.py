"""What a pipeline is asked to do, and the checks that make its stage graph runnable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from runner.errors import InvalidInputError

DEFAULT_STAGE_TIMEOUT = 30 * 60
MAX_STAGES = 50


@dataclass(frozen=True)
class StageSpec:
    """One stage: a session with its own prompt and policy, after its dependencies."""

    name: str
    prompt: str
    policy: str = "ci"
    work_dir: str | None = None
    depends_on: tuple[str, ...] = ()
    workspace_from: str | None = None
    image: str | None = None
    model: str | None = None
    timeout_seconds: int = DEFAULT_STAGE_TIMEOUT
    fail_on_deny: bool = True


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    stages: tuple[StageSpec, ...]
    work_dir: str | None = None

    def stage(self, name: str) -> StageSpec:
        return next(s for s in self.stages if s.name == name)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PipelineSpec:
        stages = tuple(
            StageSpec(**{**s, "depends_on": tuple(s.get("depends_on") or ())})
            for s in data["stages"]
        )
        return cls(name=str(data["name"]), stages=stages, work_dir=data.get("work_dir"))


def validate(spec: PipelineSpec) -> list[str]:
    """Check names, dependencies, work dirs and acyclicity; returns a topological order.

    Raises:
        InvalidInputError: duplicate or unknown stage names, a ``workspace_from`` that is
            not a dependency, a stage with no work dir, or a dependency cycle.
    """
    if not 1 <= len(spec.stages) <= MAX_STAGES:
        raise InvalidInputError(f"a pipeline has 1 to {MAX_STAGES} stages")
    names = [s.name for s in spec.stages]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInputError(
            f"stage names must be unique: {', '.join(duplicates)}",
            details={"duplicates": duplicates},
        )
    for stage in spec.stages:
        _check_stage(stage, set(names), spec.work_dir)
    return topological_order(spec.stages)


def _check_stage(stage: StageSpec, names: set[str], default_dir: str | None) -> None:
    unknown = sorted(set(stage.depends_on) - names)
    if unknown:
        raise InvalidInputError(
            f"stage {stage.name!r} depends on unknown stages: {', '.join(unknown)}",
            details={"stage": stage.name, "unknown": unknown},
        )
    if stage.workspace_from is not None and stage.workspace_from not in stage.depends_on:
        raise InvalidInputError(
            f"stage {stage.name!r} takes its workspace from {stage.workspace_from!r},"
            " which must be one of its dependencies (it has to finish first)",
            details={"stage": stage.name},
        )
    if stage.workspace_from is None:
        work_dir = stage.work_dir or default_dir
        if work_dir is None:
            raise InvalidInputError(
                f"stage {stage.name!r} has no workDir (give one on the stage or the pipeline)"
            )
        path = Path(work_dir)
        if not path.is_absolute() or not path.is_dir():
            raise InvalidInputError(
                f"stage {stage.name!r}: workDir {work_dir} is not an absolute path to a"
                " directory on the controller host",
                details={"stage": stage.name},
            )


def topological_order(stages: Sequence[StageSpec]) -> list[str]:
    """Stage names, dependencies first (Kahn); raises InvalidInputError on a cycle."""
    waiting = {s.name: set(s.depends_on) for s in stages}
    order: list[str] = []
    while waiting:
        ready = sorted(name for name, deps in waiting.items() if not deps)
        if not ready:
            cycle = find_cycle({s.name: s.depends_on for s in stages if s.name in waiting})
            raise InvalidInputError(
                f"stage dependencies form a cycle: {' -> '.join(cycle)}",
                details={"cycle": cycle},
            )
        for name in ready:
            order.append(name)
            del waiting[name]
        for deps in waiting.values():
            deps.difference_update(ready)
    return order


def find_cycle(graph: Mapping[str, Sequence[str]]) -> list[str]:
    """One dependency cycle in ``graph`` (first node repeated at the end), or ``[]``."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for dep in graph.get(node, ()):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return []
