"""`warden policy …` through Typer's CliRunner: outputs and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from runner.commands.policy import app
from runner.policy.schema import policy_schema_text

runner = CliRunner()


def test_explain_json_is_one_object() -> None:
    """--json prints exactly one object with decision, rule and trace."""
    result = runner.invoke(
        app, ["explain", "ci", "--tool", "Bash", "--input", '{"command": "ls; curl x"}', "--json"]
    )
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert payload["decision"] == "deny" and payload["rule"] == "net-curl"
    assert isinstance(payload["trace"], list) and payload["trace"]


def test_explain_text_shows_decision_and_trace() -> None:
    """Without --json: the decision line, then one line per rule considered."""
    result = runner.invoke(
        app, ["explain", "ci", "--tool", "Bash", "--input", '{"command": "pytest -q"}']
    )
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("allow by tools.allow[2]")
    assert any("match allow tools.allow[2]: Bash(pytest:*)" in line for line in lines[1:])


def test_explain_workspace_option(tmp_path: Path) -> None:
    """--workspace moves the root that relative Edit rules are judged against."""
    args = ["explain", "ci", "--tool", "Edit", "--input", '{"file_path": "/repo/a.py"}', "--json"]
    assert json.loads(runner.invoke(app, args).stdout)["decision"] == "deny"
    moved = json.loads(runner.invoke(app, [*args, "--workspace", "/repo"]).stdout)
    assert moved["decision"] == "allow"


def test_explain_cwd_option_and_write_notes() -> None:
    """--cwd is the shell's directory: `touch config` from .git is a write the trace names."""
    args = ["explain", "ci", "--tool", "Bash", "--input", '{"command": "touch config"}']
    result = runner.invoke(app, [*args, "--cwd", "/workspace/.git"])
    assert result.exit_code == 0
    assert result.stdout.startswith("deny by git-internals")
    assert "(touch writes /workspace/.git/config)" in result.stdout


def test_explain_bad_input_exits_2_without_traceback() -> None:
    """Bad JSON, a non-object or a missing policy exit 2 with a one-line error."""
    for args in (
        ["explain", "ci", "--tool", "Bash", "--input", "{nope"],
        ["explain", "ci", "--tool", "Bash", "--input", "[1]"],
        ["explain", "nope", "--tool", "Bash", "--input", "{}"],
        ["explain", "ci", "--tool", "Bash", "--input", "{}", "--workspace", "rel"],
        ["explain", "ci", "--tool", "Bash", "--input", "{}", "--cwd", "rel"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, args
        assert "Traceback" not in result.output
        assert result.stderr.startswith("error: ")


def test_test_command_reports_coverage_and_passes_shipped() -> None:
    """`test ci --min-coverage 100` passes and prints the coverage line."""
    result = runner.invoke(app, ["test", "ci", "--min-coverage", "100"])
    assert result.exit_code == 0
    assert "rule coverage 100.0% (55/55)" in result.stdout


def test_test_command_fails_on_low_coverage_and_failures(tmp_path: Path) -> None:
    """Coverage under the minimum or a failing test exits 1; --json gives one object."""
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\nname: p\ntools: {allow: [Read, 'Bash(ls)']}\n"
        "tests: [{tool: Read, input: {file_path: a}, expect: allow}]\n"
    )
    low = runner.invoke(app, ["test", str(path), "--min-coverage", "100"])
    assert low.exit_code == 1
    assert "uncovered rules: tools.allow[1]" in low.stdout
    assert runner.invoke(app, ["test", str(path)]).exit_code == 0
    path.write_text(
        "version: 1\nname: p\ntools: {allow: [Read]}\n"
        "tests: [{tool: Bash, input: {command: ls}, expect: allow}]\n"
    )
    failed = runner.invoke(app, ["test", str(path), "--json"])
    assert failed.exit_code == 1
    assert json.loads(failed.stdout)["results"][0]["rule"] == "default"


def test_check_reports_lint_errors_and_invalid_files(tmp_path: Path) -> None:
    """check exits 0 when clean, 1 for lint errors or an invalid file, 2 for a missing one."""
    assert runner.invoke(app, ["check", "strict"]).exit_code == 0
    hidden = tmp_path / "hidden.yaml"
    hidden.write_text(
        "version: 1\nname: h\ntools: {deny: ['Bash(git:*)'], allow: ['Bash(git status)']}\n"
    )
    result = runner.invoke(app, ["check", str(hidden)])
    assert result.exit_code == 1
    assert "error: tools.allow[0]: unreachable" in result.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: b\ntools: {alow: []}\n")
    invalid = runner.invoke(app, ["check", str(bad)])
    assert invalid.exit_code == 1 and "unknown key 'tools.alow'" in invalid.stderr
    assert runner.invoke(app, ["check", str(tmp_path / "none.yaml")]).exit_code == 2


def test_schema_command_prints_the_schema(tmp_path: Path) -> None:
    """`schema` prints the generated schema; -o writes it to a file."""
    assert runner.invoke(app, ["schema"]).stdout == policy_schema_text()
    out = tmp_path / "schema.json"
    assert runner.invoke(app, ["schema", "-o", str(out)]).exit_code == 0
    assert out.read_text() == policy_schema_text()


def test_cli_group_is_registered() -> None:
    """`warden policy list` works through the root CLI."""
    from runner.cli import app as root

    result = runner.invoke(root, ["policy", "list"])
    assert result.exit_code == 0
    assert result.stdout.split() == ["ci", "default", "permissive-dev", "strict"]
