"""The weights editor's form: weights to form rows, and a submitted form back to weights.

The form has a row per criterion (blank rows are ignored, a ticked "remove" drops one) and
a row per profile. A criterion's ``profile`` column says which profile it belongs to (empty
for the top level). What cannot be typed wrong is a select; what is typed is read here, and
every problem is one line naming the row and what is expected there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scoring.errors import WeightsError
from scoring.features import FIELD_KINDS
from scoring.weights import FIELD_CONDITIONS, TIERS, Criterion, Weights, weights_from_mapping

EVENT = "event"
ROW_KEYS = ("name", "group", "profile", "on", "test", "value", "event", "detail", "within",
            "min", "points")
PROFILE_KEYS = ("name", "on", "test", "value", "base", "keep")
TOP_KEYS = ("name", "base", "tier_A", "tier_B", "tier_C", "cap_fit", "cap_engagement",
            "cap_total", "half_life_days")
MAX_ROWS = 500
_ROW = re.compile(r"^(c|p)(\d{1,3})_([a-z_]+)$")
_RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(?:,|\bto\b|\.\.|–|(?<=\d)-)\s*(-?\d+(?:\.\d+)?)\s*$")


@dataclass
class WeightsForm:
    """What the form shows: top-level fields, criterion rows and profile rows, as text."""

    top: dict[str, str] = field(default_factory=dict)
    approval: list[str] = field(default_factory=list)
    criteria: list[dict[str, str]] = field(default_factory=list)
    profiles: list[dict[str, str]] = field(default_factory=list)

    def with_blank_rows(self, criteria: int = 1) -> WeightsForm:
        """The same form with empty criterion rows added at the end (to add criteria)."""
        blank = [dict.fromkeys(ROW_KEYS, "") | {"group": "fit"} for _ in range(criteria)]
        return WeightsForm(self.top, self.approval, self.criteria + blank, self.profiles)

    def without_blank_rows(self) -> WeightsForm:
        """The same form without the criterion rows nobody filled in."""
        rows = [row for row in self.criteria if not _is_blank(row)]
        return WeightsForm(self.top, self.approval, rows, self.profiles)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return ", ".join(_text(item) for item in value)
    return str(value)


def _condition_row(criterion: Criterion) -> dict[str, str]:
    if criterion.event is not None:
        return {"on": EVENT, "test": "", "value": "", "event": criterion.event,
                "detail": _text(criterion.detail_contains),
                "within": _text(criterion.within_days), "min": _text(criterion.min_count)}
    test = criterion.condition
    value = criterion.in_ if test == "in" else getattr(criterion, test)
    return {"on": criterion.field or "", "test": test, "value": _text(value), "event": "",
            "detail": "", "within": "", "min": ""}


def form_from_weights(weights: Weights) -> WeightsForm:
    """The form filled in with ``weights``."""
    caps, tiers = weights.caps, weights.tiers
    top = {"name": weights.name, "base": str(weights.base), "tier_A": str(tiers.A),
           "tier_B": str(tiers.B), "tier_C": str(tiers.C), "cap_fit": _text(caps.fit),
           "cap_engagement": _text(caps.engagement), "cap_total": _text(caps.total),
           "half_life_days": _text(weights.decay.half_life_days)}
    rows = [{"name": c.name or "", "group": c.group, "profile": "", "points": str(c.points),
             **_condition_row(c)} for c in weights.criteria]
    profiles = []
    for profile in weights.profiles:
        when = _condition_row(profile.when)
        keep = {part: getattr(profile, part).model_dump(mode="json")
                for part in ("tiers", "caps", "decay") if getattr(profile, part) is not None}
        profiles.append({"name": profile.name, "on": when["on"], "test": when["test"],
                         "value": when["value"], "base": _text(profile.base),
                         "keep": json.dumps(keep) if keep else ""})
        rows += [{"name": c.name or "", "group": c.group, "profile": profile.name,
                  "points": str(c.points), **_condition_row(c)} for c in profile.criteria]
    return WeightsForm(top, list(tiers.approval_required), rows, profiles)


def form_from_post(posted: Any) -> tuple[WeightsForm, set[str]]:
    """The form as submitted (``posted`` is a multi-dict) and the removed row keys."""
    top = {key: str(posted.get(key, "")).strip() for key in TOP_KEYS}
    approval = [tier for tier in posted.getlist("approval_required") if tier in TIERS]
    rows: dict[tuple[str, int], dict[str, str]] = {}
    removed: set[str] = set()
    for key in posted:
        match = _ROW.match(key)
        if not match:
            continue
        kind, index, name = match.group(1), int(match.group(2)), match.group(3)
        if index >= MAX_ROWS:
            continue
        if name == "remove":
            removed.add(f"{kind}{index}")
            continue
        known = ROW_KEYS if kind == "c" else PROFILE_KEYS
        if name in known:
            rows.setdefault((kind, index), {})[name] = str(posted.get(key, "")).strip()
    criteria = [dict.fromkeys(ROW_KEYS, "") | rows[key] for key in sorted(rows)
                if key[0] == "c" and f"c{key[1]}" not in removed]
    profiles = [dict.fromkeys(PROFILE_KEYS, "") | rows[key] for key in sorted(rows)
                if key[0] == "p" and f"p{key[1]}" not in removed]
    return WeightsForm(top, approval, criteria, profiles), removed


class FormProblems(Exception):
    """The form cannot make weights; ``lines`` says why, one problem a line."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines


def _number(text: str, what: str, problems: list[str], *, whole: bool = False,
            optional: bool = False) -> float | int | None:
    if not text:
        if not optional:
            problems.append(f"{what}: expected a number, got nothing")
        return None
    try:
        number = float(text)
    except ValueError:
        problems.append(f"{what}: expected a {'whole ' if whole else ''}number, got {text!r}")
        return None
    if whole:
        if not number.is_integer():
            problems.append(f"{what}: expected a whole number, got {text!r}")
            return None
        return int(number)
    return number


def _list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _condition(row: Mapping[str, str], what: str, problems: list[str]) -> dict[str, Any]:
    """The criterion keys for a row's field and test (or its event)."""
    on, test, value = row["on"], row["test"], row["value"]
    if on == EVENT:
        out: dict[str, Any] = {"event": row["event"] or None}
        if row["detail"]:
            out["detail_contains"] = row["detail"]
        for key, name in (("within", "within_days"), ("min", "min_count")):
            if row[key]:
                out[name] = _number(row[key], f"{what}, {name}", problems, whole=True)
        if not row["event"]:
            problems.append(f"{what}: name the event kind (e.g. page_view)")
        return out
    if on not in FIELD_KINDS:
        problems.append(f"{what}: choose a lead field or 'event'")
        return {}
    if test not in FIELD_CONDITIONS:
        problems.append(f"{what}: choose a test ({', '.join(FIELD_CONDITIONS)})")
        return {"field": on}
    parsed: Any
    if test == "between":
        match = _RANGE.match(value)
        if not match:
            problems.append(f"{what}, between: expected two numbers, low and high "
                            f"(e.g. 200, 1000), got {value!r}")
            return {"field": on}
        parsed = [float(match.group(1)), float(match.group(2))]
    elif test in ("at_least", "at_most"):
        parsed = _number(value, f"{what}, {test}", problems)
    elif test in ("in", "contains"):
        parsed = _list(value)
        if not parsed:
            problems.append(f"{what}, {test}: expected one or more words, separated by commas")
    elif test == "is_true":
        if value.lower() not in ("true", "false", "yes", "no"):
            problems.append(f"{what}, is_true: expected true or false, got {value!r}")
        parsed = value.lower() in ("true", "yes")
    elif FIELD_KINDS[on] == "number":
        parsed = _number(value, f"{what}, equals", problems)
    else:
        parsed = value
    return {"field": on, test: parsed}


def _label(row: Mapping[str, str], index: int, kind: str = "criterion") -> str:
    name = row.get("name", "")
    return f"{kind} {index}" + (f" ({name[:40]})" if name else "")


def _is_blank(row: Mapping[str, str]) -> bool:
    return not any(row.get(key) for key in ("name", "on", "value", "event", "points"))


def document_from_form(form: WeightsForm) -> tuple[dict[str, Any], list[str], list[str]]:
    """The weights document the form describes, the label of each criterion in document
    order, and the problems found while reading the text of its fields."""
    problems: list[str] = []
    top = form.top
    doc: dict[str, Any] = {"name": top.get("name", "")}
    doc["base"] = _number(top.get("base", ""), "base", problems, whole=True)
    doc["tiers"] = {tier: _number(top.get(f"tier_{tier}", ""), f"tier {tier}", problems,
                                  whole=True) for tier in ("A", "B", "C")}
    doc["tiers"]["approval_required"] = list(form.approval)
    caps = {group: _number(top.get(f"cap_{group}", ""), f"{group} cap", problems, whole=True,
                           optional=True) for group in ("fit", "engagement", "total")}
    if any(v is not None for v in caps.values()):
        doc["caps"] = {k: v for k, v in caps.items() if v is not None}
    half_life = _number(top.get("half_life_days", ""), "half-life", problems, optional=True)
    if half_life is not None:
        doc["decay"] = {"half_life_days": float(half_life)}
    profiles: dict[str, dict[str, Any]] = {}
    for index, row in enumerate(form.profiles, start=1):
        if not row["name"] and not row["on"]:
            continue
        what = _label(row, index, "profile")
        profile: dict[str, Any] = {"name": row["name"],
                                   "when": _condition(row | {"event": "", "detail": "",
                                                             "within": "", "min": ""},
                                                      what, problems),
                                   "criteria": []}
        if row["base"]:
            profile["base"] = _number(row["base"], f"{what}, base", problems, whole=True)
        if row["keep"]:
            try:
                profile |= {k: v for k, v in json.loads(row["keep"]).items()
                            if k in ("tiers", "caps", "decay")}
            except (ValueError, AttributeError):
                problems.append(f"{what}: its kept tiers/caps/decay are unreadable; reload")
        if row["name"] in profiles:
            problems.append(f"{what}: another profile has this name")
        profiles[row["name"]] = profile
    labels: list[str] = []
    doc["criteria"] = []
    for index, row in enumerate(form.criteria, start=1):
        if _is_blank(row):
            continue
        what = _label(row, index)
        criterion = {"group": row["group"] or "fit", **_condition(row, what, problems),
                     "points": _number(row["points"], f"{what}, points", problems, whole=True)}
        if row["name"]:
            criterion["name"] = row["name"]
        target = row.get("profile", "")
        if target and target not in profiles:
            problems.append(f"{what}: no profile is named {target!r}")
            continue
        (profiles[target]["criteria"] if target else doc["criteria"]).append(criterion)
        labels.append(what if not target else f"{what} in profile {target!r}")
    if profiles:
        doc["profiles"] = list(profiles.values())
    return doc, labels, problems


_PATH = re.compile(r"^(criteria|profiles)\[(\d+)\](?:\.criteria\[(\d+)\])?\.?(.*)$")


def _where(key_path: str, doc: Mapping[str, Any], labels: list[str]) -> str:
    match = _PATH.match(key_path)
    if not match:
        return key_path.replace("tiers.", "tier ").replace("caps.", "cap ") or "the weights"
    part, index, inner, rest = match.groups()
    if part == "criteria":
        top_count = 0
        for label in labels:
            if " in profile " not in label:
                if top_count == int(index):
                    return f"{label}, {rest}" if rest else label
                top_count += 1
        return f"criterion {int(index) + 1}"
    profile = doc["profiles"][int(index)]
    where = f"profile {int(index) + 1} ({profile.get('name', '')})"
    if inner is not None:
        where += f", its criterion {int(inner) + 1}"
    return f"{where}, {rest}" if rest else where


def weights_from_form(form: WeightsForm) -> Weights:
    """Validated weights from the form.

    Raises:
        FormProblems: one line per problem, naming the row and what is expected.
    """
    doc, labels, problems = document_from_form(form)
    if problems:
        raise FormProblems(problems)
    try:
        return weights_from_mapping(doc, source="the form")
    except WeightsError as exc:
        raise FormProblems([f"{_where(p.key_path, doc, labels)}: {p.message}"
                            for p in exc.problems]) from None
