"""The image's small C libraries (``images/sandbox/*.c``), compiled into the build context.

There is no compiler in the sandbox image, and none should be: each ``NAME.c`` is built
on the host as ``NAME.so`` and copied in by the Dockerfile. Today that is only
``statx-compat.c``, which makes ``ls -l`` and ``stat`` work under gVisor's 2022-12 build.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from runner.errors import SandboxError

_FLAGS = ("-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror")


def build_shims(image_dir: Path, context: Path) -> list[Path]:
    """Compile every ``*.c`` of ``image_dir`` to ``context/<name>.so`` (mode 0644).

    Raises:
        SandboxError: no C compiler, or a library does not compile.
    """
    sources = sorted(image_dir.glob("*.c"))
    if not sources:
        return []
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise SandboxError(
            "building the sandbox image needs a C compiler for "
            f"{', '.join(s.name for s in sources)}: install gcc and libc6-dev "
            "(scripts/setup does)"
        )
    built = []
    for source in sources:
        target = context / f"{source.stem}.so"
        argv = [compiler, *_FLAGS, "-o", str(target), str(source), "-ldl"]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise SandboxError(
                f"cannot compile {source.name} for the sandbox image",
                details={"stderr": proc.stderr[-2000:]},
            )
        target.chmod(0o644)
        built.append(target)
    return built
