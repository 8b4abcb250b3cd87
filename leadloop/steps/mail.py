"""What every email carries at send time: the footer and the one-click unsubscribe headers.

The rep approved the body; the footer (AI note, postal address, unsubscribe link) is added
only to the message that leaves, never to the label or the text the rep saw. The headers
follow RFC 8058: ``List-Unsubscribe`` with the https link (and a mailto: when configured),
and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from review_api.unsubscribe import make_token

if TYPE_CHECKING:
    from leadloop.settings import SendingConfig

SEPARATOR = "\n\n-- \n"  # the usual signature separator: mail readers fold what follows
ONE_CLICK = ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
AI_NOTE = "This email was drafted with AI assistance and approved by a person before sending."


def unsubscribe_url(sending: SendingConfig, *, secret: bytes, proposal_id: int) -> str:
    """The one-click link for the email of ``proposal_id``."""
    return f"{sending.unsubscribe_base_url}/unsubscribe/{make_token(secret, proposal_id)}"


def headers(sending: SendingConfig, *, secret: bytes, proposal_id: int
            ) -> tuple[tuple[str, str], ...]:
    """``List-Unsubscribe`` (https link first, then mailto:) and ``List-Unsubscribe-Post``."""
    token = make_token(secret, proposal_id)
    targets = [f"<{sending.unsubscribe_base_url}/unsubscribe/{token}>"]
    if sending.unsubscribe_mailto:
        subject = quote(f"unsubscribe {token}")
        targets.append(f"<mailto:{sending.unsubscribe_mailto}?subject={subject}>")
    return (("List-Unsubscribe", ", ".join(targets)), ONE_CLICK)


def footer(sending: SendingConfig, *, secret: bytes, proposal_id: int) -> str:
    """The lines below the rep's text: AI note, postal address, unsubscribe link."""
    lines = []
    if sending.footer.ai_note:
        lines.append(AI_NOTE)
    if sending.footer.address:
        lines.append(sending.footer.address)
    url = unsubscribe_url(sending, secret=secret, proposal_id=proposal_id)
    lines.append(f"Unsubscribe: {url}")
    return "\n".join(lines)


def with_footer(body: str, sending: SendingConfig, *, secret: bytes, proposal_id: int) -> str:
    """The body that leaves: the rep's text, a signature separator, the footer."""
    return f"{body}{SEPARATOR}{footer(sending, secret=secret, proposal_id=proposal_id)}"
