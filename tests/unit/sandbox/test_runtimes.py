"""The refusal for a runtime the engine lacks names the runtime, what it has, and the fix."""

from __future__ import annotations

from runner.app import status_for
from runner.sandbox.runtimes import runtime_unavailable


def test_missing_gvisor_names_the_setup_step() -> None:
    """Missing runsc: a 424 naming runsc, the policy, the engine's runtimes and setup --gvisor."""
    error = runtime_unavailable("runsc", {"runc"}, policy="strict")
    assert status_for(error) == 424
    assert error.code == "runtime_unavailable"
    assert "'runsc'" in error.message and "'strict'" in error.message
    assert "it has: runc" in error.message
    assert "scripts/setup --gvisor" in error.message
    assert error.details == {
        "runtime": "runsc",
        "policy": "strict",
        "available": ["runc"],
        "fix": "install and register gVisor on the Docker host: scripts/setup --gvisor",
    }


def test_missing_custom_runtime_says_how_to_register_it() -> None:
    """Any other runtime: the fix is registering it in daemon.json and reloading dockerd."""
    error = runtime_unavailable("kata-qemu", ["runsc", "runc"])
    assert "'kata-qemu'" in error.message and "it has: runc, runsc" in error.message
    assert "daemon.json" in error.details["fix"] and "SIGHUP" in error.details["fix"]
