"""`leadloop config`: what the settings are."""

from __future__ import annotations

import typer
from rich.table import Table

from leadloop.cli.common import console, settings
from leadloop.settings import Settings

app = typer.Typer(help="Show the effective settings.", no_args_is_help=True)


@app.command("show")
def show() -> None:
    """Print the effective settings, secrets masked."""
    table = Table("setting", "value", "env var", title="leadloop settings")
    for name, value in settings().masked().items():
        env = f"LEADLOOP_{name.upper()}" if name in Settings.model_fields else "(derived)"
        table.add_row(name, str(value), env)
    console.print(table)
