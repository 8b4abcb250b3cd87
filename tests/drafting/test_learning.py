"""Learning from rep edits: rules learned, applied, switched off; examples; weekly metrics."""

from __future__ import annotations

from datetime import datetime

import pytest

from drafting import TemplateDrafter
from drafting.base import Draft
from drafting.learning import (
    EditRecord,
    LearnedRule,
    apply,
    learn_rules,
    normalised_distance,
    set_enabled,
    shape,
    similar_examples,
    weekly_metrics,
)
from tests.drafting.simulator import PS_LINE, REPS, Rep, leads, when


def simulate(rounds: int, per_round: int, max_words: int = 60) -> list[tuple[float, float]]:
    """Mean normalised edit distance and share approved unedited, per round."""
    drafter, records, rules = TemplateDrafter(), [], []  # type: ignore[var-annotated]
    reps = {r: Rep(r, max_words) for r in REPS}
    curve = []
    for round_no in range(rounds):
        distances, untouched = [], 0
        for i, (facts, rep) in enumerate(leads(per_round, seed=100 + round_no)):
            draft = apply(rules, drafter.draft(facts), rep)
            before = f"Subject: {draft.subject}\n\n{draft.body}"
            after = f"Subject: {draft.subject}\n\n{reps[rep].edit(draft.body)}"
            records.append(EditRecord(before, after, rep, when(round_no, i)))
            distances.append(normalised_distance(before, after))
            untouched += before == after
        curve.append((sum(distances) / len(distances), untouched / per_round))
        rules = learn_rules(records)
    return curve


@pytest.mark.parametrize("max_words", [60, 45])
def test_edit_distance_falls_at_least_60_percent_over_five_rounds(max_words: int) -> None:
    curve = simulate(rounds=5, per_round=60, max_words=max_words)
    first, last = curve[0][0], curve[-1][0]
    assert first > 0.1
    assert last <= 0.4 * first
    assert curve[-1][1] > curve[0][1]


def record(before: str, after: str | None, rep: str = "r1", day: int = 6) -> EditRecord:
    return EditRecord(before, after, rep, datetime(2025, 1, day, 9))


BODY = "Hi Ann,\n\nI hope you are well. We help teams like yours.\n\nBest regards,\nSam Rep"


def test_learns_deleted_sentence_added_sign_off_and_replaced_phrase() -> None:
    edited = "Hi Ann,\n\nWe support teams like yours.\n\nCheers,\nSam Rep"
    records = [
        record(BODY.replace("Ann", name), edited.replace("Ann", name))
        for name in ("Ann", "Bo", "Chen", "Dana", "Eli", "Fay")
    ]
    learned = learn_rules(records)
    deleted = {r.target: r for r in learned if r.kind == "delete_sentence"}
    assert set(deleted) == {"i hope you are well.", "best regards,"}
    assert deleted["best regards,"].support == 6 and deleted["best regards,"].seen == 6
    assert "deleted it 6 of 6 times" in deleted["best regards,"].description
    replaced = [r for r in learned if r.kind == "replace_phrase"]
    assert [(r.target, r.replacement) for r in replaced] == [("help", "support")]
    assert any(r.kind == "add_line" and r.target == "Cheers," for r in learned)
    new = Draft("S", BODY.replace("Ann", "Gus"), "template", "v", "t", "", ())
    out = apply(learn_rules(records), new, "r1")
    assert out.body == "Hi Gus,\n\nWe support teams like yours.\n\nCheers,\nSam Rep"
    assert len(out.applied_rules) == 4


def test_too_little_support_learns_nothing() -> None:
    edited = BODY.replace("I hope you are well. ", "")
    assert learn_rules([record(BODY, edited)] * 4, min_support=5) == []


def test_rep_rules_apply_only_to_that_rep() -> None:
    records = [record(BODY, BODY + "\nP.S. " + PS_LINE[5:], rep="r3") for _ in range(6)]
    records += [record(BODY, BODY, rep="r1") for _ in range(12)]
    rules = learn_rules(records)
    assert [(r.scope, r.kind) for r in rules] == [("r3", "add_line")]
    draft = Draft("S", BODY, "template", "v", "t", "", ())
    assert apply(rules, draft, "r1") is draft
    assert apply(rules, draft, "r3").body.endswith(PS_LINE)


def test_switched_off_rule_is_not_applied_and_stays_off_when_relearned() -> None:
    edited = BODY.replace("I hope you are well. ", "")
    records = [record(BODY, edited)] * 6
    rules = learn_rules(records)
    rule_id = rules[0].id
    off = set_enabled(rules, rule_id, False)
    draft = Draft("S", BODY, "template", "v", "t", "", ())
    assert apply(off, draft, "r1") is draft
    again = learn_rules(records, disabled=[rule_id])
    assert again[0].id == rule_id and again[0].enabled is False
    with pytest.raises(KeyError):
        set_enabled(rules, "R-nope", False)
    assert LearnedRule.from_dict(rules[0].to_dict()) == rules[0]


def test_rejected_decisions_teach_nothing() -> None:
    assert learn_rules([record(BODY, None)] * 10) == []


def test_shape_wildcards_names_numbers_and_addresses() -> None:
    assert shape("Hi Ann,") == shape("Hi Bo,") == "hi *,"
    assert shape("I saw you at Acme Corp on 3 May.") == "i saw you at * on *."
    assert shape("Sam Rep") == "* *"


def test_similar_examples_prefer_close_edits_and_the_rep() -> None:
    records = [
        record("Subject: Pricing\n\nHi, about pricing for you.", "Subject: Pricing\n\nHi.", "r1"),
        record(
            "Subject: Webinar\n\nThanks for joining the webinar.", "Subject: W\n\nThanks.", "r2"
        ),
        record("Subject: Same\n\nUnchanged", "Subject: Same\n\nUnchanged", "r1"),
    ]
    picked = similar_examples(records, "Subject: Pricing\n\nHi, about pricing.", k=1)
    assert [e.rep for e in picked] == ["r1"]
    assert len(similar_examples(records, "anything", k=5)) == 2  # unedited ones never count


def test_weekly_metrics_give_edit_rate_and_mean_distance() -> None:
    records = [
        record("abcd", "abcd", day=6),
        record("abcd", "abXY", day=7),
        record("abcd", None, day=8),
        record("abcd", "abcd", day=14),
    ]
    weeks = weekly_metrics(records)
    assert [(w.week.day, w.decisions, w.approved, w.edited) for w in weeks] == [
        (6, 3, 2, 1),
        (13, 1, 1, 0),
    ]
    assert weeks[0].edit_rate == 0.5
    assert weeks[0].mean_normalised_distance == pytest.approx(0.25)


def test_edit_record_from_a_decision_row() -> None:
    row = {
        "original_text": "a",
        "final_text": "b",
        "decided_by": "r9",
        "decided_at": "2025-01-06T09:00:00",
        "decision": "rejected",
    }
    rec = EditRecord.from_mapping(row)
    assert rec.rep == "r9" and rec.final_text is None and rec.decided_at == datetime(2025, 1, 6, 9)
