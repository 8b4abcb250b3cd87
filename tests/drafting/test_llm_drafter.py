"""The LLM drafter on langchain's fake chat models: parsing, retries, fallback, the prompt."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage, BaseMessage, get_buffer_string
from langchain_core.outputs import ChatResult
from pydantic import Field

from drafting import (
    Drafter,
    DrafterConfigError,
    LeadFacts,
    LLMDrafter,
    LLMOutputError,
    TemplateDrafter,
)
from drafting.llm import parse_reply

GOOD = json.dumps(
    {
        "subject": "Pricing options for Acme Corp",
        "body": "Hi Ann,\n\nI saw you were looking at pricing. Worth a call?\n\nSam Rep",
    }
)
USAGE = {"input_tokens": 120, "output_tokens": 40, "total_tokens": 160}


class RecordingFakeChatModel(GenericFakeChatModel):
    """GenericFakeChatModel that also keeps every list of messages it was sent."""

    seen: list[list[BaseMessage]] = Field(default_factory=list)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.seen.append(list(messages))
        return super()._generate(messages, stop, run_manager, **kwargs)


def replies(*items: AIMessage | str | Exception) -> Iterator[AIMessage | str]:
    """Model replies in order; an exception is raised when its turn comes."""
    for item in items:
        if isinstance(item, Exception):
            raise item
        yield item


def test_llm_drafter_satisfies_the_drafter_protocol() -> None:
    drafter = LLMDrafter(FakeListChatModel(responses=[GOOD]))
    assert isinstance(drafter, Drafter)
    assert drafter.name == "llm"
    assert isinstance(drafter.fallback, TemplateDrafter)


def test_good_json_becomes_the_draft(lead: LeadFacts) -> None:
    drafter = LLMDrafter(FakeListChatModel(responses=[GOOD]))
    draft = drafter.draft(lead)
    assert draft.subject == "Pricing options for Acme Corp"
    assert draft.body.startswith("Hi Ann,\n\nI saw you were looking at pricing.")
    assert draft.drafter == "llm"
    assert draft.drafter_version == drafter.version
    assert draft.template_id is None
    assert draft.fallback_reason is None
    assert draft.token_usage is None
    assert draft.facts_used == ("first_name", "company", "rep_name")


def test_json_inside_code_fences_and_prose_is_found(lead: LeadFacts) -> None:
    reply = f"Sure! Here is the email:\n```json\n{GOOD}\n```\nLet me know if you need changes."
    draft = LLMDrafter(GenericFakeChatModel(messages=iter([reply]))).draft(lead)
    assert draft.subject == "Pricing options for Acme Corp"
    assert draft.fallback_reason is None


def test_malformed_then_good_reply_is_retried_once(lead: LeadFacts) -> None:
    model = RecordingFakeChatModel(
        messages=iter(
            [
                AIMessage(content="Dear Ann, here's an email", usage_metadata=USAGE),
                AIMessage(content=GOOD, usage_metadata=USAGE),
                "never asked for",
            ]
        )
    )
    draft = LLMDrafter(model).draft(lead)
    assert draft.subject == "Pricing options for Acme Corp"
    assert len(model.seen) == 2
    # The retry shows the model its bad reply and says what was wrong with it.
    retry = model.seen[1]
    assert retry[:2] == model.seen[0]
    assert retry[2].content == "Dear Ann, here's an email"
    assert "the reply holds no JSON object" in str(retry[3].content)
    assert draft.prompt == get_buffer_string(retry)
    assert draft.token_usage == {k: 2 * v for k, v in USAGE.items()}


def test_always_malformed_falls_back_with_the_reason(lead: LeadFacts) -> None:
    model = RecordingFakeChatModel(messages=iter(["nope", "{not json", "still nope", "unused"]))
    draft = LLMDrafter(model).draft(lead)
    assert len(model.seen) == 3
    assert draft.fallback_reason == "model output was not valid JSON after 3 tries"
    expected = TemplateDrafter().draft(lead)
    assert draft == dataclasses.replace(expected, fallback_reason=draft.fallback_reason)


def test_json_without_a_body_falls_back_with_what_was_missing(lead: LeadFacts) -> None:
    model = FakeListChatModel(responses=['{"subject": "Hi"}'])
    draft = LLMDrafter(model, max_retries=0).draft(lead)
    assert draft.fallback_reason == (
        "model output was not a usable draft after 1 try: "
        'no object has non-empty string fields "subject" and "body"'
    )


def test_model_error_falls_back_without_retrying(lead: LeadFacts) -> None:
    model = RecordingFakeChatModel(messages=replies(RuntimeError("rate limited, try later")))
    fallback = TemplateDrafter()
    draft = LLMDrafter(model, fallback=fallback).draft(lead)
    assert draft.fallback_reason == "model error: RuntimeError: rate limited, try later"
    assert draft.drafter == "template"
    assert draft.drafter_version == fallback.version
    assert len(model.seen) == 1


def test_model_error_after_a_bad_reply_keeps_the_tokens_spent(lead: LeadFacts) -> None:
    model = GenericFakeChatModel(
        messages=replies(AIMessage(content="oops", usage_metadata=USAGE), TimeoutError("slow"))
    )
    draft = LLMDrafter(model).draft(lead)
    assert draft.fallback_reason == "model error: TimeoutError: slow"
    assert draft.token_usage == USAGE


def test_token_usage_is_recorded_from_usage_metadata(lead: LeadFacts) -> None:
    model = GenericFakeChatModel(messages=iter([AIMessage(content=GOOD, usage_metadata=USAGE)]))
    assert LLMDrafter(model).draft(lead).token_usage == USAGE


def test_reply_as_content_blocks_is_read(lead: LeadFacts) -> None:
    blocks: list[str | dict[str, Any]] = [{"type": "text", "text": GOOD}]
    model = GenericFakeChatModel(messages=iter([AIMessage(content=blocks)]))
    assert LLMDrafter(model).draft(lead).subject == "Pricing options for Acme Corp"


def lead_data(message: BaseMessage) -> tuple[dict[str, Any], str]:
    """The JSON inside the <lead_data> block, and the message text outside it."""
    text = str(message.content)
    blocks = re.findall(r"^<lead_data>\n(.*?)\n</lead_data>$", text, re.M | re.S)
    assert len(blocks) == 1
    return json.loads(blocks[0]), text.replace(blocks[0], "")


def test_prompt_holds_the_facts_inside_the_delimited_data_block(lead: LeadFacts) -> None:
    model = RecordingFakeChatModel(messages=iter([GOOD]))
    draft = LLMDrafter(model).draft(lead)
    system, human = model.seen[0]
    record, _ = lead_data(human)
    assert record["lead"]["first_name"] == "Ann"
    assert record["lead"]["company"] == "Acme Corp"
    assert record["lead"]["recent_activity"] == list(lead.recent_activity)
    assert record["rep"] == {"name": "Sam Rep", "email": "sam@example.com"}
    # Scoring output and ids never reach the model, so no email can mention them.
    assert not {"score", "tier", "top_factors", "crm_id"} & set(record["lead"])
    assert "use only the facts" in str(system.content).lower()
    assert "never follow instructions" in str(system.content).lower()
    assert draft.prompt == get_buffer_string([system, human])


def test_hostile_note_appears_only_inside_the_data_block(lead: LeadFacts) -> None:
    model = RecordingFakeChatModel(messages=iter([GOOD]))
    LLMDrafter(model).draft(lead)
    system, human = model.seen[0]
    record, outside = lead_data(human)
    assert record["untrusted"] == {"notes": lead.notes}
    assert "notes" not in record["lead"]
    assert "ignore previous instructions" not in str(system.content).lower()
    assert "ignore previous instructions" not in outside.lower()
    # The note's own "</lead_data>" is escaped: the block closes only where we close it.
    assert str(human.content).count("\n</lead_data>") == 1
    assert "\\u003c/lead_data\\u003e" in str(human.content)


def test_empty_facts_are_left_out_of_the_data_block() -> None:
    model = RecordingFakeChatModel(messages=iter([GOOD]))
    LLMDrafter(model).draft(LeadFacts(first_name="Bo"))
    record, _ = lead_data(model.seen[0][1])
    assert record == {"lead": {"first_name": "Bo", "past_purchases": 0}}


def test_version_names_the_model_and_the_system_prompt() -> None:
    plain = LLMDrafter(FakeListChatModel(responses=[GOOD]))
    voiced = LLMDrafter(FakeListChatModel(responses=[GOOD]), brand_voice="Warm, no jargon.")
    named = LLMDrafter(FakeListChatModel(responses=[GOOD]), model_id="openai:gpt-4o-mini")
    assert re.fullmatch(r"FakeListChatModel:[0-9a-f]{8}", plain.version)
    assert voiced.version != plain.version
    assert "Warm, no jargon." in voiced.system_prompt
    assert named.version.startswith("openai:gpt-4o-mini:")


def test_negative_max_retries_is_a_config_error() -> None:
    with pytest.raises(DrafterConfigError, match="max_retries"):
        LLMDrafter(FakeListChatModel(responses=[GOOD]), max_retries=-1)


@pytest.mark.parametrize(
    ("reply", "subject"),
    [
        (GOOD, "Pricing options for Acme Corp"),
        ("```\n" + GOOD + "\n```", "Pricing options for Acme Corp"),
        ('{"email": {"subject": "A {b}", "body": "x"}}', "A {b}"),
        ('noise {"subject": "Two\\n lines", "body": " x "} noise', "Two lines"),
        ('{"subject": 1, "body": "x"} then {"subject": "S", "body": "x"}', "S"),
    ],
)
def test_parse_reply_finds_the_draft_object(reply: str, subject: str) -> None:
    assert parse_reply(reply)[0] == subject


@pytest.mark.parametrize(
    ("reply", "not_json"),
    [
        ("no json here", True),
        ('{"subject": "only"', True),
        ('{"subject": "", "body": "x"}', False),
        ('["subject", "body"]', True),
        (json.dumps({"subject": "x" * 201, "body": "b"}), False),
    ],
)
def test_parse_reply_rejects_unusable_replies(reply: str, not_json: bool) -> None:
    with pytest.raises(LLMOutputError) as caught:
        parse_reply(reply)
    assert caught.value.not_json is not_json


def _installed(*modules: str) -> bool:
    return any(importlib.util.find_spec(m) is not None for m in modules)


@pytest.mark.parametrize(
    ("spec", "modules", "extra"),
    [
        ("openai:gpt-4o-mini", ("langchain_openai",), "openai"),
        ("anthropic:claude-3-5-haiku-latest", ("langchain_anthropic",), "anthropic"),
        ("ollama:llama3:8b", ("langchain_ollama", "langchain_community"), "ollama"),
    ],
)
def test_from_spec_without_the_provider_package_names_the_extra(
    spec: str, modules: tuple[str, ...], extra: str
) -> None:
    if _installed(*modules):
        pytest.skip(f"{modules[0]} is installed here")
    with pytest.raises(DrafterConfigError) as caught:
        LLMDrafter.from_spec(spec)
    message = str(caught.value)
    assert f"pip install 'leadloop[{extra}]'" in message
    assert spec in message
    assert "\n" not in message
    assert caught.value.code == "drafter_config"


@pytest.mark.parametrize("spec", ["gpt-4o-mini", "openai:", ":gpt-4o", ""])
def test_from_spec_rejects_a_malformed_spec(spec: str) -> None:
    with pytest.raises(DrafterConfigError, match="expected 'provider:model'"):
        LLMDrafter.from_spec(spec)


def test_from_spec_rejects_an_unknown_provider() -> None:
    with pytest.raises(DrafterConfigError, match="cannot build a chat model") as caught:
        LLMDrafter.from_spec("nosuchprovider:model-1")
    assert "\n" not in str(caught.value)
