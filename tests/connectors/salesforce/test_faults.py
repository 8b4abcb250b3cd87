"""The real Salesforce connector against the sandbox's face, with faults switched on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.base import (
    ProposalKind,
    ReviewTaskRequest,
    ScoreWrite,
    parse_lead,
)
from connectors.errors import AuthError, BadRecordError, ConnectorError
from connectors.salesforce import SalesforceConnector
from connectors.salesforce.check import check_org
from connectors.salesforce.config import SalesforceConfig, SessionCredentials
from connectors.salesforce.connector import COLLECTION_SIZE
from connectors.salesforce.errors import QuotaGuardError, RequestLimitError
from connectors.salesforce.sandbox_link import connect_to_sandbox
from connectors.sandbox import SandboxCRM, generate_leads
from drafting import TemplateDrafter
from leadloop.pipeline import Pipeline
from review_api.store.db import Store
from scoring import default_weights_path, load_weights

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


class Sleeps:
    """Records the backoff waits instead of sleeping them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[SandboxCRM]:
    sandbox = SandboxCRM(tmp_path / "sf.db")
    sandbox.seed(12, seed=5, now=NOW)
    yield sandbox
    sandbox.close()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def sf(crm: SandboxCRM, sleeps: Sleeps) -> Iterator[SalesforceConnector]:
    with connect_to_sandbox(crm, retries=3, retry_wait_s=0.5) as connector:
        connector._sleep = sleeps
        connector.face.page_size = 5
        yield connector


def _draft(key: str, lead_id: str, owner: str) -> ReviewTaskRequest:
    return ReviewTaskRequest(key, ProposalKind.DRAFT, lead_id, owner, "Hello", "Hi",
                             date(2025, 6, 3))


def test_expired_session_logs_in_again_and_retries_once(sf: SalesforceConnector) -> None:
    first = list(sf.fetch_leads(since=None))
    sf.face.expire_sessions()
    again = list(sf.fetch_leads(since=None))
    assert [r.crm_id for r in again] == [r.crm_id for r in first]


def test_expired_pasted_session_is_one_clear_line(crm: SandboxCRM) -> None:
    with connect_to_sandbox(crm) as linked:
        face = linked.face
        config = SalesforceConfig(auth="session", session=SessionCredentials(
            session_id=SecretStr(face.issue_token()), instance_url=face.url))
        connector = SalesforceConnector(config, http=linked.http)
        assert connector.list_owners()
        face.expire_sessions()
        with pytest.raises(AuthError, match="session id flow: the session has expired.*"
                                            "SESSION__SESSION_ID"):
            connector.list_owners()


def test_request_limit_stops_mid_sync_after_the_pages_already_read(
    sf: SalesforceConnector,
) -> None:
    leads = sf.fetch_leads(since=None)
    got = [next(leads) for _ in range(5)]  # the first page
    sf.face.fail_next(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
    with pytest.raises(RequestLimitError, match="next run resumes from the saved cursor"):
        next(leads)
    assert len(got) == 5


def test_request_limit_in_a_pipeline_sync_keeps_the_committed_cursor(
    crm: SandboxCRM, sf: SalesforceConnector, tmp_path: Path
) -> None:
    crm.add_leads(generate_leads(400, seed=9, now=NOW))
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    pipeline = Pipeline(store=store, connector=sf, weights=load_weights(default_weights_path()),
                        drafter=TemplateDrafter(), lookback=timedelta(0))
    sf.face.page_size = 250  # two pages: the limit hits the second
    calls = sf.face.api_used
    original = sf.face.count_call

    def limit_on_second_query(kind: str) -> tuple[int, str, str] | None:
        fault = original(kind)
        if kind == "query" and sf.face.api_used == calls + 2:
            return (403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        return fault

    sf.face.count_call = limit_on_second_query  # type: ignore[method-assign]
    with pytest.raises(RequestLimitError):
        pipeline.sync()
    sf.face.count_call = original  # type: ignore[method-assign]
    report = pipeline.sync()  # resumes after the 200 leads committed before the stop
    assert report.fetched == 412 - 200
    store.close()


def test_5xx_is_retried_with_growing_jittered_backoff(
    sf: SalesforceConnector, sleeps: Sleeps
) -> None:
    sf.face.fail_next(503, "SERVER_UNAVAILABLE", "down for a moment", times=2)
    assert len(sf.list_owners()) == 6  # the seeded team
    assert len(sleeps.waits) == 2
    assert all(0 <= w <= 15 for w in sleeps.waits)


def test_5xx_that_lasts_fails_after_the_bounded_attempts(
    sf: SalesforceConnector, sleeps: Sleeps
) -> None:
    sf.face.fail_next(500, "UNKNOWN_EXCEPTION", "boom", times=10)
    before = sf.face.api_used
    with pytest.raises(ConnectorError, match="after 3 attempt"):
        sf.list_owners()
    assert sf.face.api_used - before == 3
    assert len(sleeps.waits) == 2


def test_dropped_connection_is_retried(sf: SalesforceConnector) -> None:
    sf.list_owners()
    sf.face.faults.reset_connections = 1
    assert len(sf.list_owners()) == 6  # the seeded team


def test_locked_rows_are_retried_alone(sf: SalesforceConnector, crm: SandboxCRM) -> None:
    ids = crm.list_lead_ids()
    sf.list_owners()
    before = sf.face.calls["composite"]
    sf.face.faults.locked_records = 2
    results = sf.write_scores([ScoreWrite(i, 50 + n, "B") for n, i in enumerate(ids)])
    assert all(r.ok for r in results)
    assert sf.face.calls["composite"] - before == 2  # the batch, then the two locked rows
    assert [crm.get_lead(i)["score"] for i in ids] == [50 + n for n in range(len(ids))]


def test_a_lock_that_outlasts_the_retries_fails_that_record_only(
    sf: SalesforceConnector, crm: SandboxCRM
) -> None:
    ids = crm.list_lead_ids()[:3]
    sf.face.faults.locked_ids = {ids[0]}
    results = sf.write_scores([ScoreWrite(i, 70, "A") for i in ids])
    assert [r.ok for r in results] == [False, True, True]
    assert "UNABLE_TO_LOCK_ROW" in str(results[0].error) and ids[0] in str(results[0].error)


def test_quota_guard_stops_before_passing_the_share(crm: SandboxCRM) -> None:
    with connect_to_sandbox(crm, quota_share=0.5) as sf:
        sf.face.api_max = 100
        sf.list_owners()
        sf.face.api_used = 60
        sf.list_owners()  # this answer reports 61/100: the guard now knows
        used = sf.face.api_used
        with pytest.raises(QuotaGuardError, match="61 of its 100 .*QUOTA_SHARE"):
            sf.list_owners()
        assert sf.face.api_used == used  # stopped before the call


def test_malformed_lead_is_named_and_the_rest_of_the_page_kept(
    sf: SalesforceConnector, crm: SandboxCRM
) -> None:
    crm.add_leads([{"email": "bad@x.example", "employees": "lots", "owner_id": "U000002"}])
    raws = list(sf.fetch_leads(since=None))
    bad = [r for r in raws if r.fields.get("employees") == "lots"]
    assert len(bad) == 1
    with pytest.raises(BadRecordError, match=f"lead {bad[0].crm_id}: employees"):
        parse_lead(bad[0])
    assert sum(1 for r in raws if r is not bad[0]) == 12


def test_a_large_first_sync_uses_bulk_and_matches_rest(crm: SandboxCRM) -> None:
    crm.delete_lead(crm.list_lead_ids()[4])
    with connect_to_sandbox(crm, bulk_threshold=0) as rest:
        by_rest = list(rest.fetch_leads(since=None))
        assert rest.face.calls["jobs/query"] == 0
    with connect_to_sandbox(crm, bulk_threshold=5) as bulk:
        by_bulk = list(bulk.fetch_leads(since=None))
        assert bulk.face.calls["jobs/query"] >= 2  # create, poll, results
    assert [(r.crm_id, r.modified_at, r.deleted) for r in by_bulk] == [
        (r.crm_id, r.modified_at, r.deleted) for r in by_rest]
    assert [dict(r.fields) for r in by_bulk] == [dict(r.fields) for r in by_rest]
    assert sum(r.deleted for r in by_bulk) == 1


def test_task_create_writes_200_a_call(sf: SalesforceConnector, crm: SandboxCRM) -> None:
    crm.add_leads(generate_leads(400, seed=2, now=NOW))
    leads = crm.list_leads()
    before = sf.face.calls["composite"]
    results = sf.upsert_review_tasks(
        [_draft(f"p{n}", lead["crm_id"], lead["owner_id"]) for n, lead in enumerate(leads)])
    assert all(r.created for r in results)
    assert sf.face.calls["composite"] - before == -(-len(leads) // COLLECTION_SIZE)
    again = sf.upsert_review_tasks(
        [_draft(f"p{n}", lead["crm_id"], lead["owner_id"]) for n, lead in enumerate(leads)])
    assert [r.task_id for r in again] == [r.task_id for r in results]
    assert len(crm.list_tasks()) == len(leads)


def test_email_goes_through_email_simple_once_and_is_logged(
    sf: SalesforceConnector, crm: SandboxCRM
) -> None:
    from connectors.base import OutgoingEmail

    lead = crm.list_leads()[0]
    email = OutgoingEmail("draft:1", lead["crm_id"], lead["email"], "Hi", "Hello there",
                          lead["owner_id"])
    first = sf.send_email(email)
    second = sf.send_email(email)
    assert len(sf.face.sent_mail) == 1
    assert sf.face.sent_mail[0]["emailAddresses"] == lead["email"]
    assert second.already_sent and second.message_id == first.message_id
    (logged,) = crm.sent_emails()
    assert (logged.idempotency_key, logged.to, logged.subject, logged.body) == (
        "draft:1", lead["email"], "Hi", "Hello there")


def test_send_failure_is_not_retried(sf: SalesforceConnector, crm: SandboxCRM) -> None:
    from connectors.base import OutgoingEmail

    lead = crm.list_leads()[0]
    sf.list_owners()
    original = sf.face.count_call

    def fail_sends(kind: str) -> tuple[int, str, str] | None:
        fault = original(kind)
        return (503, "SERVER_UNAVAILABLE", "down") if kind == "actions" else fault

    sf.face.count_call = fail_sends  # type: ignore[method-assign]
    with pytest.raises(ConnectorError, match="emailSimple send failed after 1 attempt"):
        sf.send_email(OutgoingEmail("k", lead["crm_id"], lead["email"], "s", "b",
                                    lead["owner_id"]))
    assert sf.face.calls["actions"] == 1
    assert crm.sent_emails() == []


def test_check_lists_missing_custom_fields_by_api_name(crm: SandboxCRM) -> None:
    with connect_to_sandbox(crm) as sf:
        assert check_org(sf).missing == []
        sf.face.missing_fields = {"LeadLoop_Proposal_Id__c", "LeadLoop_Score__c"}
        report = check_org(sf)
    assert [(m.sobject, m.api_name) for m in report.missing] == [
        ("Lead", "LeadLoop_Score__c"), ("Task", "LeadLoop_Proposal_Id__c")]
    assert "External ID" in report.missing[1].field_type
    assert report.daily_api is not None


def test_a_field_missing_in_the_org_is_one_clear_line(crm: SandboxCRM) -> None:
    with connect_to_sandbox(crm) as sf:
        sf.face.missing_fields = {"LeadLoop_Engagement_Events__c"}
        with pytest.raises(ConnectorError, match="INVALID_FIELD.*LeadLoop_Engagement_Events__c"
                                                 ".*leadloop salesforce check"):
            list(sf.fetch_leads(since=None))
