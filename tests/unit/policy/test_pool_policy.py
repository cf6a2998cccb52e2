"""container.pool: off unless a policy turns it on; a base's explicit no binds children."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from runner.errors import InvalidInputError
from runner.policy import Policy, SessionRequest, container_profile, load_policy


def test_shipped_policies_do_not_pool() -> None:
    """No shipped policy lets a session come from the warm pool."""
    for name in ("default", "strict", "ci", "permissive-dev"):
        profile = container_profile(load_policy(name), SessionRequest(image="warden-sandbox:1"))
        assert profile.pool is False


def test_a_child_may_turn_pooling_on_under_a_silent_base(
    policy_from: Callable[..., Policy],
) -> None:
    """A child of the shipped default (silent on pooling) may allow pooled sandboxes."""
    child = policy_from("version: 1\nname: p\nextends: default\ncontainer: {pool: true}\n")
    assert container_profile(child, SessionRequest(image="warden-sandbox:1")).pool is True


def test_a_base_that_forbids_pooling_binds_its_children(
    policy_from: Callable[..., Policy],
) -> None:
    """Under a base with container.pool false, a child asking for pooling is a load error."""
    policy_from("version: 1\nname: base\ncontainer: {pool: false}\n", "base")
    with pytest.raises(InvalidInputError) as info:
        policy_from("version: 1\nname: c\nextends: ./base.yaml\ncontainer: {pool: true}\n", "c")
    assert "container.pool" in info.value.message
