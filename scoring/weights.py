"""The admin's scoring weights: a TOML file of criteria, points and tier thresholds.

A weights file looks like this (see ``default_weights.toml`` for a commented example)::

    name = "default"
    base = 0
    [tiers]
    A = 70
    B = 45
    C = 25                      # below C is D
    approval_required = ["A"]

    [[criteria]]
    name = "mid-size company"   # optional; a readable reason is generated if absent
    field = "employees"
    between = [200, 1000]
    points = 15

Every problem is reported as a :class:`~scoring.errors.WeightsError` that names the file,
the line, the key path (``criteria[3].points``) and what is expected there.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from datetime import date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from scoring.errors import WeightsError, WeightsProblem
from scoring.features import FIELD_KINDS, FieldKind
from scoring.grid import Grid

TIERS: tuple[str, ...] = ("A", "B", "C", "D")
"""Tier names from best to worst; D is everything below the C threshold."""

Group = Literal["fit", "engagement"]
Tier = Literal["A", "B", "C", "D"]

FIELD_CONDITIONS: tuple[str, ...] = (
    "between",
    "at_least",
    "at_most",
    "in",
    "equals",
    "is_true",
    "contains",
)
"""The conditions a field criterion may use; each criterion uses exactly one."""

EVENT_OPTIONS: tuple[str, ...] = ("detail_contains", "within_days", "min_count")
"""Keys that refine an event criterion (``event = "page_view"``)."""

_CONDITIONS_FOR: dict[FieldKind, tuple[str, ...]] = {
    "number": ("between", "at_least", "at_most", "equals"),
    "text": ("in", "equals", "contains"),
    "bool": ("is_true",),
}
_MAX_POINTS = 1000
_MAX_WINDOW_DAYS = 3650


def _fail(kind: str, message: str, *, key: str | None = None) -> PydanticCustomError:
    # ``key`` lets a whole-model check point at the exact key (and so line) that is wrong.
    return PydanticCustomError(kind, message, {"key": key} if key else None)


def _joined(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join(names)


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Tiers(_Strict):
    """Score thresholds for tiers A, B and C (descending); below C is D."""

    A: int = Field(ge=1, le=100)
    B: int = Field(ge=1, le=100)
    C: int = Field(ge=1, le=100)
    approval_required: tuple[Tier, ...] = ()

    @field_validator("approval_required")
    @classmethod
    def _as_set(cls, value: tuple[Tier, ...]) -> tuple[Tier, ...]:
        # A set in tier order, so ["D", "A"] and ["A", "D", "A"] are the same weights.
        return tuple(sorted(set(value), key=TIERS.index))

    @model_validator(mode="after")
    def _descending(self) -> Tiers:
        if self.B >= self.A:
            raise _fail(
                "tiers_order",
                f"must be below A ({self.A}); thresholds go down from A to C, got {self.B}",
                key="B",
            )
        if self.C >= self.B:
            raise _fail(
                "tiers_order",
                f"must be below B ({self.B}); thresholds go down from A to C, got {self.C}",
                key="C",
            )
        return self


class Criterion(_Strict):
    """One rule: when a lead field or its recent events match, add ``points``.

    A field criterion names a ``field`` and exactly one condition (``between``,
    ``at_least``, ``at_most``, ``in``, ``equals``, ``is_true`` or ``contains``). An event
    criterion names an ``event`` kind and optionally ``detail_contains``, ``within_days``
    and ``min_count``. Text comparisons ignore case and surrounding spaces.
    """

    name: str | None = Field(default=None, min_length=1, max_length=80)
    group: Group
    field: str | None = None
    between: tuple[float, float] | None = None
    at_least: float | None = None
    at_most: float | None = None
    in_: tuple[str, ...] | None = Field(default=None, alias="in", min_length=1)
    equals: str | float | bool | None = None
    is_true: bool | None = None
    contains: tuple[str, ...] | None = Field(default=None, min_length=1)
    event: str | None = Field(default=None, min_length=1, max_length=40)
    detail_contains: str | None = Field(default=None, min_length=1, max_length=255)
    within_days: int | None = Field(default=None, ge=1, le=_MAX_WINDOW_DAYS)
    min_count: int | None = Field(default=None, ge=1, le=10_000)
    points: int = Field(ge=-_MAX_POINTS, le=_MAX_POINTS)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, raw: Any) -> Any:
        # Filled in before validation so that leaving a default out and writing it out
        # give the same weights (and the same version).
        if not isinstance(raw, Mapping):
            return raw
        filled = dict(raw)
        is_event = "event" in filled and "field" not in filled
        filled.setdefault("group", "engagement" if is_event else "fit")
        if is_event:
            filled.setdefault("min_count", 1)
        if isinstance(filled.get("contains"), str):
            filled["contains"] = (filled["contains"],)
        return filled

    @field_validator("field")
    @classmethod
    def _known_field(cls, value: str | None) -> str | None:
        if value is not None and value not in FIELD_KINDS:
            close = difflib.get_close_matches(value, list(FIELD_KINDS), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise _fail(
                "unknown_field",
                f"unknown field '{value}'; {hint}allowed fields are {_joined(sorted(FIELD_KINDS))}",
            )
        return value

    @field_validator("equals", mode="before")
    @classmethod
    def _plain_value(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str | int | float | bool):
            raise _fail("equals_type", f"expected text or a number, got {_show(value)}")
        return value

    @field_validator("in_", "contains")
    @classmethod
    def _no_blank_text(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and any(not item.strip() for item in value):
            raise _fail("blank_text", "every entry needs some text; remove the empty one")
        return value

    @model_validator(mode="after")
    def _one_condition(self) -> Criterion:
        if self.field is not None and self.event is not None:
            raise _fail(
                "field_and_event",
                "a criterion tests either a lead field or an event, not both; "
                "split it into two criteria",
                key="event",
            )
        if self.field is None and self.event is None:
            raise _fail(
                "no_subject",
                'needs either a field (e.g. field = "industry") or an event '
                '(e.g. event = "page_view")',
            )
        used = [key for key in FIELD_CONDITIONS if self._condition(key) is not None]
        if self.event is not None:
            if used:
                raise _fail(
                    "condition_on_event",
                    f"'{used[0]}' applies to field criteria; an event criterion takes "
                    f"{_joined(EVENT_OPTIONS)}",
                    key=used[0],
                )
            return self
        options = [key for key in EVENT_OPTIONS if getattr(self, key) is not None]
        if options:
            raise _fail(
                "event_option_on_field",
                f"'{options[0]}' applies to event criteria only (event = \"...\")",
                key=options[0],
            )
        if not used:
            assert self.field is not None
            kind = FIELD_KINDS[self.field]
            raise _fail(
                "no_condition",
                f"needs one condition for the {kind} field '{self.field}': "
                f"one of {_joined(_CONDITIONS_FOR[kind])}",
            )
        if len(used) > 1:
            raise _fail(
                "two_conditions",
                f"has {len(used)} conditions ({_joined(used)}); a criterion takes exactly one "
                "(use between = [low, high] for a range, or write two criteria)",
                key=used[1],
            )
        self._check_condition_fits_field(used[0])
        return self

    def _condition(self, key: str) -> Any:
        return self.in_ if key == "in" else getattr(self, key)

    def _check_condition_fits_field(self, key: str) -> None:
        assert self.field is not None
        kind = FIELD_KINDS[self.field]
        if key == "equals":
            if isinstance(self.equals, bool):
                raise _fail("equals_bool", "to test true or false use is_true = true", key="equals")
            wanted: FieldKind = "text" if isinstance(self.equals, str) else "number"
            if wanted != kind:
                raise _fail(
                    "equals_kind",
                    f"'{self.field}' is a {kind} field; expected "
                    f"{'text in quotes' if kind == 'text' else 'a number'}, "
                    f"got {_show(self.equals)}",
                    key="equals",
                )
            if isinstance(self.equals, str) and not self.equals.strip():
                raise _fail("blank_text", "needs some text", key="equals")
        elif key not in _CONDITIONS_FOR[kind]:
            raise _fail(
                "condition_kind",
                f"'{self.field}' is a {kind} field; use {' or '.join(_CONDITIONS_FOR[kind])}",
                key=key,
            )
        if self.between is not None and self.between[0] > self.between[1]:
            raise _fail(
                "between_order",
                f"expected [low, high] with low <= high, got {_show(list(self.between))}",
                key="between",
            )

    @property
    def condition(self) -> str:
        """The condition key this criterion uses (``event`` for event criteria)."""
        if self.event is not None:
            return "event"
        return next(key for key in FIELD_CONDITIONS if self._condition(key) is not None)


class Caps(_Strict):
    """The most points a group (and all criteria together) may add; None for no cap.

    A cap limits what positive points add up to; negative points always count in full.
    """

    fit: int | None = Field(default=None, ge=0, le=_MAX_POINTS)
    engagement: int | None = Field(default=None, ge=0, le=_MAX_POINTS)
    total: int | None = Field(default=None, ge=0, le=_MAX_POINTS)

    def is_set(self) -> bool:
        """Whether any cap is set."""
        return any(value is not None for value in (self.fit, self.engagement, self.total))


class Decay(_Strict):
    """Time decay of engagement: event points halve every ``half_life_days`` since the
    latest matching event (None: no decay)."""

    half_life_days: float | None = Field(default=None, gt=0, le=_MAX_WINDOW_DAYS)


class Condition(Criterion):
    """Which leads a profile applies to: a lead field and exactly one condition."""

    points: int = Field(default=0, ge=0, le=0)
    group: Group = "fit"

    @model_validator(mode="after")
    def _field_only(self) -> Condition:
        if self.event is not None:
            raise _fail(
                "profile_event",
                "a profile is chosen by a lead field (e.g. field = \"industry\"), not an event",
                key="event",
            )
        return self


class Profile(_Strict):
    """Weights for one segment: leads matching ``when`` are scored with these criteria.

    ``base``, ``tiers``, ``caps`` and ``decay`` fall back to the top-level ones when absent.
    """

    name: str = Field(min_length=1, max_length=80)
    when: Condition
    base: int | None = Field(default=None, ge=0, le=100)
    tiers: Tiers | None = None
    caps: Caps | None = None
    decay: Decay | None = None
    criteria: tuple[Criterion, ...] = Field(min_length=1, max_length=500)


class Weights(_Strict):
    """The admin's scoring parameters: a base, criteria with points, and tier thresholds.

    Optional (weights v2): ``caps`` per group and in total, engagement ``decay`` and
    ``profiles`` for segments; files without them score exactly as before.
    """

    name: str = Field(min_length=1, max_length=80)
    base: int = Field(default=0, ge=0, le=100)
    tiers: Tiers
    caps: Caps = Caps()
    decay: Decay = Decay()
    criteria: tuple[Criterion, ...] = Field(min_length=1, max_length=500)
    profiles: tuple[Profile, ...] = Field(default=(), max_length=50)
    grid: Grid = Grid()  # the fit x engagement grade thresholds (scoring/grid.py)

    @model_validator(mode="after")
    def _unique_profiles(self) -> Weights:
        seen: set[str] = set()
        for profile in self.profiles:
            if profile.name in seen:
                raise _fail(
                    "profile_twice", f"profile '{profile.name}' is written twice", key="profiles"
                )
            seen.add(profile.name)
        return self

    def profile_names(self) -> tuple[str, ...]:
        """The profiles' names, in the order they are tried, then ``"default"``."""
        return (*(profile.name for profile in self.profiles), "default")

    def for_profile(self, name: str | None) -> Weights:
        """The effective weights of one profile (the top-level ones for None or "default").

        Args:
            name: a profile name from :meth:`profile_names`.

        Returns:
            Weights without profiles whose criteria, base, tiers, caps and decay are the
            profile's (falling back to the top-level values).

        Raises:
            KeyError: no profile has that name.
        """
        if name is None or name == "default":
            return self.model_copy(update={"profiles": ()})
        for profile in self.profiles:
            if profile.name == name:
                return Weights(
                    name=f"{self.name}/{profile.name}",
                    base=self.base if profile.base is None else profile.base,
                    tiers=profile.tiers or self.tiers,
                    caps=profile.caps or self.caps,
                    decay=profile.decay or self.decay,
                    criteria=profile.criteria,
                    grid=self.grid,
                )
        raise KeyError(name)

    @property
    def version(self) -> str:
        """A short hash of the validated content; comments, layout and key order do not count.

        Keys left at their defaults that older files could not have (caps, decay, profiles)
        are not part of the hash, so an unchanged v1 file keeps its version.
        """
        dumped = self.model_dump(mode="json", by_alias=True)
        if not self.caps.is_set():
            dumped.pop("caps")
        if self.decay.half_life_days is None:
            dumped.pop("decay")
        if not self.profiles:
            dumped.pop("profiles")
        if self.grid.is_default():
            dumped.pop("grid")
        canonical = json.dumps(
            dumped,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=True,
        )
        return "w-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:10]

    def tier_thresholds(self) -> dict[str, int]:
        """The lowest score of each tier above D, e.g. ``{"A": 70, "B": 45, "C": 25}``."""
        return {"A": self.tiers.A, "B": self.tiers.B, "C": self.tiers.C}

    def tier_for(self, score: int) -> str:
        """The tier (A-D) a score falls in; a score equal to a threshold is in that tier."""
        if score >= self.tiers.A:
            return "A"
        if score >= self.tiers.B:
            return "B"
        if score >= self.tiers.C:
            return "C"
        return "D"

    def needs_approval(self, old_tier: str | None, new_tier: str) -> bool:
        """Whether moving a lead from ``old_tier`` to ``new_tier`` needs a rep's approval.

        Args:
            old_tier: the lead's current tier; None when it was never scored.
            new_tier: the tier the new score falls in.

        Returns:
            True when the tiers differ and either one is in ``tiers.approval_required``.
        """
        if old_tier is None or old_tier == new_tier:
            return False
        guarded = self.tiers.approval_required
        return old_tier in guarded or new_tier in guarded


def default_weights_path() -> Path:
    """The path of the weights file shipped with leadloop (``scoring/default_weights.toml``)."""
    return Path(str(resources.files("scoring").joinpath("default_weights.toml")))


def load_weights(path: str | Path) -> Weights:
    """Read and validate a weights file.

    Args:
        path: the TOML file to read.

    Returns:
        The validated weights.

    Raises:
        WeightsError: the file cannot be read, is not valid TOML, or has invalid weights;
            the message names the file, line, key path and what is expected.
    """
    source = str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise WeightsError.single(
            source=source, key_path="", message=f"cannot read the weights file: {reason}"
        ) from None
    except UnicodeDecodeError as exc:
        raise WeightsError.single(
            source=source,
            key_path="",
            message=f"is not UTF-8 text (byte {exc.start}); save the file as UTF-8",
        ) from None
    return parse_weights(text, source=source)


def parse_weights(text: str, *, source: str = "<string>") -> Weights:
    """Validate weights written as TOML text.

    Args:
        text: the TOML document.
        source: how to name the document in error messages (usually its file name).

    Returns:
        The validated weights.

    Raises:
        WeightsError: the text is not valid TOML or has invalid weights.
    """
    locator = _KeyLines(text)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(exc, source=source, locator=locator) from None
    return _validate(document, source=source, locator=locator)


def weights_from_mapping(document: Mapping[str, Any], *, source: str = "<mapping>") -> Weights:
    """Validate weights given as a parsed document (e.g. a JSON body of an admin route).

    Args:
        document: the weights as nested mappings and lists, shaped like the TOML file.
        source: how to name the document in error messages.

    Returns:
        The validated weights.

    Raises:
        WeightsError: the weights are invalid (no line numbers: there is no text).
    """
    return _validate(document, source=source, locator=None)


def _validate(document: Mapping[str, Any], *, source: str, locator: _KeyLines | None) -> Weights:
    try:
        return Weights.model_validate(_lists_to_tuples(document))
    except ValidationError as exc:
        problems = _problems(exc, source=source, locator=locator)
        raise WeightsError(problems) from None


def _lists_to_tuples(value: Any) -> Any:
    # TOML arrays arrive as lists; the frozen models hold tuples, and strict mode wants them.
    if isinstance(value, Mapping):
        return {key: _lists_to_tuples(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return tuple(_lists_to_tuples(item) for item in value)
    return value


# -- error messages -------------------------------------------------------------------------

_SYNTAX_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)|\s*\(at end of document\)")

_EXPECTED: dict[str, str] = {
    "name": 'a label in quotes, e.g. name = "default"',
    "tiers": "a [tiers] table with A, B and C thresholds",
    "A": "a score threshold from 1 to 100",
    "B": "a score threshold from 1 to 100",
    "C": "a score threshold from 1 to 100",
    "criteria": "at least one [[criteria]] table",
    "points": "a whole number of points (negative to subtract)",
    "between": "two numbers [low, high]",
    "when": 'a [profiles.when] table with a field and one condition, e.g. field = "industry"',
}


def _show(value: Any) -> str:
    """A value the way an admin wrote it in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _key_path(loc: tuple[str | int, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


_NESTED: dict[str, type[BaseModel]] = {
    "tiers": Tiers,
    "caps": Caps,
    "decay": Decay,
    "criteria": Criterion,
    "profiles": Profile,
    "when": Condition,
    "grid": Grid,
}


def _allowed_keys(parent: tuple[str | int, ...]) -> list[str]:
    model: type[BaseModel] = Weights
    for part in parent:
        if isinstance(part, int):
            continue
        nested = _NESTED.get(part)
        if nested is None:
            return []
        model = nested
    return [info.alias or name for name, info in model.model_fields.items()]


def _describe(error: Any, loc: tuple[str | int, ...]) -> str:
    kind: str = error["type"]
    ctx: dict[str, Any] = error.get("ctx") or {}
    got = _show(error.get("input"))
    key = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return f"unknown key; {hint}allowed keys are {_joined(allowed)}"
    if kind == "missing":
        expected = _EXPECTED.get(str(key), "a value")
        return f"is missing; expected {expected}"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return f"expected a whole number, got {got}"
    if kind in {"float_type", "float_parsing"}:
        return f"expected a number, got {got}"
    if kind == "string_type":
        return f"expected text in quotes, got {got}"
    if kind == "bool_type":
        return f"expected true or false, got {got}"
    if kind == "tuple_type":
        return f"expected a list in brackets, got {got}"
    if kind in {"model_type", "dict_type", "model_attributes_type"}:
        return f"expected a table, got {got}"
    if kind in {"too_short", "too_long"}:
        if key == "between":
            return f"expected two numbers [low, high], got {got}"
        if key == "criteria":
            return "expected at least one [[criteria]] table"
        return f"expected {'at least' if kind == 'too_short' else 'at most'} " + (
            f"{ctx.get('min_length', ctx.get('max_length'))} entries, got {got}"
        )
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"is too long; at most {ctx.get('max_length')} characters"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}, got {got}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}, got {got}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, got {got}"
    message: str = error["msg"]
    return message.removeprefix("Value error, ")


def _problems(
    exc: ValidationError, *, source: str, locator: _KeyLines | None
) -> list[WeightsProblem]:
    problems: list[WeightsProblem] = []
    seen: set[tuple[str, str]] = set()
    errors = exc.errors(include_url=False)
    inner = {tuple(error["loc"][:end]) for error in errors for end in range(1, len(error["loc"]))}
    for error in errors:
        loc: tuple[str | int, ...] = tuple(error["loc"])
        if error["type"] == "too_short" and loc in inner:
            # "too few criteria" only because one of them is invalid: that one is the news.
            continue
        ctx = error.get("ctx") or {}
        if ctx.get("key"):
            loc = (*loc, ctx["key"])
        path = _key_path(loc)
        message = _describe(error, loc)
        if (path, message) in seen:
            continue
        seen.add((path, message))
        line = locator.line_of(loc) if locator else None
        problems.append(WeightsProblem(source=source, key_path=path, message=message, line=line))
    problems.sort(key=lambda problem: (problem.line is None, problem.line or 0))
    return problems


def _syntax_error(exc: tomllib.TOMLDecodeError, *, source: str, locator: _KeyLines) -> WeightsError:
    text = str(exc)
    found = _SYNTAX_AT.search(text)
    reason = _SYNTAX_AT.sub("", text).strip().rstrip(".")
    line: int | None = None
    if found and found.group(1):
        line = int(found.group(1))
        reason = f"{reason} at column {found.group(2)}"
    elif found:
        line = locator.last_line
        reason = f"{reason} at the end of the file"
    message = f"not valid TOML: {reason[:1].lower()}{reason[1:]}"
    if reason.startswith("Invalid value"):
        message += '; text values need quotes, e.g. industry = "retail"'
    elif reason.startswith(("Cannot overwrite", "Cannot declare")):
        message += "; is this key or table written twice?"
    key_path = locator.key_at(line) if line is not None else ""
    return WeightsError.single(source=source, key_path=key_path, message=message, line=line)


# -- where each key is written ---------------------------------------------------------------

_BARE_KEY = r"[A-Za-z0-9_-]+"
_ANY_KEY = rf"(?:{_BARE_KEY}|\"(?:[^\"\\]|\\.)*\"|'[^']*')"
_DOTTED_KEY = rf"{_ANY_KEY}(?:\s*\.\s*{_ANY_KEY})*"
_ARRAY_HEADER = re.compile(rf"\s*\[\[\s*({_DOTTED_KEY})\s*\]\]")
_TABLE_HEADER = re.compile(rf"\s*\[\s*({_DOTTED_KEY})\s*\]")
_KEY_VALUE = re.compile(rf"\s*({_DOTTED_KEY})\s*=")
_KEY_PART = re.compile(_ANY_KEY)


def _key_parts(dotted: str) -> list[str]:
    parts = []
    for match in _KEY_PART.finditer(dotted):
        part = match.group(0)
        if part[:1] in {'"', "'"}:
            part = part[1:-1]
        parts.append(part)
    return parts


class _KeyLines:
    """Maps key paths such as ``("criteria", 3, "points")`` to the line they are written on.

    A light scan of the TOML text (tables, arrays of tables, dotted keys, multi-line
    strings and arrays); it only serves error messages, so it never raises.
    """

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[str | int, ...], int] = {}
        self.paths: dict[int, tuple[str | int, ...]] = {}
        self.last_line = 1
        try:
            self._scan(text)
        except Exception:  # a locator failure must never hide the real error
            pass

    def line_of(self, loc: tuple[str | int, ...]) -> int | None:
        """The line of ``loc``, or of its nearest written parent."""
        for end in range(len(loc), 0, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return None

    def key_at(self, line: int) -> str:
        """The key path written on ``line``, if a key or table header starts there."""
        path = self.paths.get(line)
        return _key_path(path) if path else ""

    def _record(self, path: tuple[str | int, ...], line: int) -> None:
        self.lines.setdefault(path, line)
        self.paths.setdefault(line, path)

    def _scan(self, text: str) -> None:
        array_counts: dict[tuple[str | int, ...], int] = {}
        table: tuple[str | int, ...] = ()
        state = _ValueState()
        for number, raw_line in enumerate(text.split("\n"), start=1):
            line = raw_line.rstrip("\r")
            self.last_line = number
            if state.at_top_level():
                if match := _ARRAY_HEADER.match(line):
                    parts = _key_parts(match.group(1))
                    parent = self._resolve(parts[:-1], array_counts)
                    name = (*parent, parts[-1])
                    array_counts[name] = array_counts.get(name, -1) + 1
                    table = (*name, array_counts[name])
                    self._record(name, number)
                    self._record(table, number)
                    state.feed(line[match.end() :])
                    continue
                if match := _TABLE_HEADER.match(line):
                    table = self._resolve(_key_parts(match.group(1)), array_counts)
                    self._record(table, number)
                    state.feed(line[match.end() :])
                    continue
                if match := _KEY_VALUE.match(line):
                    parts = _key_parts(match.group(1))
                    for end in range(1, len(parts) + 1):
                        self._record((*table, *parts[:end]), number)
                    state.feed(line[match.end() :])
                    continue
            state.feed(line)

    @staticmethod
    def _resolve(
        parts: list[str], array_counts: dict[tuple[str | int, ...], int]
    ) -> tuple[str | int, ...]:
        path: tuple[str | int, ...] = ()
        for part in parts:
            path = (*path, part)
            if path in array_counts:
                path = (*path, array_counts[path])
        return path


class _ValueState:
    """Tracks open brackets and multi-line strings across lines while scanning TOML."""

    def __init__(self) -> None:
        self.depth = 0
        self.open_string: str | None = None

    def at_top_level(self) -> bool:
        return self.depth == 0 and self.open_string is None

    def feed(self, line: str) -> None:
        index = 0
        while index < len(line):
            if self.open_string is not None:
                if self.open_string == '"""' and line[index] == "\\":
                    index += 2
                elif line.startswith(self.open_string, index):
                    self.open_string = None
                    index += 3
                else:
                    index += 1
                continue
            char = line[index]
            if char == "#":
                return
            if line.startswith('"""', index) or line.startswith("'''", index):
                self.open_string = line[index : index + 3]
                index += 3
                continue
            if char in "\"'":
                index = self._skip_string(line, index)
                continue
            if char in "[{":
                self.depth += 1
            elif char in "]}":
                self.depth = max(0, self.depth - 1)
            index += 1

    @staticmethod
    def _skip_string(line: str, start: int) -> int:
        quote = line[start]
        index = start + 1
        while index < len(line):
            if quote == '"' and line[index] == "\\":
                index += 2
                continue
            if line[index] == quote:
                return index + 1
            index += 1
        return index
