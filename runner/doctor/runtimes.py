"""The doctor's runtime check: gVisor and every runtime a policy names, registered and working."""

from __future__ import annotations

import contextlib
from typing import Any

from runner.doctor.probe import Probe, Result, skipped
from runner.policy import list_policies, load_policy
from runner.sandbox.runtimes import GVISOR_RUNTIME, runtime_unavailable


def check_runtimes(probe: Probe) -> Result:
    """gVisor and every runtime a policy names: registered, and able to start a container."""
    settings = probe.settings
    needed: dict[str, list[str]] = {GVISOR_RUNTIME: []}
    for name in list_policies(settings.policies_dir):
        with contextlib.suppress(Exception):  # a broken policy is `warden policy check`'s
            runtime = load_policy(name, policies_dir=settings.policies_dir).container.runtime
            if runtime != "runc":
                needed.setdefault(runtime, []).append(name)
    client = probe.docker()
    if client is None:
        return skipped("not checked: no Docker engine (see docker)")
    have = set(client.info().get("Runtimes") or {})
    seen, fixes = [], []
    for runtime, policies in needed.items():
        users = f" (policies: {', '.join(policies)})" if policies else " (no policy uses it)"
        if runtime not in have:
            seen.append(f"{runtime} not registered{users}")
            if policies:  # fail only where a policy would refuse its sessions
                fixes.append(str(runtime_unavailable(runtime, have).details["fix"]))
            continue
        if not client.images.list(name=settings.image):
            seen.append(f"{runtime} registered, not tried: no image {settings.image}")
            fixes.append("run: warden image build")
            continue
        kernel = _kernel_under(client, settings.image, runtime)
        seen.append(f"{runtime} {'starts' if kernel else 'FAILS'} a container{users}")
        if not kernel:
            fixes.append(f"see the engine's log for runtime {runtime!r}")
        elif runtime == GVISOR_RUNTIME:
            seen[-1] += f", kernel {kernel}"
    return Result(not fixes, "; ".join(seen), "; ".join(fixes))


def _kernel_under(client: Any, image: str, runtime: str) -> str | None:
    """The kernel version a tiny network-less container under ``runtime`` reports."""
    container = None
    try:
        container = client.containers.create(
            image, ["uname", "-r"], entrypoint=[], runtime=runtime, network_mode="none",
            read_only=True, cap_drop=["ALL"], user="1000:1000", labels={"warden.doctor": "1"},
        )  # fmt: skip
        container.start()
        if container.wait(timeout=60).get("StatusCode") != 0:
            return None
        return bytes(container.logs()).decode("utf-8", "replace").strip() or None
    except Exception:
        return None
    finally:
        if container is not None:
            with contextlib.suppress(Exception):
                container.remove(force=True)
