"""Writes wherever they happen: option targets, redirections, `~user`, `cd`, started commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from runner.policy import Policy, evaluate, load_policy

_PROGRAMS = [
    "git", "sort", "tee", "pytest", "dd", "cp", "mv", "install", "ln", "sed", "touch", "mkdir",
    "tar", "rm", "go", "cargo", "npm", "chmod", "curl", "wget", "unzip", "patch", "gzip",
    "truncate", "rsync", "script", "echo", "cat", "ls", "cd",
]  # fmt: skip
WRITES_POLICY = """
version: 1
name: writes
tools:
  deny:
    - {id: no-etc, rule: "Edit(//etc/**)"}
  allow:
    - {id: src, rule: "Edit(src/**)"}
    - {id: progs, rule: "Bash(find:*)"}
    - "Bash(python -m pytest:*)"
""" + "".join(f'    - "Bash({program}:*)"\n' for program in _PROGRAMS)


@pytest.fixture
def writes_policy(policy_from: Callable[..., Policy]) -> Policy:
    """Denies writes under /etc, allows them under src/, and lets many programs run."""
    return policy_from(WRITES_POLICY)


def bash(policy: Policy, command: str, **kwargs: object) -> tuple[str, str]:
    decision = evaluate(policy, "Bash", {"command": command}, **kwargs)  # type: ignore[arg-type]
    return decision.decision, decision.rule


@pytest.mark.parametrize(
    "command",
    [
        "find . -fprintf /home/warden/.claude/settings.json '{}'",
        "git diff --output=/home/warden/.claude/settings.json",
        "git log --output=/etc/x",
        "echo {} > ~warden/.claude/settings.json",
    ],
)
def test_the_probe_reproductions_are_denied_under_ci(command: str) -> None:
    """Each command the probe found allowed by ci.yaml is now denied."""
    decision = evaluate(load_policy("ci"), "Bash", {"command": command})
    assert decision.decision == "deny", decision.reason


# (a command writing under /etc, the same command writing under src/)
WRITE_OPTIONS = [
    ("find . -fprint /etc/x", "find . -fprint src/x"),
    ("find . -fprint0 /etc/x", "find . -fprint0 src/x"),
    ("find . -fprintf /etc/x '%p'", "find . -fprintf src/x '%p'"),
    ("find . -name a -fls /etc/x", "find . -name a -fls src/x"),
    ("find /etc -delete", "find src -name '*.o' -delete"),
    ("git diff --output=/etc/x", "git diff --output=src/x"),
    ("git log --output /etc/x", "git log --output src/x"),
    ("git show --outp=/etc/x", "git show --outp=src/x"),
    ("git -C /etc log --output=x", "git -C src log --output=x"),
    ("git format-patch -o /etc HEAD~1", "git format-patch -o src/patches HEAD~1"),
    ("git archive -o /etc/x.tar HEAD", "git archive -o src/x.tar HEAD"),
    ("git config -f /etc/x a.b c", "git config -f src/x a.b c"),
    ("sort -o /etc/x a", "sort -o src/x a"),
    ("sort -o/etc/x a", "sort -osrc/x a"),
    ("sort --output=/etc/x a", "sort --output=src/x a"),
    ("sort --out /etc/x a", "sort --out src/x a"),
    ("tee -a /etc/x", "tee -a src/x"),
    ("pytest --junitxml=/etc/x", "pytest --junitxml=src/x"),
    ("pytest --junit-xml /etc/x", "pytest --junit-xml src/x"),
    ("pytest --basetemp=/etc/t", "pytest --basetemp=src/t"),
    ("pytest --cov-report=xml:/etc/c.xml", "pytest --cov-report=xml:src/c.xml"),
    ("pytest --cov-report=html:/etc/h", "pytest --cov-report=html:src/h"),
    ("pytest --result-log=/etc/x", "pytest --result-log=src/x"),
    ("pytest -o cache_dir=/etc/c", "pytest -o cache_dir=src/c"),
    ("python -m pytest --junitxml=/etc/x", "python -m pytest --junitxml=src/x"),
    ("dd if=a of=/etc/x", "dd if=a of=src/x"),
    ("cp a /etc/x", "cp a src/x"),
    ("cp -t /etc a", "cp -t src a"),
    ("mv a /etc/x", "mv src/a src/b"),
    ("install -m 644 a /etc/x", "install -m 644 a src/x"),
    ("ln -s a /etc/x", "ln -s a src/x"),
    ("sed -i s/a/b/ /etc/x", "sed -i s/a/b/ src/x"),
    ("sed -n 'w /etc/x' a", "sed -n 'w src/x' a"),
    ("sed 's/a/b/w /etc/x' a", "sed 's/a/b/w src/x' a"),
    ("touch /etc/x", "touch src/x"),
    ("mkdir -p /etc/x", "mkdir -p src/x"),
    ("tar -cf /etc/x.tar src", "tar -cf src/x.tar src/a"),
    ("tar cf /etc/x.tar src", "tar cf src/x.tar src/a"),
    ("tar -xf a.tar -C /etc", "tar -xf a.tar -C src"),
    ("rm -rf /etc/x", "rm -rf src/x"),
    ("chmod +x /etc/x", "chmod +x src/x"),
    ("go build -o /etc/x .", "go build -o src/x ."),
    ("go test -coverprofile=/etc/c ./...", "go test -coverprofile=src/c ./..."),
    ("cargo build --target-dir /etc/t", "cargo build --target-dir src/t"),
    ("npm test --cache /etc/c", "npm test --cache src/c"),
    ("curl -o /etc/x file:///a", "curl -o src/x file:///a"),
    ("wget -O /etc/x http://x.example/a", "wget -O src/x http://x.example/a"),
    ("unzip a.zip -d /etc", "unzip a.zip -d src"),
    ("patch -d /etc -p1 -i a.diff", "patch -d src -p1 -i a.diff"),
    ("gzip /etc/x", "gzip src/x"),
    ("truncate -s 0 /etc/x", "truncate -s 0 src/x"),
    ("rsync -a a /etc/x", "rsync -a a src/x"),
    ("script -q /etc/x", "script -q src/x"),
    ("echo x > /etc/x", "echo x > src/x"),
]


@pytest.mark.parametrize(("into_etc", "into_src"), WRITE_OPTIONS)
def test_write_options_are_judged_as_writes(
    writes_policy: Policy, into_etc: str, into_src: str
) -> None:
    """Each writing option is a Write: denied under /etc, allowed where an Edit allow is."""
    assert bash(writes_policy, into_etc) == ("deny", "no-etc")
    decision, rule = bash(writes_policy, into_src)
    assert decision == "allow", (into_src, rule)


@pytest.mark.parametrize(
    "command",
    [
        "find . -fprint out",
        "git diff --output=out",
        "sort -o out a",
        "pytest --junitxml=out.xml",
        "echo x > out",
        "touch out",
    ],
)
def test_a_write_no_edit_rule_allows_is_denied(writes_policy: Policy, command: str) -> None:
    """A write outside every Edit allow (here: the workspace root) denies the command."""
    assert bash(writes_policy, command) == ("deny", "default")


def test_tilde_forms_are_expanded(writes_policy: Policy) -> None:
    """`~` and `~warden` are the agent's home, `~root` is /root, an unknown user denies."""
    policy = writes_policy
    for home in ("~", "~warden"):
        decision = evaluate(policy, "Bash", {"command": f"echo x > {home}/x"})
        assert decision.decision == "deny"
        assert "/home/warden/x" in decision.reason
    assert "/root/x" in evaluate(policy, "Bash", {"command": "echo x > ~root/x"}).reason
    assert bash(policy, "echo x > ~bob/x") == ("deny", "no-etc")  # may be anywhere, even /etc
    assert bash(policy, "touch ~+/x")[0] == "deny"


def test_the_edit_tool_expands_tilde_users_too(writes_policy: Policy) -> None:
    """File tools read `~warden/…` as the home, and refuse a home they cannot name."""
    edit = {"old_string": "a", "new_string": "b"}
    home = evaluate(writes_policy, "Edit", {"file_path": "~warden/src/a", **edit})
    assert (home.decision, home.rule) == ("deny", "default")
    unknown = evaluate(writes_policy, "Edit", {"file_path": "~bob/a", **edit})
    assert (unknown.decision, unknown.rule) == ("deny", "error")


@pytest.mark.parametrize(
    "command",
    ["sort -o $OUT a", 'tee "$(pick)"', "echo x > $F", "cp a $DEST", "find . -fprint $F"],
)
def test_a_target_known_only_at_run_time_may_be_anywhere(
    writes_policy: Policy, command: str
) -> None:
    """A variable target matches every Write deny rule and no allow."""
    assert bash(writes_policy, command) == ("deny", "no-etc")


def test_a_variable_word_may_hide_a_write_option(writes_policy: Policy) -> None:
    """`git diff $ARGS` may be `git diff --output=/etc/x`; `cat $F` writes nothing."""
    assert bash(writes_policy, "git diff $ARGS") == ("deny", "no-etc")
    assert bash(writes_policy, "cat $F")[0] == "allow"


def test_harmless_targets_are_not_writes(writes_policy: Policy) -> None:
    """/dev/null and /dev/stdout are not files anyone reads back."""
    assert bash(writes_policy, "sort -o /dev/stdout a 2>/dev/null")[0] == "allow"
    assert bash(writes_policy, "find . -fprint /dev/null")[0] == "allow"


def test_cd_moves_later_relative_writes(writes_policy: Policy) -> None:
    """After `cd DIR` relative paths may start in DIR (or where they were): both are judged."""
    assert bash(writes_policy, "cd /etc && echo x > passwd") == ("deny", "no-etc")
    assert bash(writes_policy, "cd /tmp; cd ../etc; touch x") == ("deny", "no-etc")
    assert bash(writes_policy, "(cd /etc) ; touch x")[0] == "deny"
    assert bash(writes_policy, "cd $D && touch x") == ("deny", "no-etc")
    assert bash(writes_policy, "cd - && touch x") == ("deny", "no-etc")
    assert bash(writes_policy, "cd src && touch /workspace/src/x")[0] == "allow"


def test_cdpath_makes_a_relative_cd_unknown(writes_policy: Policy) -> None:
    """With CDPATH in play `cd x` may go anywhere."""
    assert bash(writes_policy, "CDPATH=/ cd etc; touch passwd") == ("deny", "no-etc")


def test_the_shells_working_directory_is_where_relative_paths_start(
    writes_policy: Policy,
) -> None:
    """`cwd` (the hook's) moves relative writes: `touch x` in /etc writes /etc/x."""
    assert bash(writes_policy, "touch x", cwd="/etc") == ("deny", "no-etc")
    assert bash(writes_policy, "touch x", cwd="/workspace/src")[0] == "allow"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("find . -exec cat {} +", ("allow", "progs")),
        ("find . -exec python3 -c 'x' \\;", ("deny", "default")),
        ("find . -execdir sh -c 'echo > /etc/x' \\;", ("deny", "no-etc")),
        ("find . -ok rm -rf /etc/x \\;", ("deny", "no-etc")),
        ("find .git -name config -exec git diff --output={} \\;", ("deny", "no-etc")),
        ("find src -exec touch {} +", ("deny", "no-etc")),
        ("tar -xf a.tar --to-command='sh -c evil' -C src", ("deny", "default")),
        ("tar -cf src/a.tar -I 'evil -9' src/b", ("deny", "default")),
        ("sort --compress-program=evil -o src/x a", ("deny", "default")),
        ("go test -toolexec evil ./...", ("deny", "default")),
        ("sed '1e evil' a", ("deny", "default")),
        ("sed 's/.*/x/e' a", ("deny", "default")),  # runs what the pattern space holds
    ],
)
def test_commands_started_by_options_need_their_own_allow(
    writes_policy: Policy, command: str, expected: tuple[str, str]
) -> None:
    """find -exec, tar --to-command, sort --compress-program… run commands judged on their own."""
    assert bash(writes_policy, command) == expected


@pytest.mark.parametrize(
    "command",
    [
        "timeout 5 sh -c 'echo x > /etc/x'",
        "nice -n 1 bash -c 'tee /etc/x'",
        "env X=1 sh -c 'touch /etc/x'",
        "timeout 5 tee /etc/x",
        "sudo -u root tee /etc/x",
        "xargs -a list touch /etc/x",
        "echo /etc/x | xargs touch",
        "echo /etc/x | xargs -I% git diff --output=%",
    ],
)
def test_writes_inside_wrappers_are_seen(writes_policy: Policy, command: str) -> None:
    """A wrapped shell's redirections and a wrapped program's write options are judged."""
    assert bash(writes_policy, command) == ("deny", "no-etc")


def test_a_symlink_target_is_judged(writes_policy: Policy, tmp_path: Path) -> None:
    """With the host copy known, a write through `src/out -> /etc/passwd` is a write of /etc."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "out").symlink_to("/etc/passwd")
    assert bash(writes_policy, "echo x > src/out", fs_root=tmp_path) == ("deny", "no-etc")
    assert bash(writes_policy, "touch src/out", fs_root=tmp_path) == ("deny", "no-etc")


def test_option_variables_count_as_hijacking(writes_policy: Policy) -> None:
    """PYTEST_ADDOPTS=--junitxml=… or TAR_OPTIONS add options: not the allowed command."""
    assert bash(writes_policy, "pytest -q")[0] == "allow"
    assert bash(writes_policy, "PYTEST_ADDOPTS=--junitxml=/etc/x pytest -q") == ("deny", "default")
    assert bash(writes_policy, "TAR_OPTIONS=-C/etc tar -xf a.tar -C src") == ("deny", "default")


def test_the_git_config_writes_are_recognised(writes_policy: Policy) -> None:
    """`git config k v` writes the repository's config; reads and lists write nothing."""
    policy = load_policy("ci")
    assert bash(policy, "git config core.fsmonitor x") == ("deny", "git-internals")
    assert bash(policy, "git config --unset core.pager") == ("deny", "git-internals")
    assert bash(writes_policy, "git config user.name")[0] == "allow"
    assert bash(writes_policy, "git config --get core.fsmonitor")[0] == "allow"
    assert bash(writes_policy, "git config --global a.b c") == ("deny", "default")
    assert bash(writes_policy, "git config --system a.b c") == ("deny", "no-etc")
