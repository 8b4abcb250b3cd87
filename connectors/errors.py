"""Errors a connector raises; each has a stable ``code``."""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every connector error."""

    code = "connector_error"


class AuthError(ConnectorError):
    """The CRM refused our credentials."""

    code = "auth"


class RateLimitedError(ConnectorError):
    """The CRM asked us to slow down."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFoundError(ConnectorError):
    """A record we asked for does not exist in the CRM."""

    code = "not_found"


class BadRecordError(ConnectorError):
    """A record is malformed; ``crm_id`` names it and the message says what is expected."""

    code = "bad_record"

    def __init__(self, crm_id: str, reason: str) -> None:
        super().__init__(f"lead {crm_id}: {reason}")
        self.crm_id = crm_id
        self.reason = reason


class CsvFileError(ConnectorError):
    """A CSV file cannot be read at all; the message names the file and what is expected."""

    code = "bad_csv_file"
