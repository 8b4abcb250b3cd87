"""Learning from rep edits: what reps change again and again, applied to new drafts.

Input is plain records of what was proposed and what the rep approved
(:class:`EditRecord`, built from the store's decisions). From them :func:`learn_rules`
finds, per team and per rep:

* sentences reps delete, and words whose sentences they always delete (a topic);
* phrases they delete or replace with the same words;
* lines they add (sign-offs, a P.S.), and where;
* the length they cut to.

Each :class:`LearnedRule` has a stable id, a description in words, its support (how often
reps did it out of how often they could have) and an ``enabled`` switch. :func:`apply`
applies the enabled rules to any drafter's output; :func:`similar_examples` picks the
approved edits most like a new draft, for the LLM prompt; :func:`weekly_metrics` gives
the edit rate and mean normalised edit distance per week.

Sentences are compared by *shape*: names, numbers and addresses are wildcards, so
"Hi Ann," and "Hi Bo," are one sentence, and a rule learned on one lead applies to all.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from difflib import SequenceMatcher
from typing import Any, Literal

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from drafting.base import Draft, LeadFacts

RuleKind = Literal[
    "delete_sentence", "delete_topic", "replace_phrase", "delete_phrase", "add_line", "max_words"
]
TEAM = "team"

# ----- records --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EditRecord:
    """One decision on a draft: what was proposed, what the rep approved (None: rejected)."""

    original_text: str
    final_text: str | None
    rep: str = ""
    decided_at: datetime | None = None

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> EditRecord:
        """Build a record from a decision row as a mapping.

        Reads ``original_text``, ``final_text``, ``decided_by`` (or ``rep``),
        ``decided_at`` and ``decision``: a rejected decision has no final text.
        """
        final = m.get("final_text")
        if str(m.get("decision") or "").lower().startswith("reject"):
            final = None
        decided_at = m.get("decided_at")
        if isinstance(decided_at, str):
            decided_at = datetime.fromisoformat(decided_at)
        return cls(
            original_text=str(m.get("original_text") or ""),
            final_text=None if final is None else str(final),
            rep=str(m.get("decided_by") or m.get("rep") or ""),
            decided_at=decided_at if isinstance(decided_at, datetime) else None,
        )

    @property
    def approved(self) -> bool:
        """Whether the rep approved (with or without edits)."""
        return self.final_text is not None

    @property
    def edited(self) -> bool:
        """Whether the rep approved a changed text."""
        return self.final_text is not None and _norm_ws(self.final_text) != _norm_ws(
            self.original_text
        )


@dataclass(frozen=True, slots=True)
class EditExample:
    """A proposed text and the text the rep approved instead: a style example."""

    before: str
    after: str
    rep: str = ""


@dataclass(frozen=True, slots=True)
class LearnedRule:
    """Something reps do to drafts again and again, as a rule that can be applied.

    ``support`` is how often reps did it; ``seen`` how often they could have.
    """

    id: str
    scope: str
    kind: RuleKind
    target: str
    description: str
    support: int
    seen: int
    replacement: str = ""
    anchors: tuple[str, ...] = ()
    limit: int | None = None
    enabled: bool = True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, for storing rules and showing them to the admin."""
        return {**asdict(self), "anchors": list(self.anchors)}

    @classmethod
    def from_dict(cls, m: Mapping[str, Any]) -> LearnedRule:
        """The inverse of :meth:`to_dict`."""
        return cls(**{**m, "anchors": tuple(m.get("anchors", ()))})


# ----- text shapes ----------------------------------------------------------------------

_SUBJECT_RE = re.compile(r"^Subject:[ \t]*(.*)\n?\n?", re.IGNORECASE)
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(\[])")
_TOKEN_RE = re.compile(r"\S+")
_WILD_RE = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\+?\d(?:[\d,./:-]*\d)?\w*"
    r"|(?<=\s)[A-Z][\w'&-]*(?:\.[\w'&-]+)*|^[A-Z][\w'&-]*(?=$)"
)
_WILD_RUN_RE = re.compile(r"\*(?:\s+(?:of|and|&|de|van|von)?\s*\*)+")
_WORDS_RE = re.compile(r"[a-z][a-z'-]+")
_COMMON = frozenset(
    """
    about after also always been being best could does each from have here just like
    make more most much only other over same some such than that their them then there
    these they this those very want what when which while will with would your you're
    we're i'd i'm i'll know look looking forward reaching thought wanted happy glad
    """.split()
)


def _norm_ws(text: str) -> str:
    return " ".join(text.split())


def split_email(text: str) -> tuple[str, str]:
    """``"Subject: ...\\n\\nbody"`` (the stored form) as subject and body."""
    match = _SUBJECT_RE.match(text)
    if match is None:
        return "", text.strip("\n")
    return match.group(1).strip(), text[match.end() :].strip("\n")


def shape(sentence: str) -> str:
    """A sentence with names, numbers and addresses as ``*``: the key rules match on."""
    text = _norm_ws(sentence)
    tokens = text.split(" ")
    # A short line of capitalised words is a name or a company ("Sam Rep"): all wildcard.
    if (
        0 < len(tokens) <= 3
        and all(t[:1].isupper() for t in tokens)
        and not any(t.endswith(",") for t in tokens)
    ):
        return " ".join("*" for _ in tokens)
    text = _WILD_RE.sub("*", text).strip().lower()
    # "as VP Sales at Acme Corp" and "as Head of Operations at Blue Fjord" are one shape.
    return _WILD_RUN_RE.sub("*", text)


def _sentences(line: str) -> list[str]:
    parts = [s for s in _SENTENCE_SPLIT_RE.split(line.strip()) if s]
    # "P.S. Happy to..." and "Dr. Lee" are one sentence: rejoin short abbreviations.
    merged: list[str] = []
    for part in parts:
        if merged and len(merged[-1]) <= 4 and merged[-1].endswith("."):
            merged[-1] += " " + part
        else:
            merged.append(part)
    return merged


@dataclass(slots=True)
class _Unit:
    """One sentence of a body, with the line it sits on."""

    line: int
    text: str
    key: str


def _units(body: str) -> list[_Unit]:
    return [
        _Unit(i, s, shape(s)) for i, line in enumerate(body.split("\n")) for s in _sentences(line)
    ]


def _words(text: str) -> int:
    return len(text.split())


# ----- learning -------------------------------------------------------------------------


@dataclass(slots=True)
class _Tally:
    records: int = 0
    edited: int = 0
    appear: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    replaced: Counter[tuple[str, str]] = field(default_factory=Counter)
    added: Counter[str] = field(default_factory=Counter)
    anchors: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    word_appear: Counter[str] = field(default_factory=Counter)
    word_deleted: Counter[str] = field(default_factory=Counter)
    word_keys: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    shortened: int = 0
    cut_to: list[int] = field(default_factory=list)
    kept_lengths: list[int] = field(default_factory=list)
    originals: list[str] = field(default_factory=list)


def _content_words(sentence: str) -> set[str]:
    return {w for w in _WORDS_RE.findall(sentence.lower()) if len(w) >= 4 and w not in _COMMON}


def _tally(records: Iterable[EditRecord]) -> _Tally:
    tally = _Tally()
    for record in records:
        if record.final_text is None:
            continue
        tally.records += 1
        _, before = split_email(record.original_text)
        _, after = split_email(record.final_text)
        tally.originals.append(before.lower())
        if not record.edited:
            tally.kept_lengths.append(_words(before))
            for unit in _units(before):
                tally.appear[unit.key] += 1
                tally.examples.setdefault(unit.key, unit.text)
                for word in _content_words(unit.text):
                    tally.word_appear[word] += 1
            continue
        tally.edited += 1
        if _words(after) < 0.9 * _words(before):
            tally.shortened += 1
            tally.cut_to.append(_words(after))
        else:
            tally.kept_lengths.append(_words(before))
        _tally_edit(tally, _units(before), _units(after))
    return tally


def _tally_edit(tally: _Tally, old: list[_Unit], new: list[_Unit]) -> None:
    """Align the sentences of one edit and count what was kept, changed, deleted, added."""
    matched: dict[int, int] = {}
    free = set(range(len(new)))
    for i, unit in enumerate(old):
        exact = next((j for j in sorted(free) if new[j].text == unit.text), None)
        if exact is not None:
            matched[i] = exact
            free.discard(exact)
    for i, unit in enumerate(old):
        if i in matched:
            continue
        best, best_score = None, 0.0
        for j in free:
            # token_set_ratio sees "Would a short call help?" as an edit of "Would a short
            # call in the next couple of weeks help?"; ratio catches reworded sentences.
            score = max(
                fuzz.ratio(unit.text, new[j].text),
                fuzz.token_set_ratio(unit.text, new[j].text) - 10,
            )
            if score > best_score:
                best, best_score = j, score
        if best is not None and best_score >= 70:
            matched[i] = best
            free.discard(best)
            _tally_phrases(tally, unit.text, new[best].text)
    for i, unit in enumerate(old):
        tally.appear[unit.key] += 1
        tally.examples.setdefault(unit.key, unit.text)
        words = _content_words(unit.text)
        for word in words:
            tally.word_appear[word] += 1
            tally.word_keys[word].add(unit.key)
        if i not in matched:
            tally.deleted[unit.key] += 1
            for word in words:
                tally.word_deleted[word] += 1
    kept_new = {j: old[i].key for i, j in matched.items()}
    added: dict[int, list[int]] = defaultdict(list)
    for j in sorted(free):
        added[new[j].line].append(j)
    for line_no, members in added.items():
        whole = all(u.line != line_no or k in free for k, u in enumerate(new))
        for j in [members[0]] if whole else members:
            line = " ".join(new[k].text for k in members) if whole else new[j].text
            _tally_added(tally, new, kept_new, j, members[-1] if whole else j, line)


def _tally_added(
    tally: _Tally, new: list[_Unit], kept_new: dict[int, str], first: int, last: int, line: str
) -> None:
    """Count one added line and the kept sentences around it."""
    # The anchor is the kept sentence right after the added line (a sign-off sits before
    # the rep's name); the one before it is the second choice.
    after = next((kept_new[k] for k in range(last + 1, len(new)) if k in kept_new), "")
    before = next((kept_new[k] for k in range(first - 1, -1, -1) if k in kept_new), "")
    tally.added[line] += 1
    tally.anchors[line][f"before:{after}" if after else "end"] += 1
    if before:
        tally.anchors[line][f"after:{before}"] += 1


_PHRASE_TOKEN_RE = re.compile(r"\w[\w'’-]*|[^\w\s]")


def _phrase_tokens(text: str) -> list[str]:
    # Punctuation is its own token, so "days, so I thought ..." and "weeks, so I ..."
    # share the deleted phrase ", so I thought ...".
    return _PHRASE_TOKEN_RE.findall(text)


def _join_tokens(tokens: Sequence[str]) -> str:
    out = ""
    for token in tokens:
        glue = "" if not out or (not token[0].isalnum() and token not in "([\"'") else " "
        out += glue + token
    return out


def _tally_phrases(tally: _Tally, before: str, after: str) -> None:
    old, new = _phrase_tokens(before), _phrase_tokens(after)
    matcher = SequenceMatcher(a=old, b=new, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op in ("replace", "delete") and i2 > i1:
            phrase = _join_tokens(old[i1:i2])
            if not any(ch.isalpha() for ch in phrase) or _WILD_RE.fullmatch(phrase):
                continue  # punctuation, a name or a number: nothing to learn from one lead
            tally.replaced[(phrase, _join_tokens(new[j1:j2]))] += 1


def _rule_id(scope: str, kind: str, target: str) -> str:
    digest = hashlib.sha1(f"{scope}|{kind}|{target}".encode()).hexdigest()[:8]
    return f"R-{digest}"


def _short(text: str, limit: int = 70) -> str:
    text = _norm_ws(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rules_from(tally: _Tally, scope: str, min_support: int, min_rate: float) -> list[LearnedRule]:
    who = "reps" if scope == TEAM else f"rep {scope}"
    rules: list[LearnedRule] = []

    def add(
        kind: RuleKind, target: str, description: str, support: int, seen: int, **extra: Any
    ) -> None:
        rules.append(
            LearnedRule(
                _rule_id(scope, kind, target),
                scope,
                kind,
                target,
                description,
                support,
                seen,
                **extra,
            )
        )

    for key, count in tally.deleted.items():
        seen = tally.appear[key]
        if count >= min_support and count / seen >= min_rate:
            add(
                "delete_sentence",
                key,
                f'Delete the sentence "{_short(tally.examples[key])}" '
                f"({who} deleted it {count} of {seen} times)",
                count,
                seen,
            )
    # A topic: a word in several different sentences that are nearly always deleted. A
    # word whose sentences another topic already covers ("interest" in every sentence
    # about the webinar) is only riding along, and is left out.
    topics = [
        w
        for w, count in tally.word_deleted.items()
        if count >= 2 * min_support
        and count / tally.word_appear[w] >= 0.9
        and len(tally.word_keys[w]) >= 3
    ]
    covered: set[str] = set()
    for word in sorted(topics, key=lambda w: (-len(tally.word_keys[w]), -tally.word_deleted[w], w)):
        if tally.word_keys[word] <= covered:
            continue
        covered |= tally.word_keys[word]
        count, seen = tally.word_deleted[word], tally.word_appear[word]
        add(
            "delete_topic",
            word,
            f'Delete sentences that mention "{word}" ({who} deleted {count} of {seen})',
            count,
            seen,
        )
    for (phrase, new), count in tally.replaced.items():
        if count < min_support:
            continue
        pattern = _phrase_pattern(phrase.lower())
        seen = max(sum(1 for o in tally.originals if pattern.search(o)), count)
        if count / seen < min_rate:
            continue
        if new:
            add(
                "replace_phrase",
                phrase,
                f'Replace "{_short(phrase)}" with "{_short(new)}" ({who} did {count} of '
                f"{seen} times)",
                count,
                seen,
                replacement=new,
            )
        else:
            add(
                "delete_phrase",
                phrase,
                f'Delete "{_short(phrase)}" ({who} deleted it {count} of {seen} times)',
                count,
                seen,
            )
    for line, count in tally.added.items():
        # The chances to add a line are the drafts that did not have it already.
        seen = sum(1 for o in tally.originals if line.lower() not in o)
        if count >= min_support and count / max(seen, 1) >= min_rate:
            anchors = tuple(a for a, _ in tally.anchors[line].most_common(4))
            add(
                "add_line",
                line,
                f'Add the line "{_short(line)}" ({who} added it to {count} of '
                f"{seen} drafts without it)",
                count,
                seen,
                anchors=anchors,
            )
    if tally.shortened >= min_support and tally.shortened / max(tally.edited, 1) >= 0.5:
        # The length reps cut to: the longest they kept when they did cut (95th percentile,
        # so one long outlier does not set it).
        ordered = sorted(tally.cut_to)
        limit = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
        # Deleting a sentence also shortens a draft: a length rule needs drafts already
        # within the limit that reps left at their length, or it is only an echo.
        within = sum(1 for w in tally.kept_lengths if w <= limit)
    else:
        limit, within = 0, 0
    if within >= min_support:
        add(
            "max_words",
            "body",
            f"Cut the body to at most {limit} words ({who} shortened {tally.shortened} of "
            f"{tally.edited} edited drafts)",
            tally.shortened,
            tally.edited,
            limit=limit,
        )
    return rules


def learn_rules(
    records: Iterable[EditRecord | Mapping[str, Any]],
    *,
    min_support: int = 5,
    min_rate: float = 0.6,
    disabled: Iterable[str] = (),
) -> list[LearnedRule]:
    """Learn edit rules from decisions, for the team and for each rep.

    A rep rule is kept only where the team rule for the same edit is missing (the rep
    differs from the team), so the team rules stay the common ground.

    Args:
        records: Decisions as :class:`EditRecord` or mappings (see
            :meth:`EditRecord.from_mapping`); rejected ones are skipped.
        min_support: How many times an edit must be seen before it becomes a rule.
        min_rate: The share of chances on which reps made the edit.
        disabled: Ids of rules the admin switched off; they come back switched off.

    Returns:
        The rules, team rules first, each group by support (highest first).
    """
    items = [r if isinstance(r, EditRecord) else EditRecord.from_mapping(r) for r in records]
    off = set(disabled)
    team = _rules_from(_tally(items), TEAM, min_support, min_rate)
    team_targets = {(r.kind, r.target, r.replacement, r.limit) for r in team}
    by_rep: dict[str, list[EditRecord]] = defaultdict(list)
    for record in items:
        if record.rep:
            by_rep[record.rep].append(record)
    rules = sorted(team, key=lambda r: -r.support)
    for rep in sorted(by_rep):
        own = _rules_from(_tally(by_rep[rep]), rep, min_support, min_rate)
        rules += sorted(
            (r for r in own if (r.kind, r.target, r.replacement, r.limit) not in team_targets),
            key=lambda r: -r.support,
        )
    return [replace(r, enabled=r.id not in off) for r in rules]


def set_enabled(rules: Sequence[LearnedRule], rule_id: str, enabled: bool) -> list[LearnedRule]:
    """The rules with one switched on or off.

    Raises:
        KeyError: No rule has that id.
    """
    if not any(r.id == rule_id for r in rules):
        raise KeyError(f"no learned rule {rule_id!r}")
    return [replace(r, enabled=enabled) if r.id == rule_id else r for r in rules]


# ----- applying -------------------------------------------------------------------------


def _rules_for(rules: Sequence[LearnedRule], rep: str) -> list[LearnedRule]:
    """The enabled team rules and the rep's own; a rep's rule wins over the team's."""
    mine = [r for r in rules if r.enabled and rep and r.scope == rep]
    targets = {(r.kind, r.target) for r in mine}
    team = [r for r in rules if r.enabled and r.scope == TEAM and (r.kind, r.target) not in targets]
    return team + mine


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    """A phrase as a pattern that allows any spacing between its tokens."""
    tokens = _phrase_tokens(phrase)
    parts = [re.escape(t) for t in tokens]
    pattern = r"[ \t]*".join(parts)
    start = r"(?<!\w)" if tokens and tokens[0][0].isalnum() else ""
    end = r"(?!\w)" if tokens and tokens[-1][-1].isalnum() else ""
    return re.compile(start + pattern + end)


def _replace_phrase(text: str, rule: LearnedRule) -> str:
    replacement = rule.replacement
    text = _phrase_pattern(rule.target).sub(lambda _: replacement, text)
    text = re.sub(r"[ \t]+([,.;:!?])", r"\1", text)
    return re.sub(r"[ \t]{2,}", " ", text)


def _trim(lines: list[list[str]], limit: int) -> bool:
    """Drop the longest middle sentences until the body fits; whether any was dropped."""
    total = sum(_words(s) for line in lines for s in line)
    text_lines = [i for i, line in enumerate(lines) if line]
    if len(text_lines) < 3:
        return False
    # Keep the greeting, any question (the call to action) and the sign-off block.
    first = text_lines[0]
    last_blank = max((i for i, line in enumerate(lines) if not line), default=len(lines))
    candidates = [
        (i, k)
        for i, line in enumerate(lines)
        if first < i < last_blank
        for k, s in enumerate(line)
        if "?" not in s
    ]
    dropped: set[tuple[int, int]] = set()
    for i, k in sorted(candidates, key=lambda ik: -_words(lines[ik[0]][ik[1]])):
        if total <= limit:
            break
        dropped.add((i, k))
        total -= _words(lines[i][k])
    for i, k in sorted(dropped, reverse=True):
        del lines[i][k]
    return bool(dropped)


def _join(lines: list[list[str]], blank_before: set[int]) -> str:
    out: list[str] = []
    for i, line in enumerate(lines):
        if line:
            out.append(" ".join(line))
        elif i in blank_before and out and out[-1] != "":
            out.append("")
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out)


def apply(rules: Sequence[LearnedRule], draft: Draft, rep: str = "") -> Draft:
    """Apply the enabled team rules and the rep's own rules to a draft from any drafter.

    Args:
        rules: Learned rules (disabled ones are skipped).
        draft: The draft as the drafter wrote it.
        rep: The rep the draft is for, as in the decisions' ``decided_by``.

    Returns:
        The draft with the rules applied and their ids in ``applied_rules``; the same
        draft when no rule changed anything.
    """
    active = _rules_for(rules, rep)
    if not active:
        return draft
    applied: list[str] = []
    body = draft.body
    for rule in active:
        if rule.kind in ("replace_phrase", "delete_phrase"):
            changed = _replace_phrase(body, rule)
            if changed != body:
                body = changed
                applied.append(rule.id)
    lines = [_sentences(line) for line in body.split("\n")]
    blanks = {i for i, line in enumerate(lines) if not line}
    delete_keys = {r.target: r for r in active if r.kind == "delete_sentence"}
    topics = [r for r in active if r.kind == "delete_topic"]
    for line in lines:
        for sentence in list(line):
            hit = delete_keys.get(shape(sentence)) or next(
                (t for t in topics if t.target in _content_words(sentence)), None
            )
            if hit is not None:
                line.remove(sentence)
                applied.append(hit.id)
    for rule in (r for r in active if r.kind == "add_line"):
        if any(rule.target in line for line in lines):
            continue
        keys = [[shape(s) for s in line] for line in lines]
        spot: int | None = None
        for anchor in rule.anchors:
            where, _, key = anchor.partition(":")
            found = next((i for i, ks in enumerate(keys) if key in ks), None)
            if where == "end":
                spot = len(lines)
            elif found is not None:
                spot = found if where == "before" else found + 1
            if spot is not None:
                break
        spot = len(lines) if spot is None else spot
        lines.insert(spot, [rule.target])
        blanks = {b + 1 if b >= spot else b for b in blanks}
        applied.append(rule.id)
    for rule in (r for r in active if r.kind == "max_words" and r.limit is not None):
        if _trim(lines, rule.limit or 0):
            applied.append(rule.id)
    if not applied:
        return draft
    return replace(
        draft,
        body=_join(lines, blanks),
        applied_rules=tuple(dict.fromkeys([*draft.applied_rules, *applied])),
    )


# ----- examples and metrics -------------------------------------------------------------


def similar_examples(
    records: Iterable[EditRecord | Mapping[str, Any]],
    text: str,
    *,
    rep: str = "",
    k: int = 3,
) -> list[EditExample]:
    """The approved edits whose proposals are most like ``text``, the rep's own first.

    Args:
        records: Decisions, as for :func:`learn_rules`.
        text: The new draft's text (or a template draft for the same lead).
        rep: Prefer this rep's edits: they are ranked above the team's at equal similarity.
        k: How many to return.

    Returns:
        Up to ``k`` examples, most similar first; only edited approvals count.
    """
    scored: list[tuple[float, EditExample]] = []
    for r in records:
        record = r if isinstance(r, EditRecord) else EditRecord.from_mapping(r)
        if not record.edited or record.final_text is None:
            continue
        similarity = fuzz.token_set_ratio(record.original_text, text)
        bonus = 10.0 if rep and record.rep == rep else 0.0
        scored.append(
            (similarity + bonus, EditExample(record.original_text, record.final_text, record.rep))
        )
    scored.sort(key=lambda pair: -pair[0])
    return [example for _, example in scored[:k]]


def examples_for(
    records: Sequence[EditRecord | Mapping[str, Any]],
    base_drafter: Any,
    *,
    rep_of: Callable[[LeadFacts], str] = lambda facts: facts.rep_name,
    k: int = 3,
) -> Callable[[LeadFacts], list[EditExample]]:
    """An ``examples_for`` hook for :class:`~drafting.llm.LLMDrafter`.

    The lead is first drafted with ``base_drafter`` (the templates: cheap, no model) and
    the edits most like that draft are chosen.
    """
    items = [r if isinstance(r, EditRecord) else EditRecord.from_mapping(r) for r in records]

    def pick(facts: LeadFacts) -> list[EditExample]:
        draft = base_drafter.draft(facts)
        return similar_examples(
            items, f"Subject: {draft.subject}\n\n{draft.body}", rep=rep_of(facts), k=k
        )

    return pick


@dataclass(frozen=True, slots=True)
class WeekStats:
    """Edit figures for one week (weeks start on Monday)."""

    week: date
    decisions: int
    approved: int
    edited: int
    edit_rate: float
    mean_normalised_distance: float


def normalised_distance(original: str, final: str) -> float:
    """Levenshtein distance over the longer text's length: 0 unchanged, 1 all new."""
    return float(Levenshtein.normalized_distance(original, final))


def weekly_metrics(records: Iterable[EditRecord | Mapping[str, Any]]) -> list[WeekStats]:
    """Edit rate and mean normalised edit distance of approved drafts, per week.

    Records without ``decided_at`` are left out. The edit rate is edited approvals over
    approvals; the distance is averaged over approvals (an unedited one counts as 0).
    """
    weeks: dict[date, list[EditRecord]] = defaultdict(list)
    for r in records:
        record = r if isinstance(r, EditRecord) else EditRecord.from_mapping(r)
        if record.decided_at is not None:
            day = record.decided_at.date()
            weeks[day - timedelta(days=day.weekday())].append(record)
    out = []
    for week in sorted(weeks):
        group = weeks[week]
        approved = [r for r in group if r.final_text is not None]
        distances = [normalised_distance(r.original_text, r.final_text or "") for r in approved]
        edited = sum(1 for r in approved if r.edited)
        out.append(
            WeekStats(
                week=week,
                decisions=len(group),
                approved=len(approved),
                edited=edited,
                edit_rate=edited / len(approved) if approved else 0.0,
                mean_normalised_distance=sum(distances) / len(distances) if distances else 0.0,
            )
        )
    return out
