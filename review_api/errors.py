"""Errors of the review system; each has a stable ``code`` the HTTP layer maps to a status."""

from __future__ import annotations


class ReviewError(Exception):
    """Base of review errors."""

    code = "review_error"


class InvalidTransitionError(ReviewError):
    """A proposal cannot move from its state by that event."""

    code = "invalid_transition"

    def __init__(self, state: str, event: str) -> None:
        super().__init__(f"this proposal is {state}; it no longer accepts {event!r}")
        self.state = state
        self.event = event


class ProposalNotFoundError(ReviewError):
    """No proposal has that id."""

    code = "not_found"

    def __init__(self, proposal_id: int) -> None:
        super().__init__(f"proposal {proposal_id} does not exist")
        self.proposal_id = proposal_id


class ConflictError(ReviewError):
    """Someone else changed the proposal first (optimistic concurrency)."""

    code = "conflict"


class BadDecisionError(ReviewError):
    """A decision request is malformed (e.g. reject without a reason)."""

    code = "bad_decision"


class StoreError(ReviewError):
    """The database cannot be reached or is not migrated."""

    code = "store"


class BadRequestError(ReviewError):
    """A request parameter is malformed in a way the schema cannot say."""

    code = "bad_request"
