"""The models page (versions, champion against challenger, promote, rollback) and the
funnel (stages, rates by week, rep, template and drafter, what expires soon)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from scoring.registry import ModelRegistry
from scoring.train import TrainingResult, train
from tests.review_api.admin_pages.seed import HOSTILE_TEXT, csrf_of


@pytest.fixture(scope="module")
def trained() -> TrainingResult:
    """A small model trained once on synthetic leads (training is the slow part)."""
    rng = np.random.default_rng(0)
    n = 300
    visits = rng.poisson(3, n).astype(float)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-2 + 0.6 * visits)))).astype(int)
    frame = pd.DataFrame({"employees": rng.integers(5, 2000, n).astype(float),
                          "events_page_view": visits})
    return train(frame, y, measure_suspects=False)


def saved_models(data_dir: Path, result: TrainingResult) -> list[str]:
    """Two versions of the model saved in the registry (none promoted)."""
    registry = ModelRegistry(data_dir)
    first = registry.save(result, labels=300, source="store", note=HOSTILE_TEXT).version
    time.sleep(1.05)  # versions are named by the second they were saved in
    return [first, registry.save(result, labels=300, source="store", note="again").version]


def test_models_page_compares_promotes_and_rolls_back(
        admin: TestClient, data_dir: Path, rep: TestClient, trained: TrainingResult) -> None:
    empty = admin.get("/ui/admin/models").text
    assert "No model trained yet" in empty
    first, second = saved_models(data_dir, trained)
    page = admin.get("/ui/admin/models").text
    assert first in page and second in page and 'id="champion">none' in page
    assert "ROC curve" in page and "Calibration" in page and "Lift by decile" in page
    assert "<script>window" not in page and "&lt;script&gt;" in page
    record = ModelRegistry(data_dir).get(second)
    assert f'data-auc="{second}">{record.metrics["roc_auc"]:.3f}<' in page
    token = csrf_of(page)
    assert rep.post("/ui/admin/models/promote", data={"csrf": csrf_of(rep.get("/ui/").text),
                                                      "version": first}).status_code == 403
    assert ModelRegistry(data_dir).champion() is None
    promoted = admin.post("/ui/admin/models/promote", data={"csrf": token, "version": first})
    assert promoted.status_code == 200 and f"{first} is the champion" in promoted.text
    assert ModelRegistry(data_dir).champion() == first
    compared = admin.get(f"/ui/admin/models?challenger={second}").text
    assert f"the holdout of {second}" in compared
    assert len(re.findall(r"data-auc=", compared)) == 2
    # The same figures do not beat the champion: nothing changes, and the page says why.
    tie = admin.post("/ui/admin/models/promote", data={"csrf": token, "version": second})
    assert tie.status_code == 422 and "does not beat champion" in tie.text
    assert ModelRegistry(data_dir).champion() == first
    back = admin.post("/ui/admin/models/rollback", data={"csrf": token})
    assert "no champion now" in back.text and ModelRegistry(data_dir).champion() is None
    unknown = admin.post("/ui/admin/models/promote", data={"csrf": token, "version": "m-x"})
    assert unknown.status_code == 422 and "m-x" in unknown.text


def stage_counts(html: str) -> dict[str, int]:
    return {name: int(n) for name, n in re.findall(r'data-stage="([^"]+)">(\d+)<', html)}


def test_funnel_counts_each_stage(analyst: TestClient) -> None:
    page = analyst.get("/ui/funnel").text
    # Seven proposals: approved as-is, edited, rejected, sent (approved as-is, a meeting
    # booked on it, its lead converted), and three pending.
    assert stage_counts(page) == {"proposals": 7, "decided": 4, "approved as-is": 2,
                                  "edited": 1, "rejected": 1, "sent": 1, "replied": 1,
                                  "meeting booked": 1, "converted": 1}
    assert "<svg" in page and "Proposals of the last 90 days" in page


def rates(html: str) -> list[tuple[str, str, str]]:
    body = html.split('id="groups"')[1].split("</table>")[0]
    return re.findall(r'<th scope="row"><bdi>([^<]*)</bdi></th>.*?data-acceptance>([^<]*)<'
                      r'.*?data-edit-rate>([^<]*)<', body, re.S)


@pytest.mark.parametrize(("by", "expected"), [
    ("rep", [("U1", "75%", "33%"), ("&lt;script&gt;window.__pwned=1&lt;/script&gt;[U+202E]evil",
                                    "—", "—")]),
    ("template", [("first_touch_pricing", "67%", "0%"), ("follow_up", "100%", "100%")]),
    ("drafter", [("template", "75%", "33%")]),
])
def test_funnel_rates_by_group(admin: TestClient, by: str,
                               expected: list[tuple[str, str, str]]) -> None:
    found = rates(admin.get(f"/ui/funnel?by={by}").text)
    assert [row for row in found if row[0] in {e[0] for e in expected}] == sorted(
        expected, key=lambda row: row[0]) or found == expected


def test_funnel_by_week_and_time_to_decision(admin: TestClient) -> None:
    page = admin.get("/ui/funnel?by=week").text
    weeks = rates(page)
    assert [w[0] for w in weeks] == sorted(w[0] for w in weeks) and len(weeks) == 3
    # The sent proposal was decided 4 hours after it was made, alone in its week.
    assert re.search(r"2026-W43</bdi></th>.*?4 h</td>", page, re.S)


def test_funnel_lists_what_expires_in_the_next_day(admin: TestClient,
                                                   world: object) -> None:
    page = admin.get("/ui/funnel").text
    expiring = page.split('id="expiring"')[1].split("</table>")[0]
    ids = [int(n) for n in re.findall(r"<td>(\d+) \(", expiring)]
    seeded = world.ids  # type: ignore[attr-defined]
    assert ids == [seeded["hostile"], seeded["pending_soon"]]
    assert seeded["pending_later"] not in ids
