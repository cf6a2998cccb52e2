"""``python -m audit verify DIR``: verify an export offline; exit 0 when it holds, 1 when not."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from audit.signing import PublicKeys
from audit.verify_export import verify_export


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, verify, print one line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m audit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", help="verify an export directory")
    verify.add_argument("directory", type=Path)
    verify.add_argument("--keys", type=Path, help="trusted public keys (*.pem) instead of DIR/keys")
    verify.add_argument(
        "--key-id", action="append", default=[], help="accept only checkpoints by this key id"
    )
    verify.add_argument("--worm", type=Path, help="write-once checkpoint copies to check against")
    verify.add_argument(
        "--fast",
        action="store_true",
        help="skip re-canonicalising each event (hashes still checked)",
    )
    args = parser.parse_args(argv)
    trusted = PublicKeys.from_dir(args.keys) if args.keys else None
    result = verify_export(
        args.directory,
        trusted_keys=trusted,
        key_ids=args.key_id,
        worm_dir=args.worm,
        check_canonical=not args.fast,
    )
    sys.stdout.write(result.describe() + "\n")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
