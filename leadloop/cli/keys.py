"""`leadloop keys`: API keys for reps, admins and analysts (admins run these)."""

from __future__ import annotations

import typer
from rich.table import Table

from leadloop.cli.common import console, settings
from leadloop.cli.suggest import unknown_id
from leadloop.wiring import open_connector, open_store
from review_api.keys import Role, create_key, list_keys, revoke

app = typer.Typer(help="Create, list and revoke review API keys.", no_args_is_help=True)


@app.command("create")
def create(
    role: Role = typer.Option(..., "--role", help="rep, admin or analyst."),
    owner: str | None = typer.Option(
        None, "--owner", help="For a rep: the CRM owner id whose leads the key may decide."),
    name: str = typer.Option("", "--name", help="A label to recognise the key by."),
) -> None:
    """Create a key; it is printed once and never stored."""
    if owner is not None:  # a key for an owner the CRM lacks would decide nobody's leads
        known = [o.owner_id for o in open_connector(settings()).list_owners()]
        if owner not in known:
            raise unknown_id("CRM owner", owner, known, listing="the CRM's user list")
    store = open_store(settings())
    try:
        with store.session() as session:
            row, plain = create_key(session=session, role=role, owner_id=owner, name=name)
            key_id = row.id
    finally:
        store.close()
    console.print(f"created key {key_id} ({role.value}); keep it now, it is not shown again:")
    console.print(plain, highlight=False, soft_wrap=True)


@app.command("list")
def list_() -> None:
    """List keys (never their secrets)."""
    store = open_store(settings())
    try:
        with store.session() as session:
            rows = list_keys(session=session)
            table = Table("id", "prefix", "role", "owner", "name", "created", "revoked")
            for row in rows:
                table.add_row(str(row.id), row.prefix, row.role, row.owner_id or "", row.name,
                              f"{row.created_at:%Y-%m-%d %H:%M}",
                              f"{row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "")
    finally:
        store.close()
    console.print(table)


@app.command("revoke")
def revoke_key(
    key_id: int = typer.Argument(..., help="The key's id (leadloop keys list)."),
) -> None:
    """Revoke a key: it stops working at once."""
    from datetime import UTC, datetime

    store = open_store(settings())
    try:
        with store.session() as session:
            known = [str(row.id) for row in list_keys(session=session)]
            if str(key_id) not in known:
                raise unknown_id("API key", str(key_id), known, listing="leadloop keys list")
            revoke(session=session, key_id=key_id, now=datetime.now(UTC))
    finally:
        store.close()
    console.print(f"revoked key {key_id}")
