"""`leadloop labels`: the reps' decisions as one tidy table, for analysts."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import typer

from leadloop.cli.common import err_console, settings
from leadloop.errors import LeadloopError
from review_api.labels import parse_since

app = typer.Typer(help="Labels for analysts: every decision as one row.", no_args_is_help=True)

FORMATS = ("parquet", "csv")
KINDS = ("draft", "score_override")


@app.command("export")
def export(
    format: str = typer.Option("parquet", "--format", help="parquet or csv"),  # noqa: A002
    since: str | None = typer.Option(
        None, help="only decisions at or after this ISO 8601 time, e.g. 2026-11-01T00:00:00Z"),
    kind: str | None = typer.Option(None, help="draft or score_override"),
    out: Path | None = typer.Option(
        None, "--out", help="the file to write; CSV goes to stdout without it"),
) -> None:
    """Write every decision as a labelled row (columns: docs/analysts.md)."""
    from leadloop.wiring import open_store
    from review_api.labels import load

    if format not in FORMATS:
        raise LeadloopError(f"--format {format!r}: expected parquet or csv")
    if kind is not None and kind not in KINDS:
        raise LeadloopError(f"--kind {kind!r}: expected draft or score_override")
    start = _iso_time(since)
    if format == "parquet" and out is None:
        raise LeadloopError("--format parquet needs --out FILE")
    store = open_store(settings())
    try:
        with store.session() as session:
            frame = load(session=session, since=start, kind=kind)
    finally:
        store.close()
    # Lead fields differ by CRM and field map: one JSON object per cell keeps both formats
    # able to hold them (Parquet cannot infer a struct from differing or empty dicts).
    frame = frame.assign(lead=frame["lead"].map(lambda lead: json.dumps(lead, default=str)))
    if out is None:
        frame.to_csv(sys.stdout, index=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    if format == "parquet":
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False)
    err_console.print(f"wrote {len(frame)} label(s) to {out}")


def _iso_time(value: str | None) -> datetime | None:
    try:
        return parse_since(value)
    except ValueError as exc:
        raise LeadloopError(f"--since: {exc}") from None
