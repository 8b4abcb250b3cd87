"""Errors of the app layer; each has a stable ``code`` and the exit code the CLI ends with.

Exit codes (README, "Exit codes"): 2 for usage, settings and bad input (a file, an option,
an id the user gave); 1 for failures at run time (a CRM refusing, a store out of reach,
leadloop not ready to do what was asked yet).
"""

from __future__ import annotations

EXIT_BAD_INPUT = 2
EXIT_RUN_TIME = 1


class LeadloopError(Exception):
    """Base of app errors: something the user gave is wrong; one line, exit 2."""

    code = "leadloop_error"
    exit_code = EXIT_BAD_INPUT


class NotReadyError(LeadloopError):
    """The input is fine but leadloop, the store or the CRM cannot do it now; exit 1."""

    code = "not_ready"
    exit_code = EXIT_RUN_TIME


class SettingsError(LeadloopError):
    """A setting is wrong; the message names the key and the expected form."""

    code = "settings"
    exit_code = EXIT_BAD_INPUT


class UserFileError(LeadloopError):
    """A file the user handed us cannot be read; the message names it and what is wrong."""

    code = "user_file"
    exit_code = EXIT_BAD_INPUT
