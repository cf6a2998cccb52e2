"""A small broken project and a CI policy that lets its tests run (for CI-run tests)."""

from __future__ import annotations

import shutil
from pathlib import Path

from runner.policy import shipped_policies_dir


def ci_with_tests() -> str:
    """ci.yaml, plus the project's shell test script (the image has no python or make).

    A copy, not ``extends: ci``: an extending policy may only tighten its base.
    """
    text = (shipped_policies_dir() / "ci.yaml").read_text()
    text = text.replace("\nname: ci\n", "\nname: ci-tests\n", 1)
    return text.replace("    - Task\n", "    - Task\n    - Bash(sh run_tests.sh)\n", 1)


RUN_TESTS = """\
#!/bin/sh
# The project's test suite: add() must add.
if grep -q "return a + b" calc.py; then echo "1 passed"; else echo "1 failed"; exit 1; fi
"""


def ci_policies_dir(root: Path) -> Path:
    """The shipped policies plus ``ci-tests``, in ``root/policies``."""
    folder = root / "policies"
    shutil.copytree(shipped_policies_dir(), folder)
    (folder / "ci-tests.yaml").write_text(ci_with_tests())
    return folder


def calc_project(root: Path) -> Path:
    """A small project whose add() is wrong and whose test script says so."""
    path = root / "project"
    path.mkdir()
    (path / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (path / "run_tests.sh").write_text(RUN_TESTS)
    return path


def python_project(root: Path) -> Path:
    """A small Python project with a failing pytest test (add() subtracts)."""
    path = root / "pyproject"
    path.mkdir()
    (path / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (path / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    )
    return path
