"""The HubSpot connector under the face's injected faults and limits."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from connectors.base import ProposalKind, ReviewTaskRequest, ScoreWrite, SyncCursor
from connectors.errors import RateLimitedError
from connectors.hubspot import HubSpotConnector
from connectors.limits import CallLimit, open_storage
from connectors.sandbox import SandboxCRM
from connectors.sandbox.hubspot_face import HubSpotFace, sandbox_id
from tests.connectors.hubspot.contract import face_config


def _draft(key: str, contact: str, owner: str) -> ReviewTaskRequest:
    return ReviewTaskRequest(proposal_key=key, kind=ProposalKind.DRAFT, lead_crm_id=contact,
                             owner_id=owner, subject="Hello", notes="Score 80 (tier A)",
                             due_date=date(2025, 6, 3), email_subject="Hello",
                             email_body="Hi")


def test_429_burst_with_retry_after_is_retried_for_post(
    face: HubSpotFace, connector: HubSpotConnector
) -> None:
    leads = list(connector.fetch_leads(since=None))[:2]
    face.faults.burst_429, face.faults.retry_after_s = 2, 1
    before, started = face.counters.calls, time.monotonic()
    results = connector.upsert_review_tasks(
        [_draft(f"k{i}", r.crm_id, r.fields["owner_id"]) for i, r in enumerate(leads)])
    assert [r.created for r in results] == [True, True]
    assert time.monotonic() - started >= 2.0  # Retry-After was honoured, twice
    assert face.counters.calls - before == 3  # two 429s, then the batch create
    assert face.counters.rate_limited == 2


def test_5xx_is_retried_and_the_retried_create_makes_no_duplicate(
    face: HubSpotFace, connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    lead = next(iter(connector.fetch_leads(since=None)))
    face.faults.server_errors = 2
    (first,) = connector.upsert_review_tasks([_draft("p1", lead.crm_id, lead.fields["owner_id"])])
    assert first.created
    # The same batch again, as after a crash: HubSpot's unique property refuses it and
    # the connector reads the task back instead of making a second one.
    (again,) = connector.upsert_review_tasks([_draft("p1", lead.crm_id, lead.fields["owner_id"])])
    assert (again.task_id, again.created) == (first.task_id, False)
    assert len([t for t in crm.list_tasks() if t.proposal_key == "p1"]) == 1


def test_persistent_429_is_a_rate_limited_error(face: HubSpotFace) -> None:
    connector = HubSpotConnector(face_config(face, retries=1))
    face.faults.burst_429, face.faults.retry_after_s = 5, 0
    with pytest.raises(RateLimitedError, match="rate limits after 1 retries"):
        connector.list_owners()


def test_207_partial_failure_reports_those_records_and_keeps_the_rest(
    face: HubSpotFace, connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    leads = list(connector.fetch_leads(since=None))[:3]
    face.faults.partial_failure_keys = {"k1", leads[2].crm_id}
    results = connector.upsert_review_tasks(
        [_draft(f"k{i}", r.crm_id, r.fields["owner_id"]) for i, r in enumerate(leads)])
    assert [r.created for r in results] == [True, False, True]
    assert results[1].task_id is None and "injected failure" in str(results[1].error)
    scores = connector.write_scores([ScoreWrite(r.crm_id, 50 + i, "B")
                                     for i, r in enumerate(leads)])
    assert [s.ok for s in scores] == [True, True, False]
    assert crm.get_lead(str(sandbox_id("L", leads[0].crm_id)))["score"] == 50
    # The failed task is created by the next write-back, once.
    (retry,) = connector.upsert_review_tasks([_draft("k1", leads[1].crm_id,
                                                     leads[1].fields["owner_id"])])
    assert retry.created


def test_search_lag_hides_a_change_until_a_look_back_rereads_it(
    face: HubSpotFace, connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    full = list(connector.fetch_leads(since=None))
    cursor = SyncCursor(full[-1].modified_at, full[-1].crm_id)
    face.faults.search_lag_s = 0.5
    changed = str(sandbox_id("L", full[0].crm_id))
    crm.update_lead(changed, title="VP Sales")
    assert list(connector.fetch_leads(since=cursor)) == []  # not indexed yet
    time.sleep(0.6)
    lookback = SyncCursor(cursor.modified_at - timedelta(seconds=5))
    again = {r.crm_id: r for r in connector.fetch_leads(since=lookback)}
    assert again[full[0].crm_id].fields["title"] == "VP Sales"


def test_search_past_the_result_cap_restarts_and_loses_nothing(crm: SandboxCRM) -> None:
    crm.seed(400, seed=9)  # 430 leads in a few stamps
    with HubSpotFace(crm, tokens={"contract-token"}, search_cap=200) as face:
        connector = HubSpotConnector(face_config(face, search_result_cap=200))
        connector.setup()
        ids = [str(sandbox_id("L", r.crm_id)) for r in connector.fetch_leads(since=None)]
        for n, crm_id in enumerate(ids[:250]):  # 250 changes, one stamp each
            crm.update_lead(crm_id, title=f"Title {n}")
        first = list(connector.fetch_leads(since=None))
        since = SyncCursor(min(r.modified_at for r in first if r.fields.get("title", "")
                               .startswith("Title ")))
        changed = list(connector.fetch_leads(since=since))
    assert len(changed) == 250 and len({r.crm_id for r in changed}) == 250
    positions = [(r.modified_at, r.crm_id) for r in changed]
    assert positions == sorted(positions)


def test_one_stamp_larger_than_the_cap_is_read_whole(crm: SandboxCRM) -> None:
    crm.seed(500, seed=9)  # one transaction: 500 leads share one stamp
    with HubSpotFace(crm, tokens={"contract-token"}, search_cap=200) as face:
        connector = HubSpotConnector(face_config(face, search_result_cap=200))
        connector.setup()
        full = list(connector.fetch_leads(since=None))
        shared = full[-1].modified_at
        changed = list(connector.fetch_leads(since=SyncCursor(shared)))
    assert sorted(r.crm_id for r in changed) == sorted(r.crm_id for r in full
                                                       if r.modified_at == shared)
    assert len(changed) == 500


def test_daily_budget_guard_stops_before_the_reserve(crm: SandboxCRM) -> None:
    with HubSpotFace(crm, tokens={"contract-token"}, daily_limit=100) as face:
        face.daily_used = 45
        connector = HubSpotConnector(face_config(face, daily_budget_share=0.5))
        connector.list_owners()  # 54 left after this: above the reserve of 50
        face.daily_used = 50
        connector.list_owners()  # the header now says 49 remain
        with pytest.raises(RateLimitedError, match="daily budget spent"):
            connector.list_owners()


def test_limiter_keeps_the_burst_within_its_window() -> None:
    started = time.time()
    limit = CallLimit(open_storage(None), 3, 1.0, "hubspot", "test", "burst")
    stamps = []
    for _ in range(7):
        limit.acquire()
        stamps.append(time.time() - started)
    # Calls 4-6 wait for the first window to pass, call 7 for the second.
    assert stamps[2] < 0.5 and 1.0 <= stamps[3] < 1.5 and stamps[6] >= 2.0
    assert all(stamps[i + 3] - stamps[i] >= 0.99 for i in range(4))  # never 4 in 1 s
