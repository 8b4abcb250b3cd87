"""Errors of the app layer; each has a stable ``code``."""

from __future__ import annotations


class LeadloopError(Exception):
    """Base of app errors; the CLI prints the message as one line and exits non-zero."""

    code = "leadloop_error"
    exit_code = 1


class SettingsError(LeadloopError):
    """A setting is wrong; the message names the key and the expected form."""

    code = "settings"
    exit_code = 2
