"""`leadloop hubspot`: for the HubSpot admin, the custom properties leadloop needs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from leadloop.cli.common import console, settings

if TYPE_CHECKING:
    from connectors.hubspot import HubSpotConnector

app = typer.Typer(help="HubSpot: create and check the properties leadloop needs.",
                  no_args_is_help=True)


def _connector() -> HubSpotConnector:
    # Imported here: hubspot-api-client is slow to import and most commands never need it.
    from connectors.hubspot import HubSpotConnector

    return HubSpotConnector.from_config(settings().hubspot, smtp=None)


@app.command("check")
def check() -> None:
    """List the custom contact, task and email properties the account lacks."""
    missing = _connector().missing_properties()
    if not missing:
        console.print("HubSpot has every property leadloop needs")
        return
    console.print(f"{len(missing)} propert{'y' if len(missing) == 1 else 'ies'} missing "
                  "(run: leadloop hubspot setup):")
    for spec in missing:
        console.print(f"  {spec.object_type}.{spec.name} ({spec.type})", highlight=False)
    raise typer.Exit(1)


@app.command("setup")
def setup() -> None:
    """Create the custom properties leadloop needs; safe to run again."""
    created = _connector().setup()
    if not created:
        console.print("nothing to do: HubSpot has every property leadloop needs")
        return
    for spec in created:
        console.print(f"created {spec.object_type}.{spec.name}", highlight=False)
    console.print(f"created {len(created)} propert{'y' if len(created) == 1 else 'ies'}")
