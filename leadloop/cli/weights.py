"""`leadloop weights`: diff, preview and publish the admin's scoring weights."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.table import Table

from leadloop.cli.common import console, settings
from leadloop.cli.suggest import unknown_id
from leadloop.errors import NotReadyError
from leadloop.files import read_user_text
from leadloop.store_reads import latest_lead_payloads
from scoring import Weights, parse_weights
from scoring.preview import diff_weights, preview
from scoring.weights_registry import WeightsRegistry

app = typer.Typer(help="Diff, preview and publish scoring weights.", no_args_is_help=True)


def _weights(spec: str) -> Weights:
    """A weights file, or a published version (w-...)."""
    registry = WeightsRegistry(settings().data_dir)
    if spec.startswith("w-") and not Path(spec).exists():
        known = [record.version for record in registry.versions()]
        if spec not in known:
            raise unknown_id("weights version", spec, known, listing="leadloop weights list")
        return registry.load(spec)
    return _weights_file(Path(spec))


def _weights_file(path: Path) -> Weights:
    """A weights file the user names, read through the one file reader."""
    text = read_user_text(path, what="weights file", expected="a TOML weights file")
    return parse_weights(text, source=str(path))


def _current() -> Weights:
    latest = WeightsRegistry(settings().data_dir).latest()
    if latest is not None:
        return WeightsRegistry(settings().data_dir).load(latest.version)
    from leadloop.wiring import load_admin_weights

    return load_admin_weights(settings())


@app.command("diff")
def diff(old: str = typer.Argument(..., help="file or published version"),
         new: str = typer.Argument(..., help="file or published version")) -> None:
    """Say in plain words what changed between two weights."""
    lines = diff_weights(_weights(old), _weights(new))
    if not lines:
        console.print("no change: both have the same version")
    for line in lines:
        console.print(f"- {line}", highlight=False)


@app.command("preview")
def preview_command(file: Path = typer.Argument(..., help="the candidate weights file")) -> None:
    """Score the stored leads with the current and the candidate weights, and compare."""
    new = _weights_file(file)
    old = _current()
    leads = latest_lead_payloads(settings())
    if not leads:
        raise NotReadyError("no leads in the store to preview on: run leadloop sync first")
    result = preview(leads, old, new, now=datetime.now(UTC))
    table = Table("score", "before", "after", title=f"{result.leads} leads")
    edges = result.histogram_edges
    for index, (before, after) in enumerate(zip(result.before, result.after, strict=True)):
        high = 100 if index == len(result.before) - 1 else edges[index + 1] - 1
        table.add_row(f"{edges[index]}-{high}", str(before), str(after))
    console.print(table)
    console.print("tiers before: " + ", ".join(f"{k} {v}" for k, v in result.tiers_before.items()))
    console.print("tiers after:  " + ", ".join(f"{k} {v}" for k, v in result.tiers_after.items()))
    moves = ", ".join(f"{k}: {v}" for k, v in result.tier_moves.items()) or "none"
    console.print(f"{result.tier_changes} lead(s) change tier ({moves})")
    movers = Table("lead", "score", "tier", "why", title="biggest movers")
    for mover in result.movers:
        why = "; ".join([*(f"+ {f}" for f in mover.gained), *(f"- {f}" for f in mover.lost)])
        movers.add_row(mover.crm_id, f"{mover.old_score} -> {mover.new_score}",
                       f"{mover.old_tier} -> {mover.new_tier}", why)
    console.print(movers)


@app.command("publish")
def publish(
    file: Path = typer.Argument(..., help="the weights file to publish"),
    note: str = typer.Option(..., "--note", help="why: kept with the version"),
    author: str = typer.Option("", help="who publishes (default: the login name)"),
) -> None:
    """Validate and publish a weights file as a new version (every version is kept)."""
    text = read_user_text(file, what="weights file", expected="a TOML weights file")
    record = WeightsRegistry(settings().data_dir).publish(
        text, author=author or getpass.getuser(), note=note, source=str(file)
    )
    console.print(f"published {record.version} by {record.author} at {record.published_at}")


@app.command("list")
def list_versions() -> None:
    """Every published weights version, oldest first."""
    table = Table("version", "published", "author", "note")
    for record in WeightsRegistry(settings().data_dir).versions():
        table.add_row(record.version, record.published_at, record.author, record.note)
    console.print(table)
