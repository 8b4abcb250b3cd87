"""Salesforce settings (``LEADLOOP_SALESFORCE__*``).

One typed credentials class per auth flow; ``auth`` picks the flow and only that flow's
credentials are read. Every default keeps ``Settings()`` constructible with no environment,
so a team on the sandbox never has to think about Salesforce.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

# Our Lead field -> the Salesforce Lead field it is read from. Standard fields where
# Salesforce has one; leadloop's own custom fields (docs/salesforce.md) for the rest.
DEFAULT_FIELD_MAP: dict[str, str] = {
    "email": "Email",
    "first_name": "FirstName",
    "last_name": "LastName",
    "title": "Title",
    "company": "Company",
    "industry": "Industry",
    "employees": "NumberOfEmployees",
    "country": "Country",
    "state": "State",
    "time_zone": "LeadLoop_Time_Zone__c",
    "lead_source": "LeadSource",
    "status": "Status",
    "owner_id": "OwnerId",
    "email_opt_out": "HasOptedOutOfEmail",
    "notes": "Description",
    "created_at": "CreatedDate",
    "past_purchases": "LeadLoop_Past_Purchases__c",
    "lifetime_value": "LeadLoop_Lifetime_Value__c",
    "events": "LeadLoop_Engagement_Events__c",
}
# The Lead Status picklist's default values, read as leadloop's lead statuses; a value
# not listed here reaches leadloop unchanged.
DEFAULT_STATUS_MAP: dict[str, str] = {
    "Open - Not Contacted": "open",
    "Working - Contacted": "open",
    "Closed - Converted": "converted",
    "Closed - Not Converted": "disqualified",
}
MAPPABLE_FIELDS = frozenset(DEFAULT_FIELD_MAP)
_API_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"


class JwtBearerCredentials(BaseModel):
    """OAuth 2.0 JWT bearer flow: a Connected App's consumer key and its certificate's key.

    The recommended flow: no password and no interactive login; the integration user
    must be pre-authorised on the Connected App (see docs/salesforce.md).
    """

    model_config = ConfigDict(extra="forbid")

    consumer_key: str = ""
    username: str = Field(default="", description="The integration user's username.")
    private_key_file: Path | None = Field(
        default=None, description="PEM file of the key whose certificate the app holds.")
    private_key: SecretStr | None = Field(
        default=None, description="The PEM key itself, instead of a file.")


class ClientCredentials(BaseModel):
    """OAuth 2.0 client credentials flow: the Connected App runs as its 'Run As' user."""

    model_config = ConfigDict(extra="forbid")

    consumer_key: str = ""
    consumer_secret: SecretStr | None = None


class SessionCredentials(BaseModel):
    """An access token (session id) obtained elsewhere, with its instance URL.

    It cannot be renewed by leadloop: when it expires, set a new one.
    """

    model_config = ConfigDict(extra="forbid")

    session_id: SecretStr | None = None
    instance_url: str = Field(default="", description="e.g. https://acme.my.salesforce.com")


class PasswordCredentials(BaseModel):
    """Username, password and security token through the SOAP login, which Salesforce is
    retiring; prefer the JWT flow."""

    model_config = ConfigDict(extra="forbid")

    username: str = ""
    password: SecretStr | None = None
    security_token: SecretStr | None = None


class TaskFields(BaseModel):
    """API names of the custom fields on Task that carry a review (docs/salesforce.md)."""

    model_config = ConfigDict(extra="forbid")

    proposal_id: str = Field(default="LeadLoop_Proposal_Id__c", pattern=_API_NAME)
    kind: str = Field(default="LeadLoop_Kind__c", pattern=_API_NAME)
    proposed_score: str = Field(default="LeadLoop_Proposed_Score__c", pattern=_API_NAME)
    decision: str = Field(default="LeadLoop_Decision__c", pattern=_API_NAME)
    reason: str = Field(default="LeadLoop_Reason__c", pattern=_API_NAME)
    final_score: str = Field(default="LeadLoop_Final_Score__c", pattern=_API_NAME)
    email_key: str = Field(default="LeadLoop_Email_Key__c", pattern=_API_NAME)
    send_status: str = Field(default="LeadLoop_Send_Status__c", pattern=_API_NAME)
    email_subject: str = Field(
        default="LeadLoop_Email_Subject__c", pattern=_API_NAME,
        description="A draft's email subject, which the rep edits (Text 255).")
    email_body: str = Field(
        default="LeadLoop_Email_Body__c", pattern=_API_NAME,
        description="A draft's email body, which the rep edits (Long Text Area 32768).")
    outcome: str = Field(
        default="LeadLoop_Outcome__c", pattern=_API_NAME,
        description="What became of the proposal, as leadloop marks a task it closed.")
    note: str = Field(
        default="LeadLoop_Note__c", pattern=_API_NAME,
        description="Why leadloop last changed the task, for the rep to read.")


class LeadFields(BaseModel):
    """API names of the custom fields on Lead that leadloop writes."""

    model_config = ConfigDict(extra="forbid")

    score: str = Field(default="LeadLoop_Score__c", pattern=_API_NAME)
    tier: str = Field(default="LeadLoop_Tier__c", pattern=_API_NAME)
    fit_score: str = Field(default="LeadLoop_Fit_Score__c", pattern=_API_NAME)
    engagement_score: str = Field(default="LeadLoop_Engagement_Score__c", pattern=_API_NAME)
    grade: str = Field(default="LeadLoop_Grade__c", pattern=_API_NAME)


class SalesforceConfig(BaseModel):
    """How to reach a Salesforce org, and how leadloop's records map onto it."""

    model_config = ConfigDict(extra="forbid")

    auth: Literal["jwt", "client_credentials", "session", "password"] = Field(
        default="jwt", description="Which auth flow to use; only its credentials are read.")
    jwt: JwtBearerCredentials = Field(default_factory=JwtBearerCredentials)
    client_credentials: ClientCredentials = Field(default_factory=ClientCredentials)
    session: SessionCredentials = Field(default_factory=SessionCredentials)
    password: PasswordCredentials = Field(default_factory=PasswordCredentials)
    login_url: str = Field(
        default="https://login.salesforce.com",
        description="Where tokens come from: your My Domain URL, login.salesforce.com, "
        "or test.salesforce.com for a sandbox org.")
    api_version: str = Field(default="61.0", pattern=r"^\d{2,3}\.0$")
    field_map: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_FIELD_MAP),
        description="Our lead field -> Salesforce Lead field API name.")
    status_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_STATUS_MAP))
    lead_fields: LeadFields = Field(default_factory=LeadFields)
    task_fields: TaskFields = Field(default_factory=TaskFields)
    task_status_open: str = Field(default="Not Started", description="A new task's Status.")
    task_status_completed: str = Field(default="Completed")
    task_status_sending: str = Field(
        default="In Progress",
        description="The Status of an email's activity Task until the email has gone.")
    bulk_threshold: int = Field(
        default=10_000, ge=0,
        description="A full sync of more leads than this uses Bulk API 2.0; 0 never does.")
    bulk_poll_seconds: float = Field(default=2.0, ge=0, le=60)
    quota_share: float = Field(
        default=0.5, gt=0, le=1,
        description="Stop a run before the org's daily API use passes this share.")
    send_via: Literal["email_simple", "smtp"] = Field(
        default="email_simple",
        description="Send through Salesforce's emailSimple action, or through LEADLOOP_SMTP__*.")
    email_sender_type: Literal["CurrentUser", "DefaultWorkflowUser", "OrgWideEmailAddress"] = (
        "CurrentUser")
    email_sender_address: str = Field(
        default="", description="The org-wide address, when email_sender_type says so.")
    retries: int = Field(default=5, ge=1, le=20, description="Attempts for a transient error.")
    retry_wait_s: float = Field(default=1.0, ge=0, le=60, description="First backoff wait.")
    timeout_s: float = Field(default=60.0, gt=0, le=600)

    @field_validator("field_map")
    @classmethod
    def _field_map(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - MAPPABLE_FIELDS)
        if unknown:
            raise ValueError(f"unknown lead field(s) {', '.join(unknown)}; expected some of "
                             f"{', '.join(sorted(MAPPABLE_FIELDS))}")
        for ours, api_name in value.items():
            if not api_name or not api_name.replace("_", "a").isalnum():
                raise ValueError(f"{ours}: {api_name!r} is not a Salesforce field API name")
        for required in ("email", "owner_id"):
            if required not in value:
                raise ValueError(f"{required} must be mapped; every lead needs one")
        return value

    @field_validator("login_url")
    @classmethod
    def _login_url(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError("expected an https:// URL such as https://login.salesforce.com")
        return value.rstrip("/")
