"""The shell lexer: where commands start, quote removal, and what is only known at run time."""

from __future__ import annotations

import pytest

from runner.policy.bash import analyse
from runner.policy.shell import ShellSyntaxError, Word, split_commands


def words(source: str) -> list[list[str]]:
    return [[w.text for w in cmd.words] for cmd in split_commands(source)]


def test_operators_split_commands() -> None:
    """;, &&, ||, |, |&, &, newlines and parentheses separate simple commands."""
    assert words("a 1; b && c || d | e |& f & g\nh; (i) {") == [
        ["a", "1"], ["b"], ["c"], ["d"], ["e"], ["f"], ["g"], ["h"], ["i"], ["{"],
    ]  # fmt: skip


def test_quote_removal() -> None:
    """Single, double, ANSI-C and backslash quoting are removed the way bash removes them."""
    assert words("""e'x'"y"\\z $'a\\tb' "q \\" r" 'it''s'""") == [["exyz", "a\tb", 'q " r', "its"]]


def test_redirections_are_not_arguments() -> None:
    """Redirections (with fd numbers) are taken out of argv and kept with their targets."""
    (cmd,) = split_commands("make 2>&1 >out.log <in &>>all")
    assert [w.text for w in cmd.words] == ["make"]
    assert [(r.op, r.target.text) for r in cmd.redirects] == [
        (">&", "1"),
        (">", "out.log"),
        ("<", "in"),
        ("&>>", "all"),
    ]


def test_expansions_mark_words_dynamic() -> None:
    """$VAR, ${…}, $(…), backticks, bare globs and braces are run-time values; quoted are not."""
    *_, cmd = split_commands("x $A ${B} $(c) `d` *.py '*.py' {a,b} \"$E\"")
    assert [w.dynamic for w in cmd.words] == [
        False,
        True,
        True,
        True,
        True,
        True,
        False,
        True,
        True,
    ]


def test_substitutions_come_before_their_command() -> None:
    """The command inside $( ) is listed before the command that uses its output."""
    assert words("echo $(date) `id`") == [["date"], ["id"], ["echo", "$(date)", "`id`"]]


def test_here_doc_bodies() -> None:
    """Unquoted here-doc bodies are scanned for substitutions; the next command still counts."""
    assert words("cat <<EOF\nhello $(id)\nEOF\nls") == [["cat"], ["id"], ["ls"]]
    assert words("cat <<-'EOF'\n\t$(id)\n\tEOF\nls") == [["cat"], ["ls"]]


@pytest.mark.parametrize("source", ["'a", '"a', "$(a", "`a", "a)", "f() { a; }", "echo >", "a\\"])
def test_unreadable_syntax_raises(source: str) -> None:
    """Anything the lexer cannot read with certainty is a ShellSyntaxError."""
    with pytest.raises(ShellSyntaxError):
        split_commands(source)


def test_analyse_keeps_literal_and_readings_apart() -> None:
    """A wrapper keeps its literal argv for allow rules and every suffix for deny rules."""
    (part,) = analyse("sudo -u me /usr/bin/curl x")
    assert part.allow_argv is not None and part.allow_argv[0] == Word("sudo")
    readings = {tuple(w.text for w in argv) for argv in part.deny_argvs}
    assert ("curl", "x") in readings and ("/usr/bin/curl", "x") in readings


def test_analyse_comments_and_empty() -> None:
    """Comments and blank input produce no parts."""
    assert analyse("# just a comment\n\n") == ()
