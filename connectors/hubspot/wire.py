"""Values as HubSpot's API spells them: times, numbers as text, paging cursors.

Times are epoch milliseconds in UTC on the wire (or ISO 8601 text on some properties) and
aware UTC datetimes here; nothing reads the machine's local time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of a datetime; a naive one is taken as UTC, never as local time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // timedelta(milliseconds=1)


def from_hubspot_time(value: Any) -> datetime | None:
    """An aware UTC datetime from HubSpot's epoch milliseconds or ISO 8601 text."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return EPOCH + timedelta(milliseconds=int(text))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def int_or_none(value: Any) -> int | None:
    """A number property's text as a whole number; None when empty or not a number."""
    if value in (None, ""):
        return None
    try:
        return int(float(str(value)))
    except ValueError:
        return None


def next_after(body: dict[str, Any]) -> str | None:
    """The ``after`` cursor of a paged reply; None on the last page."""
    after = ((body.get("paging") or {}).get("next") or {}).get("after")
    return str(after) if after not in (None, "") else None
