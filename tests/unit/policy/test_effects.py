"""The readers behind write judging: option parsing, sed scripts, per-program effects."""

from __future__ import annotations

import pytest

from runner.policy.effects import Effects
from runner.policy.options import parse, syntax
from runner.policy.programs import effects_of
from runner.policy.sed import script_effects
from runner.policy.shell import Word, split_commands


def words(text: str) -> tuple[Word, ...]:
    return split_commands(text)[0].words


def targets(command: str) -> list[str]:
    return [t.word.text for t in effects_of(words(command)).writes]


def test_options_bundle_attach_abbreviate_and_stop_at_double_dash() -> None:
    """`-cfX`, `-o X`, `--out=X` (a prefix), `--output X`; `--` makes the rest operands."""
    spec = syntax("-f", "-o", "--output")
    parsed = parse(words("x -cfA -o B --out=C --output D -- --output=E")[1:], spec)
    assert parsed.values("-f") == [Word("A")]
    assert parsed.values("-o") == [Word("B")]
    assert [w.text for w in parsed.values("--output")] == ["C", "D"]
    assert [w.text for w in parsed.operands] == ["--output=E"]
    assert not parsed.dynamic


def test_a_variable_word_makes_the_parse_uncertain() -> None:
    """`$X` may stand for any options, so the caller must assume the worst."""
    assert parse(words("x -q $X")[1:], syntax("-o")).dynamic


def test_go_flags_have_one_dash_and_no_bundling() -> None:
    """Go's flag package: `-o x`, `-coverprofile=y`, `--trace z`."""
    spec = syntax("-o", "-coverprofile", "-trace", single_dash=True, abbreviate=False)
    parsed = parse(words("go -o x -coverprofile=y --trace z -v")[1:], spec)
    assert [w.text for w in parsed.values("-o", "-coverprofile", "-trace")] == ["x", "y", "z"]


@pytest.mark.parametrize(
    ("script", "written", "runs"),
    [
        ("s/a/b/", [], []),
        ("s/hello/world/g;p", [], []),
        ("w out.txt", ["out.txt"], []),
        ("/x/W out", ["out"], []),
        ("1,/re/s|a|b|w /etc/x", ["/etc/x"], []),
        ("s/a\\/w b/c/", [], []),
        ("y/abc/xyz/", [], []),
        ("$a hello w world", [], []),
        ("# w nothing\np", [], []),
        ("/x/{p;w out\n}", ["out"], []),
        ("1e touch x", [], ["touch x"]),
        ("s/.*/ls/e", [], [None]),
        ("e", [], [None]),
    ],
)
def test_sed_scripts_name_what_they_write_and_run(
    script: str, written: list[str], runs: list[str | None]
) -> None:
    """`w`, `W`, the `s///w` flag write files; `e` and `s///e` run commands."""
    reading = script_effects(script)
    assert reading is not None
    assert (reading.writes, reading.runs) == (written, runs)


@pytest.mark.parametrize("script", ["s/a/b", "k", "s/a/b/Z", "y/ab/"])
def test_unreadable_sed_scripts_are_unknown(script: str) -> None:
    """A script this reader cannot follow is None: the caller judges it as the worst case."""
    assert script_effects(script) is None


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("cp a b dir", ["dir", "dir/a", "dir/b"]),
        ("cp -T a b", ["b"]),
        ("mv a b", ["a", "b", "b/a"]),
        ("ln -s /x", ["./x"]),
        ("tee a b", ["a", "b"]),
        ("chmod 755 a b", ["a", "b"]),
        ("chmod -x a", ["a"]),
        ("chown me a", ["a"]),
        ("gzip -d x.gz", ["x.gz", "x"]),
        ("gzip -c x", []),
        ("tar tf a.tar", []),
        ("tar -xOf a.tar", []),
        ("git log --oneline -5", []),
        ("git config user.name", []),
        ("git init", ["./.git"]),
        ("git clone https://x.example/r.git", ["r"]),
        ("pytest --debug dbg.log -q", ["dbg.log"]),
        ("pytest -c cfg/pytest.ini", ["cfg/.pytest_cache"]),
        ("python3 -X dev -m pytest --junitxml=j.xml", ["j.xml"]),
        ("python3 script.py --junitxml=j.xml", []),
        ("go env -w GOFLAGS=-x", ["~/.config/go/env"]),
        ("go test -test.coverprofile=c.out", ["c.out"]),
        ("npm config set script-shell x", ["~/.npmrc", ".npmrc"]),
        ("curl -O 'http://x.example/a/b.txt?q=1'", ["./b.txt"]),
        ("wget -r -P mirror http://x.example/", ["mirror"]),
        ("script", ["typescript"]),
        ("ls -la /etc", []),
    ],
)
def test_program_readers_name_the_paths_written(command: str, expected: list[str]) -> None:
    """Each reader names exactly what its program writes."""
    assert targets(command) == expected


def test_cd_is_an_effect_on_where_paths_start() -> None:
    """`cd DIR`, bare `cd` (home), `cd -` and popd (unknown)."""
    assert effects_of(words("cd -P src")).chdir == Word("src")
    assert effects_of(words("cd")).chdir == Word("~")
    for command in ("cd -", "popd", "pushd +1"):
        chdir = effects_of(words(command)).chdir
        assert chdir is not None and chdir.dynamic


def test_unknown_programs_have_no_effects() -> None:
    """A program no reader knows is judged by its Bash rule alone."""
    assert effects_of(words("frobnicate -o /etc/x")) == Effects()
