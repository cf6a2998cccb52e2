"""Workspaces on a real ``warden serve``: confined host paths, hostile uploads, bounded
copies, kernel-enforced disk quotas and git sources (real Docker, Claude Code, loop mounts).

One server serves the module (its policies are written below); each test makes its own
projects under the server's one workspace root.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from runner.policy import shipped_policies_dir
from runner.sandbox.image import BuildResult
from tests.conftest import require
from tests.integration.git_hosts import GitDaemon, TokenGitHost, bare, git, make_repo
from tests.integration.server import WardenServer, unmount_under

TOKEN = "s3cr3t-git-token"


def _policy(name: str, container: str, workspace: str = "{}") -> str:
    return (
        f"version: 1\nname: {name}\n"
        f'container: {{images: ["warden-sandbox:*"], {container}}}\n'
        f"workspace: {workspace}\n"
        'model: {allowed: ["*"]}\n'
        "tools: {allow: [Bash, Read, Edit, Write, TodoWrite]}\n"
    )


POLICIES = {
    "small": _policy("small", "disk: 64m", "{max_bytes: 10m, max_files: 1000}"),
    "vast": _policy("vast", "disk: 20g", "{max_bytes: 16g, max_files: 1000}"),
    "quota": _policy("quota", "disk: 100m, runtime: runc"),
    "quota-gvisor": _policy("quota-gvisor", "disk: 100m, runtime: runsc"),
    "git": _policy("git", "disk: 1g", '{git_hosts: ["127.0.0.1"]}'),
    "git-subs": _policy("git-subs", "disk: 1g", '{git_hosts: ["127.0.0.1"], git_submodules: true}'),
}


@dataclass
class Hosts:
    base: Path
    daemon: GitDaemon
    http: TokenGitHost
    refs: dict[str, str]


@dataclass
class World:
    server: WardenServer
    root: Path
    hosts: Hosts

    @property
    def sessions(self) -> Path:
        return self.server.data_dir / "sessions"

    def session_dirs(self) -> set[str]:
        return {p.name for p in self.sessions.iterdir()} if self.sessions.is_dir() else set()

    def project(self, name: str, files: dict[str, bytes] | None = None) -> Path:
        path = self.root / name
        path.mkdir(parents=True)
        for rel, data in (files or {"main.py": b"print('hi')\n"}).items():
            (path / rel).write_bytes(data)
        return path

    def post(self, **body: Any) -> Any:
        return self.server.client.post("/v1/sessions", json=body)

    def audit(self, type_: str) -> list[dict[str, Any]]:
        response = self.server.client.get("/v1/audit", params={"type": type_, "limit": 1000})
        assert response.status_code == 200, response.text
        return [e["data"] for e in response.json()["events"]]

    def upload(self, body: bytes, media: str) -> Any:
        return self.server.client.post(
            "/v1/workspaces", content=body, headers={"Content-Type": media}
        )

    def tool_output(self, sid: str) -> str:
        turns = self.server.client.get(f"/v1/sessions/{sid}/read").json()["turns"]
        return "\n".join(r["content"] for t in turns for r in t["toolResults"])


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    base = tmp_path_factory.mktemp("git")
    refs = make_repo(base / "work")
    bare(base / "work", base / "srv" / "repo.git")
    daemon, http = GitDaemon(base / "srv"), TokenGitHost(base / "srv", TOKEN)
    _superprojects(base, daemon)
    yield Hosts(base, daemon, http, refs)
    daemon.stop()
    http.stop()


def _superprojects(base: Path, daemon: GitDaemon) -> None:
    """super.git has submodule sub (on the daemon); badsuper.git's points at 127.0.0.2."""
    sub = base / "sub"
    sub.mkdir()
    git("init", "-q", "-b", "main", cwd=sub)
    (sub / "SUBFILE").write_text("from the submodule\n")
    git("add", "SUBFILE", cwd=sub)
    git("commit", "-q", "-m", "sub", cwd=sub)
    bare(sub, base / "srv" / "sub.git")
    for name, host in (("super", "127.0.0.1"), ("badsuper", "127.0.0.2")):
        work = base / name
        work.mkdir()
        git("init", "-q", "-b", "main", cwd=work)
        git("-c", "protocol.allow=always", "submodule", "add", "-q", daemon.url("sub.git"),
            "sub", cwd=work)  # fmt: skip
        url = f"git://{host}:{daemon.port}/sub.git"
        git("config", "-f", ".gitmodules", "submodule.sub.url", url, cwd=work)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", "with a submodule", cwd=work)
        bare(work, base / "srv" / f"{name}.git")


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
    sandbox_image: BuildResult,
    docker_client: docker.DockerClient,
    hosts: Hosts,
) -> Iterator[World]:
    base = tmp_path_factory.mktemp("workspaces")
    root = base / "root"
    root.mkdir()
    policies = base / "policies"
    shutil.copytree(shipped_policies_dir(), policies)
    for name, text in POLICIES.items():
        (policies / f"{name}.yaml").write_text(text)
    server = WardenServer(
        base / "data",
        f"sqlite:///{base / 'warden.db'}",
        extra_env={
            "WARDEN_POLICIES_DIR": str(policies),
            "WARDEN_WORKSPACE_ROOTS": str(root),
            "WARDEN_GIT_TOKENS": json.dumps({f"127.0.0.1:{hosts.http.port}": TOKEN}),
        },
    ).start()
    yield World(server, root, hosts)
    server.stop()
    unmount_under(base)


def test_host_paths_outside_the_confinement_are_refused(world: World) -> None:
    """/etc, the data dir, /, and a link inside the root to /etc: 403 with the rule, an
    audit event each, and nothing copied (no session directory)."""
    (world.root / "to-etc").symlink_to("/etc")
    cases = {
        "/etc": "server.workspace_roots",
        str(world.server.data_dir): "workspace.protected",
        "/": "workspace.protected",
        str(world.root / "to-etc"): "server.workspace_roots",
        "/var/run": "workspace.protected",
    }
    before = world.session_dirs()
    for path, rule in cases.items():
        refused = world.post(workDir=path, policy="default")
        assert refused.status_code == 403, refused.text
        error = refused.json()["error"]
        assert error["details"]["rule"] == rule and path in error["message"], error
    assert world.session_dirs() == before
    denied = [d for d in world.audit("session.denied") if d.get("workspace", {}).get("path")]
    assert {d["workspace"]["path"]: d["rule"] for d in denied[-len(cases) :]} == cases


def _tar(*members: tuple[str, bytes, str]) -> bytes:
    """(name, data, linkname-or-type) members; a non-empty third field makes a link."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data, special in members:
            info = tarfile.TarInfo(name)
            if special == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, "a"
            elif special == "device":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
            elif special:
                info.type, info.linkname = tarfile.SYMTYPE, special
            info.size = len(data) if not special else 0
            tar.addfile(info, io.BytesIO(data) if not special else None)
    return out.getvalue()


def test_hostile_archives_are_refused_and_write_nothing_outside(world: World) -> None:
    """../x, /etc/x, a link to /etc/passwd with a file written through it, a hard link
    and a device node: each upload is a 422 naming the entry; nothing is kept."""
    marker = f"warden-{os.getpid()}-{time.monotonic_ns()}"
    hostile = {
        "dot-dot": _tar((f"../{marker}", b"x", "")),
        "absolute": _tar((f"/etc/{marker}", b"x", "")),
        "through a link": _tar(("p", b"", "/etc/passwd"), ("p", b"root::0:0:::\n", "")),
        "hard link": _tar(("a", b"x", ""), ("b", b"", "hard")),
        "device": _tar(("null", b"", "device")),
    }
    for case, body in hostile.items():
        refused = world.upload(body, "application/x-tar")
        assert refused.status_code == 422, (case, refused.text)
        assert "the archive is refused" in refused.json()["error"]["message"], case
    assert not Path("/etc", marker).exists()
    assert not (world.server.data_dir.parent / marker).exists()
    assert "root::0" not in Path("/etc/passwd").read_text()
    uploads = world.server.data_dir / "uploads"
    assert not uploads.is_dir() or not list(uploads.iterdir())


def test_a_zip_bomb_is_stopped_at_the_cap(world: World, tmp_path: Path) -> None:
    """A 1 MiB zip of 1 GiB of zeros, for a 10 MiB policy: refused before extraction
    (its entries declare 1 GiB), nothing extracted."""
    bomb = tmp_path / "bomb.zip"
    with (
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf,
        zf.open("zeros", "w", force_zip64=True) as f,
    ):
        for _ in range(1024):
            f.write(b"\0" * 1024**2)
    uploaded = world.upload(bomb.read_bytes(), "application/zip")
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["declaredBytes"] == 1024**3
    refused = world.post(workspace={"archive": uploaded.json()["id"]}, policy="small")
    assert refused.status_code == 403
    assert "expands to 1.0 GiB" in refused.json()["error"]["message"]
    assert refused.json()["error"]["details"]["rule"] == "workspace.max_bytes"


def test_an_uploaded_archive_runs_as_a_session(world: World) -> None:
    """An upload becomes the workspace of a real session; the agent sees its files."""
    body = _tar(("src/app.py", b"print('from the archive')\n", ""))
    upload_id = world.upload(body, "application/x-tar").json()["id"]
    created = world.post(
        workspace={"archive": upload_id}, policy="quota", prompt="[[bash: cat src/app.py]]"
    )
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    world.server.wait_state(sid, "idle", timeout=120)
    world.server.wait_for(sid, lambda _s: "from the archive" in world.tool_output(sid))
    assert world.server.client.delete(f"/v1/sessions/{sid}").status_code == 200


def _disk_use(path: Path) -> int:
    """Bytes the host's disk really holds under ``path``: sparse files count what is
    written, and a mounted volume is counted once, as its image file."""
    total = 0
    for dirpath, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if not os.path.ismount(Path(dirpath) / d)]
        for name in files:
            total += (Path(dirpath) / name).lstat().st_blocks * 512
    return total


def test_a_directory_over_max_bytes_fails_the_session(world: World) -> None:
    """30 MiB under a 10 MiB policy: the session errors naming the limit and the policy;
    the host holds no more than the cap for it, and nothing once it failed."""
    project = world.project("over", {f"f{i}": os.urandom(1024**2) for i in range(30)})
    created = world.post(workDir=str(project), policy="small")
    sid = created.json()["id"]
    failed = world.server.wait_for(sid, lambda s: s["state"] == "error", timeout=60)
    assert "policy 'small'" in failed["error"] and "10.0 MiB" in failed["error"]
    assert "workspace.max_bytes" in failed["error"]
    assert _disk_use(world.sessions / sid) < 10 * 1024**2
    assert not (world.sessions / sid / "disk.img").exists()


def test_delete_during_a_large_copy_stops_it_at_once(world: World) -> None:
    """DELETE while 8 GiB are being copied: answered within a second, copy stopped,
    its volume and image gone."""
    project = world.project("huge", {"a.txt": b"a"})
    with (project / "big.img").open("wb") as f:
        f.truncate(8 * 1024**3)
    sid = world.post(workDir=str(project), policy="vast").json()["id"]
    world.server.wait_for(
        sid,
        lambda s: (s["details"].get("workspace") or {}).get("bytes", 0) > 64 * 1024**2,
        timeout=60,
    )
    started = time.monotonic()
    deleted = world.server.client.delete(f"/v1/sessions/{sid}")
    elapsed = time.monotonic() - started
    assert deleted.status_code == 200, deleted.text
    print(f"DELETE during the copy answered in {elapsed:.3f} s")
    assert elapsed < 1.0, elapsed
    assert not (world.sessions / sid / "disk.img").exists()
    assert _disk_use(world.sessions / sid) < 1024**2


@pytest.mark.parametrize("policy", ["quota", "quota-gvisor"])
def test_the_disk_quota_is_enforced_by_the_kernel(
    world: World, docker_client: docker.DockerClient, policy: str
) -> None:
    """dd if=/dev/zero runs into ENOSPC at the 100 MiB quota (also under gVisor); the host
    pays at most the quota + 5 %; a second session works meanwhile and the first one's
    patch is still collected."""
    if policy == "quota-gvisor":
        runtimes = docker_client.info().get("Runtimes", {})
        require("runsc" in runtimes, f"gVisor (runsc) is not registered: {sorted(runtimes)}")
    project = world.project(f"fill-{policy}")
    first = world.post(
        workDir=str(project), policy=policy, prompt="[[bash: dd if=/dev/zero of=big bs=1M]]"
    ).json()["id"]
    world.server.wait_for(
        first, lambda _s: "No space left on device" in world.tool_output(first), timeout=180
    )
    world.server.wait_state(first, "idle")
    quota = 100 * 1024**2
    image = world.sessions / first / "disk.img"
    host_bytes = _disk_use(world.sessions / first)
    print(f"{policy}: image {image.stat().st_blocks * 512} bytes, session dir {host_bytes}")
    assert host_bytes <= quota * 1.05

    second_dir = world.project(f"second-{policy}")
    second = world.post(
        workDir=str(second_dir), policy=policy, prompt="[[bash: echo second > second.txt]]"
    ).json()["id"]
    world.server.wait_for(
        second, lambda _s: (world.sessions / second / "workspace" / "second.txt").exists()
    )
    deleted = world.server.client.delete(f"/v1/sessions/{first}")
    assert deleted.status_code == 200, deleted.text
    patch = world.server.client.get(f"/v1/sessions/{first}/artifacts/changes.patch").text
    assert "Binary files a/big and b/big differ" in patch
    assert world.server.client.delete(f"/v1/sessions/{second}").status_code == 200


def test_git_sources_clone_at_a_ref_from_allowed_hosts_only(world: World) -> None:
    """file:// under the root at tag v1, git daemon at main, token HTTP at a commit: each
    checked out; the token reached the host but not .git/config; an unlisted host is 403."""
    hosts = world.hosts
    local = world.root / "local-repo"
    shutil.copytree(hosts.base / "work", local)
    sources = {
        f"file://{local}": ("v1", "1\n"),
        hosts.daemon.url("repo.git"): ("main", "2\n"),
        hosts.http.url("repo.git"): (hosts.refs["v1"], "1\n"),
    }
    started = []
    for url, (ref, version) in sources.items():
        created = world.post(workspace={"git": {"url": url, "ref": ref}}, policy="git")
        assert created.status_code == 201, created.text
        started.append((created.json()["id"], version))
    for sid, version in started:
        world.server.wait_for(
            sid, lambda s: (s["details"].get("workspace") or {}).get("phase") == "ready"
        )
        workspace = world.sessions / sid / "workspace"
        assert (workspace / "VERSION").read_text() == version
        config = (workspace / ".git" / "config").read_text()
        assert TOKEN not in config and "extraHeader" not in config
        hooks = workspace / ".git" / "hooks"
        assert not hooks.exists() or not any(hooks.iterdir())
    assert hosts.http.expected in hosts.http.seen
    for url in (f"git://127.0.0.2:{hosts.daemon.port}/repo.git", "https://github.com/o/r.git"):
        refused = world.post(workspace={"git": {"url": url}}, policy="git")
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["details"]["rule"] == "workspace.git_hosts"
    outside = world.post(workspace={"git": {"url": "file:///etc"}}, policy="git")
    assert outside.status_code == 403
    for sid, _version in started:
        assert world.server.client.delete(f"/v1/sessions/{sid}").status_code == 200
    git("status", cwd=local)  # the source repository is untouched and still valid


def _ready(world: World, sid: str) -> dict[str, Any]:
    return world.server.wait_for(
        sid, lambda s: (s["details"].get("workspace") or {}).get("phase") == "ready"
    )


def test_submodules_only_when_the_policy_allows_and_from_listed_hosts(world: World) -> None:
    """Without git_submodules the submodule stays empty; with it, it is cloned; one whose
    host is not listed fails the session with the rule."""
    daemon = world.hosts.daemon
    plain = world.post(workspace={"git": {"url": daemon.url("super.git")}}, policy="git")
    subs = world.post(workspace={"git": {"url": daemon.url("super.git")}}, policy="git-subs")
    bad = world.post(workspace={"git": {"url": daemon.url("badsuper.git")}}, policy="git-subs")
    plain_id, subs_id, bad_id = (r.json()["id"] for r in (plain, subs, bad))
    _ready(world, plain_id)
    assert not (world.sessions / plain_id / "workspace" / "sub" / "SUBFILE").exists()
    _ready(world, subs_id)
    subfile = world.sessions / subs_id / "workspace" / "sub" / "SUBFILE"
    assert subfile.read_text() == "from the submodule\n"
    failed = world.server.wait_for(bad_id, lambda s: s["state"] == "error")
    assert "127.0.0.2" in failed["error"] and "workspace.git_hosts" in failed["error"]
    for sid in (plain_id, subs_id, bad_id):
        assert world.server.client.delete(f"/v1/sessions/{sid}").status_code == 200


def _cli(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner.cli", "sessions", "create", *args, "--json",
         "--server", world.server.url],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def test_the_cli_creates_sessions_from_a_directory_archive_and_a_git_ref(
    world: World, tmp_path: Path
) -> None:
    """--archive DIR tars on the client (leaving out a link to /etc/passwd, and saying so);
    --git URL@REF clones that ref."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.md").write_text("client side\n")
    (mine / "passwd").symlink_to("/etc/passwd")
    packed = _cli(world, "--archive", str(mine), "--policy", "quota")
    assert packed.returncode == 0, packed.stderr
    assert "not uploaded: passwd (a link to /etc/passwd" in packed.stderr
    from_archive = json.loads(packed.stdout)
    assert set(from_archive["workspace"]) == {"archive"}
    cloned = _cli(world, "--git", f"{world.hosts.daemon.url('repo.git')}@v1", "--policy", "git")
    assert cloned.returncode == 0, cloned.stderr
    from_git = json.loads(cloned.stdout)
    assert from_git["workspace"]["git"]["ref"] == "v1"
    _ready(world, from_archive["id"])
    _ready(world, from_git["id"])
    archive_copy = world.sessions / from_archive["id"] / "workspace"
    assert (archive_copy / "notes.md").read_text() == "client side\n"
    assert not (archive_copy / "passwd").exists()
    assert (world.sessions / from_git["id"] / "workspace" / "VERSION").read_text() == "1\n"
    for sid in (from_archive["id"], from_git["id"]):
        assert world.server.client.delete(f"/v1/sessions/{sid}").status_code == 200
