"""Errors only the sandbox CRM raises; each has a stable ``code``.

Unknown ids raise :class:`connectors.errors.NotFoundError` like every other connector.
"""

from __future__ import annotations

from connectors.errors import ConnectorError


class SandboxError(ConnectorError):
    """Base of the sandbox's own errors."""

    code = "sandbox"


class ImportFileError(SandboxError):
    """A lead file for ``leadloop sandbox import`` cannot be read as leads at all.

    The message names the file and says what is expected; row-level problems are not
    errors but entries in :class:`connectors.sandbox.crm.ImportReport`.
    """

    code = "bad_import_file"


class TaskAlreadyDecidedError(SandboxError):
    """A rep tried to change a task that is already completed."""

    code = "task_already_decided"


class InvalidValueError(SandboxError):
    """A field name or value the sandbox cannot store, or a rep action with a missing value."""

    code = "invalid_value"
