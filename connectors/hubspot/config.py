"""HubSpot settings (``LEADLOOP_HUBSPOT__*``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class HubSpotConfig(BaseModel):
    """How to reach a HubSpot account. Filled in by the HubSpot connector."""

    model_config = ConfigDict(extra="forbid")
