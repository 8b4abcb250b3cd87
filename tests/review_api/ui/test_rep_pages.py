"""The rep's queue and proposal page, read as HTML; decisions through the pages' forms."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from review_api.store.db import Store
from review_api.store.models import AuditEvent, Decision, Lead, OutboxEmail
from tests.review_api.ui.conftest import log_in
from tests.review_api.ui.seed import PWNED, World, csrf_of


def _queue_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-href="/ui/proposals/(\d+)"', html)]


def _decisions(store: Store) -> dict[int, Decision]:
    with store.session() as session:
        return {d.proposal_id: d for d in session.scalars(select(Decision))}


def _post(client: TestClient, pid: int, **form: str) -> object:
    token = csrf_of(client.get(f"/ui/proposals/{pid}").text)
    return client.post(f"/ui/proposals/{pid}/decide", data={"csrf": token, **form},
                       follow_redirects=False)


def test_queue_orders_by_tier_then_score_then_age(rep: TestClient, world: World) -> None:
    ids = world.ids
    # A 90, A 82, A 75 (6 h old), A 75 (3 h old), B 55, C 30.
    assert _queue_ids(rep.get("/ui/").text) == [
        ids["manager_only"], ids["clean_a"], ids["override"], ids["flagged"], ids["clean_b"],
        ids["hostile"]]


def test_queue_filters(rep: TestClient, world: World) -> None:
    ids = world.ids
    assert _queue_ids(rep.get("/ui/?kind=score_override").text) == [ids["override"]]
    assert _queue_ids(rep.get("/ui/?flagged=clean").text) == [ids["clean_a"], ids["clean_b"]]
    assert _queue_ids(rep.get("/ui/?tier=B").text) == [ids["clean_b"]]
    assert rep.get("/ui/?tier=Z").status_code == 422


def test_manager_sees_what_was_escalated_to_them(app: FastAPI, world: World) -> None:
    manager = TestClient(app)
    log_in(manager, world.manager)
    page = manager.get("/ui/").text
    assert _queue_ids(page) == [world.ids["manager_only"]]
    assert "escalated to you (owner U1)" in page
    assert _queue_ids(manager.get("/ui/?whose=escalated").text) == [world.ids["manager_only"]]
    assert _queue_ids(manager.get("/ui/?whose=own").text) == []


def test_another_rep_sees_nothing_and_may_not_open_it(app: FastAPI, world: World) -> None:
    other = TestClient(app)
    log_in(other, world.other_rep)
    assert _queue_ids(other.get("/ui/").text) == []
    assert other.get(f"/ui/proposals/{world.ids['clean_a']}").status_code == 403


def test_approve_with_one_click_stores_one_decision(rep: TestClient, world: World,
                                                    store: Store) -> None:
    pid = world.ids["clean_a"]
    answer = _post(rep, pid, action="approve", version="1")
    assert answer.status_code == 303  # type: ignore[attr-defined]
    assert "outcome=approved" in answer.headers["location"]  # type: ignore[attr-defined]
    label = _decisions(store)[pid]
    assert (label.decision, label.source, label.decided_by) == ("approved", "ui", "U1")
    again = _post(rep, pid, action="approve", version="1")
    assert again.status_code == 409  # type: ignore[attr-defined]
    assert len(_decisions(store)) == 1
    with store.session() as session:
        assert len(session.scalars(select(OutboxEmail)).all()) == 1
    assert pid not in _queue_ids(rep.get("/ui/").text)


def test_edit_and_approve_keeps_the_diff_as_the_label(rep: TestClient, world: World,
                                                      store: Store) -> None:
    pid = world.ids["clean_a"]
    answer = _post(rep, pid, action="edit", version="1", subject="Hello again Ann",
                   body="Hi Ann,\r\n\r\nA longer note.\r\n\r\nBest, Bo")
    assert answer.status_code == 303  # type: ignore[attr-defined]
    label = _decisions(store)[pid]
    assert label.diff is not None
    assert "-Short note." in label.diff and "+A longer note." in label.diff
    assert "+Subject: Hello again Ann" in label.diff and "\r" not in (label.final_text or "")


def test_reject_needs_a_reason(rep: TestClient, world: World, store: Store) -> None:
    pid = world.ids["clean_b"]
    refused = _post(rep, pid, action="reject", reason="  ")
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "a rejection needs a reason" in refused.text  # type: ignore[attr-defined]
    assert _decisions(store) == {}
    _post(rep, pid, action="reject", reason="They bought elsewhere")
    label = _decisions(store)[pid]
    assert (label.decision, label.reason) == ("rejected", "They bought elsewhere")


def test_score_override_with_the_reps_own_score(rep: TestClient, world: World,
                                                store: Store) -> None:
    pid = world.ids["override"]
    page = rep.get(f"/ui/proposals/{pid}").text
    assert "From <strong>40</strong> (tier C) to <strong>75</strong> (tier A)" in page
    assert "Booked a demo: +25" in page and 'name="score"' in page
    assert _post(rep, pid, action="score", score="60").status_code == 303  # type: ignore[attr-defined]
    label = _decisions(store)[pid]
    assert (label.original_score, label.final_score) == (75, 60)
    with store.session() as session:
        lead = session.get(Lead, "L2")
        assert lead is not None and (lead.effective_score, lead.effective_tier) == (60, "B")


def test_a_manager_only_proposal_is_refused_to_the_rep(app: FastAPI, rep: TestClient,
                                                       world: World, store: Store) -> None:
    pid = world.ids["manager_only"]
    page = rep.get(f"/ui/proposals/{pid}").text
    assert "Only U9 (the manager; a rule requires their approval) may approve this." in page
    assert 'data-key="approve"' not in page
    refused = _post(rep, pid, action="approve")
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert "may not approve" in refused.text  # type: ignore[attr-defined]
    assert _decisions(store) == {}
    with store.session() as session:
        kept = session.scalars(select(AuditEvent).where(
            AuditEvent.event == "decision_refused")).one()
        assert kept.actor == "U1" and kept.detail["source"] == "ui"
    manager = TestClient(app)
    log_in(manager, world.manager)
    assert _post(manager, pid, action="approve").status_code == 303  # type: ignore[attr-defined]
    assert _decisions(store)[pid].decided_by == "U9"


def test_bulk_approve_gives_a_receipt_per_item(rep: TestClient, world: World,
                                               store: Store) -> None:
    ids = world.ids
    page = rep.get("/ui/").text
    # Only clean drafts can be picked.
    assert set(map(int, re.findall(r'name="ids" value="(\d+)"', page))) == {
        ids["clean_a"], ids["clean_b"]}
    # A forged form that lists a flagged and an escalated draft too.
    picked = [str(ids[n]) for n in ("clean_a", "clean_b", "flagged", "manager_only")]
    answer = rep.post("/ui/bulk", data={"csrf": csrf_of(page), "ids": picked})
    assert answer.status_code == 200
    receipts = re.findall(r'data-proposal="(\d+)">.*?receipt-(ok|no)', answer.text, re.S)
    assert [(int(p), r) for p, r in receipts] == [
        (ids["clean_a"], "ok"), (ids["clean_b"], "ok"), (ids["flagged"], "no"),
        (ids["manager_only"], "no")]
    assert "2 of 4 approved" in answer.text
    assert set(_decisions(store)) == {ids["clean_a"], ids["clean_b"]}


def test_the_proposal_page_marks_flags_where_they_occur(rep: TestClient, world: World) -> None:
    page = rep.get(f"/ui/proposals/{world.ids['flagged']}").text
    assert re.search(r'<mark class="risk" title="risk: discount"><bdi>20% discount</bdi>', page)
    assert re.search(r'<mark class="claim"[^>]*><bdi>\$40,000</bdi>', page)
    assert "Title is VP: +20" in page  # top factors in words
    escalated = rep.get(f"/ui/proposals/{world.ids['manager_only']}").text
    assert "Escalation rules that fired" in escalated and "contract terms" in escalated
    assert "rule on line 3" in escalated
    assert "<strong>proposed</strong> by leadloop" in escalated  # the history
    assert "Nothing is sent until the draft is approved" in escalated


def test_the_hostile_corpus_is_shown_as_text(rep: TestClient, world: World) -> None:
    for path in ("/ui/", f"/ui/proposals/{world.ids['hostile']}"):
        html = rep.get(path).text
        for tag in ("<script>", "<img", "<svg", "<iframe", "<b onmouseover", "href=\"javascript"):
            assert tag not in html, (path, tag)
        assert "&lt;img src=x onerror=&#34;window.__pwned=1&#34;&gt;" in html
        assert "&lt;a href=&#34;javascript:" in html
        assert "\u202e" not in html and "\u2067" not in html  # shown as codes instead
    page = rep.get(f"/ui/proposals/{world.ids['hostile']}").text
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;Eve" in page
    assert "Invoice [U+202E]gnp.exe[U+202C] for you" in page
    assert "[U+2067]txt.exe[U+2069]" in page
    # The injection flag's evidence is marked where it occurs in the body.
    assert '<mark class="injection"' in page and PWNED in page
