"""Salesforce settings (``LEADLOOP_SALESFORCE__*``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SalesforceConfig(BaseModel):
    """How to reach a Salesforce org. Filled in by the Salesforce connector."""

    model_config = ConfigDict(extra="forbid")
