"""``warden audit``: export the audit ledger, verify exports or the live database, and make
a signing key for controllers that share one (Kubernetes replicas).

Both commands only read the database (no second writer next to a running server): an
export covers the log up to its newest signed checkpoint, which a running server signs
at least once a second and a stopped one signed when it closed.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from audit import EventFilter, VerifyResult, verify_export, verify_store
from audit.checkpoint import WormDirectory
from audit.event import format_ts
from audit.export import export_csv, export_dir
from audit.signing import KeyRing, PublicKeys
from audit.stores import open_store
from runner.settings import Settings

app = typer.Typer(help="The audit ledger: export, verify, keygen.", no_args_is_help=True)


def _key_dir(settings: Settings) -> Path:
    return settings.data_dir / "keys"


def _bound(value: str | None) -> tuple[int | None, str | None]:
    """A --from/--to value: a seq number, or an RFC 3339 time."""
    if value is None:
        return None, None
    if value.isdigit():
        return int(value), None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is neither a seq number nor an RFC 3339 time") from exc
    if moment.tzinfo is None:
        raise typer.BadParameter(f"{value!r} needs a timezone (e.g. a trailing Z)")
    return None, format_ts(moment)


@app.command()
def export(
    out: Annotated[Path, typer.Option(help="Directory to write the export into.")],
    from_: Annotated[
        str | None, typer.Option("--from", help="First seq, or RFC 3339 time.")
    ] = None,
    to: Annotated[str | None, typer.Option(help="Last seq, or RFC 3339 time (inclusive).")] = None,
    session: Annotated[str | None, typer.Option(help="Only this session's events.")] = None,
    csv: Annotated[Path | None, typer.Option(help="Also write the events as CSV here.")] = None,
) -> None:
    """Write a verifiable export (events, checkpoints, public keys, manifest)."""
    console = Console(stderr=True)
    from_seq, since = _bound(from_)
    to_seq, until = _bound(to)
    flt = EventFilter(session=session, since=since, until=until, from_seq=from_seq, to_seq=to_seq)
    settings = Settings()
    try:
        store = open_store(settings.resolved_database_url, install=False)
    except Exception as exc:  # the CLI edge: any driver error becomes one readable line
        console.print(f"[red]cannot open the audit ledger: {exc}[/red]")
        raise typer.Exit(2) from exc
    try:
        keys = PublicKeys.from_dir(_key_dir(settings))
        manifest = export_dir(store, out, flt, keys)
        rows = export_csv(store, csv, flt) if csv is not None else None
    except Exception as exc:
        console.print(f"[red]export failed: {exc}[/red]")
        raise typer.Exit(2) from exc
    finally:
        store.close()
    events = manifest["events"]
    console.print(
        f"exported {events['count']} events ({manifest['mode']}, seq {events['first_seq']}"
        f"..{events['last_seq']}) to {out}" + (f"; CSV: {rows} rows" if rows is not None else "")
    )


@app.command()
def verify(
    directory: Annotated[Path | None, typer.Argument(help="Export directory.")] = None,
    db: Annotated[bool, typer.Option("--db", help="Verify the live database.")] = False,
    key_id: Annotated[
        list[str] | None, typer.Option(help="Accept only checkpoints signed by this key id.")
    ] = None,
    keys: Annotated[
        Path | None,
        typer.Option(help="Trusted public keys (*.pem) instead of the export's own keys/."),
    ] = None,
    worm: Annotated[
        Path | None, typer.Option(help="Write-once checkpoint copies to check against.")
    ] = None,
    fast: Annotated[
        bool, typer.Option(help="Skip re-canonicalising each event (hashes still checked).")
    ] = False,
) -> None:
    """Verify an export directory, or the live database with --db; exit 1 on any fault."""
    console = Console()
    if (directory is None) == (not db):
        raise typer.BadParameter("give exactly one of an export DIRECTORY or --db")
    try:
        if directory is not None:
            trusted = PublicKeys.from_dir(keys) if keys is not None else None
            result = verify_export(
                directory, trusted_keys=trusted, key_ids=key_id or (), worm_dir=worm,
                check_canonical=not fast,
            )  # fmt: skip
        else:
            result = _verify_db(Settings(), key_id or [], worm, fast)
    except Exception as exc:  # the CLI edge: unreadable input is exit 2, not a traceback
        console.print(f"[red]cannot verify: {exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(result.describe(), style="green" if result.ok else "red", highlight=False)
    raise typer.Exit(0 if result.ok else 1)


def _verify_db(
    settings: Settings, key_ids: list[str], worm: Path | None, fast: bool
) -> VerifyResult:
    keys = PublicKeys.from_dir(_key_dir(settings))
    if key_ids:
        keys = PublicKeys({k: v for k, v in keys.keys.items() if k in key_ids})
    store = open_store(settings.resolved_database_url, install=False)
    try:
        worm_dir = WormDirectory(worm) if worm is not None else None
        return verify_store(store, keys, worm=worm_dir, check_canonical=not fast)
    finally:
        store.close()


@app.command()
def keygen(
    directory: Annotated[Path, typer.Argument(help="A new or empty directory for the key.")],
) -> None:
    """Write a new checkpoint signing key (ACTIVE, <id>.key, <id>.pem) into DIRECTORY.

    For controllers that do not keep their own data dir: make a Kubernetes Secret of it
    (docs/deployment.md) and keep a copy of the public key for your auditors.
    """
    if directory.exists() and any(directory.iterdir()):
        # Never next to (or over) an existing key: the old key's checkpoints need it.
        raise typer.BadParameter(f"{directory} is not empty", param_hint="DIRECTORY")
    ring = KeyRing.open(directory)
    typer.echo(f"signing key {ring.active_key_id} written to {directory}")
    typer.echo(
        f"kubectl create secret generic warden-audit-key --from-file={directory}"
        "  # then: --set audit.signingKey.existingSecret=warden-audit-key"
    )
