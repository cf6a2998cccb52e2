"""Container runtimes: a policy's runtime must be one the engine has, or nothing starts.

A session whose policy asks for gVisor (``runsc``) must never quietly run under ``runc``
instead: Docker refuses an unknown runtime at container creation, and Warden refuses it
earlier still, at admission, so the client gets a 4xx naming the runtime and the fix
rather than a session that fails later in the background.
"""

from __future__ import annotations

from collections.abc import Iterable

from runner.errors import RuntimeUnavailableError
from runner.sandbox.backend import SandboxBackend

#: The engine's own default: every Docker engine has it, so it is never checked.
DEFAULT_RUNTIME = "runc"
GVISOR_RUNTIME = "runsc"


def runtime_unavailable(
    runtime: str, available: Iterable[str], *, policy: str | None = None
) -> RuntimeUnavailableError:
    """The error for a runtime the engine lacks, saying how to register it."""
    have = sorted(available)
    if runtime == GVISOR_RUNTIME:
        fix = "install and register gVisor on the Docker host: scripts/setup --gvisor"
    else:
        fix = (
            f'register {runtime!r} under "runtimes" in the engine\'s daemon.json and '
            "reload dockerd (SIGHUP)"
        )
    whose = f"policy {policy!r} runs sessions under" if policy else "the session needs"
    return RuntimeUnavailableError(
        f"{whose} the container runtime {runtime!r}, which this Docker engine does not "
        f"have (it has: {', '.join(have) or 'none'}); {fix}, or use a policy with "
        "another runtime",
        details={"runtime": runtime, "policy": policy, "available": have, "fix": fix},
    )


async def require_runtime(
    backend: SandboxBackend, runtime: str, *, policy: str | None = None
) -> None:
    """Return if the engine has ``runtime``; re-read once before refusing.

    Raises:
        RuntimeUnavailableError: the engine has no runtime of that name.
    """
    if runtime == DEFAULT_RUNTIME:
        return
    known = await backend.runtimes()
    if known is None or runtime in known:
        return  # None: the backend can only refuse at creation (it does)
    # The cached list may predate an operator registering it (setup --gvisor, SIGHUP).
    available = await backend.runtimes(fresh=True)
    if available is not None and runtime not in available:
        raise runtime_unavailable(runtime, available, policy=policy)
