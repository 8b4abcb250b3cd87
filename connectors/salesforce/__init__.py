"""Salesforce connector on simple-salesforce (issue 3); admins' guide in docs/salesforce.md."""

from connectors.salesforce.config import SalesforceConfig
from connectors.salesforce.connector import SalesforceConnector

__all__ = ["SalesforceConfig", "SalesforceConnector"]
