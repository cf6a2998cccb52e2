"""Helpers for policy tests: write a policy file and load it through the real loader."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from runner.policy import Policy, load_policy

BYPASS_POLICY = """
version: 1
name: bypass
tools:
  deny:
    - {id: no-curl, rule: "Bash(curl:*)"}
    - {id: no-push, rule: "Bash(git push:*)"}
    - {id: no-rm-root, rule: "Bash(rm -rf /:*)"}
    - {id: no-etc, rule: "Edit(//etc/**)"}
    - {id: no-secrets, rule: "Read(./secrets/**)"}
  ask:
    - {id: ask-rm, rule: "Bash(rm:*)"}
  allow:
    - {id: ls, rule: "Bash(ls:*)"}
    - {id: cat, rule: "Bash(cat:*)"}
    - {id: echo, rule: "Bash(echo:*)"}
    - {id: npm-test, rule: "Bash(npm test:*)"}
    - {id: pytest, rule: "Bash(pytest:*)"}
    - {id: git, rule: "Bash(git:*)"}
    - {id: edit-src, rule: "Edit(src/**)"}
    - {id: read, rule: Read}
"""


@pytest.fixture
def write_policy(tmp_path: Path) -> Callable[..., Path]:
    """Write YAML text to ``<name>.yaml`` in a temp dir and return its path."""

    def write(text: str, name: str = "policy") -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def policy_from(write_policy: Callable[..., Path]) -> Callable[..., Policy]:
    """Load a policy from YAML text through the real loader."""

    def load(text: str, name: str = "policy") -> Policy:
        return load_policy(write_policy(text, name))

    return load


@pytest.fixture
def bypass_policy(policy_from: Callable[..., Policy]) -> Policy:
    """Denies curl, git push, rm -rf /, /etc edits, secrets reads; asks rm; allows a few tools."""
    return policy_from(BYPASS_POLICY)
