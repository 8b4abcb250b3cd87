"""The HubSpot properties leadloop reads and the custom ones it creates.

Lead fields map onto contact properties (overridable with ``property_map`` in the
settings); a lead's status is read from ``hs_lead_status`` and ``lifecyclestage``.

A review task carries the email a draft proposes in fields of its own: the task body
(``hs_task_body``) is the email body the rep edits, ``leadloop_email_subject`` its
subject. The notes for the rep (score, reasons, flags) are in ``leadloop_review_notes``,
which leadloop writes and never reads back. ``leadloop_outcome`` and ``leadloop_note`` are
leadloop's own marks: what became of the proposal, and why leadloop last changed the task.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.base import TaskOutcome

GROUP = "leadloop"
TASK_TO_CONTACT = 204  # HUBSPOT_DEFINED association type: task -> contact
EMAIL_TO_CONTACT = 198  # HUBSPOT_DEFINED association type: email -> contact
SCORE_PROPERTY = "leadloop_score"
TIER_PROPERTY = "leadloop_tier"
FIT_PROPERTY = "leadloop_fit_score"
ENGAGEMENT_PROPERTY = "leadloop_engagement_score"
GRADE_PROPERTY = "leadloop_grade"
REP_SCORE_PROPERTY = "leadloop_rep_score"
# Task properties leadloop writes and reads by name.
PROPOSAL_PROPERTY = "leadloop_proposal_id"
DECISION_PROPERTY = "leadloop_decision"
REASON_PROPERTY = "leadloop_reason"
FINAL_SCORE_PROPERTY = "leadloop_final_score"
PROPOSED_SCORE_PROPERTY = "leadloop_proposed_score"
EMAIL_SUBJECT_PROPERTY = "leadloop_email_subject"
EMAIL_BODY_PROPERTY = "hs_task_body"  # HubSpot's own: the body a rep sees and edits
REVIEW_NOTES_PROPERTY = "leadloop_review_notes"
OUTCOME_PROPERTY = "leadloop_outcome"
NOTE_PROPERTY = "leadloop_note"

# Lead field -> contact property. HubSpot's own where it has one, leadloop_* otherwise.
CONTACT_PROPERTY_MAP: dict[str, str] = {
    "email": "email",
    "first_name": "firstname",
    "last_name": "lastname",
    "title": "jobtitle",
    "company": "company",
    "industry": "industry",
    "employees": "numemployees",
    "country": "country",
    "state": "state",
    "time_zone": "hs_timezone",
    "owner_id": "hubspot_owner_id",
    "email_opt_out": "hs_email_optout",
    "created_at": "createdate",
    "lead_source": "leadloop_lead_source",
    "past_purchases": "leadloop_past_purchases",
    "lifetime_value": "leadloop_lifetime_value",
    "notes": "leadloop_notes",
    "events": "leadloop_events",
}


@dataclass(frozen=True, slots=True)
class PropertySpec:
    """One custom property leadloop needs on one object type."""

    object_type: str
    name: str
    label: str
    type: str
    field_type: str
    description: str
    unique: bool = False
    options: tuple[str, ...] = field(default=())

    def definition(self) -> dict[str, Any]:
        """The body of the properties API's create call."""
        body: dict[str, Any] = {
            "name": self.name, "label": self.label, "type": self.type,
            "fieldType": self.field_type, "groupName": GROUP, "description": self.description,
        }
        if self.unique:
            body["hasUniqueValue"] = True
        if self.options:
            body["options"] = [{"label": o.title(), "value": o, "displayOrder": i}
                               for i, o in enumerate(self.options)]
        return body


CONTACT_PROPERTIES: tuple[PropertySpec, ...] = (
    PropertySpec("contacts", SCORE_PROPERTY, "leadloop score", "number", "number",
                 "The lead score (0-100) leadloop last wrote."),
    PropertySpec("contacts", TIER_PROPERTY, "leadloop tier", "string", "text",
                 "The tier (A-D) of the leadloop score."),
    PropertySpec("contacts", FIT_PROPERTY, "leadloop fit score", "number", "number",
                 "The fit sub-score (0-100): who the contact is."),
    PropertySpec("contacts", ENGAGEMENT_PROPERTY, "leadloop engagement score", "number",
                 "number", "The engagement sub-score (0-100): what the contact did."),
    PropertySpec("contacts", GRADE_PROPERTY, "leadloop grade", "string", "text",
                 "Fit letter x engagement number, A1 (best) to C3."),
    PropertySpec("contacts", REP_SCORE_PROPERTY, "leadloop rep score", "number", "number",
                 "The owner's own score (0-100) for this contact; set it while a score "
                 "change task is open, then complete the task to apply it."),
    PropertySpec("contacts", "leadloop_lead_source", "Lead source (leadloop)", "string",
                 "text", "Where the lead came from, as leadloop scores it."),
    PropertySpec("contacts", "leadloop_past_purchases", "Past purchases", "number", "number",
                 "How many times this contact's company bought before."),
    PropertySpec("contacts", "leadloop_lifetime_value", "Lifetime value", "number", "number",
                 "Revenue from this contact's company so far."),
    PropertySpec("contacts", "leadloop_notes", "leadloop notes", "string", "textarea",
                 "Notes leadloop may quote from in drafts."),
    PropertySpec("contacts", "leadloop_events", "Engagement events", "string", "textarea",
                 "JSON list of dated touch points (kind, detail, at)."),
)
TASK_PROPERTIES: tuple[PropertySpec, ...] = (
    PropertySpec("tasks", PROPOSAL_PROPERTY, "leadloop proposal", "string", "text",
                 "The proposal this task reviews; unique, so a retry never duplicates it.",
                 unique=True),
    PropertySpec("tasks", DECISION_PROPERTY, "leadloop decision", "enumeration", "select",
                 "Set to Rejected (with a reason) to reject; completing the task approves.",
                 options=("APPROVED", "REJECTED")),
    PropertySpec("tasks", REASON_PROPERTY, "leadloop reason", "string", "textarea",
                 "Why the rep rejected or changed the proposal."),
    PropertySpec("tasks", FINAL_SCORE_PROPERTY, "leadloop final score", "number", "number",
                 "The score the rep settled on for a score change."),
    PropertySpec("tasks", PROPOSED_SCORE_PROPERTY, "leadloop proposed score", "number",
                 "number", "The score leadloop proposed."),
    PropertySpec("tasks", EMAIL_SUBJECT_PROPERTY, "leadloop email subject", "string", "text",
                 "The subject of the email this task proposes; edit it before you complete "
                 "the task. The task body is the email's body."),
    PropertySpec("tasks", REVIEW_NOTES_PROPERTY, "leadloop review notes", "string",
                 "textarea", "Why leadloop proposes this (score, reasons, risk flags); for "
                 "you to read, never sent."),
    PropertySpec("tasks", OUTCOME_PROPERTY, "leadloop outcome", "enumeration", "select",
                 "What became of the proposal in leadloop, set when leadloop closes the "
                 "task; empty while it is open.",
                 options=tuple(outcome.value for outcome in TaskOutcome)),
    PropertySpec("tasks", NOTE_PROPERTY, "leadloop note", "string", "textarea",
                 "Why leadloop last closed, reassigned or reopened this task."),
)
EMAIL_PROPERTIES: tuple[PropertySpec, ...] = (
    PropertySpec("emails", "leadloop_idempotency_key", "leadloop send key", "string", "text",
                 "One approved email per key; unique, so it is never logged or sent twice.",
                 unique=True),
)


def required_properties() -> tuple[PropertySpec, ...]:
    """Every custom property leadloop needs, contacts first."""
    return CONTACT_PROPERTIES + TASK_PROPERTIES + EMAIL_PROPERTIES


def missing_properties(existing: Mapping[str, set[str]]) -> list[PropertySpec]:
    """The required properties absent from ``existing`` (object type -> property names)."""
    return [spec for spec in required_properties()
            if spec.name not in existing.get(spec.object_type, set())]
