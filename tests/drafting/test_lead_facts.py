"""LeadFacts: built from loose CRM records, frozen."""

from __future__ import annotations

import dataclasses

import pytest

from drafting import LeadFacts


def test_from_mapping_with_no_keys_gives_empty_facts() -> None:
    assert LeadFacts.from_mapping({}) == LeadFacts()


def test_from_mapping_coerces_loose_types_and_ignores_unknown_keys() -> None:
    facts = LeadFacts.from_mapping(
        {
            "crm_id": 42,
            "first_name": "  Ann \n",
            "company": None,
            "title": "VP\n  Sales",
            "employees": "250",
            "past_purchases": None,
            "recent_activity": "visited the pricing page",
            "top_factors": ["pricing visits: +20", "", None],
            "score": 87.6,
            "tier": "",
            "notes": "line one\nline two\n",
            "favourite_colour": "green",
        }
    )
    assert facts.crm_id == "42"
    assert facts.first_name == "Ann"
    assert facts.company == ""
    assert facts.title == "VP Sales"
    assert facts.employees == 250
    assert facts.past_purchases == 0
    assert facts.recent_activity == ("visited the pricing page",)
    assert facts.top_factors == ("pricing visits: +20",)
    assert facts.score == 87
    assert facts.tier is None
    assert facts.notes == "line one\nline two"


@pytest.mark.parametrize("employees", ["lots", "", True, None])
def test_from_mapping_unreadable_number_becomes_none(employees: object) -> None:
    assert LeadFacts.from_mapping({"employees": employees}).employees is None


def test_from_mapping_negative_purchases_count_as_none_bought() -> None:
    assert LeadFacts.from_mapping({"past_purchases": "-3"}).past_purchases == 0


def test_lead_facts_are_frozen() -> None:
    facts = LeadFacts(first_name="Ann")
    with pytest.raises(dataclasses.FrozenInstanceError):
        facts.first_name = "Bob"  # type: ignore[misc]
