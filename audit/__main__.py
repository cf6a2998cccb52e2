"""``python -m audit verify DIR`` (an export) or ``verify --db URL --keys DIR`` (a database).

Exit 0 when it holds, 1 when not, 2 when the input cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from audit.checkpoint import WormDirectory
from audit.ledger import verify_store
from audit.signing import PublicKeys
from audit.stores import open_store
from audit.verify import VerifyResult
from audit.verify_export import verify_export


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, verify, print one line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m audit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", help="verify an export directory or a database")
    verify.add_argument("directory", type=Path, nargs="?", help="an export directory")
    verify.add_argument("--db", metavar="URL", help="a ledger database (sqlite path or URL)")
    verify.add_argument("--schema", help="PostgreSQL schema holding the ledger tables")
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
    if (args.directory is None) == (args.db is None):
        parser.error("give exactly one of an export DIRECTORY or --db URL")
    if args.db is not None and args.keys is None:
        # A database's own key table proves nothing: whoever edits rows can add a key.
        parser.error("--db needs --keys: the public keys you trust")
    try:
        result = _verify(args)
    except Exception as exc:  # the CLI edge: an unreadable database is exit 2, not a traceback
        sys.stdout.write(f"cannot verify: {exc}\n")
        return 2
    sys.stdout.write(result.describe() + "\n")
    return 0 if result.ok else 1


def _verify(args: argparse.Namespace) -> VerifyResult:
    trusted = PublicKeys.from_dir(args.keys) if args.keys else None
    if args.db is None:
        return verify_export(
            args.directory,
            trusted_keys=trusted,
            key_ids=args.key_id,
            worm_dir=args.worm,
            check_canonical=not args.fast,
        )
    assert trusted is not None
    if args.key_id:
        trusted = PublicKeys({k: v for k, v in trusted.keys.items() if k in set(args.key_id)})
    store = open_store(args.db, schema=args.schema, install=False)
    try:
        worm = WormDirectory(args.worm) if args.worm is not None else None
        return verify_store(store, trusted, worm=worm, check_canonical=not args.fast)
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
