"""Exactly-once email on Salesforce: the activity Task is written before the email leaves.

The real connector against the sandbox's Salesforce face; crashes are simulated at the
HTTP boundary (a call that fails or never answers) or by stopping after one step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.base import OutgoingEmail
from connectors.errors import ConnectorError
from connectors.salesforce import SalesforceConnector
from connectors.salesforce.check import check_org
from connectors.salesforce.sandbox_link import connect_to_sandbox
from connectors.sandbox import SandboxCRM

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
Fault = tuple[int, str, str] | None


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[SandboxCRM]:
    sandbox = SandboxCRM(tmp_path / "sf.db")
    sandbox.seed(4, seed=5, now=NOW)
    yield sandbox
    sandbox.close()


@pytest.fixture
def sf(crm: SandboxCRM) -> Iterator[SalesforceConnector]:
    with connect_to_sandbox(crm, retries=2, retry_wait_s=0) as connector:
        yield connector


def _email(crm: SandboxCRM, key: str = "draft:1") -> OutgoingEmail:
    lead = crm.list_leads()[0]
    return OutgoingEmail(key, lead["crm_id"], lead["email"], "Hi", "Hello there",
                         lead["owner_id"])


def _face(sf: SalesforceConnector) -> Any:
    return sf.face  # type: ignore[attr-defined]


def _on_calls(sf: SalesforceConnector, fault: Callable[[str, int], Fault]) -> None:
    """Answer API calls through ``fault(kind, n)``, n counting calls of that kind from 1."""
    face = _face(sf)
    original = face.count_call
    seen: dict[str, int] = {}

    def counted(kind: str) -> Fault:
        answer = original(kind)
        seen[kind] = seen.get(kind, 0) + 1
        return fault(kind, seen[kind]) or answer

    face.count_call = counted


def _send_state(sf: SalesforceConnector, key: str) -> str | None:
    logged = sf._email_log(key)
    return None if logged is None else logged.get("LeadLoop_Send_Status__c")


def test_a_send_logs_first_then_marks_the_task_sent(
    sf: SalesforceConnector, crm: SandboxCRM
) -> None:
    email = _email(crm)
    sf.list_owners()
    before = _face(sf).calls["composite"]
    first = sf.send_email(email)
    assert _face(sf).calls["composite"] - before == 3  # log Pending, Sending, Sent
    assert len(_face(sf).sent_mail) == 1 and not first.already_sent
    assert _send_state(sf, email.idempotency_key) == "Sent"
    (logged,) = crm.sent_emails()
    assert (logged.idempotency_key, logged.to, logged.body) == (
        "draft:1", email.to, "Hello there")
    again = sf.send_email(email)
    found = sf.find_sent_email(email.idempotency_key)
    assert again.already_sent and found is not None
    assert (again.message_id, again.sent_at) == (first.message_id, first.sent_at)
    assert (found.message_id, found.sent_at) == (first.message_id, first.sent_at)
    assert len(_face(sf).sent_mail) == 1


def test_a_crash_after_logging_before_sending_is_sent_once_by_the_retry(
    sf: SalesforceConnector, crm: SandboxCRM
) -> None:
    email = _email(crm)
    sf._log_pending(email)  # the run logged the email, then died
    assert _send_state(sf, email.idempotency_key) == "Pending"
    assert sf.find_sent_email(email.idempotency_key) is None  # nothing left: may send
    result = sf.send_email(email)
    assert not result.already_sent and len(_face(sf).sent_mail) == 1
    assert sf.send_email(email).already_sent
    assert len(_face(sf).sent_mail) == 1 and len(crm.sent_emails()) == 1


def test_a_failure_before_the_hand_over_leaves_it_pending_for_the_retry(
    sf: SalesforceConnector, crm: SandboxCRM
) -> None:
    email = _email(crm)
    # The second Collections call is marking the log Sending: it is refused.
    _on_calls(sf, lambda kind, n: (400, "FIELD_INTEGRITY_EXCEPTION", "no") if (
        kind == "composite" and n == 2) else None)
    with pytest.raises(ConnectorError, match="FIELD_INTEGRITY_EXCEPTION"):
        sf.send_email(email)
    assert _face(sf).sent_mail == [] and _send_state(sf, email.idempotency_key) == "Pending"
    sf.send_email(email)
    assert len(_face(sf).sent_mail) == 1
    assert _send_state(sf, email.idempotency_key) == "Sent"


def test_a_crash_after_sending_before_completing_is_not_sent_again(
    sf: SalesforceConnector, crm: SandboxCRM
) -> None:
    email = _email(crm)
    sent: list[bool] = []

    def after_the_send(kind: str, _n: int) -> Fault:
        if kind == "actions":
            sent.append(True)
        elif kind == "composite" and sent:  # marking it Sent never gets through
            return (503, "SERVER_UNAVAILABLE", "down")
        return None

    _on_calls(sf, after_the_send)
    with pytest.raises(ConnectorError, match="was sent, but marking its Salesforce Task "
                                             ".* Sent failed"):
        sf.send_email(email)
    assert len(_face(sf).sent_mail) == 1
    sent.clear()  # Salesforce is back; the email is still logged Sending
    message = r"email draft:1 was being sent when an earlier run stopped \(Salesforce " \
              r"Task \w+ is Sending\); check the rep's mailbox, then set its " \
              r"LeadLoop_Send_Status__c to Sent or Failed"
    with pytest.raises(ConnectorError, match=message):
        sf.find_sent_email(email.idempotency_key)
    with pytest.raises(ConnectorError, match=message):
        sf.send_email(email)
    assert len(_face(sf).sent_mail) == 1 and crm.sent_emails() == []
    # The operator finds it in the mailbox and sets the Task Sent: from then on it is sent.
    logged = sf._email_log(email.idempotency_key)
    assert logged is not None
    sf._mark_email(email.idempotency_key, str(logged["Id"]), "Sent")
    found = sf.find_sent_email(email.idempotency_key)
    assert found is not None and found.already_sent
    assert sf.send_email(email).already_sent and len(_face(sf).sent_mail) == 1


def test_a_send_that_gets_no_answer_is_never_repeated(crm: SandboxCRM) -> None:
    with connect_to_sandbox(crm, retries=2, retry_wait_s=0, timeout_s=0.5) as sf:
        email = _email(crm)

        def slow_send(kind: str, _n: int) -> Fault:
            if kind == "actions":
                time.sleep(1.0)  # the answer comes after the client stopped waiting
            return None

        _on_calls(sf, slow_send)
        with pytest.raises(ConnectorError, match="no answer came .*may have left .*is "
                                                 "Sending.*check the rep's mailbox"):
            sf.send_email(email)
        assert _send_state(sf, email.idempotency_key) == "Sending"
        with pytest.raises(ConnectorError, match="check the rep's mailbox"):
            sf.send_email(email)
        assert _face(sf).calls["actions"] == 1
        deadline = time.monotonic() + 5
        while not _face(sf).sent_mail and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_face(sf).sent_mail) == 1  # it did leave: a resend would be a duplicate


def test_a_refused_send_is_marked_failed_and_a_retry_sends_once(
    sf: SalesforceConnector, crm: SandboxCRM
) -> None:
    email = _email(crm)
    _on_calls(sf, lambda kind, n: (400, "INVALID_EMAIL_ADDRESS", "bad address") if (
        kind == "actions" and n == 1) else None)
    with pytest.raises(ConnectorError, match="INVALID_EMAIL_ADDRESS"):
        sf.send_email(email)
    assert _face(sf).sent_mail == [] and _send_state(sf, email.idempotency_key) == "Failed"
    assert sf.find_sent_email(email.idempotency_key) is None
    result = sf.send_email(email)
    assert not result.already_sent and len(_face(sf).sent_mail) == 1
    assert sf.send_email(email).already_sent and len(_face(sf).sent_mail) == 1


def test_a_log_from_before_send_statuses_reads_as_sent(
    sf: SalesforceConnector, crm: SandboxCRM
) -> None:
    email = _email(crm, "old:1")
    sf._collection("POST", [(0, {
        "attributes": {"type": "Task"}, "WhoId": email.lead_crm_id,
        "OwnerId": email.from_owner_id, "Subject": "Email: Hi",
        "Description": f"To: {email.to}\n\nHello", "Status": "Completed",
        "TaskSubtype": "Email", "LeadLoop_Email_Key__c": "old:1"})], "old log")
    found = sf.find_sent_email("old:1")
    assert found is not None and found.already_sent
    assert sf.send_email(email).already_sent and _face(sf).sent_mail == []


def test_check_lists_the_send_status_field(crm: SandboxCRM) -> None:
    with connect_to_sandbox(crm) as sf:
        _face(sf).missing_fields = {"LeadLoop_Send_Status__c"}
        (missing,) = check_org(sf).missing
    assert (missing.sobject, missing.api_name) == ("Task", "LeadLoop_Send_Status__c")
    assert missing.field_type == "Picklist: Pending, Sending, Sent, Failed"


def test_smtp_sends_once_and_a_refused_connection_is_retryable(crm: SandboxCRM) -> None:
    from aiosmtpd.controller import Controller

    from connectors.hubspot.sandbox_link import _free_port, _Sink
    from connectors.smtp import SmtpConfig

    with connect_to_sandbox(crm, retry_wait_s=0) as linked:
        config = linked.config.model_copy(update={"send_via": "smtp"})
        port = _free_port()
        down = SalesforceConnector(config, http=linked.http, smtp=SmtpConfig(
            host="127.0.0.1", port=port, security="none", timeout_s=2))
        email = _email(crm)
        with pytest.raises(ConnectorError, match="SMTP send .* failed"):
            down.send_email(email)  # nothing listens yet: refused, nothing left
        assert _send_state(down, email.idempotency_key) == "Failed"
        sink = _Sink()
        server = Controller(sink, hostname="127.0.0.1", port=port)
        server.start()
        try:
            first = down.send_email(email)
            again = down.send_email(email)
        finally:
            server.stop()
    assert not first.already_sent and again.already_sent
    assert len(sink.messages) == 1 and b"X-LeadLoop-Key: draft:1" in sink.messages[0]
    assert [e.idempotency_key for e in crm.sent_emails()] == ["draft:1"]
