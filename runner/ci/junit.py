"""``junit.xml``: one test case per policy check and one for the run, for CI test reports."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from runner.ci.report import RunReport


def render_junit(report: RunReport) -> str:
    """JUnit XML: suite ``warden.policy`` (each tool decision) and ``warden.run`` (the run)."""
    root = ET.Element("testsuites", name="warden")
    root.append(_policy_suite(report))
    root.append(_run_suite(report))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _policy_suite(report: RunReport) -> ET.Element:
    denials = report.denials
    suite = ET.Element(
        "testsuite",
        name=f"warden.policy.{report.policy}",
        tests=str(len(report.checks)),
        failures=str(len(denials)),
        errors="0",
        skipped="0",
    )
    for number, check in enumerate(report.checks, 1):
        target = " ".join(check.target.split())[:200]
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"warden.policy.{report.policy}",
            name=f"{number:03d} {check.tool}: {target}" if target else f"{number:03d} {check.tool}",
        )
        if check.is_denied:
            failure = ET.SubElement(
                case, "failure", type="policy.deny", message=f"denied by rule {check.rule}"
            )
            failure.text = f"{check.tool} {check.target}\nrule: {check.rule}\n{check.reason}"
        else:
            out = ET.SubElement(case, "system-out")
            out.text = f"{check.decision} by rule {check.rule}: {check.reason}"
    return suite


def _run_suite(report: RunReport) -> ET.Element:
    outcome = report.outcome
    suite = ET.Element(
        "testsuite",
        name="warden.run",
        tests="1",
        failures="0" if outcome.ok else "1",
        errors="0",
        skipped="0",
        time=f"{report.seconds:.3f}",
        timestamp=report.started_at.isoformat(timespec="seconds"),
    )
    case = ET.SubElement(
        suite, "testcase", classname="warden.run", name="run", time=f"{report.seconds:.3f}"
    )
    if not outcome.ok:
        failure = ET.SubElement(
            case, "failure", type=f"exit.{int(outcome.code)}", message=outcome.reason
        )
        failure.text = f"exit code {int(outcome.code)} ({outcome.code.name.lower()})"
    out = ET.SubElement(case, "system-out")
    out.text = f"session {report.session_id}\n{outcome.reason}"
    return suite
