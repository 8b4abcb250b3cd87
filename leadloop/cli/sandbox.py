"""`leadloop sandbox`: the local CRM, for trying leadloop without credentials."""

from __future__ import annotations

from pathlib import Path

import typer

from connectors.sandbox.importer import unused_columns
from leadloop.cli.common import console, settings
from leadloop.wiring import open_sandbox

app = typer.Typer(help="The local sandbox CRM.", no_args_is_help=True)


@app.command("import")
def import_file(
    file: Path = typer.Argument(..., help="A CSV or JSON export of leads."),
) -> None:
    """Import leads from your own CSV or JSON export into the sandbox CRM."""
    report = open_sandbox(settings()).import_file(file)
    console.print(f"imported {report.imported} lead(s) into {settings().sandbox_file}")
    for row, reason in report.rejected:
        console.print(f"  row {row} not imported: {reason}")
    if unused := unused_columns(file):
        shown = ", ".join(unused[:20]) + (f" and {len(unused) - 20} more" if len(unused) > 20
                                          else "")
        console.print(f"columns not used (no lead field takes them): {shown}")


@app.command("seed")
def seed(
    leads: int = typer.Option(500, min=1, max=200_000, help="How many leads to generate."),
    seed: int = typer.Option(7, help="Random seed; the same seed gives the same leads."),
) -> None:
    """Fill the sandbox CRM with generated B2B leads and reps."""
    added = open_sandbox(settings()).seed(leads, seed=seed)
    console.print(f"seeded {added} lead(s) into {settings().sandbox_file}")
