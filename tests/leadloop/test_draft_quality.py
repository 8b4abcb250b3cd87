"""A fresh 400-lead sandbox run through the real pipeline: the drafts a rep's queue shows."""

from __future__ import annotations

import pytest

from benchmarks.draft_quality import (
    DOUBLE_STOP_RE,
    TRACKING_RE,
    Drafted,
    _opening,
    _shape,
    run,
)
from drafting import TemplateDrafter
from leadloop.settings import Settings
from leadloop.wiring import open_drafter


@pytest.fixture(scope="module")
def fresh_run() -> tuple[list[Drafted], dict[str, str], dict[str, str]]:
    return run(400, seed=7)


def test_no_draft_quotes_tracking_or_doubles_a_stop(
    fresh_run: tuple[list[Drafted], dict[str, str], dict[str, str]],
) -> None:
    drafted, _, _ = fresh_run
    assert len(drafted) >= 30
    for d in drafted:
        text = f"{d.draft.subject}\n{d.draft.body}"
        assert not TRACKING_RE.search(text), text
        assert not DOUBLE_STOP_RE.search(text), text


def test_every_signature_carries_the_owning_reps_email(
    fresh_run: tuple[list[Drafted], dict[str, str], dict[str, str]],
) -> None:
    drafted, owners, _ = fresh_run
    for d in drafted:
        assert d.draft.body.splitlines()[-1] == owners[d.facts.rep_name]
        assert d.facts.rep_name in d.draft.body.splitlines()[-3:]


def test_customers_get_an_expansion_email_not_a_first_touch(
    fresh_run: tuple[list[Drafted], dict[str, str], dict[str, str]],
) -> None:
    drafted, _, _ = fresh_run
    customers = [d for d in drafted if d.facts.past_purchases > 0]
    assert customers
    assert {d.draft.template_id for d in customers} == {"expansion"}
    assert not any((d.draft.template_id or "").startswith("first_touch") for d in customers)


def test_every_ten_drafts_bring_a_new_opening_and_subject(
    fresh_run: tuple[list[Drafted], dict[str, str], dict[str, str]],
) -> None:
    drafted, _, _ = fresh_run
    openings = {_shape(_opening(d.draft), d.facts) for d in drafted}
    subjects = {_shape(d.draft.subject, d.facts) for d in drafted}
    assert len(openings) * 10 >= len(drafted)
    assert len(subjects) * 10 >= len(drafted)


def test_no_draft_holds_a_line_of_its_leads_notes(
    fresh_run: tuple[list[Drafted], dict[str, str], dict[str, str]],
) -> None:
    drafted, _, notes = fresh_run
    for d in drafted:
        for line in notes[d.facts.crm_id].splitlines():
            assert len(line.strip()) < 12 or line.strip() not in d.draft.body


def test_note_facts_setting_reaches_the_drafter() -> None:
    drafter = open_drafter(Settings(draft_note_facts=[]))
    assert isinstance(drafter, TemplateDrafter) and drafter.note_facts == ()
    assert open_drafter(Settings()).note_facts == ("seats", "timeline")  # type: ignore[attr-defined]
