"""`leadloop review`: decide pending tasks in the sandbox CRM, as a rep would inside a CRM.

These commands act on the CRM's tasks, not on leadloop's store: `leadloop reconcile` then
reads the decisions back, exactly as it does for Salesforce or HubSpot.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.panel import Panel
from rich.table import Table

from leadloop.cli.common import console, settings
from leadloop.errors import LeadloopError
from leadloop.wiring import open_sandbox

app = typer.Typer(
    help="Decide pending review tasks in the sandbox CRM, as a rep.",
    invoke_without_command=True,
)
RepOption = typer.Option(None, "--rep", help="Only this rep's tasks (owner id).")


@app.callback()
def _default(ctx: typer.Context, rep: str | None = RepOption) -> None:
    if ctx.invoked_subcommand is None:
        list_tasks(rep=rep, all_tasks=False)


@app.command("list")
def list_tasks(
    rep: str | None = RepOption,
    all_tasks: bool = typer.Option(False, "--all", help="Include decided tasks."),
) -> None:
    """List review tasks (pending ones unless --all)."""
    crm = open_sandbox(settings())
    tasks = crm.list_tasks(owner_id=rep, status=None if all_tasks else "Not Started")
    table = Table("task", "kind", "lead", "rep", "subject", "status", "decision",
                  title=f"{len(tasks)} review task(s)")
    for task in tasks:
        table.add_row(task.task_id, task.kind, task.lead_crm_id, task.owner_id, task.subject,
                      task.status, task.decision or "")
    console.print(table)


@app.command("show")
def show(task_id: str) -> None:
    """Show one task as the rep sees it."""
    task = open_sandbox(settings()).get_task(task_id)
    console.print(Panel(task.description, title=f"{task.task_id} · {task.subject}",
                        subtitle=f"lead {task.lead_crm_id} · {task.status}"), highlight=False)


@app.command("approve")
def approve(
    task_id: str,
    edit_file: Path | None = typer.Option(
        None, "--edit-file", help="A file holding your edited email ('Subject: ...' first)."),
    by: str | None = typer.Option(None, "--by", help="Who decides (default the task owner)."),
) -> None:
    """Approve a task, optionally with your edited email."""
    crm = open_sandbox(settings())
    task = crm.get_task(task_id)
    text = None
    if edit_file is not None:
        try:
            text = edit_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise LeadloopError(f"cannot read --edit-file {edit_file}: {exc}") from None
    crm.approve_task(task_id, by=by or task.owner_id, description=text)
    console.print(f"approved {task_id}; run leadloop reconcile to log it")


@app.command("reject")
def reject(
    task_id: str,
    reason: str = typer.Option(..., "--reason", help="Why (becomes part of the label)."),
    by: str | None = typer.Option(None, "--by", help="Who decides (default the task owner)."),
) -> None:
    """Reject a task with a reason."""
    crm = open_sandbox(settings())
    task = crm.get_task(task_id)
    crm.reject_task(task_id, by=by or task.owner_id, reason=reason)
    console.print(f"rejected {task_id}; run leadloop reconcile to log it")


@app.command("score")
def set_score(
    task_id: str,
    score: int = typer.Argument(..., min=0, max=100, help="Your score for the lead, 0-100."),
    by: str | None = typer.Option(None, "--by", help="Who decides (default the task owner)."),
) -> None:
    """Approve a score override with your own score."""
    crm = open_sandbox(settings())
    task = crm.get_task(task_id)
    crm.set_final_score(task_id, by=by or task.owner_id, score=score)
    console.print(f"set score {score} on {task_id}; run leadloop reconcile to log it")
