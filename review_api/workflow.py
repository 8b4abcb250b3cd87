"""The proposal state machine, as a pure function.

```
pending ──approve──▶ approved ──sent──▶ sent
   │                    │
   ├──reject──▶ rejected └──send_failed──▶ send_failed ──retry──▶ approved
   ├──expire──▶ expired
   ├──supersede──▶ superseded
   └──cancel──▶ cancelled ◀──cancel── approved, send_failed
```
``cancel`` is consent withdrawn before the email left: the lead opted out, was deleted or
changed address, or is on the suppression list.
Side effects (CRM writes, sends) run in flows after the new state is committed.
"""

from __future__ import annotations

from enum import StrEnum

from review_api.errors import InvalidTransitionError


class ProposalState(StrEnum):
    """Where a proposal stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    SENT = "sent"
    SEND_FAILED = "send_failed"
    CANCELLED = "cancelled"


class ProposalEvent(StrEnum):
    """What can happen to a proposal."""

    APPROVE = "approve"
    REJECT = "reject"
    EXPIRE = "expire"
    SUPERSEDE = "supersede"
    SENT = "sent"
    SEND_FAILED = "send_failed"
    RETRY = "retry"
    CANCEL = "cancel"


_S, _E = ProposalState, ProposalEvent
TRANSITIONS: dict[tuple[ProposalState, ProposalEvent], ProposalState] = {
    (_S.PENDING, _E.APPROVE): _S.APPROVED,
    (_S.PENDING, _E.REJECT): _S.REJECTED,
    (_S.PENDING, _E.EXPIRE): _S.EXPIRED,
    (_S.PENDING, _E.SUPERSEDE): _S.SUPERSEDED,
    (_S.APPROVED, _E.SENT): _S.SENT,
    (_S.APPROVED, _E.SEND_FAILED): _S.SEND_FAILED,
    (_S.SEND_FAILED, _E.RETRY): _S.APPROVED,
    (_S.SEND_FAILED, _E.SENT): _S.SENT,
    (_S.PENDING, _E.CANCEL): _S.CANCELLED,
    (_S.APPROVED, _E.CANCEL): _S.CANCELLED,
    (_S.SEND_FAILED, _E.CANCEL): _S.CANCELLED,
}

DECIDABLE = frozenset({ProposalState.PENDING})
FINAL = frozenset(
    {_S.REJECTED, _S.EXPIRED, _S.SUPERSEDED, _S.SENT, _S.CANCELLED}
)


def transition(state: ProposalState, event: ProposalEvent) -> ProposalState:
    """The state after ``event``; raises InvalidTransitionError when it is not allowed."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransitionError(state.value, event.value) from None


def may_send(state: ProposalState) -> bool:
    """Only an approved draft (or one whose send failed and is retried) may be sent."""
    return state in (ProposalState.APPROVED, ProposalState.SEND_FAILED)
