"""container.images: name patterns and digest pins."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import InvalidInputError
from runner.policy import SessionRequest, check_session, load_policy
from runner.policy.images import check_image_entry, image_allowed

IMAGE_ID = "sha256:" + "a" * 64
OTHER_ID = "sha256:" + "b" * 64
REPO_DIGEST = "registry.example/acme-sandbox@sha256:" + "c" * 64


def test_name_patterns_match_the_reference_only() -> None:
    """A glob matches the requested name; it never matches through a digest."""
    assert image_allowed(["warden-sandbox:*"], "warden-sandbox:python")
    assert not image_allowed(["warden-sandbox:*"], "acme/sandbox:1", [IMAGE_ID])
    assert not image_allowed(["warden-sandbox:*"], IMAGE_ID, [IMAGE_ID])


def test_digest_pins_match_the_image_the_reference_resolves_to() -> None:
    """An id or registry-digest pin allows a tag only while it points at that very image."""
    assert image_allowed([IMAGE_ID], "acme/sandbox:1", [IMAGE_ID])
    assert not image_allowed([IMAGE_ID], "acme/sandbox:1", [OTHER_ID])  # the tag moved
    assert not image_allowed([IMAGE_ID], "acme/sandbox:1")  # not resolved: not proven
    assert image_allowed([REPO_DIGEST], "registry.example/acme-sandbox:1", [OTHER_ID, REPO_DIGEST])
    assert image_allowed([REPO_DIGEST], REPO_DIGEST)  # asked for by digest itself


@pytest.mark.parametrize("entry", ["sha256:abc", "x@sha256:" + "A" * 64, "sha256:" + "a" * 63])
def test_malformed_pins_are_refused(entry: str) -> None:
    """A pin that can never match (short, uppercase) is an error, not a silent deny."""
    with pytest.raises(ValueError, match="digest pin"):
        check_image_entry(entry)


def _policy(tmp_path: Path, images: str) -> Path:
    path = tmp_path / "pinned.yaml"
    path.write_text(
        "version: 1\nname: pinned\n"
        f"container: {{images: {images}}}\n"
        "workspace: {mode: copy, allowed_modes: [copy]}\n"
    )
    return path


def test_a_policy_file_pins_an_image_by_digest(tmp_path: Path) -> None:
    """A policy allowing only an id admits the image with that id and names the rule otherwise."""
    policy = load_policy(str(_policy(tmp_path, f"['{IMAGE_ID}']")))
    ok = check_session(policy, SessionRequest("acme/sandbox:1", image_digests=(IMAGE_ID,)))
    assert ok.decision == "allow"
    moved = check_session(policy, SessionRequest("acme/sandbox:1", image_digests=(OTHER_ID,)))
    assert (moved.decision, moved.rule) == ("deny", "container.images")
    refusal = "policy 'pinned' does not allow image 'acme/sandbox:1' (container.images)"
    assert moved.reason == refusal


def test_a_policy_file_with_a_bad_pin_does_not_load(tmp_path: Path) -> None:
    """A typo in a pin is reported when the policy is loaded."""
    with pytest.raises(InvalidInputError, match="digest pin"):
        load_policy(str(_policy(tmp_path, "['acme@sha256:1234']")))
