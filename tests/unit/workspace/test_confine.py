"""Which host directories a caller may name: roots, protected paths, links."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import InvalidInputError, NotFoundError, PolicyDeniedError
from runner.workspace.confine import Confinement, Protected


def _confinement(root: Path, data: Path) -> Confinement:
    return Confinement.build([root], [Protected(data, "Warden's data dir")])


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "root"
    (root / "project" / "src").mkdir(parents=True)
    data = root / "warden-data"
    (data / "keys").mkdir(parents=True)
    return root, data


def test_a_directory_under_a_root_is_allowed_and_resolved(tree: tuple[Path, Path]) -> None:
    """A project under the root is allowed; a link to it inside the root resolves to it."""
    root, data = tree
    confinement = _confinement(root, data)
    assert confinement.check(str(root / "project")) == root / "project"
    (root / "alias").symlink_to(root / "project")
    assert confinement.check(str(root / "alias")) == root / "project"


def test_a_path_outside_the_roots_is_refused_with_the_rule(
    tree: tuple[Path, Path], tmp_path: Path
) -> None:
    """/etc, or a sibling of the root, is refused (403 rule server.workspace_roots)."""
    root, data = tree
    (tmp_path / "elsewhere").mkdir()
    for outside in ("/etc", str(tmp_path / "elsewhere")):
        with pytest.raises(PolicyDeniedError, match="outside this server's workspace roots") as e:
            _confinement(root, data).check(outside)
        assert e.value.rule == "server.workspace_roots"


def test_a_symlink_inside_a_root_pointing_outside_is_refused(tree: tuple[Path, Path]) -> None:
    """root/etc-link -> /etc is judged where it leads: outside, refused, named as resolved."""
    root, data = tree
    (root / "etc-link").symlink_to("/etc")
    with pytest.raises(PolicyDeniedError, match=r"resolves to /etc") as e:
        _confinement(root, data).check(str(root / "etc-link"))
    assert e.value.rule == "server.workspace_roots"


def test_the_data_dir_what_is_inside_it_and_what_contains_it_are_refused(
    tree: tuple[Path, Path],
) -> None:
    """Warden's data dir, its keys and the root that holds it: all refused, even under a root."""
    root, data = tree
    confinement = _confinement(root, data)
    for path, relation in ((data, "is"), (data / "keys", "is inside"), (root, "contains")):
        with pytest.raises(PolicyDeniedError, match=f"{relation} Warden's data dir") as e:
            confinement.check(str(path))
        assert e.value.rule == "workspace.protected"


def test_the_filesystem_root_is_refused_even_as_a_root() -> None:
    """With / as a root, / itself is still refused; /usr under it is not."""
    confinement = Confinement.build([Path("/")], [])
    with pytest.raises(PolicyDeniedError, match="is the filesystem root"):
        confinement.check("/")
    assert confinement.check("/usr") == Path("/usr").resolve()


def test_the_docker_socket_directory_is_refused_through_its_aliases() -> None:
    """/var/run (a link to /run on most hosts) and /run are both the socket's directory."""
    confinement = Confinement.build([Path("/")], [Protected(Path("/var/run"), "the socket dir")])
    for path in ("/var/run", "/run", "/var"):
        with pytest.raises(PolicyDeniedError, match="the socket dir"):
            confinement.check(path)


def test_a_server_without_roots_refuses_every_path_and_says_what_to_do(
    tree: tuple[Path, Path],
) -> None:
    """No roots: the refusal names uploads, git and the setting that opens host paths."""
    root, _data = tree
    confinement = Confinement.build([], [], closed_hint="set WARDEN_WORKSPACE_ROOTS")
    with pytest.raises(PolicyDeniedError, match=r"POST /v1/workspaces.*WARDEN_WORKSPACE_ROOTS"):
        confinement.check(str(root / "project"))


def test_a_policy_narrows_the_roots_and_cannot_widen_them(
    tree: tuple[Path, Path], tmp_path: Path
) -> None:
    """Policy roots narrow (403 workspace.roots); one outside the server's roots adds nothing."""
    root, data = tree
    confinement = _confinement(root, data)
    (root / "other").mkdir()
    narrowed = [str(root / "project")]
    assert confinement.check(str(root / "project" / "src"), policy_roots=narrowed)
    with pytest.raises(PolicyDeniedError) as e:
        confinement.check(str(root / "other"), policy_roots=narrowed, policy="p")
    assert e.value.rule == "workspace.roots" and "policy 'p'" in e.value.message
    (tmp_path / "wide").mkdir()
    with pytest.raises(PolicyDeniedError) as e:
        confinement.check(str(tmp_path / "wide"), policy_roots=[str(tmp_path)])
    assert e.value.rule == "server.workspace_roots"


def test_malformed_paths_are_the_callers_422(tree: tuple[Path, Path]) -> None:
    """Relative, missing and non-directory paths are invalid input, not policy refusals."""
    root, data = tree
    (root / "file.txt").write_text("x")
    confinement = _confinement(root, data)
    for raw, message in (("project", "absolute path"), ("", "non-empty")):
        with pytest.raises(InvalidInputError, match=message):
            confinement.check(raw)
    # What names no directory is a 404.
    for raw in (str(root / "missing"), str(root / "file.txt")):
        with pytest.raises(NotFoundError, match="not a directory"):
            confinement.check(raw)
