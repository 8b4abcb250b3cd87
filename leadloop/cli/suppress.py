"""`leadloop suppress`: addresses and domains leadloop never drafts for nor emails."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from leadloop.cli.common import console, settings
from leadloop.wiring import open_store
from review_api import suppression

app = typer.Typer(help="The suppression list: no draft, no email.", no_args_is_help=True)


@app.command("add")
def add(
    entry: str = typer.Argument(..., help="An address (ann@acme.example) or a domain."),
    reason: str = typer.Option("entered by an admin", "--reason"),
) -> None:
    """Suppress an address or a whole domain."""
    store = open_store(settings())
    try:
        with store.session() as session:
            row, new = suppression.add(session=session, entry=entry, reason=reason,
                                       now=datetime.now(UTC))
            key = row.email
    finally:
        store.close()
    console.print(f"suppressed {key}" if new else f"{key} was already suppressed")


@app.command("remove")
def remove(entry: str = typer.Argument(..., help="The address or domain to lift.")) -> None:
    """Lift a suppression (an unsubscribe should stay: lift only what an admin entered)."""
    store = open_store(settings())
    try:
        with store.session() as session:
            lifted = suppression.remove(session=session, entry=entry)
    finally:
        store.close()
    console.print(f"lifted {suppression.entry_for(entry)}" if lifted
                  else f"{suppression.entry_for(entry)} was not suppressed")


@app.command("list")
def list_entries() -> None:
    """Every suppressed address and domain, with why and when."""
    store = open_store(settings())
    try:
        with store.session() as session:
            rows = [(r.email, r.reason, r.created_at) for r in
                    suppression.entries(session=session)]
    finally:
        store.close()
    for email, reason, at in rows:
        console.print(f"{email}\t{at:%Y-%m-%d %H:%M} UTC\t{reason}")
    console.print(f"{len(rows)} suppressed")
