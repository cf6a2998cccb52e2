"""Egress through the audited proxy, on real sessions: Docker, Claude Code, the scripted model.

Every server is on the controller's loopback; the sandbox reaches them only through its
gateway socket. The sandbox's ``NO_PROXY`` keeps 127.0.0.1 direct (so the model calls
never pass the proxy), so the commands here drop it to aim the proxy at loopback
servers, which the policies name by address.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import docker

from runner.sandbox.backend import SESSION_LABEL
from tests.fake_dns import ScriptedResolver
from tests.integration.conftest import StartInProcess, StartWarden
from tests.integration.egress_servers import make_ca_and_cert, make_index, make_wheel, serve
from tests.integration.server import WardenApi, WardenServer

SECRET = "Bearer egress-injected-credential-5f1c9e"
VIA_PROXY = "env -u NO_PROXY -u no_proxy"


def _policy(name: str, rules: str) -> str:
    network = f"network:\n  allow:\n{rules}\n" if rules else ""
    return (
        f"version: 1\nname: {name}\ncontainer:\n  images: ['*']\nmodel:\n  allowed: ['*']\n"
        "tools:\n  allow:\n    - {id: shell, rule: Bash}\n    - {id: write, rule: Write}\n"
        f"    - {{id: edit, rule: Edit}}\n{network}"
    )


def _policies(tmp_path: Path, policies: dict[str, str]) -> Path:
    directory = tmp_path / "policies"
    directory.mkdir(exist_ok=True)
    for name, text in policies.items():
        (directory / f"{name}.yaml").write_text(text)
    return directory


def _server(start_warden: StartWarden, tmp_path: Path, policies: dict[str, str],
            **env: str) -> WardenServer:  # fmt: skip
    directory = _policies(tmp_path, policies)
    return start_warden(extra_env={"WARDEN_POLICIES_DIR": str(directory), **env})


def _project(tmp_path: Path, name: str = "project") -> Path:
    path = tmp_path / name
    path.mkdir()
    (path / "README").write_text("egress test\n")
    return path


def _run(warden: WardenApi, project: Path, policy: str, command: str,
         image: str | None = None) -> str:  # fmt: skip
    body: dict[str, Any] = {"policy": policy}
    if image:
        body["image"] = image
    sid = str(warden.create(project, **body)["id"])
    warden.wait_state(sid, "idle", timeout=180)
    assert warden.post(sid, "send", {"text": f"[[bash: {command}]]"}).status_code == 200
    warden.wait_for(sid, lambda s: s["state"] == "idle" and _tool_ran(warden, sid), 150)
    return sid


def _tool_ran(warden: WardenApi, sid: str) -> bool:
    return bool(_audit(warden, sid, "tool.decision")) and bool(_done(warden, sid))


def _done(warden: WardenApi, sid: str) -> bool:
    return (_workspace(warden, sid) / "done").exists()


def _audit(warden: WardenApi, sid: str, type: str) -> list[dict[str, Any]]:
    response = warden.client.get("/v1/audit", params={"session": sid, "type": type, "limit": 500})
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def _workspace(warden: WardenApi, sid: str) -> Path:
    return warden.data_dir / "sessions" / sid / "workspace"


def _read(warden: WardenApi, sid: str, name: str) -> str:
    return (_workspace(warden, sid) / name).read_text().strip()


def _wait_audit(warden: WardenApi, sid: str, type: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while len(events := _audit(warden, sid, type)) < count:
        assert time.monotonic() < deadline, f"{type}: {events}"
        time.sleep(0.3)
    return events


def _container(docker_client: docker.DockerClient, sid: str) -> Any:
    (container,) = docker_client.containers.list(filters={"label": f"{SESSION_LABEL}={sid}"})
    return container


def test_https_allowed_other_refused_both_audited_export_verifies(
    start_warden: StartWarden, tmp_path: Path
) -> None:
    """curl fetches from an allowed HTTPS server (CA given to the sandbox); a second server
    not in the policy gets the proxy's 403; both decisions in the ledger; export verifies."""
    project = _project(tmp_path)
    ca, cert, key = make_ca_and_cert(tmp_path)
    shutil.copy(ca, project / "ca.pem")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "hello").write_text("hello over tls through warden\n")
    with serve(tmp_path / "site", tls=(cert, key)) as tls, serve(tmp_path / "site") as other:
        rules = f"    - {{id: local-tls, host: 127.0.0.1, ports: [{tls.port}]}}"
        warden = _server(start_warden, tmp_path, {"net": _policy("net", rules)})
        command = (
            f"{VIA_PROXY} curl -sS --cacert /workspace/ca.pem https://127.0.0.1:{tls.port}/hello"
            f" -o /workspace/got.txt; {VIA_PROXY} curl -s -o /workspace/refused.txt"
            f" -w '%{{http_code}}' http://127.0.0.1:{other.port}/hello > /workspace/code.txt;"
            " touch /workspace/done"
        )
        sid = _run(warden, project, "net", command)
        assert _read(warden, sid, "got.txt") == "hello over tls through warden"
        assert _read(warden, sid, "code.txt") == "403"
        assert "network.default" in _read(warden, sid, "refused.txt")
        assert not other.headers  # the refused request never reached the second server
    allowed = _wait_audit(warden, sid, "egress.allowed", 1)[0]["data"]
    assert allowed["rule"] == "local-tls" and allowed["port"] == tls.port
    # Claude Code itself may ask for other hosts through the proxy (refused as well).
    denied = [e["data"] for e in _wait_audit(warden, sid, "egress.denied", 1)]
    mine = [d for d in denied if d["port"] == other.port]
    assert mine and mine[0]["rule"] == "network.default"
    closed = _wait_audit(warden, sid, "egress.closed", 1)[0]["data"]
    assert closed["bytes_down"] > 0 and closed["bytes_up"] > 0
    export = warden.client.post("/v1/audit/exports", json={})
    assert export.status_code == 201, export.text
    verified = subprocess.run([sys.executable, "-m", "audit", "verify", export.json()["path"]],
                              capture_output=True, text=True)  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_pip_install_through_the_proxy_and_not_without_the_rule(
    start_warden: StartWarden, tmp_path: Path, python_image: Any
) -> None:
    """pip installs a tiny wheel from a local index through the proxy; without its rule it fails."""
    index = make_index(tmp_path / "index", make_wheel(tmp_path))
    with serve(index) as served:
        rules = f"    - {{id: index, host: 127.0.0.1, ports: [{served.port}], methods: [GET]}}"
        elsewhere = "    - {id: elsewhere, host: pypi.internal.example, ports: [443]}"
        warden = _server(start_warden, tmp_path, {
            "pip": _policy("pip", rules), "nopip": _policy("nopip", elsewhere)})  # fmt: skip
        command = (
            f"{VIA_PROXY} python3 -m pip install --no-cache-dir --break-system-packages"
            f" --target /tmp/pkgs --index-url http://127.0.0.1:{served.port}/simple/ wardentiny"
            " > /workspace/pip.log 2>&1; echo $? > /workspace/rc;"
            " PYTHONPATH=/tmp/pkgs python3 -c 'import wardentiny; print(wardentiny.GREETING)'"
            " > /workspace/import.txt 2>&1; touch /workspace/done"
        )
        image = "warden-sandbox:python"
        sid = _run(warden, _project(tmp_path, "a"), "pip", command, image)
        assert _read(warden, sid, "rc") == "0", _read(warden, sid, "pip.log")
        assert _read(warden, sid, "import.txt") == "installed through the warden proxy"
        refused = _run(warden, _project(tmp_path, "b"), "nopip", command, image)
        assert _read(warden, refused, "rc") != "0"
        assert _wait_audit(warden, refused, "egress.denied", 1)[0]["data"]["rule"] == (
            "network.default")  # fmt: skip
    assert next(e["data"]["rule"] for e in _audit(warden, sid, "egress.allowed")) == "index"


def test_no_network_section_no_proxy_no_route(
    start_warden: StartWarden, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """Without a network section: no proxy variables, only loopback, no route at all."""
    warden = _server(start_warden, tmp_path, {"plain": _policy("plain", "")})
    command = "touch /workspace/done"
    sid = _run(warden, _project(tmp_path), "plain", command)
    container = _container(docker_client, sid)
    env = container.exec_run(["env"]).output.decode()
    assert "proxy" not in env.lower()
    interfaces = container.exec_run(["ls", "/sys/class/net"]).output.decode().split()
    assert interfaces == ["lo"]
    routes = container.exec_run(["cat", "/proc/net/route"]).output.decode().splitlines()
    assert routes[1:] == []
    assert container.attrs["HostConfig"]["NetworkMode"] == "none"


def test_injected_credential_reaches_the_server_never_the_sandbox(
    start_warden: StartWarden, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """The proxy adds the controller's secret for the named host; no process environment or
    file in the sandbox holds it; 169.254.169.254 is refused though the policy allows `*`."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "mirror-token").write_text(SECRET + "\n")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "private").write_text("private package list\n")
    with serve(tmp_path / "site") as served:
        rules = (
            f"    - {{id: mirror, host: 127.0.0.1, ports: [{served.port}], methods: [GET],"
            " inject: {header: Authorization, secret: mirror-token}}\n"
            "    - {id: anything, host: '*', ports: [80, 443]}"
        )
        warden = _server(start_warden, tmp_path, {"inject": _policy("inject", rules)},
                         WARDEN_EGRESS_SECRETS_DIR=str(secrets))  # fmt: skip
        command = (
            f"{VIA_PROXY} curl -sS http://127.0.0.1:{served.port}/private -o /workspace/got.txt;"
            " curl -s -o /workspace/meta.txt -w '%{http_code}'"
            " http://169.254.169.254/latest/meta-data/ > /workspace/meta-code.txt;"
            " touch /workspace/done"
        )
        sid = _run(warden, _project(tmp_path), "inject", command)
        assert _read(warden, sid, "got.txt") == "private package list"
        assert served.headers[0]["Authorization"] == SECRET
        assert "Proxy-Authorization" not in served.headers[0]
    assert _read(warden, sid, "meta-code.txt") == "403"
    assert "metadata" in _read(warden, sid, "meta.txt")
    container = _container(docker_client, sid)
    environs = container.exec_run(
        ["sh", "-c", "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'"]
    ).output.decode()
    assert "HTTPS_PROXY=" in environs and SECRET not in environs
    needle = SECRET.split()[1]
    # As root, so no file is out of the search's reach; sockets and devices are skipped.
    found = container.exec_run(["grep", "-rlsF", "-D", "skip", "--exclude-dir=proc",
                                "--exclude-dir=sys", "--exclude-dir=dev", needle, "/"],
                               user="0")  # fmt: skip
    assert found.exit_code != 0 and found.output == b"", found.output.decode()
    rules_seen = [e["data"]["rule"] for e in _audit(warden, sid, "egress.denied")]
    assert "network.address" in rules_seen
    assert not any(needle in str(e) for e in _audit(warden, sid, "egress.allowed"))


def test_a_name_rebound_to_loopback_is_refused_on_the_second_connect(
    start_in_process: StartInProcess, tmp_path: Path
) -> None:
    """The controller's resolver (faked: the DNS boundary) answers the allowed name with an
    address its rule names, then with 127.0.0.1: curl's first fetch through the proxy gets
    the page, the second the proxy's 403; both decisions are in the ledger with the
    addresses resolved at each connect."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "hello").write_text("hello from the address the rule names\n")
    # Another loopback address, so the rule can name it and 127.0.0.1 stays refused.
    with serve(tmp_path / "site", host="127.0.0.2") as site:
        resolver = ScriptedResolver({"pkgs.rebind.test": [["127.0.0.2"], ["127.0.0.1"]]})
        rules = (
            f"    - {{id: rebind, host: pkgs.rebind.test, ports: [{site.port}],"
            " addresses: [127.0.0.2]}"
        )
        directory = _policies(tmp_path, {"rebind": _policy("rebind", rules)})
        warden = start_in_process(resolver=resolver, policies_dir=directory)
        url = f"http://pkgs.rebind.test:{site.port}/hello"
        command = (
            f"{VIA_PROXY} curl -s -o /workspace/first.txt -w '%{{http_code}}' {url}"
            f" > /workspace/first-code.txt; {VIA_PROXY} curl -s -o /workspace/second.txt"
            f" -w '%{{http_code}}' {url} > /workspace/second-code.txt; touch /workspace/done"
        )
        sid = _run(warden, _project(tmp_path), "rebind", command)
        assert _read(warden, sid, "first-code.txt") == "200"
        assert _read(warden, sid, "first.txt") == "hello from the address the rule names"
        assert _read(warden, sid, "second-code.txt") == "403"
        assert "network.address" in _read(warden, sid, "second.txt")
        assert len(site.headers) == 1  # the second request never left the controller
    assert resolver.asked.count("pkgs.rebind.test") == 2  # resolved again at each connect
    allowed = _wait_audit(warden, sid, "egress.allowed", 1)
    assert [(e["data"]["host"], e["data"]["address"], e["data"]["rule"]) for e in allowed] == [
        ("pkgs.rebind.test", "127.0.0.2", "rebind")
    ]
    denied = [
        e["data"]
        for e in _wait_audit(warden, sid, "egress.denied", 1)
        if e["data"]["host"] == "pkgs.rebind.test"
    ]
    assert len(denied) == 1, denied
    assert denied[0]["rule"] == "network.address" and denied[0]["allowed_by"] == "rebind"
    assert denied[0]["addresses"] == ["127.0.0.1"]
