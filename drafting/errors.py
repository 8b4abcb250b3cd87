"""Errors a drafter raises; each has a stable ``code``."""

from __future__ import annotations

from pathlib import Path


class DraftingError(Exception):
    """Base of every drafting error."""

    code = "drafting_error"


class TemplateError(DraftingError):
    """A templates file is unreadable or invalid.

    The message names the file, the template (when one is at fault) and what is expected,
    so an ops admin can fix the file from the message alone.
    """

    code = "template_invalid"

    def __init__(self, path: Path | str, reason: str, *, template_id: str | None = None) -> None:
        where = f"{path}: template {template_id!r}" if template_id else f"{path}"
        super().__init__(f"{where}: {reason}")
        self.path = str(path)
        self.template_id = template_id
        self.reason = reason


class DrafterConfigError(DraftingError):
    """A drafter cannot be built as configured (a bad model spec, a missing provider)."""

    code = "drafter_config"


class LLMOutputError(DraftingError):
    """A model's reply could not be turned into a draft."""

    code = "llm_output"

    def __init__(self, reason: str, *, not_json: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        # Lets the caller word the fallback reason precisely ("not valid JSON" vs "no body").
        self.not_json = not_json
