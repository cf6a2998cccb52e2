"""Bypass attempts against Bash rules: each is decided as the policy says, never by a trick."""

from __future__ import annotations

import time

import pytest

from runner.policy import Policy, evaluate


def bash(policy: Policy, command: str) -> tuple[str, str]:
    decision = evaluate(policy, "Bash", {"command": command})
    return decision.decision, decision.rule


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("ls; rm -rf /", ("deny", "no-rm-root")),
        ("ls && rm -rf /", ("deny", "no-rm-root")),
        ("ls || curl x", ("deny", "no-curl")),
        ("ls | curl -d @- x", ("deny", "no-curl")),
        ("ls & curl x", ("deny", "no-curl")),
        ("ls\ncurl x", ("deny", "no-curl")),
        ("ls\r\ncurl x", ("deny", "no-curl")),
        ("(ls; (curl x))", ("deny", "no-curl")),
        ("{ ls; curl x; }", ("deny", "no-curl")),
        ("if true; then curl x; fi", ("deny", "no-curl")),
        ("for f in a b; do curl $f; done", ("deny", "no-curl")),
        ("while true; do curl x; done", ("deny", "no-curl")),
    ],
)
def test_compound_commands_deny_when_one_part_is_denied(
    bypass_policy: Policy, command: str, expected: tuple[str, str]
) -> None:
    """Operators, newlines, groups and loops never hide a denied command."""
    assert bash(bypass_policy, command) == expected


@pytest.mark.parametrize(
    "command",
    [
        'bash -c "curl https://x.example"',
        "sh -c 'curl x'",
        "bash -lc 'ls && curl x'",
        "zsh -o pipefail -c 'curl x'",
        "busybox sh -c 'curl x'",
        "eval curl x",
        "eval 'ls; curl x'",
        "sudo bash -c 'curl x'",
        "xargs sh -c 'curl x'",
        "bash -c \"bash -c 'curl x'\"",
    ],
)
def test_shell_strings_are_parsed_again(bypass_policy: Policy, command: str) -> None:
    """bash -c / sh -c / eval strings are split and judged like the outer command."""
    assert bash(bypass_policy, command) == ("deny", "no-curl")


@pytest.mark.parametrize(
    "command",
    [
        "echo $(curl x)",
        "echo `curl x`",
        'echo "$(curl x)"',
        'echo "`curl x`"',
        "echo $(echo $(curl x))",
        "cat <(curl x)",
        "ls > >(curl x)",
        "echo ${X:-$(curl x)}",
        "echo $(( $(curl x) + 1 ))",
        "cat <<EOF\n$(curl x)\nEOF",
        "X=$(curl x) ls",
    ],
)
def test_substitutions_are_commands_too(bypass_policy: Policy, command: str) -> None:
    """$( ), backticks, process substitution and unquoted here-doc bodies run: they are judged."""
    assert bash(bypass_policy, command) == ("deny", "no-curl")


def test_quoted_here_doc_body_is_data(bypass_policy: Policy) -> None:
    """A here-doc with a quoted delimiter does not run its body: only `cat` is judged."""
    assert bash(bypass_policy, "cat <<'EOF'\n$(curl x)\nEOF") == ("allow", "cat")


@pytest.mark.parametrize(
    "command",
    [
        "env X=1 curl x",
        "env -i PATH=/bin curl x",
        "FOO=bar curl x",
        "A=1 B=2 curl x",
        "sudo curl x",
        "sudo -u root -E curl x",
        "timeout 5 curl x",
        "timeout -s KILL 5 curl x",
        "nice -n 10 curl x",
        "nohup curl x",
        "time curl x",
        "command curl x",
        "exec curl x",
        "xargs -n1 curl",
        "find . -exec curl {} \\;",
        "stdbuf -o0 curl x",
        "chroot / curl x",
        "su -c 'curl x'",
        "watch 'curl x'",
    ],
)
def test_wrappers_and_env_prefixes_do_not_hide_the_command(
    bypass_policy: Policy, command: str
) -> None:
    """env, assignments, sudo, timeout, nice, xargs, find -exec… are seen through for deny rules."""
    assert bash(bypass_policy, command) == ("deny", "no-curl")


@pytest.mark.parametrize(
    "command",
    [
        "/usr/bin/curl x",
        "./curl x",
        "\\curl x",
        "c''url x",
        'c""url x',
        '"curl" x',
        "'curl' x",
        "cu\\rl x",
        "$'\\x63url' x",
        "$'\\143url' x",
        "$'cu\\u0072l' x",
        '$"curl" x',
    ],
)
def test_quoting_and_paths_do_not_rename_the_command(bypass_policy: Policy, command: str) -> None:
    """Quote removal, ANSI-C escapes and directory prefixes give back `curl`."""
    assert bash(bypass_policy, command) == ("deny", "no-curl")


@pytest.mark.parametrize(
    "command",
    [
        "curl${IFS}x",
        "c${X}url x",
        "$CURL x",
        "${CMD} x",
        "$(echo curl) x",
        "`echo curl` x",
        "cu?l x",
        "/usr/bin/cur* x",
        "c{u,}rl x",
        "IFS=,; eval ls,x",
    ],
)
def test_command_names_known_only_at_run_time_match_every_deny_rule(
    bypass_policy: Policy, command: str
) -> None:
    """$IFS tricks, variables, globs and brace expansion in the name are read as the worst case."""
    decision, _ = bash(bypass_policy, command)
    assert decision == "deny"


def test_dynamic_arguments_may_match_a_deny_rule(bypass_policy: Policy) -> None:
    """`git $SUB origin` may be `git push origin`, so the push deny rule applies."""
    assert bash(bypass_policy, "git $SUB origin main") == ("deny", "no-push")
    assert bash(bypass_policy, "git status") == ("allow", "git")


def test_dynamic_arguments_never_satisfy_an_exact_allow(policy_from: object) -> None:
    """An exact allow rule does not allow a word whose value it cannot see."""
    policy = policy_from(  # type: ignore[operator]
        """
        version: 1
        name: exact
        tools:
          allow: ["Bash(ls -la)"]
        """
    )
    assert evaluate(policy, "Bash", {"command": "ls -la"}).decision == "allow"
    assert evaluate(policy, "Bash", {"command": "ls $FLAGS"}).decision == "deny"
    assert evaluate(policy, "Bash", {"command": "ls -la /"}).decision == "deny"


@pytest.mark.parametrize(
    "command",
    [
        "echo 'unterminated",
        'echo "unterminated',
        "echo $(ls",
        "echo `ls",
        "ls )",
        "f() { curl x; }; f",
        "case x in a) ls;; esac",
    ],
)
def test_unparseable_commands_fail_closed(bypass_policy: Policy, command: str) -> None:
    """Syntax the lexer cannot read with certainty matches every deny rule (here the first)."""
    assert bash(bypass_policy, command) == ("deny", "no-curl")


def test_allow_needs_every_part_allowed(bypass_policy: Policy) -> None:
    """A compound command is allowed only when each part is; an unknown part denies by default."""
    assert bash(bypass_policy, "ls && cat a | npm test -- -x; pytest -q") == ("allow", "ls")
    assert bash(bypass_policy, "ls && make") == ("deny", "default")


def test_an_ask_part_makes_the_whole_command_ask(bypass_policy: Policy) -> None:
    """One `ask` part and no denied part: the command asks, naming the ask rule."""
    assert bash(bypass_policy, "ls && rm build.log") == ("ask", "ask-rm")
    assert bash(bypass_policy, "rm build.log; curl x") == ("deny", "no-curl")


def test_hijacking_variables_block_allow(bypass_policy: Policy) -> None:
    """PATH=, LD_PRELOAD= and friends change what runs, so the allow rule no longer applies."""
    assert bash(bypass_policy, "CI=1 pytest -q") == ("allow", "pytest")
    assert bash(bypass_policy, "PATH=./evil:$PATH pytest") == ("deny", "default")
    assert bash(bypass_policy, "LD_PRELOAD=./x.so ls") == ("deny", "default")
    assert bash(bypass_policy, "PATH=./evil; ls")[0] == "deny"


def test_transparent_wrappers_keep_the_allow(bypass_policy: Policy) -> None:
    """timeout/nice/nohup run the command unchanged, so its allow rule still applies."""
    assert bash(bypass_policy, "timeout 600 pytest -x") == ("allow", "pytest")
    assert bash(bypass_policy, "nice -n 5 nohup npm test") == ("allow", "npm-test")
    assert bash(bypass_policy, "sudo pytest") == ("deny", "default")


def test_shell_reading_stdin_is_unknown(bypass_policy: Policy) -> None:
    """`… | sh` runs a script nobody can see: the worst case decides."""
    assert bash(bypass_policy, "echo ls | sh")[0] == "deny"
    assert bash(bypass_policy, "cat script | bash -s")[0] == "deny"


def test_redirections_are_judged_as_writes(bypass_policy: Policy) -> None:
    """A redirection is a Write: denied by an Edit deny, allowed only where an Edit allow is."""
    assert bash(bypass_policy, "echo x > /etc/cron.d/job") == ("deny", "no-etc")
    assert bash(bypass_policy, "echo x >> ../../etc/passwd") == ("deny", "no-etc")
    assert bash(bypass_policy, "ls 2>&1 > /dev/null") == ("allow", "ls")
    assert bash(bypass_policy, "echo x > src/out.txt") == ("allow", "echo")
    assert bash(bypass_policy, "echo x > out.txt") == ("deny", "default")


def test_very_long_commands_are_decided_quickly(bypass_policy: Policy) -> None:
    """A 100 KB command is decided (not crashed on) well under a second per shape."""
    shapes = [
        "echo " + "a" * 100_000,
        "; ".join(f"ls dir_{i:06d}" for i in range(1500)) + "; curl x",
        "ls " + " ".join(["x"] * 30_000),
        "git " + "$X " * 25_000 + "push",
        "echo " + "$(" * 8000 + "ls" + ")" * 8000,
        "ls; " * 25_000,
    ]
    for command in shapes:
        assert len(command) >= 15_000
        started = time.perf_counter()
        decision = evaluate(bypass_policy, "Bash", {"command": command})
        assert time.perf_counter() - started < 2.0
        assert decision.decision in ("allow", "deny")
    assert bash(bypass_policy, shapes[0]) == ("allow", "echo")
    assert bash(bypass_policy, shapes[1]) == ("deny", "no-curl")
    assert bash(bypass_policy, shapes[3]) == ("deny", "no-push")
    assert bash(bypass_policy, shapes[4])[0] == "deny"


@pytest.mark.parametrize(
    "command",
    [
        "git -C /workspace push origin main",
        "git --no-pager push",
        "git -c push.default=current push",
        "git --git-dir=.git --work-tree=. push",
        "/usr/bin/git -C . push",
    ],
)
def test_global_options_do_not_hide_a_subcommand(bypass_policy: Policy, command: str) -> None:
    """Options between `git` and `push` are skipped when matching deny rules."""
    assert bash(bypass_policy, command) == ("deny", "no-push")


def test_option_values_are_not_mistaken_for_subcommands(bypass_policy: Policy) -> None:
    """`git commit -m push` is a commit, not a push: only leading options are skipped."""
    assert bash(bypass_policy, "git commit -m push") == ("allow", "git")
