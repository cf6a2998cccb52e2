"""Workspace copy speed: the bounded, descriptor-walking copy against shutil.copytree.

    python bench/bench_workspace_copy.py [--files 5000] [--size 65536] [--dir /tmp]

Prints files/s and MiB/s for both, on the same tree (page cache warm), and the load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from runner.workspace.copier import copy_tree
from runner.workspace.fstree import opened_dir
from runner.workspace.limits import UNLIMITED, Tally


def _tree(root: Path, files: int, size: int) -> None:
    data = os.urandom(size)
    for i in range(files):
        sub = root / f"d{i // 100:03}"
        sub.mkdir(exist_ok=True)
        (sub / f"f{i:05}").write_bytes(data)


def _bounded(src: Path, dst: Path) -> None:
    dst.mkdir()
    with opened_dir(src.resolve()) as s, opened_dir(dst.resolve()) as d:
        copy_tree(s, d, tally=Tally(UNLIMITED), owner=None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--size", type=int, default=64 * 1024)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        _tree(src, args.files, args.size)
        total = args.files * args.size / 1024**2
        for name, copy in (
            ("bounded copy_tree", _bounded),
            ("shutil.copytree", lambda s, d: shutil.copytree(s, d, symlinks=True)),
        ):
            dst = Path(tmp) / name.split()[0]
            started = time.perf_counter()
            copy(src, dst)
            took = time.perf_counter() - started
            print(f"{name:18} {args.files / took:8.0f} files/s {total / took:8.1f} MiB/s")
            shutil.rmtree(dst)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
