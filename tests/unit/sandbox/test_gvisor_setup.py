"""scripts/gvisor_runtime.py: the daemon.json merge keeps every other key and is idempotent."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def setup_script() -> ModuleType:
    """The script, imported from its file (it is not part of the package)."""
    spec = importlib.util.spec_from_file_location(
        "gvisor_runtime", ROOT / "scripts" / "gvisor_runtime.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_merge_keeps_other_keys_and_runtimes(setup_script: ModuleType) -> None:
    """Existing settings and other runtimes stay; runsc gets ptrace, no network, host UDS."""
    config = {
        "storage-driver": "overlay2",
        "log-opts": {"max-size": "10m"},
        "runtimes": {"kata": {"path": "/usr/bin/kata-runtime"}},
    }
    entry = setup_script.desired_entry("/usr/bin/runsc")
    merged = setup_script.merged(config, "runsc", entry)
    assert merged["storage-driver"] == "overlay2"
    assert merged["log-opts"] == {"max-size": "10m"}
    assert merged["runtimes"]["kata"] == {"path": "/usr/bin/kata-runtime"}
    assert merged["runtimes"]["runsc"] == {
        "path": "/usr/bin/runsc",
        "runtimeArgs": ["--platform=ptrace", "--network=none", "--host-uds=open"],
    }
    assert config["runtimes"] == {"kata": {"path": "/usr/bin/kata-runtime"}}  # not mutated
    assert setup_script.merged(merged, "runsc", entry) == merged  # a second merge: no change


def test_file_is_created_when_absent_and_rewritten_in_place(
    setup_script: ModuleType, tmp_path: Path
) -> None:
    """No daemon.json reads as {}; writing keeps the file's mode and leaves no temp file."""
    path = tmp_path / "docker" / "daemon.json"
    assert setup_script.read_config(path) == {}
    setup_script.write_config(path, {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}
    assert path.stat().st_mode & 0o777 == 0o644
    path.chmod(0o600)
    setup_script.write_config(path, {"a": 2})
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["daemon.json"]


def test_a_non_object_daemon_json_is_refused(setup_script: ModuleType, tmp_path: Path) -> None:
    """A daemon.json that is not a JSON object stops the script rather than being replaced."""
    path = tmp_path / "daemon.json"
    path.write_text("[1, 2]")
    with pytest.raises(SystemExit, match="not a JSON object"):
        setup_script.read_config(path)


def test_registered_means_same_path_and_arguments(setup_script: ModuleType) -> None:
    """The engine's runtime counts only with our path and our arguments, in order."""
    entry = setup_script.desired_entry("/usr/bin/runsc")
    assert setup_script.is_registered({"runsc": dict(entry)}, "runsc", entry)
    assert not setup_script.is_registered({}, "runsc", entry)
    assert not setup_script.is_registered({"runsc": {"path": "/usr/bin/runsc"}}, "runsc", entry)
    other = {"path": "/opt/runsc", "runtimeArgs": entry["runtimeArgs"]}
    assert not setup_script.is_registered({"runsc": other}, "runsc", entry)
