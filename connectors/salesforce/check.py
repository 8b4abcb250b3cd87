"""The setup check: what leadloop needs in the org that the org does not have yet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simple_salesforce.api import Salesforce

from connectors.base import TaskOutcome
from connectors.salesforce import records
from connectors.salesforce.config import SalesforceConfig
from connectors.salesforce.connector import SalesforceConnector

# Our lead fields kept in custom fields, with the field type an admin creates for each.
_LEAD_CUSTOM_TYPES = {
    "past_purchases": "Number(18, 0)",
    "lifetime_value": "Currency(16, 2)",
    "events": "Long Text Area(131072)",
}


@dataclass(frozen=True, slots=True)
class RequiredField:
    """A field leadloop reads or writes: where, its API name, and the type to create."""

    sobject: str
    api_name: str
    field_type: str
    purpose: str


def required_fields(config: SalesforceConfig) -> list[RequiredField]:
    """Every field leadloop uses, standard or custom, under the configured API names."""
    names, lead = config.task_fields, config.lead_fields
    needed = [
        RequiredField("Lead", api_name, _LEAD_CUSTOM_TYPES.get(ours, "standard field"),
                      f"read as the lead's {ours}")
        for ours, api_name in config.field_map.items()
    ]
    needed += [
        RequiredField("Lead", lead.score, "Number(3, 0)", "the lead's leadloop score"),
        RequiredField("Lead", lead.tier, "Picklist: A, B, C, D", "the lead's leadloop tier"),
        RequiredField("Lead", lead.fit_score, "Number(3, 0)",
                      "the lead's fit sub-score (0-100): who the lead is"),
        RequiredField("Lead", lead.engagement_score, "Number(3, 0)",
                      "the lead's engagement sub-score (0-100): what the lead did"),
        RequiredField("Lead", lead.grade, "Picklist: A1, A2, A3, B1, B2, B3, C1, C2, C3",
                      "the lead's fit letter x engagement number"),
        RequiredField("Task", names.proposal_id,
                      "Text(255), Unique (case sensitive), External ID",
                      "the proposal a review task carries; makes creation idempotent"),
        RequiredField("Task", names.kind, "Picklist: draft, score_override",
                      "what the rep decides on"),
        RequiredField("Task", names.proposed_score, "Number(3, 0)",
                      "the score a score override proposes"),
        RequiredField("Task", names.decision, "Picklist: Approved, Rejected",
                      "the rep's decision; Rejected needs a reason"),
        RequiredField("Task", names.reason, "Long Text Area(32768)",
                      "why the rep rejected or adjusted"),
        RequiredField("Task", names.final_score, "Number(3, 0)",
                      "the score the rep settled on"),
        RequiredField("Task", names.email_key,
                      "Text(255), Unique (case sensitive), External ID",
                      "the key of a sent email's activity; makes sending idempotent"),
        RequiredField("Task", names.send_status,
                      "Picklist: Pending, Sending, Sent, Failed",
                      "where an email's send stands; Sending after a stop means check "
                      "the mailbox"),
        RequiredField("Task", names.email_subject, f"Text({records.MAX_EMAIL_SUBJECT})",
                      "a draft's email subject, as the rep edits it; what is sent"),
        RequiredField("Task", names.email_body,
                      f"Long Text Area({records.MAX_EMAIL_BODY})",
                      "a draft's email body, as the rep edits it; what is sent (the "
                      "Description holds the rep's notes only)"),
        RequiredField("Task", names.outcome,
                      "Picklist: " + ", ".join(o.value for o in TaskOutcome),
                      "what became of the proposal, set by leadloop when it closes a task"),
        RequiredField("Task", names.note, f"Long Text Area({records.MAX_NOTE})",
                      "why leadloop last closed, reassigned or reopened the task"),
    ]
    return needed


@dataclass
class CheckReport:
    """What ``leadloop salesforce check`` found."""

    instance_url: str
    api_version: str
    missing: list[RequiredField]
    daily_api: tuple[int, int] | None  # (remaining, max)


def check_org(connector: SalesforceConnector) -> CheckReport:
    """Describe Lead and Task and list every field leadloop needs that the org lacks.

    Args:
        connector: a connector to the org (it logs in on the first call).

    Returns:
        The missing fields with their exact API names and types, and the API allowance.

    Raises:
        AuthError: the credentials were refused.
        ConnectorError: Salesforce could not be reached.
    """
    timeout = connector.config.timeout_s
    present: dict[str, set[str]] = {}
    for sobject in ("Lead", "Task"):
        path = f"sobjects/{sobject}/describe"

        def describe(sf: Salesforce, path: str = path) -> Any:
            return sf.restful(path, timeout=timeout)

        # Through the connector's call: its quota guard, retries and session renewal.
        described: Any = connector._call(f"describe {sobject}", describe)
        present[sobject] = {str(f["name"]) for f in described.get("fields", [])}
    limits: Any = connector._call("limits", lambda sf: sf.restful("limits", timeout=timeout))
    daily = (limits or {}).get("DailyApiRequests") or {}
    missing = [f for f in required_fields(connector.config)
               if f.api_name not in present[f.sobject]]
    sf = connector._client()
    return CheckReport(
        instance_url=f"https://{sf.sf_instance}", api_version=connector.config.api_version,
        missing=missing,
        daily_api=(int(daily["Remaining"]), int(daily["Max"])) if daily else None)
