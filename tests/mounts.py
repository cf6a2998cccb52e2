"""Cleaning up the mounts sessions leave: their quota volumes and bound host directories."""

from __future__ import annotations

import subprocess
from pathlib import Path


def unmount_under(root: Path) -> None:
    """Detach every mount below ``root``: the quota volumes and bound host directories of
    sessions a test left running (a restarted controller would re-adopt them)."""
    prefix = str(root.resolve())
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
