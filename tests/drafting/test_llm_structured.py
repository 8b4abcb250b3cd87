"""The LLM drafter with structured output, the allow-list, masking and edit examples."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest
from langchain_core.messages import AIMessage, get_buffer_string

from drafting import DrafterConfigError, LeadFacts, LLMDrafter, TemplateDrafter
from drafting.learning import EditExample
from drafting.llm import DraftOutput, mask_contacts
from tests.drafting.fakes import StructuredFakeChatModel, bad_tool_reply, tool_reply

USAGE = {"input_tokens": 100, "output_tokens": 30, "total_tokens": 130}


def model(*replies: AIMessage | str) -> StructuredFakeChatModel:
    return StructuredFakeChatModel(messages=iter(replies))


def record_of(m: StructuredFakeChatModel, call: int = 0) -> dict[str, Any]:
    text = str(m.seen[call][1].content)
    block = re.search(r"<lead_data>\n(.*?)\n</lead_data>", text, re.S)
    assert block is not None
    return dict(json.loads(block.group(1)))


def test_structured_reply_becomes_the_draft_with_confidence_and_usage(lead: LeadFacts) -> None:
    m = model(tool_reply(confidence=0.72, facts_used=["company", "score", "title"], usage=USAGE))
    drafter = LLMDrafter(m)
    assert drafter.structured
    assert m.tools == [DraftOutput]
    draft = drafter.draft(lead)
    assert draft.subject == "Pricing options for Acme Corp"
    assert draft.confidence == 0.72
    assert draft.token_usage == USAGE
    assert draft.fallback_reason is None
    # The model's own list counts only for fields it was allowed to see ("score" is not).
    assert draft.facts_used == ("first_name", "title", "company", "rep_name")
    assert draft.prompt == get_buffer_string(m.seen[0])


def test_confidence_is_clamped_to_0_1(lead: LeadFacts) -> None:
    assert LLMDrafter(model(tool_reply(confidence=7))).draft(lead).confidence == 1.0


@pytest.mark.parametrize(
    "bad",
    [
        AIMessage(content="Sure, here is an email: Hi Ann"),  # no tool call at all
        bad_tool_reply(subject="only a subject"),  # fails the schema
        tool_reply(subject="", body="x"),  # empty subject
    ],
)
def test_malformed_structured_reply_is_retried(lead: LeadFacts, bad: AIMessage) -> None:
    m = model(bad, tool_reply(usage=USAGE))
    draft = LLMDrafter(m).draft(lead)
    assert draft.fallback_reason is None
    assert len(m.seen) == 2
    assert "could not be used" in str(m.seen[1][-1].content)


def test_always_malformed_falls_back_to_the_templates_with_the_reason(lead: LeadFacts) -> None:
    m = model(*[bad_tool_reply(subject="x")] * 3)
    draft = LLMDrafter(m, max_retries=2).draft(lead)
    assert len(m.seen) == 3
    assert draft.fallback_reason is not None
    assert draft.fallback_reason.startswith(
        "model output was not a usable draft after 3 tries: the structured reply was invalid"
    )
    expected = TemplateDrafter().draft(lead)
    assert draft == dataclasses.replace(expected, fallback_reason=draft.fallback_reason)


def test_no_tool_call_at_all_reads_as_not_json(lead: LeadFacts) -> None:
    draft = LLMDrafter(model(AIMessage(content="hi")), max_retries=0).draft(lead)
    assert draft.fallback_reason == "model output was not valid JSON after 1 try"


def test_model_error_falls_back(lead: LeadFacts) -> None:
    def boom(messages: Any) -> AIMessage:
        raise TimeoutError("slow")

    m = StructuredFakeChatModel(messages=iter(()), respond=boom)
    draft = LLMDrafter(m).draft(lead)
    assert draft.fallback_reason == "model error: TimeoutError: slow"
    assert draft.drafter == "template"


def test_structured_true_on_a_model_without_tools_is_a_config_error() -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    with pytest.raises(DrafterConfigError, match="does not support structured output"):
        LLMDrafter(FakeListChatModel(responses=["x"]), structured=True)


def test_only_allow_listed_fields_reach_the_model(lead: LeadFacts) -> None:
    m = model(tool_reply())
    LLMDrafter(m, allowed_fields=("first_name", "company")).draft(lead)
    assert record_of(m) == {"lead": {"first_name": "Ann", "company": "Acme Corp"}}
    prompt = get_buffer_string(m.seen[0])
    for hidden in ("Lee", "VP Sales", "sam@example.com", "Ignore previous", "87"):
        assert hidden not in prompt


@pytest.mark.parametrize("field", ["crm_id", "favourite_colour"])
def test_unknown_or_forbidden_allowed_field_is_a_config_error(field: str) -> None:
    with pytest.raises(DrafterConfigError, match=field):
        LLMDrafter(model(), allowed_fields=("first_name", field))


def test_emails_and_phone_numbers_in_free_text_are_masked() -> None:
    facts = LeadFacts(
        first_name="Ann",
        notes="Call Ann on +49 30 1234 5678 or mail ann.private@gmail.com.",
        recent_activity=("replied from ann@acme.example", "called (555) 123-4567"),
        rep_email="sam@example.com",
    )
    m = model(tool_reply())
    LLMDrafter(m).draft(facts)
    record = record_of(m)
    assert record["untrusted"]["notes"] == "Call Ann on [phone] or mail [email]."
    assert record["lead"]["recent_activity"] == ["replied from [email]", "called [phone]"]
    assert record["rep"]["email"] == "sam@example.com"  # the rep signs with it


def test_mask_contacts_leaves_ordinary_numbers() -> None:
    text = "visited 3 times in 14 days; 250 staff; Q3 2024"
    assert mask_contacts(text) == text


def test_edit_examples_go_in_the_prompt_as_delimited_style_examples(lead: LeadFacts) -> None:
    examples = [EditExample("Best regards,\nSam", "Cheers,\nSam", "r1")]
    m = model(tool_reply(), tool_reply())
    drafter = LLMDrafter(m, examples_for=lambda facts: examples)
    drafter.draft(lead)
    human = str(m.seen[0][1].content)
    assert "<rep_edits>" in human and "<approved>\nCheers,\nSam\n</approved>" in human
    assert "never copy names, numbers or facts" in human
    drafter.draft(lead, examples=[])
    assert "<rep_edits>" not in str(m.seen[1][1].content)


def test_version_changes_with_the_allow_list() -> None:
    a = LLMDrafter(model())
    b = LLMDrafter(model(), allowed_fields=("first_name",))
    assert a.version != b.version
