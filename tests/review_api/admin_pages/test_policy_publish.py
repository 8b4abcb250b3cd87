"""Publishing escalation rules on /ui/admin/policy: the pipeline the wiring builds uses them,
only admins may publish or roll back, only valid rules are kept, history diffs, rollback,
and escaping of what admins typed."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from drafting import LeadFacts
from drafting.guardrails import load_product_facts, review_draft
from drafting.policy_registry import PolicyRegistry, policy_in_force
from leadloop.settings import Settings
from leadloop.wiring import build_pipeline
from review_api.store.db import Store
from tests.review_api.admin_pages.seed import HOSTILE_TEXT, csrf_of, lead_payload

PAGE = "/ui/admin/policy"
MANAGER_RULE = "require the manager when the company has more than 100 employees"


def publish(client: TestClient, rules: str, note: str = "why") -> tuple[int, str, str]:
    """Publish ``rules`` through the page's form: (status, version published or "", page)."""
    token = csrf_of(client.get("/ui/").text)
    answer = client.post(PAGE, data={"csrf": token, "rules": rules, "note": note,
                                     "action": "publish"}, follow_redirects=False)
    if answer.status_code != 303:
        return answer.status_code, "", answer.text
    version = parse_qs(urlsplit(answer.headers["location"]).query)["published"][0]
    return 303, version, client.get(answer.headers["location"]).text


def manager_escalations(store: Store, data_dir: Path) -> list[str]:
    """The require-the-manager rules a pipeline built by the wiring fires on a real draft
    for a 250-employee lead."""
    pipeline = build_pipeline(Settings(data_dir=data_dir), store=store)
    lead = lead_payload(1)
    assert lead["employees"] == 250
    facts = LeadFacts.from_mapping(lead)
    draft = pipeline.drafter.draft(facts)
    review = review_draft(draft, facts, load_product_facts(None))
    return [e.rule for e in pipeline.policy.after_draft(draft, review, lead)
            if e.action == "require_manager"]


def test_rules_published_on_the_page_are_the_pipelines(admin: TestClient, store: Store,
                                                       data_dir: Path) -> None:
    assert manager_escalations(store, data_dir) == []  # the shipped rule says 1000
    shipped = policy_in_force(data_dir)[1]
    status, version, page = publish(admin, f"{shipped}\n{MANAGER_RULE}\n", "bigger accounts")
    assert status == 303 and f"Published {version}" in page
    assert manager_escalations(store, data_dir) == [MANAGER_RULE]
    assert f"In force: published version {version}" in page and "bigger accounts" in page


def test_a_rep_cannot_publish_or_roll_back_rules(rep: TestClient, admin: TestClient,
                                                 data_dir: Path) -> None:
    status, first, _ = publish(admin, "escalate when the tier is A\n")
    assert status == 303
    status, _, _ = publish(admin, f"{MANAGER_RULE}\n")
    assert status == 303
    before = PolicyRegistry(data_dir).versions()
    status, _, page = publish(rep, "escalate when the tier is B\n", "mine")
    assert status == 403 and "needs an admin key" in page
    token = csrf_of(rep.get("/ui/").text)
    answer = rep.post(f"{PAGE}/rollback", data={"csrf": token, "version": first},
                      follow_redirects=False)
    assert answer.status_code == 403 and "needs an admin key" in answer.text
    assert PolicyRegistry(data_dir).versions() == before


def test_only_valid_rules_with_a_note_are_published(admin: TestClient,
                                                    data_dir: Path) -> None:
    status, _, page = publish(admin, "escalate when the tier is A\nescalate sometimes\n")
    assert status == 422
    assert "Not published: the rules: line 2: &#39;escalate sometimes&#39;" in page
    status, _, page = publish(admin, "escalate when the tier is A\n", note="  ")
    assert status == 422 and "say why in the note" in page
    assert PolicyRegistry(data_dir).versions() == []
    assert "Nothing published yet" in page


def test_history_diff_and_rollback(admin: TestClient, store: Store, data_dir: Path) -> None:
    status, first, _ = publish(admin, "escalate when the tier is A\n", "first")
    status, second, page = publish(admin, f"escalate when the tier is A\n{MANAGER_RULE}\n",
                                   "second")
    history = page.split('id="history-title"')[1]
    assert history.index(second) < history.index(first)  # newest first
    assert f"<code><bdi>+{MANAGER_RULE}</bdi></code>" in history
    diff = admin.get(PAGE, params={"a": second, "b": first}).text.split('id="diff"')[1]
    assert f"<code><bdi>-{MANAGER_RULE}</bdi></code>" in diff and "tier is A" not in diff
    assert manager_escalations(store, data_dir) == [MANAGER_RULE]
    token = csrf_of(page)
    answer = admin.post(f"{PAGE}/rollback", data={"csrf": token, "version": first},
                        follow_redirects=False)
    assert answer.status_code == 303
    page = admin.get(answer.headers["location"]).text
    assert f"Rolled back: {first} is in force again." in page
    assert PolicyRegistry(data_dir).current() == "escalate when the tier is A\n"
    assert [v.version for v in PolicyRegistry(data_dir).versions()] == [first, second, first]
    assert f"rollback to {first}" in page and "rolled back to" in page
    assert manager_escalations(store, data_dir) == []
    again = admin.post(f"{PAGE}/rollback", data={"csrf": token, "version": first})
    assert again.status_code == 422 and "already the version in force" in again.text
    unknown = admin.post(f"{PAGE}/rollback", data={"csrf": token, "version": "../x"})
    assert unknown.status_code == 422 and "no published rules version" in unknown.text


def test_hostile_notes_and_rules_are_escaped(admin: TestClient, data_dir: Path) -> None:
    status, _, page = publish(admin, f"escalate when the company is {HOSTILE_TEXT}\n",
                              note=HOSTILE_TEXT)
    assert status == 303
    assert PolicyRegistry(data_dir).versions()[0].note == HOSTILE_TEXT
    history = page.split('id="history-title"')[1]
    assert "<script>window" not in page and "&lt;script&gt;window" in history
    # Outside the text box, bidi controls are shown as codes, never obeyed.
    assert "\u202e" not in re.sub(r"<textarea[^>]*>.*?</textarea>", "", page, flags=re.S)
