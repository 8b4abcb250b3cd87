"""`leadloop review`: decide pending tasks in the sandbox CRM, as a rep would inside a CRM.

These commands act on the CRM's tasks, not on leadloop's store: `leadloop reconcile` then
reads the decisions back, exactly as it does for Salesforce or HubSpot.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from connectors.errors import NotFoundError
from connectors.sandbox.crm import SandboxCRM, SandboxTask
from leadloop.cli.common import console, settings
from leadloop.cli.suggest import unknown_id
from leadloop.errors import LeadloopError, NotReadyError
from leadloop.files import read_user_text
from leadloop.wiring import open_sandbox, open_store
from review_api import service
from review_api.authority import Decider, NotEntitledError, check
from review_api.taskbody import parse_email_text
from review_api.workflow import ProposalState

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


def _get_task(crm: SandboxCRM, task_id: str) -> SandboxTask:
    """The task, or one line naming the unknown id and the closest known ones."""
    try:
        return crm.get_task(task_id)
    except NotFoundError:
        known = [task.task_id for task in crm.list_tasks(status=None)]
        raise unknown_id("task", task_id, known, listing="leadloop review list --all") from None


@app.command("show")
def show(task_id: str) -> None:
    """Show one task exactly as the rep has it: the email fields, the notes, leadloop's note."""
    task = _get_task(open_sandbox(settings()), task_id)
    # A Panel reads a str title as markup whatever the console says, so the titles are Text.
    console.print(Text(f"{task.task_id} · {task.subject} · lead {task.lead_crm_id} · "
                       f"{task.status}{' · ' + task.decision if task.decision else ''} · "
                       f"with {task.owner_id}"))
    if task.kind == "draft":
        console.print(Panel(Text(task.email_body), title=Text(f"email: {task.email_subject}"),
                            title_align="left"))
    console.print(Panel(Text(task.description), title=Text("notes for you"),
                        title_align="left"))
    if task.note or task.outcome:
        console.print(Text(f"leadloop: {task.outcome or 'open'}: {task.note}"))


def _task_for(task_id: str, by: str | None, *, decision: str, kind: str | None = None
              ) -> tuple[SandboxCRM, SandboxTask, str]:
    """The task, and who decides; one clear line when the action cannot take effect."""
    current = settings()
    crm = open_sandbox(current)
    task = _get_task(crm, task_id)
    if task.proposal_key is None:
        raise LeadloopError(f"{task_id} is not a leadloop review task")
    if kind is not None and task.kind != kind:
        raise LeadloopError(WRONG_ACTION[(str(task.kind), kind)].format(task=task_id))
    who = by or task.owner_id
    store = open_store(current)
    try:
        with store.session() as session:
            proposal = service.get_by_key(session=session, key=task.proposal_key)
            if proposal is not None and proposal.state != ProposalState.PENDING:
                raise NotReadyError(f"{task_id} is already {proposal.state} in leadloop; "
                                    "nothing you do on it now takes effect")
            if proposal is not None:
                check(proposal, decider=Decider(owner_id=who),
                      decision="approve" if decision == "approve" else "reject")
    except NotEntitledError as exc:
        raise LeadloopError(str(exc)) from None
    finally:
        store.close()
    return crm, task, who


WRONG_ACTION = {
    ("draft", "score_override"): "{task} is an email draft: a score cannot be set on it; "
    "approve it (with --edit-file to change the email) or reject it",
    ("score_override", "draft"): "{task} is a score change: it takes a score, not an email; "
    "use leadloop review score {task} N, approve it as proposed, or reject it",
}


@app.command("approve")
def approve(
    task_id: str,
    edit_file: Path | None = typer.Option(
        None, "--edit-file", help="A file holding your edited email ('Subject: ...' first)."),
    by: str | None = typer.Option(None, "--by", help="Who decides (default the task owner)."),
) -> None:
    """Approve a task, optionally with your edited email."""
    crm, task, who = _task_for(task_id, by, decision="approve",
                               kind="draft" if edit_file is not None else None)
    email = None
    if edit_file is not None:
        text = read_user_text(edit_file, what="--edit-file", allow_empty=True,
                              expected="your edited email ('Subject: ...' first)")
        email = parse_email_text(text, fallback_subject=task.email_subject)
        if not email.body.strip():
            raise LeadloopError(f"--edit-file {edit_file} holds no email body; write the "
                                "email, or reject the task")
    crm.approve_task(task_id, by=who, email_subject=email.subject if email else None,
                     email_body=email.body if email else None)
    console.print(f"approved {task_id}; run leadloop reconcile to log it")


@app.command("reject")
def reject(
    task_id: str,
    reason: str = typer.Option(..., "--reason", help="Why (becomes part of the label)."),
    by: str | None = typer.Option(None, "--by", help="Who decides (default the task owner)."),
) -> None:
    """Reject a task with a reason."""
    crm, _task, who = _task_for(task_id, by, decision="reject")
    crm.reject_task(task_id, by=who, reason=reason)
    console.print(f"rejected {task_id}; run leadloop reconcile to log it")


@app.command("score")
def set_score(
    task_id: str,
    score: int = typer.Argument(..., min=0, max=100, help="Your score for the lead, 0-100."),
    by: str | None = typer.Option(None, "--by", help="Who decides (default the task owner)."),
) -> None:
    """Approve a score override with your own score."""
    crm, _task, who = _task_for(task_id, by, decision="approve", kind="score_override")
    crm.set_final_score(task_id, by=who, score=score)
    console.print(f"set score {score} on {task_id}; run leadloop reconcile to log it")
