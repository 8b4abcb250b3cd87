"""Who may decide a proposal: one rule, used by every path (CRM reconcile, API, webhooks, CLI).

- A proposal whose rule requires one person's approval (the policy's "require the manager")
  may be approved only by that person, or by an admin. If the rule found nobody to require
  (the owner has no manager), only an admin may approve it.
- Any other proposal may be approved by the lead's owner or by whom it was escalated to.
- Rejecting sends nothing and changes no score, so the owner, the assignee and the required
  approver may each reject.
- An admin may decide anything, and the audit trail names the admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from review_api.errors import ReviewError
from review_api.store.models import Proposal


class NotEntitledError(ReviewError):
    """The person deciding may not take this decision on this proposal."""

    code = "not_entitled"

    def __init__(self, message: str, *, must_decide: str) -> None:
        super().__init__(message)
        self.must_decide = must_decide


@dataclass(frozen=True, slots=True)
class Decider:
    """Who is deciding: a CRM user or a rep key, by owner id; or an admin key."""

    owner_id: str | None
    admin: bool = False

    @property
    def name(self) -> str:
        """How a refusal names this person."""
        return "an admin" if self.admin else (self.owner_id or "an unknown user")


def who_must_approve(proposal: Proposal) -> str:
    """Who may approve this proposal, in words a rep reads on the task."""
    if proposal.approver_id is not None:
        if proposal.approver_id == "":
            return "an admin (the rule requires a manager and the owner has none)"
        return f"{proposal.approver_id} (the manager; a rule requires their approval)"
    if proposal.assignee_id and proposal.assignee_id != proposal.owner_id:
        return f"{proposal.assignee_id} or the owner {proposal.owner_id}"
    return f"the owner {proposal.owner_id}"


def check(proposal: Proposal, *, decider: Decider, decision: Literal["approve", "reject"]
          ) -> None:
    """Nothing if ``decider`` may take ``decision`` on ``proposal``; NotEntitledError if not."""
    if decider.admin:
        return
    who = decider.owner_id
    required = proposal.approver_id
    deciders = {proposal.owner_id, proposal.assignee_id}
    if decision == "reject":
        allowed = who is not None and (who in deciders or (required and who == required))
    elif required is not None:
        allowed = who is not None and required != "" and who == required
    else:
        allowed = who is not None and who in deciders
    if not allowed:
        must = who_must_approve(proposal)
        raise NotEntitledError(
            f"{decider.name} may not {decision} proposal {proposal.id}: "
            f"it needs {'a decision' if decision == 'reject' else 'approval'} by {must}",
            must_decide=must)
