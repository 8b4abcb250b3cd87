"""`leadloop salesforce ...`: for the Salesforce admin setting leadloop up."""

from __future__ import annotations

import typer

from connectors.salesforce import SalesforceConnector
from connectors.salesforce.check import check_org
from leadloop.cli.common import console, settings
from leadloop.errors import NotReadyError

app = typer.Typer(help="Salesforce setup: check the org has what leadloop needs.",
                  no_args_is_help=True)


@app.command()
def check() -> None:
    """Log in, describe Lead and Task, and list every custom field leadloop needs that is
    missing, with its exact API name and type (docs/salesforce.md says how to create them)."""
    from rich.table import Table
    from rich.text import Text

    current = settings()
    connector = SalesforceConnector.from_config(current.salesforce, smtp=current.smtp)
    try:
        report = check_org(connector)
    finally:
        connector.close()
    console.print(f"connected to {report.instance_url} (API v{report.api_version}, "
                  f"auth: {current.salesforce.auth})", highlight=False)
    if report.daily_api is not None:
        remaining, limit = report.daily_api
        console.print(f"daily API requests: {remaining:,} of {limit:,} left; leadloop stops "
                      f"at {current.salesforce.quota_share:.0%} used", highlight=False)
    if not report.missing:
        console.print(Text("every field leadloop needs is there", style="green"))
        return
    table = Table("object", "API name", "type to create", "what for",
                  title="missing fields")
    for field in report.missing:
        table.add_row(field.sobject, field.api_name, field.field_type, field.purpose)
    console.print(table)
    raise NotReadyError(f"{len(report.missing)} field(s) missing in the org; create them as "
                        "docs/salesforce.md says, then run this check again")
