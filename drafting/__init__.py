"""Drafting: first-touch emails from a lead's facts, for a rep to review.

``TemplateDrafter`` is the grounded default (no LLM); ``LLMDrafter`` drives any langchain
chat model and falls back to the templates. ``build_drafter`` picks one from a spec string.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drafting.base import Draft, Drafter, LeadFacts
from drafting.errors import DrafterConfigError, DraftingError, LLMOutputError, TemplateError
from drafting.template import DEFAULT_NOTE_FACTS, TemplateDrafter

if TYPE_CHECKING:
    from drafting.llm import LLMDrafter

__all__ = [
    "Draft",
    "Drafter",
    "DrafterConfigError",
    "DraftingError",
    "LLMDrafter",
    "LLMOutputError",
    "LeadFacts",
    "TemplateDrafter",
    "TemplateError",
    "build_drafter",
]


def __getattr__(name: str) -> Any:
    # langchain costs ~1 s at start-up; load it only when an LLM drafter is asked for.
    if name == "LLMDrafter":
        from drafting.llm import LLMDrafter

        return LLMDrafter
    raise AttributeError(f"module 'drafting' has no attribute {name!r}")


def build_drafter(
    spec: str, *, templates_path: Path | None = None,
    note_facts: Collection[str] = DEFAULT_NOTE_FACTS, **model_kwargs: Any,
) -> Drafter:
    """Build the drafter a spec names.

    Args:
        spec: ``"template"`` for the grounded templates, or a model spec
            ``"provider:model"`` (e.g. ``"openai:gpt-4o-mini"``) for an LLM drafter that
            falls back to the templates.
        templates_path: A templates file; the packaged defaults when None.
        note_facts: The kinds of fact read from notes (``seats``, ``timeline``) the
            templates may state; empty for none.
        model_kwargs: Handed to the chat model (for example ``api_key``).

    Returns:
        The drafter.

    Raises:
        DrafterConfigError: The spec is neither, or the model cannot be built.
        TemplateError: The templates file is invalid.
    """
    spec = spec.strip()
    if spec == "template":
        return TemplateDrafter(templates_path, note_facts=note_facts)
    if ":" in spec:
        from drafting.llm import LLMDrafter

        return LLMDrafter.from_spec(
            spec, fallback=TemplateDrafter(templates_path, note_facts=note_facts), **model_kwargs
        )
    raise DrafterConfigError(
        f"unknown drafter {spec!r}; expected 'template' or a model spec 'provider:model' "
        "such as 'openai:gpt-4o-mini'"
    )
