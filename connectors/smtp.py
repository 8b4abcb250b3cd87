"""Sending approved emails over SMTP: a rep's mailbox or a relay.

CRM connectors that do not send mail themselves (HubSpot; Salesforce when settings say so)
send through this backend, then log the email on the lead in the CRM. The Message-ID is
derived from the idempotency key, so a mail system that dedupes by Message-ID also drops a
resend, and the CRM log can be searched by it.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from email import policy
from email.message import EmailMessage
from email.utils import formatdate

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.base import OutgoingEmail
from connectors.errors import AuthError, ConnectorError


class SmtpConfig(BaseModel):
    """Where and how to send mail (``LEADLOOP_SMTP__HOST`` and friends)."""

    model_config = ConfigDict(extra="forbid")

    host: str = ""
    port: int = Field(default=587, ge=1, le=65535)
    username: str = ""
    password: SecretStr | None = None
    security: str = Field(default="starttls", pattern="^(starttls|ssl|none)$")
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    domain: str = Field(default="leadloop.local", description="Right-hand side of Message-IDs.")

    @property
    def configured(self) -> bool:
        """True when a host is set."""
        return bool(self.host)


_ONE_LINE_HEADERS = policy.default.clone(max_line_length=998)


def message_id_for(idempotency_key: str, domain: str) -> str:
    """The Message-ID an email sent under ``idempotency_key`` carries, the same every time."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<leadloop.{digest}@{domain}>"


class SmtpSender:
    """Sends one email per call over SMTP.

    Args:
        config: the server and credentials.
        ssl_context: the TLS context (tests pass one that trusts a local certificate).
    """

    def __init__(self, config: SmtpConfig, *, ssl_context: ssl.SSLContext | None = None) -> None:
        if not config.configured:
            raise ConnectorError("SMTP is not configured: set LEADLOOP_SMTP__HOST")
        self.config = config
        self.ssl_context = ssl_context or ssl.create_default_context()

    def build(self, email: OutgoingEmail, *, from_address: str) -> EmailMessage:
        """The MIME message for an approved email."""
        # Headers up to SMTP's 998-character line limit stay on one line: a List-Unsubscribe
        # folded before its first URL is legal but trips up some receivers' parsers.
        message = EmailMessage(policy=_ONE_LINE_HEADERS)
        message["From"] = from_address
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = message_id_for(email.idempotency_key, self.config.domain)
        message["X-LeadLoop-Key"] = email.idempotency_key
        for name, value in email.headers:  # List-Unsubscribe and List-Unsubscribe-Post
            message[name] = value
        message.set_content(email.body)
        return message

    def send(self, email: OutgoingEmail, *, from_address: str) -> str:
        """Send the email; returns its Message-ID.

        Raises:
            AuthError: the server refused the credentials.
            ConnectorError: the server could not be reached or refused the message.
        """
        message = self.build(email, from_address=from_address)
        config = self.config
        try:
            if config.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    config.host, config.port, timeout=config.timeout_s, context=self.ssl_context)
            else:
                client = smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
            with client:
                if config.security == "starttls":
                    client.starttls(context=self.ssl_context)
                if config.username:
                    password = config.password.get_secret_value() if config.password else ""
                    client.login(config.username, password)
                client.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise AuthError(f"SMTP server {config.host} refused the login for "
                            f"{config.username!r}: {exc.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise ConnectorError(f"SMTP send to {email.to} via {config.host}:{config.port} "
                                 f"failed: {exc}") from None
        return str(message["Message-ID"])
