from itertools import product

import pytest

from review_api.errors import InvalidTransitionError
from review_api.workflow import (
    TRANSITIONS,
    ProposalEvent,
    ProposalState,
    may_send,
    transition,
)


def test_pending_draft_can_be_approved_then_sent() -> None:
    state = transition(ProposalState.PENDING, ProposalEvent.APPROVE)
    assert state is ProposalState.APPROVED
    assert transition(state, ProposalEvent.SENT) is ProposalState.SENT


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (ProposalEvent.REJECT, ProposalState.REJECTED),
        (ProposalEvent.EXPIRE, ProposalState.EXPIRED),
        (ProposalEvent.SUPERSEDE, ProposalState.SUPERSEDED),
    ],
)
def test_pending_ends_without_send(event: ProposalEvent, expected: ProposalState) -> None:
    assert transition(ProposalState.PENDING, event) is expected
    assert not may_send(expected)


def test_failed_send_can_be_retried_or_confirmed() -> None:
    failed = transition(ProposalState.APPROVED, ProposalEvent.SEND_FAILED)
    assert transition(failed, ProposalEvent.RETRY) is ProposalState.APPROVED
    assert transition(failed, ProposalEvent.SENT) is ProposalState.SENT


@pytest.mark.parametrize(("state", "event"), list(product(ProposalState, ProposalEvent)))
def test_every_pair_outside_the_table_is_refused(
    state: ProposalState, event: ProposalEvent
) -> None:
    if (state, event) in TRANSITIONS:
        assert transition(state, event) is TRANSITIONS[(state, event)]
    else:
        with pytest.raises(InvalidTransitionError, match=state.value):
            transition(state, event)


def test_only_an_approval_leads_to_sent() -> None:
    """Every path from pending to sent passes through an approval."""
    reachable_without_approval = {ProposalState.PENDING}
    frontier = [ProposalState.PENDING]
    while frontier:
        state = frontier.pop()
        for (source, event), target in TRANSITIONS.items():
            if source is state and event is not ProposalEvent.APPROVE:
                if target not in reachable_without_approval:
                    reachable_without_approval.add(target)
                    frontier.append(target)
    assert ProposalState.SENT not in reachable_without_approval
    assert not any(may_send(s) for s in reachable_without_approval)
