"""Pipeline stage graphs: names, dependencies, work dirs and cycles."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import InvalidInputError
from runner.pipelines.model import StageRun
from runner.pipelines.spec import PipelineSpec, StageSpec, find_cycle, validate


def _spec(tmp_path: Path, *stages: StageSpec) -> PipelineSpec:
    return PipelineSpec(name="p", stages=stages, work_dir=str(tmp_path))


def test_order_puts_dependencies_first(tmp_path: Path) -> None:
    """A diamond runs its root first and its join last."""
    spec = _spec(
        tmp_path,
        StageSpec("join", "x", depends_on=("left", "right")),
        StageSpec("left", "x", depends_on=("root",)),
        StageSpec("right", "x", depends_on=("root",)),
        StageSpec("root", "x"),
    )
    assert validate(spec) == ["root", "left", "right", "join"]


def test_cycle_is_refused_and_named(tmp_path: Path) -> None:
    """a → b → c → a is a 422 naming the cycle."""
    spec = _spec(
        tmp_path,
        StageSpec("a", "x", depends_on=("c",)),
        StageSpec("b", "x", depends_on=("a",)),
        StageSpec("c", "x", depends_on=("b",)),
        StageSpec("free", "x"),
    )
    with pytest.raises(InvalidInputError, match="cycle") as caught:
        validate(spec)
    cycle = caught.value.details["cycle"]
    assert cycle[0] == cycle[-1] and set(cycle) == {"a", "b", "c"}


def test_self_dependency_is_a_cycle(tmp_path: Path) -> None:
    """A stage that waits for itself would never start."""
    with pytest.raises(InvalidInputError, match="cycle"):
        validate(_spec(tmp_path, StageSpec("a", "x", depends_on=("a",))))


def test_unknown_dependency_is_refused(tmp_path: Path) -> None:
    """Depending on a stage that does not exist is named in the error."""
    with pytest.raises(InvalidInputError, match="unknown stages: nope") as caught:
        validate(_spec(tmp_path, StageSpec("a", "x", depends_on=("nope",))))
    assert caught.value.details == {"stage": "a", "unknown": ["nope"]}


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    """Two stages with one name cannot be told apart in the report."""
    with pytest.raises(InvalidInputError, match="unique: a"):
        validate(_spec(tmp_path, StageSpec("a", "x"), StageSpec("a", "y")))


def test_workspace_from_must_be_a_dependency(tmp_path: Path) -> None:
    """Taking another stage's workspace requires waiting for that stage."""
    spec = _spec(tmp_path, StageSpec("a", "x"), StageSpec("b", "y", workspace_from="a"))
    with pytest.raises(InvalidInputError, match="must be one of its dependencies"):
        validate(spec)
    ok = _spec(
        tmp_path, StageSpec("a", "x"), StageSpec("b", "y", depends_on=("a",), workspace_from="a")
    )
    assert validate(ok) == ["a", "b"]


def test_work_dir_must_exist(tmp_path: Path) -> None:
    """A stage needs an absolute, existing work dir (its own or the pipeline's)."""
    missing = PipelineSpec("p", (StageSpec("a", "x"),))
    with pytest.raises(InvalidInputError, match="no workDir"):
        validate(missing)
    relative = PipelineSpec("p", (StageSpec("a", "x", work_dir="src"),))
    with pytest.raises(InvalidInputError, match="not an absolute path"):
        validate(relative)


def test_spec_and_stage_runs_round_trip_through_json(tmp_path: Path) -> None:
    """What the store keeps comes back equal."""
    spec = _spec(tmp_path, StageSpec("a", "x"), StageSpec("b", "y", depends_on=("a",)))
    assert PipelineSpec.from_json(spec.to_json()) == spec
    run = StageRun("a", "failed", "s1", 2, "denied", ({"rule": "net-curl"},), {"input": 3})
    assert StageRun.from_json(run.to_json()) == run


def test_find_cycle_on_an_acyclic_graph_is_empty() -> None:
    """No cycle, no answer."""
    assert find_cycle({"a": ["b"], "b": []}) == []
