"""What the connector contract suite needs from each CRM it runs against.

The suite talks to a CRM through its :class:`CRMConnector` and, for the parts a connector
cannot do, acts on the far CRM directly: it arranges leads (:class:`LeadAdmin`) and plays
the rep who works a review task (:class:`RepActions`). Each CRM supplies one
:data:`CrmFactory`; adding Salesforce or HubSpot is one more entry in ``FACTORIES``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pytest

from connectors.base import CRMConnector
from connectors.sandbox import SandboxConnector, SandboxCRM
from tests.connectors.hubspot.contract import hubspot_crm


class RepActions(Protocol):
    """A rep deciding a review task inside the far CRM, by task id."""

    def approve(self, task_id: str, *, by: str) -> None:
        """Approve the task as proposed."""
        ...

    def approve_with_edit(self, task_id: str, *, by: str, subject: str, body: str) -> None:
        """Replace the task's email fields with the rep's edit, and approve."""
        ...

    def approve_with_notes(self, task_id: str, *, by: str, notes: str) -> None:
        """Rewrite the task's notes (its free text), leave the email alone, and approve."""
        ...

    def reject(self, task_id: str, *, by: str, reason: str) -> None:
        """Reject the task, saying why."""
        ...

    def set_score(self, task_id: str, *, by: str, score: int) -> None:
        """Adjust a score override's score, and approve it."""
        ...


class LeadAdmin(Protocol):
    """Arranging leads in the far CRM the way its users or an import would."""

    def add_leads(self, records: Iterable[Mapping[str, Any]]) -> list[str]:
        """Create leads from Lead-field dicts; their CRM ids in the same order."""
        ...

    def update_lead(self, crm_id: str, **fields: Any) -> None:
        """Change fields of a lead, moving its modification stamp."""
        ...

    def delete_lead(self, crm_id: str) -> None:
        """Delete a lead."""
        ...


@dataclass
class ContractCRM:
    """One CRM under contract: the connector, and hands on the far side."""

    connector: CRMConnector
    rep: RepActions
    leads: LeadAdmin
    close: Callable[[], None]


CrmFactory = Callable[[Path], ContractCRM]


class FrozenClock:
    """A clock that repeats one moment until moved: the worst case for stamps and cursors."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


class SandboxRep:
    """A rep working tasks in the sandbox CRM."""

    def __init__(self, crm: SandboxCRM) -> None:
        self.crm = crm

    def approve(self, task_id: str, *, by: str) -> None:
        self.crm.approve_task(task_id, by=by)

    def approve_with_edit(self, task_id: str, *, by: str, subject: str, body: str) -> None:
        self.crm.start_task(task_id, by=by)  # a rep opens the task before editing it
        self.crm.approve_task(task_id, by=by, email_subject=subject, email_body=body)

    def approve_with_notes(self, task_id: str, *, by: str, notes: str) -> None:
        self.crm.approve_task(task_id, by=by, description=notes)

    def reject(self, task_id: str, *, by: str, reason: str) -> None:
        self.crm.reject_task(task_id, by=by, reason=reason)

    def set_score(self, task_id: str, *, by: str, score: int) -> None:
        self.crm.set_final_score(task_id, by=by, score=score)


class SandboxLeadAdmin:
    """Leads arranged directly in the sandbox CRM."""

    def __init__(self, crm: SandboxCRM) -> None:
        self.crm = crm

    def add_leads(self, records: Iterable[Mapping[str, Any]]) -> list[str]:
        before = set(self.crm.list_lead_ids())
        self.crm.add_leads(records)
        return [i for i in self.crm.list_lead_ids() if i not in before]

    def update_lead(self, crm_id: str, **fields: Any) -> None:
        self.crm.update_lead(crm_id, **fields)

    def delete_lead(self, crm_id: str) -> None:
        self.crm.delete_lead(crm_id)


def sandbox_crm(tmp_path: Path) -> ContractCRM:
    """The sandbox on a frozen clock, so every write collides with the one before it."""
    crm = SandboxCRM(tmp_path / "contract.db", clock=FrozenClock(datetime(2025, 6, 1, tzinfo=UTC)))
    crm.seed(0)  # the sales team, no leads: the suite adds its own
    return ContractCRM(
        connector=SandboxConnector(crm),
        rep=SandboxRep(crm),
        leads=SandboxLeadAdmin(crm),
        close=crm.close,
    )


def salesforce_crm(tmp_path: Path) -> ContractCRM:
    """The real Salesforce connector against the sandbox's Salesforce face."""
    from tests.connectors.salesforce.factory import salesforce_contract

    return salesforce_contract(tmp_path)


# Every CRM the contract suite runs against; one line each.
FACTORIES: list[Any] = [
    pytest.param(sandbox_crm, id="sandbox"),
    pytest.param(hubspot_crm, id="hubspot"),
    pytest.param(salesforce_crm, id="salesforce"),
]
