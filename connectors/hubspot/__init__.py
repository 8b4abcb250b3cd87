"""HubSpot connector (not built yet: see issue 4)."""
