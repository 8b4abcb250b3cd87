"""The sandbox CRM: a local CRM in its own SQLite file, and leadloop's connector to it."""

from connectors.sandbox.connector import SandboxConnector
from connectors.sandbox.crm import (
    ImportReport,
    SandboxCRM,
    SandboxLead,
    SandboxTask,
    SentEmail,
)
from connectors.sandbox.generator import generate_leads, generate_owners

__all__ = [
    "ImportReport",
    "SandboxCRM",
    "SandboxConnector",
    "SandboxLead",
    "SandboxTask",
    "SentEmail",
    "generate_leads",
    "generate_owners",
]
