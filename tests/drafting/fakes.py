"""A fake chat model with tool calling, so ``with_structured_output`` runs offline."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from pydantic import Field

Respond = Callable[[list[BaseMessage]], AIMessage | str]


class StructuredFakeChatModel(GenericFakeChatModel):
    """GenericFakeChatModel that accepts ``bind_tools`` and keeps what it was sent.

    Replies come from ``messages`` (an iterator, as in GenericFakeChatModel) or, when set,
    from ``respond`` (a function of the messages sent: thread-safe for batch tests). A
    reply with ``tool_calls`` is what a tool-calling provider returns for structured
    output; a reply without one, or with bad arguments, is malformed output.
    """

    respond: Respond | None = None
    delay_s: float = 0.0
    seen: list[list[BaseMessage]] = Field(default_factory=list)
    tools: list[Any] = Field(default_factory=list)

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any
    ) -> Runnable[Any, AIMessage]:
        self.tools = list(tools)
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.seen.append(list(messages))
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.respond is None:
            return super()._generate(messages, stop, run_manager, **kwargs)
        reply = self.respond(messages)
        message = AIMessage(content=reply) if isinstance(reply, str) else reply
        return ChatResult(generations=[ChatGeneration(message=message)])


def tool_reply(
    subject: str = "Pricing options for Acme Corp",
    body: str = "Hi Ann,\n\nI saw you were looking at pricing. Worth a call?\n\nSam Rep",
    *,
    facts_used: Sequence[str] = ("first_name", "company"),
    confidence: float = 0.8,
    usage: dict[str, int] | None = None,
    **extra: Any,
) -> AIMessage:
    """A structured-output reply: one ``DraftOutput`` tool call."""
    args = {
        "subject": subject,
        "body": body,
        "facts_used": list(facts_used),
        "confidence": confidence,
        **extra,
    }
    return AIMessage(
        content="",
        tool_calls=[{"name": "DraftOutput", "args": args, "id": "call_1", "type": "tool_call"}],
        usage_metadata=usage,
    )


def bad_tool_reply(**args: Any) -> AIMessage:
    """A tool call whose arguments do not fit the schema (e.g. no body)."""
    return AIMessage(
        content="",
        tool_calls=[{"name": "DraftOutput", "args": args, "id": "call_1", "type": "tool_call"}],
    )


def lead_record(messages: Sequence[BaseMessage]) -> dict[str, Any]:
    """The JSON record inside the <lead_data> block the drafter sent."""
    text = str(messages[-1].content) if len(messages) == 2 else str(messages[1].content)
    block = re.search(r"<lead_data>\n(.*?)\n</lead_data>", text, re.S)
    assert block is not None
    record: dict[str, Any] = json.loads(block.group(1))
    return record
