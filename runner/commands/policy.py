"""``warden policy check|test|explain|schema|list``: work with policy files offline.

Exit codes: 0 fine; 1 the policy has errors, a test failed or coverage is too low;
2 bad input (no such file, unreadable policy for test/explain, bad --input JSON).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from runner.errors import InvalidInputError, NotFoundError, WardenError
from runner.policy import (
    DEFAULT_WORKSPACE,
    Policy,
    evaluate,
    judge_egress,
    lint_policy,
    list_policies,
    load_policy,
    run_tests,
)
from runner.policy.schema import policy_schema_text

app = typer.Typer(help="Check, test and explain policy files.", no_args_is_help=True)

PolicyArg = Annotated[str, typer.Argument(help="A shipped policy name (e.g. ci) or a path.")]


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _load(ref: str, *, invalid_code: int = 2) -> Policy:
    try:
        return load_policy(ref)
    except NotFoundError as exc:
        _fail(exc.message, 2)
    except InvalidInputError as exc:
        _fail(exc.message, invalid_code)
    except WardenError as exc:  # pragma: no cover - no other error is raised on load
        _fail(exc.message, 2)


@app.command("check")
def check(
    policy: PolicyArg,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too.")] = False,
) -> None:
    """Validate a policy (schema, rules, extends) and lint it for hidden or duplicate rules."""
    loaded = _load(policy, invalid_code=1)
    findings = lint_policy(loaded)
    for finding in findings:
        typer.echo(f"{finding.severity}: {finding.rule}: {finding.kind}: {finding.message}")
    errors = [f for f in findings if f.severity == "error" or strict]
    rules = len(loaded.own_rule_ids)
    typer.echo(f"{loaded.name}: {rules} rules, {len(findings)} findings")
    if errors:
        raise typer.Exit(1)


@app.command("test")
def test(
    policy: PolicyArg,
    min_coverage: Annotated[
        float, typer.Option("--min-coverage", help="Fail under this rule coverage, in percent.")
    ] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Run the policy's embedded tests and report rule coverage."""
    report = run_tests(_load(policy))
    percent = round(report.coverage * 100, 1)
    if as_json:
        typer.echo(json.dumps(_report_json(report, percent)))
    else:
        for result in report.results:
            mark = "ok  " if result.passed else "FAIL"
            got = f"{result.decision.decision} ({result.decision.rule})"
            want = result.test.expect + (f" ({result.test.rule})" if result.test.rule else "")
            line = f"{mark} {result.test.name}: {got}"
            typer.echo(
                line if result.passed else f"{line}, expected {want}: {result.decision.reason}"
            )
        typer.echo(
            f"{len(report.results) - len(report.failures)}/{len(report.results)} passed; "
            f"rule coverage {percent}% ({len(report.covered)}/{len(report.rules)})"
        )
        if report.uncovered:
            typer.echo("uncovered rules: " + ", ".join(report.uncovered))
    if report.failures or percent < min_coverage:
        raise typer.Exit(1)


def _report_json(report: Any, percent: float) -> dict[str, Any]:
    return {
        "policy": report.policy,
        "passed": not report.failures,
        "coverage": percent,
        "uncovered": list(report.uncovered),
        "results": [
            {
                "name": r.test.name,
                "passed": r.passed,
                "expect": r.test.expect,
                "expect_rule": r.test.rule,
                **r.decision.to_json(),
            }
            for r in report.results
        ],
    }


@app.command("explain")
def explain(
    policy: PolicyArg,
    tool: Annotated[
        str | None, typer.Option("--tool", help="Tool name, e.g. Bash, Edit, WebFetch.")
    ] = None,
    tool_input: Annotated[
        str | None, typer.Option("--input", help='Tool input as JSON: {"command": "…"}')
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="A network question: the host to reach.")
    ] = None,
    port: Annotated[int, typer.Option("--port", help="With --host: the port.")] = 443,
    method: Annotated[
        str | None, typer.Option("--method", help="With --host: a plain-HTTP method.")
    ] = None,
    path: Annotated[str, typer.Option("--path", help="With --method: the request path.")] = "/",
    workspace: Annotated[
        str, typer.Option("--workspace", help="Workspace root.")
    ] = DEFAULT_WORKSPACE,
    fs_root: Annotated[
        Path | None,
        typer.Option("--fs-root", help="Host copy of the workspace (follows symlinks)."),
    ] = None,
    cwd: Annotated[
        str | None,
        typer.Option("--cwd", help="The shell's directory for Bash (default: the workspace)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Decide one tool call (--tool, --input) or one connection (--host, --port)."""
    if host is not None:
        if tool is not None or tool_input is not None:
            _fail("ask about a tool call (--tool, --input) or a connection (--host), not both")
        _explain_network(_load(policy), host, port, method, path, as_json=as_json)
        return
    if tool is None or tool_input is None:
        _fail("give --tool and --input (a tool call) or --host and --port (a connection)")
    try:
        parsed = json.loads(tool_input)
    except json.JSONDecodeError as exc:
        _fail(f"--input is not JSON: {exc}")
    if not isinstance(parsed, dict):
        _fail("--input must be a JSON object")
    if not workspace.startswith("/") or (cwd is not None and not cwd.startswith("/")):
        _fail("--workspace and --cwd must be absolute paths")
    decision = evaluate(_load(policy), tool, parsed, workspace=workspace, fs_root=fs_root, cwd=cwd)
    if as_json:
        typer.echo(json.dumps(decision.to_json()))
        return
    typer.echo(f"{decision.decision} by {decision.rule}: {decision.reason}")
    for entry in decision.trace:
        mark = "match" if entry.matched else "  -  "
        part = f"  [{entry.part}]" if entry.part else ""
        note = f"  ({entry.note})" if entry.note else ""
        typer.echo(f"  {mark} {entry.effect:5} {entry.rule}: {entry.pattern}{part}{note}")


def _explain_network(
    policy: Policy, host: str, port: int, method: str | None, path: str, *, as_json: bool
) -> None:
    if not 1 <= port <= 65535:
        _fail("--port must be between 1 and 65535")
    if method is not None and not path.startswith("/"):
        _fail("--path must start with /")
    decision = judge_egress(policy.network, host, port, method, path if method else None)
    note = (
        "the proxy also checks the address the name resolves to when it connects:"
        " loopback, private, link-local and the controller's own addresses need a rule that"
        " names them (addresses), and metadata addresses are always refused"
    )
    if as_json:
        body = {
            "decision": "allow" if decision.allowed else "deny",
            "rule": decision.rule,
            "reason": decision.reason,
            "named_addresses": [str(n) for n in decision.named],
            "inject": decision.inject.header if decision.inject else None,
            "note": note,
        }
        typer.echo(json.dumps(body))
        return
    verdict = "allow" if decision.allowed else "deny"
    typer.echo(f"{verdict} by {decision.rule}: {decision.reason}")
    if decision.inject is not None:
        typer.echo(f"  injects {decision.inject.header} from secret {decision.inject.secret}")
    if decision.allowed:
        typer.echo(f"  note: {note}")


@app.command("schema")
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")] = None,
) -> None:
    """Print (or write) the JSON schema of policy files."""
    text = policy_schema_text()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@app.command("list")
def list_command() -> None:
    """The shipped policy names."""
    for name in list_policies():
        typer.echo(name)
