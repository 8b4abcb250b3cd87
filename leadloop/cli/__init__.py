"""The `leadloop` command: one typer app, sub-commands grouped by who uses them."""

from __future__ import annotations

import typer

from leadloop.cli import (
    config,
    drafts,
    hubspot,
    keys,
    labels,
    model,
    policy,
    review,
    salesforce,
    sandbox,
    steps,
    suppress,
    train,
    weights,
    workers,
)
from leadloop.cli import outcomes as outcomes_cli
from leadloop.cli.boundary import BoundaryGroup
from leadloop.errors import LeadloopError

app = typer.Typer(
    help="leadloop: lead scoring and outreach with a human in the loop.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=BoundaryGroup,
)
app.add_typer(config.app, name="config")
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(review.app, name="review")
app.add_typer(policy.app, name="policy")
app.add_typer(drafts.app, name="drafts")
app.add_typer(weights.app, name="weights")
app.add_typer(model.app, name="model")
app.add_typer(labels.app, name="labels")
app.command("train")(train.train_command)
app.add_typer(salesforce.app, name="salesforce")
app.add_typer(hubspot.app, name="hubspot")
app.add_typer(keys.app, name="keys")
app.add_typer(suppress.app, name="suppress")
steps.register(app)
outcomes_cli.register(app)
workers.register(app)


@app.command()
def demo(
    leads: int = typer.Option(500, min=20, max=50_000, help="How many sandbox leads to seed."),
    seed: int = typer.Option(7, help="Random seed for leads and for the reps' decisions."),
    crm: str = typer.Option(
        "sandbox", help="sandbox, or salesforce / hubspot: the real connector against the "
        "sandbox's Salesforce or HubSpot face on loopback."),
    rounds: int = typer.Option(4, min=1, max=20, help="Rounds of the loop: reps edit, the "
                               "next round's drafts apply what their edits taught."),
) -> None:
    """Run the whole loop on the sandbox CRM, with simulated reps, and print a summary."""
    from leadloop.cli.common import settings
    from leadloop.demo import print_summary, run_demo

    if crm not in ("sandbox", "salesforce", "hubspot"):
        raise LeadloopError(f"--crm {crm!r}: expected sandbox, salesforce or hubspot")
    print_summary(run_demo(settings(), leads=leads, seed=seed, crm_name=crm, rounds=rounds))


def main() -> None:
    """Entry point: every error ends in one line and an exit code (see cli/boundary.py)."""
    app()
