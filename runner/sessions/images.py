"""Admitting a session together with the image it will run: resolved, then judged.

The image name a session asks for is resolved to the image it names right now (id and
registry digests) before the policy judges it, so ``container.images`` may pin digests,
and the container is then created from that id: a tag moved afterwards cannot put
another image in its place.
"""

from __future__ import annotations

from runner.errors import ImageNotFoundError
from runner.policy import ContainerProfile
from runner.sandbox.backend import ImageInfo, SandboxBackend
from runner.sessions.model import SessionRecord
from runner.sessions.policy_gate import PolicyGate


async def admit_image(
    gate: PolicyGate, backend: SandboxBackend, record: SessionRecord
) -> tuple[ContainerProfile, ImageInfo]:
    """The policy's container profile and the resolved image of a new session.

    Raises:
        PolicyDeniedError: the policy refuses the session (its image name first).
        ImageNotFoundError: the image is not on the engine, though its name is allowed.
    """
    try:
        image = await backend.image(record.image)
    except ImageNotFoundError:
        gate.admit(record)  # a name the policy refuses says so before "not built"
        raise
    return gate.admit(record, image.digests), image
