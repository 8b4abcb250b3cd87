"""Values every store can hold: a lead's numbers, dates and ids are checked against these when
the lead is parsed, so NaN, Infinity, a number past any column's range, a year 9999 or a NUL
byte in an id is a skipped lead with a reason, never a failed batch in the database."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

# Past any plausible lead and well inside a float's and a NUMERIC's exact range.
MAX_MONEY = 1e12
MAX_COUNT = 1_000_000
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
# An event dated in the future is kept (scoring leaves it out until then, and the sync names
# the lead); only a date where calendar arithmetic breaks down is refused.
LATEST_EVENT = datetime(9000, 1, 1, tzinfo=UTC)
MAX_ID_CHARS = 64


def _between(value: datetime, latest: datetime) -> datetime:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    if not EARLIEST <= aware < latest:
        raise ValueError(f"expected a date between {EARLIEST:%Y} and {latest:%Y}, "
                         f"got {aware:%Y-%m-%d}")
    return value


def _in_range(value: datetime) -> datetime:
    return _between(value, LATEST)


def _event_in_range(value: datetime) -> datetime:
    return _between(value, LATEST_EVENT)


def _plain_id(value: object) -> object:
    if isinstance(value, str) and any(
            unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        raise ValueError("expected an id without control characters")
    return value


def _number_not_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a true/false value")
    return value


def _finite(value: object) -> object:
    value = _number_not_bool(value)
    try:
        number = float(value) if isinstance(value, str | int | float) else None
    except (ValueError, OverflowError):
        return value  # not a number at all: the float type says so
    if number is not None and not math.isfinite(number):
        raise ValueError(f"expected a finite amount, got {value!r}")
    return value


def no_control(value: object) -> object:
    """Text without NUL, control characters or lone surrogates (a store cannot hold them)."""
    if isinstance(value, str) and any(
            unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\n\r\t" for ch in value):
        raise ValueError("contains a control character or a lone surrogate")
    return value


StoredDate = Annotated[datetime, AfterValidator(_in_range)]
EventDate = Annotated[datetime, AfterValidator(_event_in_range)]
Money = Annotated[float, BeforeValidator(_finite),
                  Field(ge=0, le=MAX_MONEY, allow_inf_nan=False)]
Count = Annotated[int, BeforeValidator(_number_not_bool), Field(ge=0, le=MAX_COUNT)]
RecordId = Annotated[str, BeforeValidator(_plain_id),
                     Field(min_length=1, max_length=MAX_ID_CHARS)]


def storable_id(crm_id: str) -> str:
    """An id as a skip record can hold it: control characters shown, at most 64 characters."""
    shown = "".join(ch if unicodedata.category(ch) not in ("Cc", "Cs") else "?"
                    for ch in str(crm_id))
    return shown if len(shown) <= MAX_ID_CHARS else shown[: MAX_ID_CHARS - 1] + "…"


def crm_id_problem(crm_id: object) -> str | None:
    """Why a record's id cannot be stored, or None."""
    if not isinstance(crm_id, str) or not crm_id.strip():
        return "crm_id: expected a non-empty id"
    if len(crm_id) > MAX_ID_CHARS:
        return f"crm_id: is {len(crm_id)} characters; at most {MAX_ID_CHARS} are accepted"
    try:
        _plain_id(crm_id)
    except ValueError as exc:
        return f"crm_id: {exc}"
    return None


def storable_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A record's raw fields as any JSON column holds them (kept for a deleted lead): no NaN
    or Infinity, no NUL, no lone surrogate; anything else as text."""
    return {str(key): _storable(value) for key, value in fields.items()}


def _storable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    if isinstance(value, bool | int | float | type(None)):
        return value
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    if isinstance(value, dict):
        return storable_fields(value)
    return _storable(str(value))
