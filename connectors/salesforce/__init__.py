"""Salesforce connector (not built yet: see issue 3)."""
