"""The shipped policies: their own tests pass with full rule coverage; the schema is current."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from runner.policy import list_policies, load_policy, run_tests, shipped_policies_dir
from runner.policy.schema import policy_schema_text

SHIPPED = ["ci", "default", "permissive-dev", "strict"]


def test_the_four_policies_ship() -> None:
    """default, ci, strict and permissive-dev are in policies/."""
    assert list_policies() == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_policy_passes_its_tests_with_full_coverage(name: str) -> None:
    """`warden policy test <name>` would pass with 100 % rule coverage."""
    report = run_tests(load_policy(name))
    failures = [(r.test.name, r.decision.decision, r.decision.rule) for r in report.failures]
    assert failures == []
    assert report.uncovered == ()
    assert report.coverage == 1.0
    assert len(report.results) >= len(report.rules) // 2


def test_committed_schema_equals_the_generated_one() -> None:
    """policies/schema.json is exactly what `warden policy schema` generates from the model."""
    committed = (shipped_policies_dir() / "schema.json").read_text(encoding="utf-8")
    assert committed == policy_schema_text()


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_policy_validates_against_the_json_schema(name: str) -> None:
    """Editors using the JSON schema accept the shipped files."""
    schema = json.loads((shipped_policies_dir() / "schema.json").read_text(encoding="utf-8"))
    data = yaml.safe_load(Path(shipped_policies_dir() / f"{name}.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(data, schema)


def test_schema_rejects_unknown_keys() -> None:
    """The JSON schema, like the loader, refuses a misspelt key."""
    schema = json.loads(policy_schema_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"version": 1, "name": "x", "tools": {"alow": []}}, schema)


def test_ci_policy_never_asks() -> None:
    """ci.yaml has no ask rules and its approval fallbacks deny: nothing waits for a person."""
    policy = load_policy("ci")
    assert policy.rules_for("ask") == ()
    assert (policy.approvals.fallback, policy.approvals.ci_fallback) == ("deny", "deny")
