"""When an incremental HubSpot sync lists archived contacts, and from where.

HubSpot's search never returns archived contacts, and its list of them can be neither
filtered nor sorted by when they were archived: seeing deletions means listing every
archived contact (one call per 100). So an incremental sync lists them only on its first
run in each period of ``archived_scan_hours`` (UTC, counted from the epoch), judged by
when the last complete sync began (``SyncCursor.read_at``). That scan keeps every contact
archived since the start of the previous sync's period, the period in which the last scan
ran, so nothing archived between two scans is missed. Sends check a contact again by id
(archived ones included) just before sending, so a deletion seen late never lets an
email out.
"""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.base import SyncCursor
from connectors.hubspot.wire import EPOCH


def _period(at: datetime, every_s: float) -> int:
    return int((at - EPOCH).total_seconds() // every_s)


def scan_floor(since: SyncCursor | None, *, now: datetime, every_hours: float
               ) -> tuple[datetime, str] | None:
    """The position after which archived contacts are kept, or None to skip listing them.

    Args:
        since: the sync's cursor; None for a full sync (every archived contact is kept).
        now: the time now.
        every_hours: the period; 0 lists them on every sync.

    Returns:
        None when this sync need not list archived contacts; else a (stamp, id) position.
    """
    if since is None:
        return (EPOCH, "")
    after = (since.modified_at, since.last_id)
    if every_hours <= 0 or since.read_at is None:
        return after
    every_s = every_hours * 3600
    last = _period(since.read_at, every_s)
    if _period(now, every_s) == last:
        return None
    period_start = datetime.fromtimestamp(last * every_s, UTC)
    return min(after, (period_start, ""))
