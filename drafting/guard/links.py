"""Requests a draft must never make on its own: credentials, payment, links off the allow-list.

These are how a phishing email reads, whoever wrote it (a model obeying a hostile note, or a
learned edit gone wrong), so a draft that makes one always needs the manager's approval
(:data:`ALWAYS_ESCALATE`, applied by :meth:`drafting.policy.Policy.after_draft`). Mentioning
a topic is not a request: "we never ask for passwords by email" asks for nothing, and
"password reset" in a sentence about SSO is not a credential request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from drafting.base import Draft, LeadFacts
from drafting.guard.disguise import unmask
from drafting.guard.facts import ProductFacts
from drafting.guard.records import RiskFlag

#: Risk codes that always require the manager's approval, whatever the rules file says.
ALWAYS_ESCALATE: frozenset[str] = frozenset(
    {"credential_request", "payment_request", "off_list_link"}
)

_ASK = (
    r"(?:send|share|give|provide|confirm|verify|enter|re-?enter|type|submit|update|reply\s+with|"
    r"tell\s+us|let\s+us\s+know|email|forward|upload|need|require)"
)
_SECRET = (
    r"(?:passwords?|passcodes?|pass\s*phrases?|log-?in\s+(?:details|credentials|info\w*)|"
    r"credentials|usernames?\s+and\s+passwords?|one[- ]time\s+(?:code|password)s?|"
    r"(?:2fa|mfa|otp|verification|security|authentication)\s+codes?|\bPINs?\b|"
    r"security\s+questions?)"
)
_PAYMENT = (
    r"(?:card\s+(?:number|details)|credit\s+card|debit\s+card|CVV|CVC|security\s+code\s+on|"
    r"bank\s+(?:details|account|login)|IBAN|SWIFT|routing\s+number|payment\s+(?:details|"
    r"information|info)|wire\s+transfer|bank\s+transfer|deposit|gift\s+cards?)"
)
_CREDENTIAL_RE = re.compile(
    rf"\b{_ASK}\b(?:\W+\w+){{0,5}}?\W+(?:your\s+|the\s+|their\s+)?{_SECRET}"
    r"|\b(?:reset|change|update)\s+your\s+(?:password|passcode|PIN|credentials)\b"
    r"|\bverify\s+your\s+(?:account|identity|login|email\s+account)\b"
    r"|\b(?:log|sign)\s*-?\s*in\s+(?:at|here|via|using|with\s+your)\b",
    re.IGNORECASE,
)
_PAYMENT_RE = re.compile(
    rf"\b{_ASK}\b(?:\W+\w+){{0,5}}?\W+(?:your\s+|the\s+|a\s+)?{_PAYMENT}"
    r"|\bpay\s+(?:now|today|immediately|the\s+(?:deposit|invoice|fee)|via|by\s+(?:wire|card|"
    r"bank))\b|\b(?:transfer|wire)\s+(?:the\s+)?(?:payment|deposit|funds|amount|money)\b"
    r"|\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){3,7}\b",
    re.IGNORECASE,
)
_NEGATED = re.compile(r"\b(?:never|not|don't|do\s+not|won't|will\s+not)\b[^.!?\n]{0,40}$",
                      re.IGNORECASE)
_URL_RE = re.compile(
    r"\b(?:https?://|www\.)[^\s<>\"')\]]+"
    r"|\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|co|biz|info|xyz|ru|cn|top|click|site|ly|me|app)"
    r"(?:/[^\s<>\"')\]]*)?\b",
    re.IGNORECASE,
)
_EMAIL_AROUND = re.compile(r"[\w.+-]@$")


def _host(url: str) -> str:
    host = re.sub(r"^(?:https?://)", "", url.lower()).split("/", 1)[0]
    return host.split("@")[-1].split(":")[0].removeprefix("www.").strip(".")


def allowed_domains(facts: LeadFacts, sheet: ProductFacts) -> frozenset[str]:
    """The admin's allow-list plus the rep's own email domain."""
    own = facts.rep_email.rpartition("@")[2].lower().strip()
    return frozenset({*sheet.link_domains, own} - {""})


def off_list_links(text: str, allowed: Iterable[str]) -> Iterator[str]:
    """Each link in ``text`` whose host is not an allowed domain or one of its subdomains."""
    domains = tuple(allowed)
    for match in _URL_RE.finditer(text):
        if _EMAIL_AROUND.search(text[: match.start()]):
            continue  # the domain of an email address, not a link
        host = _host(match.group(0))
        if not any(host == d or host.endswith("." + d) for d in domains):
            yield match.group(0)


def _requests(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    for match in pattern.finditer(text):
        start = text.rfind("\n", 0, match.start()) + 1
        sentence_start = max(text.rfind(". ", start, match.start()) + 1, start)
        if not _NEGATED.search(text[sentence_start : match.start()]):
            yield match


def request_flags(draft: Draft, facts: LeadFacts, sheet: ProductFacts) -> tuple[RiskFlag, ...]:
    """Credential and payment requests, and links off the allow-list, in one draft."""
    text = unmask(f"{draft.subject}\n{draft.body}").text
    flags: list[RiskFlag] = []
    for code, pattern in (("credential_request", _CREDENTIAL_RE), ("payment_request", _PAYMENT_RE)):
        for match in _requests(pattern, text):
            flags.append(RiskFlag(code, " ".join(match.group(0).split())))
            break
    allowed = allowed_domains(facts, sheet)
    for link in dict.fromkeys(off_list_links(text, allowed)):
        flags.append(RiskFlag("off_list_link", link))
    return tuple(flags)
