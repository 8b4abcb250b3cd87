"""build_drafter: a spec string to a drafter."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeListChatModel

import drafting.llm
from drafting import (
    Drafter,
    DrafterConfigError,
    LeadFacts,
    LLMDrafter,
    TemplateDrafter,
    TemplateError,
    build_drafter,
)


def test_template_spec_builds_the_packaged_template_drafter() -> None:
    drafter = build_drafter("template")
    assert isinstance(drafter, TemplateDrafter)
    assert drafter.version == TemplateDrafter().version


def test_template_spec_uses_the_given_templates_file(
    write_templates: Callable[[str], Path], minimal_templates: str
) -> None:
    path = write_templates(minimal_templates)
    drafter = build_drafter(" template ", templates_path=path)
    assert isinstance(drafter, Drafter)
    assert drafter.draft(LeadFacts()).subject == "Hello"


def test_model_spec_builds_an_llm_drafter_with_a_template_fallback(
    monkeypatch: pytest.MonkeyPatch,
    write_templates: Callable[[str], Path],
    minimal_templates: str,
) -> None:
    built: dict[str, Any] = {}

    # The provider boundary: no provider package is installed here, so stand a fake in.
    def fake_init_chat_model(model: str, **kwargs: Any) -> BaseChatModel:
        built.update(model=model, **kwargs)
        return FakeListChatModel(responses=["not json"])

    monkeypatch.setattr(drafting.llm, "init_chat_model", fake_init_chat_model)
    drafter = build_drafter("ollama:llama3:8b", templates_path=write_templates(minimal_templates))
    assert isinstance(drafter, LLMDrafter)
    assert built == {"model": "llama3:8b", "model_provider": "ollama"}
    assert drafter.version.startswith("ollama:llama3:8b:")
    draft = drafter.draft(LeadFacts(first_name="Ann"))
    assert draft.fallback_reason == "model output was not valid JSON after 3 tries"
    assert draft.template_id == "generic"


@pytest.mark.skipif(
    importlib.util.find_spec("langchain_openai") is not None, reason="langchain-openai installed"
)
def test_model_spec_without_the_provider_package_names_the_extra() -> None:
    with pytest.raises(DrafterConfigError, match=r"pip install 'leadloop\[openai\]'"):
        build_drafter("openai:gpt-4o-mini")


@pytest.mark.parametrize("spec", ["llm", "gpt-4o-mini", ""])
def test_unknown_spec_is_a_config_error(spec: str) -> None:
    with pytest.raises(DrafterConfigError, match="expected 'template' or a model spec"):
        build_drafter(spec)


def test_bad_templates_file_surfaces_as_template_error(
    write_templates: Callable[[str], Path],
) -> None:
    with pytest.raises(TemplateError):
        build_drafter("template", templates_path=write_templates("[[template]]\nid = 1\n"))
