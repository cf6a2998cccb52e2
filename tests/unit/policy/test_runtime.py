"""The container runtime in policies: any registered name, kept by children, never weakened."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from runner.errors import InvalidInputError
from runner.policy import Policy, SessionRequest, check_session, container_profile, load_policy


def test_strict_ships_with_gvisor() -> None:
    """The shipped strict policy runs its sessions under runsc."""
    policy = load_policy("strict")
    assert policy.container.runtime == "runsc"
    profile = container_profile(policy, SessionRequest(image="warden-sandbox:1"))
    assert profile.runtime == "runsc"


def test_an_operator_registered_runtime_name_is_accepted(
    policy_from: Callable[..., Policy],
) -> None:
    """A runtime name beyond runc/runsc (one an operator registered) loads and is used."""
    policy = policy_from("version: 1\nname: kata\ncontainer: {runtime: kata-qemu}\n")
    assert policy.container.runtime == "kata-qemu"
    profile = container_profile(policy, SessionRequest(image="x"))
    assert profile.runtime == "kata-qemu"


@pytest.mark.parametrize("name", ["", "-runc", "run c", "runsc;rm", "a" * 65, "../runc"])
def test_malformed_runtime_names_are_refused(policy_from: Callable[..., Policy], name: str) -> None:
    """A runtime name that no engine could register is a load error naming the key."""
    with pytest.raises(InvalidInputError) as info:
        policy_from(f"version: 1\nname: x\ncontainer: {{runtime: '{name}'}}\n")
    assert "container.runtime" in info.value.message


def test_a_child_keeps_its_bases_runtime(policy_from: Callable[..., Policy]) -> None:
    """Extending a base that names a runtime other than runc requires that same runtime."""
    policy_from("version: 1\nname: base\ncontainer: {runtime: kata-qemu}\n", "base")
    with pytest.raises(InvalidInputError) as info:
        policy_from(
            "version: 1\nname: child\nextends: ./base.yaml\ncontainer: {runtime: runc}\n", "c"
        )
    assert "the base requires kata-qemu" in info.value.message
    child = policy_from("version: 1\nname: child\nextends: ./base.yaml\n", "ok")
    assert child.container.runtime == "kata-qemu"


def test_a_child_of_a_runc_base_may_choose_gvisor(policy_from: Callable[..., Policy]) -> None:
    """runc is the baseline: a child may add isolation by naming runsc."""
    child = policy_from("version: 1\nname: child\nextends: default\ncontainer: {runtime: runsc}\n")
    assert child.container.runtime == "runsc"


def test_a_request_may_not_leave_the_policys_runtime(policy_from: Callable[..., Policy]) -> None:
    """Under a kata policy, a request for runc or runsc is denied by container.runtime."""
    policy = policy_from("version: 1\nname: kata\ncontainer: {images: ['*'], runtime: kata}\n")
    for runtime in ("runc", "runsc"):
        decision = check_session(policy, SessionRequest(image="x", runtime=runtime))
        assert (decision.decision, decision.rule) == ("deny", "container.runtime")
    assert check_session(policy, SessionRequest(image="x", runtime="kata")).allowed
