"""`leadloop outcomes`: import what became of sent emails, and show the funnel."""

from __future__ import annotations

import typer
from rich.text import Text

from leadloop.cli.common import console, progress_bars, settings
from leadloop.steps.outcomes import OutcomeReport
from leadloop.wiring import build_pipeline


def print_outcomes(report: OutcomeReport) -> None:
    """One line for the import, one for the funnel."""
    console.print(Text(
        f"outcomes: read {report.read} from the CRM, {report.new} new, "
        f"{report.already_known} already imported, {report.unmatched} not tied to an email "
        f"of ours; {report.inferred} inferred (opt-outs, no reply after N days)"))
    console.print(Text(funnel_line(report.funnel)))


def funnel_line(funnel: dict[str, int]) -> str:
    """The funnel as one line: sent, replied, meeting, and what else happened."""
    sent = funnel.get("sent", 0)

    def share(n: int) -> str:
        return f"{n} ({n / sent:.0%})" if sent else str(n)

    return (f"funnel: sent {sent}, replied {share(funnel.get('replied', 0))}, "
            f"meeting {share(funnel.get('meeting_booked', 0))}; "
            f"bounced {funnel.get('bounced', 0)}, unsubscribed {funnel.get('unsubscribed', 0)}, "
            f"no reply yet after N days {funnel.get('no_reply', 0)}")


def register(app: typer.Typer) -> None:
    """Add the outcomes command to the top-level app."""

    @app.command()
    def outcomes() -> None:
        """Import replies, bounces and meetings from the CRM; show sent, replied, meeting."""
        with progress_bars() as progress:
            pipeline = build_pipeline(settings(), progress=progress)
            try:
                report = pipeline.outcomes()
            finally:
                pipeline.store.close()
        print_outcomes(report)
