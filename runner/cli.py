"""The ``warden`` command line. Each command group lives in ``runner.commands``."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="warden",
    help="Run Claude Code in hardened sandboxes, gated by policy, with a signed audit log.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain help: Rich help labels every flag ``<bool>`` (``--json <bool>``), which
    # reads as if it took a value, though ``--json true`` is refused.
    rich_markup_mode=None,
)

# (module in runner.commands, sub-command group name or None for top-level commands)
_COMMANDS: tuple[tuple[str, str | None], ...] = (
    ("serve", None),
    ("image", "image"),
    ("model", "model"),
    ("detect", None),
    ("sessions", "sessions"),
    ("policy", "policy"),
    ("audit", "audit"),
    ("doctor", None),
    ("run", None),
    ("tokens", "tokens"),
    ("events", "events"),
    ("mcp", None),
)


def _register() -> None:
    for module_name, group in _COMMANDS:
        module = importlib.import_module(f"runner.commands.{module_name}")
        sub: typer.Typer = module.app
        sub.rich_markup_mode = None
        if group is None:
            for command in sub.registered_commands:
                app.registered_commands.append(command)
        else:
            app.add_typer(sub, name=group)


_register()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
