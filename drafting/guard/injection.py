"""Injection: lead fields that read like instructions to the model rather than data.

Two detectors, and a field is flagged when either fires (:func:`injection_flags`):

* rules: regular expressions for the known shapes (override, role play, system prompt,
  chat markup, instructions to the model, discount instructions), each naming its code;
* a classifier (:mod:`drafting.guard.classifier`) trained on the project's own corpus, for
  what the rules never anticipated: paraphrases and other languages.

Both read the text after its disguises are undone (:mod:`drafting.guard.disguise`), and a
disguise is a finding of its own (code ``disguise``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from drafting.base import LeadFacts
from drafting.guard.classifier import InjectionModel, injection_model
from drafting.guard.disguise import unmask
from drafting.guard.records import InjectionFlag
from drafting.guard.risk import _evidence

_INJECTION_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (code, re.compile(pattern, re.IGNORECASE | re.MULTILINE))
    for code, pattern in (
        (
            "override",
            r"\b(?:ignore|disregard|forget|override|bypass|overrule|skip)\b(?:\W+\w+){0,4}?\W+"
            r"(?:instructions?|rules|guidelines|prompts?|directions|directives|guardrails|"
            r"constraints|restrictions|policies|programming|everything\s+(?:above|before|else))\b"
            r"|\bnew\s+(?:instructions|rules|task)\s*:|\binstead\s+of\s+(?:the|your)\s+"
            r"(?:instructions|task|rules)\b|\bdo\s+not\s+follow\s+(?:the|your)\b",
        ),
        (
            "role_play",
            r"\byou\s+are\s+(?:now|no\s+longer)\b|\bfrom\s+now\s+on\b|\bact\s+as\b|"
            r"\bpretend\s+(?:to\s+be|you\s+are|that)\b|\brole[- ]?play\w*|\bjailbr[eo]a?k\w*|"
            r"\b(?:developer|god|admin|DAN)\s+mode\b|\bstay\s+in\s+character\b|"
            r"\byour\s+new\s+(?:role|persona|identity)\b",
        ),
        (
            "system_prompt",
            r"\bsystem\s+(?:prompt|message|instructions?)\b|\b(?:reveal|print|repeat|show|leak|"
            r"output)\s+(?:\w+\s+){0,2}(?:prompt|instructions|rules)\b|^\s*(?:system|assistant|"
            r"developer)\s*:|\b(?:SYSTEM|ASSISTANT)\s*:",
        ),
        (
            "markup",
            r"</?\s*(?:system|assistant|user|human|lead_data|instructions?|prompt|im_start|"
            r"im_end|tool|function)\b[^>]*>|<\|[A-Za-z_]+\|>|\[/?(?:INST|SYS)\]|<<\s*/?SYS\s*>>|"
            r"^#{2,}\s*(?:instruction|system|prompt|new\s+task)",
        ),
        (
            "instruction_to_model",
            r"\b(?:when|if)\s+you\s+(?:write|draft|reply|respond|generate|compose)\b|"
            r"\b(?:in|into)\s+(?:the|your|this)\s+(?:email|reply|draft|response|message)\s*,?\s*"
            r"(?:say|write|include|mention|offer|promise|add|tell|put)\b|"
            r"\b(?:the|this|your)\s+(?:email|reply|draft|response)\s+(?:must|should|needs?\s+to|"
            r"has\s+to)\s+(?:say|include|mention|offer|promise|contain|tell)\b|"
            r"\b(?:dear|hey|attention|note\s+to\s+the|to\s+the)\s+(?:AI|assistant|model|LLM|"
            r"chatbot|bot|GPT|ChatGPT|Claude)\b|\b(?:AI|assistant|LLM|model|GPT|ChatGPT)\s*[,:]\s*"
            r"(?:please\s+)?(?:write|say|offer|include|ignore|tell|add)\b",
        ),
        (
            "discount_instruction",
            r"\b(?:offer|give|promise|grant|quote|include)\s+(?:(?:them|him|her|the\s+lead|a|an"
            r"|the)\s+)*(?:\d+\s?(?:%|percent)|free|half[- ]price|a\s+discount|\w+\s+discount)",
        ),
    )
)
_SPACED_RE = re.compile(r"\b(?:[A-Za-z][ ._*-]){3,}[A-Za-z]\b")
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
# Fields that hold identifiers or our own data, not prose: the classifier skips them.
_NOT_PROSE = frozenset({"crm_id", "rep_email", "rep_name", "tier", "score", "top_factors"})
_DISGUISE_WORDS = {
    "bidi": "direction-override characters",
    "zero_width": "zero-width characters",
    "look_alike": "look-alike letters",
}


def _despace(text: str) -> str:
    """Close up s p a c e d-out letters."""
    return _SPACED_RE.sub(lambda m: re.sub(r"[ ._*-]", "", m.group(0)), text)


def _injection_fields(facts: LeadFacts | Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    items = (
        facts.items()
        if isinstance(facts, Mapping)
        else ((name, getattr(facts, name)) for name in LeadFacts.__dataclass_fields__)
    )
    for name, value in items:
        if isinstance(value, str) and value.strip():
            yield name, value
        elif isinstance(value, list | tuple):
            for item in value:
                if isinstance(item, str) and item.strip():
                    yield name, item


def _rule_flags(name: str, plain: str) -> list[InjectionFlag]:
    flags = []
    variants = (plain, plain.translate(_LEET))
    for code, pattern in _INJECTION_PATTERNS:
        for variant in variants:
            match = pattern.search(variant)
            if match:
                evidence = _evidence(variant, match.start(), match.end())
                flags.append(InjectionFlag(name, code, evidence))
                break
    return flags


_SEEN: dict[str, bool] = {}
_SEEN_MAX = 50_000


def _classifier_flags(texts: list[str]) -> list[bool]:
    # One call for a lead's new texts (each call has a fixed cost of a few milliseconds),
    # and titles, industries and activity lines that repeat across leads are scored once.
    new = [t for t in dict.fromkeys(texts) if t not in _SEEN]
    if new:
        if len(_SEEN) > _SEEN_MAX:
            _SEEN.clear()
        _SEEN.update(zip(new, injection_model().flags(new), strict=True))
    return [_SEEN[t] for t in texts]


def injection_flags(facts: LeadFacts | Mapping[str, Any]) -> tuple[InjectionFlag, ...]:
    """The lead's text fields that read like instructions to a model.

    Every text field is checked (a hostile lead can put instructions in a job title as
    well as in the notes), after undoing look-alike letters, bidi and zero-width
    characters, spaced-out letters and digit-for-letter swaps. A field is flagged when a
    rule or the classifier fires, and when it carried a disguise.

    Args:
        facts: The lead's facts, or any mapping of field names to values.

    Returns:
        One flag per field and code, with the matched text as evidence: rule codes
        (``override``, ``role_play`` ...), ``classifier`` and ``disguise``.
    """
    flags: list[InjectionFlag] = []
    prose: list[tuple[str, str]] = []
    for name, value in _injection_fields(facts):
        unmasked = unmask(value)
        plain = _despace(unmasked.text)
        if unmasked.disguises:
            kinds = ", ".join(_DISGUISE_WORDS[k] for k in unmasked.disguises)
            flags.append(InjectionFlag(name, "disguise", f"{kinds}: {_evidence(plain, 0, 0)}"))
        found = _rule_flags(name, plain)
        flags += found
        if not found and name not in _NOT_PROSE:
            prose.append((name, plain))
    verdicts = _classifier_flags([plain for _, plain in prose])
    for (name, plain), flagged in zip(prose, verdicts, strict=True):
        if flagged:
            evidence = _evidence(plain, 0, min(len(plain), 80))
            flags.append(InjectionFlag(name, "classifier", evidence))
    return tuple(flags)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Which detectors fire on one text; ``flagged`` when any does."""

    rules: bool
    classifier: bool
    disguise: bool

    @property
    def flagged(self) -> bool:
        """Whether the text is flagged at all."""
        return self.rules or self.classifier or self.disguise


def verdict(text: str, model: InjectionModel | None = None) -> Verdict:
    """Each detector's answer on one text, for the benchmark; ``model`` defaults to ours."""
    unmasked = unmask(text)
    plain = _despace(unmasked.text)
    chosen = model if model is not None else injection_model()
    return Verdict(
        rules=bool(_rule_flags("text", plain)),
        classifier=chosen.flags([plain])[0],
        disguise=bool(unmasked.disguises),
    )
