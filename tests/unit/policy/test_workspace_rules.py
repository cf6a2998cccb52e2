"""Policy workspace rules: caps, roots and git hosts, inherited and only ever tightened."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from runner.errors import InvalidInputError
from runner.policy import Policy, list_policies, load_policy

BASE = """
version: 1
name: base
container: {disk: 4g}
workspace:
  max_bytes: 1g
  max_files: 1000
  roots: [/srv/projects]
  git_hosts: [git.example.com, "*.corp.example"]
"""


def test_shipped_policies_cap_every_workspace() -> None:
    """Each shipped policy sets max_bytes, max_files and a kernel-enforced disk quota."""
    for name in list_policies():
        policy = load_policy(name)
        assert 0 < policy.workspace.max_bytes <= 4 * 1024**3, name
        assert 0 < policy.workspace.max_files <= 400_000, name
        assert policy.container.disk_bytes is not None, name
        assert policy.container.disk_bytes > policy.workspace.max_bytes, name


def test_a_root_policy_without_caps_gets_finite_defaults(
    policy_from: Callable[..., Policy],
) -> None:
    """Deny by default where it matters: no caps written means 2 GiB / 200,000, no git."""
    policy = policy_from("version: 1\nname: bare\n")
    assert (policy.workspace.max_bytes, policy.workspace.max_files) == (2 * 1024**3, 200_000)
    assert policy.workspace.git_hosts == () and policy.workspace.git_submodules is False


def test_a_child_inherits_and_may_narrow(write_policy: Callable[..., Path]) -> None:
    """A child inherits caps, roots and hosts, and may lower or narrow each of them."""
    write_policy(BASE, "base")
    child = load_policy(
        write_policy(
            "version: 1\nname: child\nextends: ./base.yaml\nworkspace:\n"
            "  {max_bytes: 100m, roots: [/srv/projects/app], git_hosts: [git.example.com]}\n",
            "child",
        )
    )
    assert child.workspace.max_bytes == 100 * 1024**2
    assert child.workspace.max_files == 1000
    assert child.workspace.roots == ("/srv/projects/app",)
    assert child.workspace.git_hosts == ("git.example.com",)


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ("workspace: {max_bytes: 2g}", "workspace.max_bytes"),
        ("workspace: {max_files: 5000}", "workspace.max_files"),
        ("workspace: {roots: [/srv]}", "workspace.roots"),
        ("workspace: {roots: [/srv/projects-old]}", "workspace.roots"),
        ("workspace: {git_hosts: [github.com]}", "workspace.git_hosts"),
        ("workspace: {git_submodules: true}", "workspace.git_submodules"),
        ("container: {disk: 8g}", "container.disk"),
    ],
)
def test_a_child_may_not_widen_the_workspace(
    write_policy: Callable[..., Path], section: str, field: str
) -> None:
    """Higher caps, wider roots, more hosts, submodules or a bigger disk: a load error."""
    write_policy(BASE, "base")
    child = write_policy(f"version: 1\nname: child\nextends: ./base.yaml\n{section}\n", "child")
    with pytest.raises(InvalidInputError) as info:
        load_policy(child)
    assert field in info.value.details["fields"]


def test_roots_must_be_absolute(policy_from: Callable[..., Policy]) -> None:
    """A relative workspace root is a schema error."""
    with pytest.raises(InvalidInputError, match="roots"):
        policy_from("version: 1\nname: rel\nworkspace: {roots: [projects]}\n")
