"""The grounded template drafter: selection, clean text, grounding, validation, versions."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drafting import Draft, Drafter, LeadFacts, TemplateDrafter, TemplateError

WritePath = Callable[..., Path]

# Left behind only by a template that failed to handle an empty fact.
BROKEN_TEXT = re.compile(r"\w ,|  | [,.?!;:]|\(\)|\{|\}|\[\[|\]\]|\x00|^,|,,")


@pytest.fixture(scope="module")
def drafter() -> TemplateDrafter:
    return TemplateDrafter()


def assert_clean(draft: Draft) -> None:
    for text in (draft.subject, *draft.body.splitlines()):
        assert not BROKEN_TEXT.search(text), text
    assert draft.subject and draft.body
    assert "\n\n\n" not in draft.body
    assert draft.body == draft.body.strip()


def test_template_drafter_satisfies_the_drafter_protocol(drafter: TemplateDrafter) -> None:
    assert isinstance(drafter, Drafter)
    assert drafter.name == "template"


@pytest.mark.parametrize(
    ("facts", "template_id"),
    [
        (LeadFacts(recent_activity=("visited the pricing page twice",)), "first_touch_pricing"),
        (LeadFacts(engagement=("page_view: /pricing",)), "first_touch_pricing"),
        (LeadFacts(engagement=("webinar: Live product tour",)), "first_touch_webinar"),
        (LeadFacts(lead_source="Webinar"), "first_touch_webinar"),
        (LeadFacts(lead_source="Trade Show"), "first_touch_event"),
        (LeadFacts(engagement=("form_submit: demo request",)), "first_touch_form"),
        (LeadFacts(engagement=("page_view: /blog/crm-hygiene",)), "first_touch_content"),
        (LeadFacts(days_since_engaged=75), "re_engagement"),
        (LeadFacts(status="Nurture"), "re_engagement"),
        (LeadFacts(emails_sent=1), "follow_up"),
        (LeadFacts(emails_sent=1, replied=True), "generic_intro"),
        (LeadFacts(recent_activity=("opened 2 emails",)), "generic_intro"),
        (LeadFacts(), "generic_intro"),
        # An existing customer never gets a first-touch email, whatever brought it back.
        (LeadFacts(past_purchases=2), "expansion"),
        (
            LeadFacts(past_purchases=1, recent_activity=("viewed Pricing",),
                      engagement=("form_submit: demo request",), days_since_engaged=90),
            "expansion",
        ),
    ],
)
def test_select_template_by_situation(
    drafter: TemplateDrafter, facts: LeadFacts, template_id: str
) -> None:
    draft = drafter.draft(facts)
    assert draft.template_id == template_id
    assert_clean(draft)


def test_activity_line_keeps_the_activity_but_drops_counts_and_windows(
    write_templates: WritePath,
) -> None:
    drafter = TemplateDrafter(write_templates(_GOOD))
    facts = LeadFacts(
        recent_activity=("opened 2 emails", "Visited the pricing page 3 times in the last 14 days.")
    )
    draft = drafter.draft(facts)
    assert draft.body == "Hi there, you visited the pricing page."


def test_full_lead_pricing_draft_reads_well(drafter: TemplateDrafter, lead: LeadFacts) -> None:
    draft = drafter.draft(lead)
    assert draft.template_id == "first_touch_pricing"
    assert draft.body.startswith("Hi Ann,\n\n")
    assert "pricing" in draft.body.lower()
    assert draft.body.endswith("\nSam Rep\nsam@example.com")
    assert not re.search(r"\d+ times|last 14 days", draft.body)
    assert draft.drafter == "template"
    assert draft.fallback_reason is None and draft.token_usage is None
    assert_clean(draft)


def test_missing_first_name_greets_there(drafter: TemplateDrafter, lead: LeadFacts) -> None:
    draft = drafter.draft(dataclasses.replace(lead, first_name=""))
    assert draft.body.startswith("Hi there,\n")
    assert "Hi ," not in draft.body
    assert_clean(draft)


def test_missing_company_drops_the_sentence_parts_that_need_it(
    drafter: TemplateDrafter, lead: LeadFacts
) -> None:
    for crm_id in ("1", "2", "3", "4", "5", "6"):
        draft = drafter.draft(dataclasses.replace(lead, company="", crm_id=crm_id))
        assert "Acme" not in f"{draft.subject}{draft.body}"
        assert " at ." not in draft.body and " for ." not in draft.body
        assert_clean(draft)


def test_lead_with_no_facts_gets_a_clean_generic_email(drafter: TemplateDrafter) -> None:
    draft = drafter.draft(LeadFacts())
    assert draft.template_id == "generic_intro"
    assert draft.body.startswith("Hi there,\n\n")
    assert draft.facts_used == ()
    assert_clean(draft)


_text = st.one_of(st.just(""), st.sampled_from(["Ann", "Acme Corp", "VP Sales", "O'Neil"]))


@settings(max_examples=150, deadline=None)
@given(
    first_name=_text,
    company=_text,
    title=_text,
    rep_name=_text,
    rep_email=st.sampled_from(["", "sam@example.com"]),
    activity=st.lists(
        st.sampled_from(["viewed pricing", "attended a webinar", "opened an email"]), max_size=2
    ),
    past_purchases=st.integers(0, 2),
    lead_source=st.sampled_from(["", "Webinar", "Web form"]),
)
def test_any_mix_of_empty_facts_leaves_no_broken_text(
    first_name: str,
    company: str,
    title: str,
    rep_name: str,
    rep_email: str,
    activity: list[str],
    past_purchases: int,
    lead_source: str,
) -> None:
    facts = LeadFacts(
        first_name=first_name,
        company=company,
        title=title,
        rep_name=rep_name,
        rep_email=rep_email,
        recent_activity=tuple(activity),
        past_purchases=past_purchases,
        lead_source=lead_source,
    )
    assert_clean(TemplateDrafter().draft(facts))


@pytest.mark.parametrize(
    "activity", [("visited the pricing page",), ("attended the webinar",), ("read a blog post",)]
)
@pytest.mark.parametrize("past_purchases", [0, 3])
def test_hostile_note_never_appears_in_a_template_draft(
    drafter: TemplateDrafter,
    lead: LeadFacts,
    activity: tuple[str, ...],
    past_purchases: int,
) -> None:
    facts = dataclasses.replace(lead, recent_activity=activity, past_purchases=past_purchases)
    draft = drafter.draft(facts)
    text = f"{draft.subject}\n{draft.body}"
    assert "ignore previous instructions" not in text.lower()
    assert "50%" not in text
    assert "notes" not in draft.facts_used


def test_draft_holds_only_template_text_and_facts(
    drafter: TemplateDrafter, lead: LeadFacts
) -> None:
    draft = drafter.draft(lead)
    template = drafter.select(lead)
    fixed_words = set(re.findall(r"[A-Za-z']+", template.source))
    fact_words = {
        word
        for field in draft.facts_used
        for value in [getattr(lead, field)]
        for word in re.findall(
            r"[A-Za-z']+", " ".join(value) if isinstance(value, tuple) else value
        )
    }
    for word in re.findall(r"[A-Za-z']+", f"{draft.subject} {draft.body}"):
        assert word in fixed_words | fact_words, word


@pytest.mark.parametrize(
    "variant", ["full", "no_company", "generic", "webinar", "customer", "seats"]
)
def test_facts_used_lists_the_facts_that_appear(
    drafter: TemplateDrafter, lead: LeadFacts, variant: str
) -> None:
    facts = {
        "full": lead,
        "no_company": dataclasses.replace(lead, company=""),
        "generic": dataclasses.replace(lead, recent_activity=()),
        "webinar": dataclasses.replace(lead, recent_activity=(),
                                       engagement=("webinar: Live product tour",)),
        "customer": dataclasses.replace(lead, past_purchases=2),
        "seats": dataclasses.replace(lead, notes="Wants pricing for 120 seats."),
    }[variant]
    draft = drafter.draft(facts)
    text = f"{draft.subject}\n{draft.body}"
    assert "rep_email" in draft.facts_used
    for field in ("first_name", "title", "company", "rep_name", "rep_email"):
        assert (field in draft.facts_used) == bool(getattr(facts, field)
                                                   and getattr(facts, field) in text)
    assert ("engagement" in draft.facts_used) == ("Live product tour" in text)


def test_prompt_holds_the_chosen_variants_and_drafts_are_deterministic(
    drafter: TemplateDrafter, lead: LeadFacts
) -> None:
    first, second = drafter.draft(lead), TemplateDrafter().draft(lead)
    assert first == second
    template = drafter.select(lead)
    chosen_subject = first.prompt.splitlines()[0].removeprefix("Subject: ")
    assert chosen_subject in dict(template.variants)["subject"]
    assert first.prompt.split("\n\n(")[0].split("\n\n", 1)[1] in dict(template.variants)["body"]


def test_fact_values_are_pasted_as_plain_text(
    write_templates: WritePath, minimal_templates: str
) -> None:
    drafter = TemplateDrafter(write_templates(minimal_templates))
    draft = drafter.draft(LeadFacts(first_name="{rep_email}", company="{0.__class__}"))
    assert draft.body.startswith("Hi {rep_email},")
    assert "We met at {0.__class__}." in draft.body


def test_overlong_or_multiline_values_do_not_break_the_layout(
    write_templates: WritePath, minimal_templates: str
) -> None:
    drafter = TemplateDrafter(write_templates(minimal_templates))
    draft = drafter.draft(LeadFacts(first_name="Ann\n\nBcc: x", company="A" * 500))
    assert draft.body == "Hi Ann Bcc: x,\nBye"
    assert draft.subject == "Hello"


def test_version_is_a_content_hash(write_templates: WritePath, minimal_templates: str) -> None:
    base = TemplateDrafter(write_templates(minimal_templates, "a.toml"))
    assert re.fullmatch(r"tpl-[0-9a-f]{10}", base.version)
    # Comments and layout are not content; the same templates keep their version.
    commented = TemplateDrafter(write_templates("# note\n" + minimal_templates + "\n", "b.toml"))
    assert commented.version == base.version
    edited = TemplateDrafter(write_templates(minimal_templates.replace("Bye", "Cheers"), "c.toml"))
    assert edited.version != base.version
    assert TemplateDrafter().version != base.version


def test_default_templates_are_shipped_and_valid(drafter: TemplateDrafter) -> None:
    ids = [t.id for t in drafter.templates]
    assert ids == [
        "follow_up", "expansion", "re_engagement", "first_touch_form", "first_touch_pricing",
        "first_touch_webinar", "first_touch_event", "first_touch_content", "generic_intro",
    ]
    assert drafter.path.endswith("default_templates.toml")


_GOOD = """
[[template]]
id = "pricing"
when = "pricing_interest"
subject = "Pricing"
body = "Hi {first_name|there}, [[you {activity_line}.]]"

[[template]]
id = "generic"
when = "generic"
subject = "Hello"
body = "Hi {first_name|there},"
"""


@pytest.mark.parametrize(
    ("old", "new", "template_id", "expected"),
    [
        (
            "{first_name|there}, [[",
            "{frist_name|there}, [[",
            "pricing",
            "unknown placeholder {frist_name}; expected one of {activity_line}, {ask}, {company}",
        ),
        (
            'subject = "Pricing"\n',
            "",
            "pricing",
            "missing key 'subject'; expected id, when, subject, body",
        ),
        ('id = "generic"', 'id = "pricing"', "pricing", "duplicate id"),
        ('when = "generic"', 'when = "returning_customer"', None, "no generic fallback"),
        (
            'when = "pricing_interest"',
            'when = "pricey"',
            "pricing",
            "unknown when = 'pricey'; expected one of 'pricing_interest'",
        ),
        (
            "[[you {activity_line}.]]",
            "[[you {activity_line}.",
            "pricing",
            "body: '[[' is never closed",
        ),
        ("[[you {activity_line}.]]", "you {activity_line}.]]", "pricing", "body: placeholder"),
        ("[[you {activity_line}.]]", "[[you.]]", "pricing", "has no placeholder"),
        (
            "[[you {activity_line}.]]",
            "[[you [[{activity_line}]].]]",
            "pricing",
            "cannot be nested",
        ),
        (
            "Hi {first_name|there}, [[",
            "Hi {first_name}, [[",
            "pricing",
            "placeholder {first_name} may be empty; expected a default such as {first_name|...}",
        ),
        ("{first_name|there}, [[", "{first_name|}, [[", "pricing", "has an empty default"),
        (
            "[[you {activity_line}.]]",
            "[[{notes}]]",
            "pricing",
            "{notes} is not allowed: notes are never put in an email",
        ),
        ("Hi {first_name|there}, [[", "Hi {first_name|there} { [[", "pricing", "unmatched '{'"),
        ('subject = "Pricing"', 'subject = "[[{company}]]"', "pricing", "subject is empty"),
        ('subject = "Pricing"', 'subject = "Pri\\ncing"', "pricing", "subject spans"),
        ('subject = "Pricing"', 'subjet = "Pricing"', "pricing", "unknown key 'subjet'"),
        (
            'when = "pricing_interest"',
            'when = "pricing_interest"\ntone = "warm"',
            "pricing",
            "unknown key 'tone'; expected only id, when, subject, body, description, opening",
        ),
        ('id = "pricing"', 'id = "pricing offer"', None, "template #1 has no valid 'id'"),
        ("[[template]]", "[[templates]]", None, "unknown top-level key 'templates'"),
        ('subject = "Hello"', 'subject = "Hello', None, "not valid TOML"),
    ],
)
def test_invalid_templates_raise_one_clear_error(
    write_templates: WritePath,
    old: str,
    new: str,
    template_id: str | None,
    expected: str,
) -> None:
    assert old in _GOOD
    path = write_templates(_GOOD.replace(old, new, 1))
    with pytest.raises(TemplateError) as caught:
        TemplateDrafter(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert expected in message
    assert caught.value.template_id == template_id
    if template_id:
        assert f"template {template_id!r}" in message
    assert "\n" not in message or "not valid TOML" in expected
    assert caught.value.code == "template_invalid"


def test_generic_template_must_come_last(write_templates: WritePath) -> None:
    generic_first = _GOOD.split("[[template]]")
    path = write_templates("[[template]]".join(["", generic_first[2], generic_first[1]]))
    with pytest.raises(TemplateError, match="would never be chosen") as caught:
        TemplateDrafter(path)
    assert caught.value.template_id == "pricing"


def test_missing_templates_file_is_a_template_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(TemplateError, match="cannot read the file") as caught:
        TemplateDrafter(path)
    assert str(path) in str(caught.value)


def test_empty_templates_file_is_rejected(write_templates: WritePath) -> None:
    with pytest.raises(TemplateError, match="no templates"):
        TemplateDrafter(write_templates("# nothing yet\n"))


def test_activity_keyword_selector(write_templates: WritePath) -> None:
    text = _GOOD.replace('when = "pricing_interest"', 'when = "activity:Demo"')
    drafter = TemplateDrafter(write_templates(text))
    assert drafter.draft(LeadFacts(recent_activity=("booked a demo",))).template_id == "pricing"
    assert drafter.draft(LeadFacts(recent_activity=("viewed pricing",))).template_id == "generic"
