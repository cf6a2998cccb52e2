"""Sessions over the API: a profile image by name or pinned by digest, the policy's mode."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runner.policy import shipped_policies_dir
from runner.sandbox.image import BuildResult
from tests.integration.conftest import StartWarden
from tests.integration.sandbox_support import (  # noqa: F401 (fixtures)
    python_image,
    sandbox_image,
)
from tests.integration.server import WardenServer

OTHER_ID = "sha256:" + "0" * 64


def _pinned(name: str, image_id: str) -> str:
    return (
        f"version: 1\nname: {name}\ndescription: only one image, by digest\n"
        f"container: {{images: ['{image_id}']}}\n"
        "workspace: {mode: copy, allowed_modes: [copy]}\n"
    )


@pytest.fixture
def server(
    tmp_path: Path,
    start_warden: StartWarden,
    python_image: BuildResult,  # noqa: F811
) -> WardenServer:
    policies = tmp_path / "policies"
    shutil.copytree(shipped_policies_dir(), policies)
    (policies / "pinned.yaml").write_text(_pinned("pinned", python_image.image_id))
    (policies / "elsewhere.yaml").write_text(_pinned("elsewhere", OTHER_ID))
    return start_warden(extra_env={"WARDEN_POLICIES_DIR": str(policies)})


def test_a_digest_pin_admits_that_image_and_the_ledger_names_it(
    server: WardenServer,
    tmp_path: Path,
    python_image: BuildResult,  # noqa: F811
) -> None:
    """Pinned by id: the profile's tag is admitted; a pin of another id is a 403 with the
    rule; container.started records the image id."""
    work = tmp_path / "work"
    work.mkdir()
    body = {"workDir": str(work), "policy": "pinned", "image": "warden-sandbox:python"}
    created = server.client.post("/v1/sessions", json=body)
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    server.wait_state(sid, "idle", timeout=120)
    events = server.client.get("/v1/audit", params={"session": sid}).json()["events"]
    started = next(e for e in events if e["type"] == "container.started")
    assert started["data"]["imageId"] == python_image.image_id
    assert server.client.delete(f"/v1/sessions/{sid}").status_code == 200
    refused = server.client.post("/v1/sessions", json={**body, "policy": "elsewhere"})
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["details"]["rule"] == "container.images"
    assert error["message"] == (
        "policy 'elsewhere' does not allow image 'warden-sandbox:python' (container.images)"
    )


def test_a_create_without_a_mode_gets_the_policys(server: WardenServer, tmp_path: Path) -> None:
    """{"workDir", "policy": "strict"} is admitted with strict's workspace.mode ro."""
    work = tmp_path / "review"
    work.mkdir()
    created = server.client.post("/v1/sessions", json={"workDir": str(work), "policy": "strict"})
    assert created.status_code == 201, created.text
    session = created.json()
    assert session["workspaceMode"] == "ro"
    assert server.client.delete(f"/v1/sessions/{session['id']}").status_code == 200
    missing = server.client.post(
        "/v1/sessions", json={"workDir": str(work), "image": "warden-sandbox:nope"}
    )
    assert missing.status_code == 424, missing.text
    assert missing.json()["error"]["message"] == (
        "sandbox image warden-sandbox:nope is not on this Docker engine; run: warden image build"
    )
