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

    def __init__(self, reason: str, *, not_json: bool = False, reply_text: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        # The reply as the model wrote it, shown back to the model when it is retried.
        self.reply_text = reply_text
        # Lets the caller word the fallback reason precisely ("not valid JSON" vs "no body").
        self.not_json = not_json


class ProductFactsError(DraftingError):
    """The product facts sheet is unreadable or invalid; the message names file and key."""

    code = "product_facts_invalid"

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class PolicyError(DraftingError):
    """An escalation rules file is invalid.

    The message names the file, the line number, the line itself and what is expected, so
    an ops admin can fix the rule from the message alone.
    """

    code = "policy_invalid"

    def __init__(self, path: Path | str, line_no: int, line: str, reason: str) -> None:
        where = f"{path}: line {line_no}" if line_no else f"{path}"
        shown = f": {line.strip()!r}" if line.strip() else ""
        super().__init__(f"{where}{shown}: {reason}")
        self.path = str(path)
        self.line_no = line_no
        self.line = line
        self.reason = reason
