"""Errors only the Salesforce connector raises; each is a :mod:`connectors.errors` kind."""

from __future__ import annotations

from connectors.errors import ConnectorError, RateLimitedError


class RequestLimitError(RateLimitedError):
    """Salesforce answered REQUEST_LIMIT_EXCEEDED: the org's API quota is spent for now."""

    code = "salesforce_request_limit"


class QuotaGuardError(RateLimitedError):
    """leadloop stopped itself before passing its configured share of the daily quota."""

    code = "salesforce_quota_guard"


class SetupError(ConnectorError):
    """The org lacks something leadloop needs (a custom field, a permission)."""

    code = "salesforce_setup"
