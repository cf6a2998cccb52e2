"""Which reader knows a program's writes: by its name, and ``python -m pytest`` as pytest."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable

from runner.policy import effects_archives as archives
from runner.policy import effects_files as files
from runner.policy import effects_tools as tools
from runner.policy.effects import NOTHING, Argv, Effects
from runner.policy.shell import Word

Reader = Callable[[Argv], Effects]

READERS: dict[str, Reader] = {
    **dict.fromkeys(("cp", "mv", "install", "ln"), files.copy_like),
    **dict.fromkeys(("rm", "rmdir", "unlink", "shred"), files.remove_like),
    **dict.fromkeys(files.OPERAND_WRITERS, files.operand_writer),
    **dict.fromkeys(("chmod", "chown", "chgrp"), files.mode_changer),
    **dict.fromkeys(
        ("gzip", "gunzip", "bzip2", "bunzip2", "xz", "unxz", "lzma", "zstd", "unzstd"),
        files.compressor,
    ),
    **dict.fromkeys(("cd", "pushd", "popd"), files.change_dir),
    "sort": files.sort,
    "dd": files.dd,
    "sed": files.sed_command,
    "find": tools.find,
    "git": tools.git,
    "pytest": tools.pytest,
    "py.test": tools.pytest,
    "go": tools.go,
    "cargo": tools.cargo,
    "npm": tools.npm,
    "tar": archives.tar,
    "unzip": archives.unzip,
    "patch": archives.patch,
    "curl": archives.curl,
    "wget": archives.wget,
    "rsync": archives.rsync,
    "script": archives.script,
    "rg": archives.rg,
}
_PYTHON = re.compile(r"python(\d+(\.\d+)?)?")
_PYTHON_VALUED = {"-W", "-X", "--check-hash-based-pycs"}


def effects_of(argv: Argv) -> Effects:
    """What ``argv`` writes and starts, as far as its program's reader knows (else nothing)."""
    if not argv or argv[0].dynamic:
        return NOTHING
    name = posixpath.basename(argv[0].text)
    if _PYTHON.fullmatch(name):
        module = _python_module(argv)
        if module is None:
            return NOTHING
        name, argv = module[0].text, module
    reader = READERS.get(name)
    return reader(argv) if reader is not None else NOTHING


def _python_module(argv: Argv) -> Argv | None:
    """``python -X dev -m pytest -q`` → ``pytest -q`` (None: not ``-m``, or a script)."""
    index = 1
    while index < len(argv):
        text = argv[index].text
        if text == "-m" and index + 1 < len(argv):
            return argv[index + 1 :]
        if text.startswith("-m") and len(text) > 2:
            return (Word(text[2:]), *argv[index + 1 :])
        if text in _PYTHON_VALUED:
            index += 2
        elif text.startswith("-") and text != "-" and not text.startswith("-c"):
            index += 1
        else:
            return None
    return None
