"""Loading policy files: clear errors naming file and key, extends with cycles and tightening."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from runner.errors import InvalidInputError, NotFoundError
from runner.policy import Policy, evaluate, load_policy

BASE = """
version: 1
name: base
container: {images: ["registry/app:*", "tools:1"], cpus: 2, memory: 2g, pids: 500, max_duration: 2h}
workspace: {mode: copy, allowed_modes: [copy, ro]}
model: {allowed: ["claude-*"], max_tokens: 1000, budget_usd: 5}
approvals: {roles: [approver, admin], fallback: deny}
tools:
  deny: ["Bash(curl:*)"]
  ask: ["Bash(rm:*)"]
  allow: ["Bash(git:*)", "Bash(rm:*)", Read, "Edit(src/**)"]
"""


def test_unknown_key_is_refused_naming_key_and_file(write_policy: Callable[..., Path]) -> None:
    """A misspelt section key is an error that names the key and the file."""
    path = write_policy("version: 1\nname: x\ntools:\n  alow: [Read]\n", "typo")
    with pytest.raises(InvalidInputError) as info:
        load_policy(path)
    assert "unknown key 'tools.alow'" in info.value.message
    assert str(path) in info.value.message


def test_unknown_key_inside_a_rule_mapping(write_policy: Callable[..., Path]) -> None:
    """Unknown keys inside a rule mapping are named with their index, without union noise."""
    path = write_policy("version: 1\nname: x\ntools:\n  deny: [{rule: Bash, why: no}]\n")
    with pytest.raises(InvalidInputError) as info:
        load_policy(path)
    assert info.value.message.endswith("unknown key 'tools.deny[0].why'")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("version: 2\nname: x\n", "version"),
        ("name: x\n", "missing key 'version'"),
        ("version: 1\nname: Bad Name\n", "name"),
        ("version: 1\nname: x\ncontainer: {memory: lots}\n", "container.memory"),
        ("version: 1\nname: x\ncontainer: {cpus: 0}\n", "container.cpus"),
        ("version: 1\nname: x\ntools:\n  deny: [Read]\n  deny: [Bash]\n", "duplicate key 'deny'"),
        ("- just\n- a list\n", "mapping at the top level"),
        ("version: 1\nname: x\ntools: {allow: ['Bash(\"unclosed)']}\n", "tools.allow[0]"),
        ("version: 1\nname: x\ntools: {allow: ['WebFetch(example.com)']}\n", "domain:"),
        (
            "version: 1\nname: x\ntools: {allow: [{rule: Read, id: a}, {rule: Bash, id: a}]}\n",
            "'a' is already used",
        ),
        ("version: 1\nname: x\ntools: {deny: [{rule: Read, id: default}]}\n", "'default'"),
        ("version: 1\nname: x\nworkspace: {mode: rw, allowed_modes: [copy]}\n", "workspace.mode"),
        ("version: 1\nname: x\n  bad: [indent\n", "not valid YAML"),
    ],
)
def test_invalid_files_raise_clear_errors(
    write_policy: Callable[..., Path], text: str, needle: str
) -> None:
    """Each kind of bad file is an InvalidInputError whose message says what is wrong."""
    with pytest.raises(InvalidInputError) as info:
        load_policy(write_policy(text))
    assert needle in info.value.message


def test_missing_policy_is_not_found(tmp_path: Path) -> None:
    """An unknown shipped name or a missing path raises NotFoundError."""
    with pytest.raises(NotFoundError):
        load_policy("no-such-policy")
    with pytest.raises(NotFoundError):
        load_policy(tmp_path / "missing.yaml")


def test_extends_by_path_inherits_and_adds_rules(write_policy: Callable[..., Path]) -> None:
    """A child inherits the base's sections and rules and can add deny rules."""
    write_policy(BASE, "base")
    child = load_policy(
        write_policy(
            "version: 1\nname: child\nextends: ./base.yaml\ntools:\n  deny: ['Bash(git push:*)']\n",
            "child",
        )
    )
    assert child.base is not None and child.base.name == "base"
    assert child.container.images == ("registry/app:*", "tools:1")
    assert child.model.max_tokens == 1000
    assert evaluate(child, "Bash", {"command": "git push"}).rule == "tools.deny[0]"
    assert evaluate(child, "Bash", {"command": "git status"}).rule == "base:tools.allow[0]"
    assert evaluate(child, "Bash", {"command": "curl x"}).rule == "base:tools.deny[0]"
    assert child.own_rule_ids == ("tools.deny[0]",)


def test_extends_shipped_policy_by_name(write_policy: Callable[..., Path]) -> None:
    """`extends: ci` resolves the shipped policy; its rules keep working in the child."""
    child = load_policy(
        write_policy("version: 1\nname: my-ci\nextends: ci\ntools:\n  deny: ['Bash(make:*)']\n")
    )
    assert evaluate(child, "Bash", {"command": "make"}).decision == "deny"
    assert evaluate(child, "Bash", {"command": "pytest"}).decision == "allow"
    assert evaluate(child, "Bash", {"command": "curl x"}).rule == "ci:net-curl"


def test_extends_cycle_is_an_error(write_policy: Callable[..., Path]) -> None:
    """a -> b -> a is refused with the chain in the message."""
    write_policy("version: 1\nname: a\nextends: ./b.yaml\n", "a")
    path_b = write_policy("version: 1\nname: b\nextends: ./a.yaml\n", "b")
    with pytest.raises(InvalidInputError, match=r"extends cycle: b\.yaml -> a\.yaml -> b\.yaml"):
        load_policy(path_b)


def test_self_extension_is_a_cycle(write_policy: Callable[..., Path]) -> None:
    """A policy extending itself is a cycle."""
    with pytest.raises(InvalidInputError, match="cycle"):
        load_policy(write_policy("version: 1\nname: me\nextends: ./me.yaml\n", "me"))


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ("container: {images: ['other:1']}", "container.images"),
        ("container: {images: ['registry/*']}", "container.images"),
        ("container: {cpus: 4}", "container.cpus"),
        ("container: {memory: 3g}", "container.memory"),
        ("container: {pids: 501}", "container.pids"),
        ("container: {max_duration: 3h}", "container.max_duration"),
        ("workspace: {allowed_modes: [copy, rw]}", "workspace.allowed_modes"),
        ("workspace: {mode: rw}", "workspace.allowed_modes"),
        ("model: {allowed: ['gpt-*']}", "model.allowed"),
        ("model: {max_tokens: 2000}", "model.max_tokens"),
        ("model: {budget_usd: 6}", "model.budget_usd"),
        ("approvals: {roles: [operator]}", "approvals.roles"),
        ("approvals: {fallback: allow}", "approvals.fallback"),
        ("tools: {allow: ['Bash(curl https://x)']}", "tools.allow[0]"),
        ("tools: {allow: ['Bash(rm -rf build)']}", "tools.allow[0]"),
        ("tools: {allow: ['Edit(docs/**)']}", "tools.allow[0]"),
        ("tools: {allow: [Bash]}", "tools.allow[0]"),
    ],
)
def test_child_may_not_loosen_its_base(
    write_policy: Callable[..., Path], section: str, field: str
) -> None:
    """Every loosening is a load error naming the field (limits, modes, models, roles, allows)."""
    write_policy(BASE, "base")
    child = write_policy(f"version: 1\nname: child\nextends: ./base.yaml\n{section}\n", "child")
    with pytest.raises(InvalidInputError) as info:
        load_policy(child)
    assert field in info.value.details["fields"]
    assert field in info.value.message


def test_child_may_tighten_everything(write_policy: Callable[..., Path]) -> None:
    """Fewer images, lower limits, fewer modes/models/roles and covered allows load fine."""
    write_policy(BASE, "base")
    child = load_policy(
        write_policy(
            """
            version: 1
            name: child
            extends: ./base.yaml
            container: {images: ["registry/app:1.2"], cpus: 1, memory: 1g, pids: 9}
            workspace: {mode: ro, allowed_modes: [ro]}
            model: {allowed: ["claude-small"], max_tokens: 10, budget_usd: 1}
            approvals: {roles: [admin]}
            tools: {allow: ["Bash(git status)", "Edit(src/app/**)"], ask: ["Bash(git push:*)"]}
            """,
            "child",
        )
    )
    assert child.container.memory_bytes == 1024**3
    assert child.workspace.mode == "ro"


def test_runtime_clamp_takes_the_stricter_of_child_and_base(
    policy_from: Callable[..., Policy],
) -> None:
    """Where the load check cannot see an overlap, the base's ask/deny still wins at run time."""
    policy_from(BASE, "base")
    child = policy_from(
        "version: 1\nname: child\nextends: ./base.yaml\ntools: {allow: ['Bash(git:*)']}\n", "child"
    )
    assert evaluate(child, "Bash", {"command": "git status && rm x"}).decision == "ask"
    assert evaluate(child, "Bash", {"command": "git status && curl x"}).decision == "deny"
