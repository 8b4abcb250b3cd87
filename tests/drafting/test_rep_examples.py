"""Few-shot examples for a model drafter: the rep's own recent edits, capped and masked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from drafting import LeadFacts, TemplateDrafter
from drafting.learning import EditRecord
from drafting.rep_examples import rep_examples

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def edit(rep: str, i: int, extra: str = "") -> EditRecord:
    before = f"Subject: Hello\n\nHi Ann,\n\nDraft number {i}.\n\nSam"
    after = f"Subject: Hello\n\nHi Ann Lee,\n\nDraft number {i}, shorter.{extra}\n\nSam"
    return EditRecord(before, after, rep=rep, decided_at=T0 + timedelta(days=i))


def test_only_the_reps_own_recent_edits_capped_and_masked() -> None:
    records = [edit("rep1", i, " Call +1 415 555 0100 or ann@acme.example.") for i in range(10)]
    records += [edit("rep2", 100 + i) for i in range(5)]
    records.append(EditRecord("Subject: x\n\nsame", "Subject: x\n\nsame", rep="rep1"))
    pick = rep_examples(records, TemplateDrafter(), rep_of=lambda f: f.crm_id, k=3, recent=4)
    examples = pick(LeadFacts(crm_id="rep1", first_name="Bo"))
    assert len(examples) == 3
    assert {e.rep for e in examples} == {"rep1"}
    numbers = {int(e.before.split("Draft number ")[1].split(".")[0]) for e in examples}
    assert numbers <= {6, 7, 8, 9}  # the four most recent edits only
    for e in examples:
        text = e.before + e.after
        assert "@" not in text and "555" not in text and "Ann" not in text
        assert "Hi [first name]," in e.after and "[phone] or [email]" in e.after


def test_a_rep_with_no_edits_gets_no_examples() -> None:
    pick = rep_examples([edit("rep1", 1)], TemplateDrafter(), rep_of=lambda f: f.crm_id)
    assert pick(LeadFacts(crm_id="rep9")) == []
    assert pick(LeadFacts(crm_id="")) == []
