"""An incremental HubSpot sync lists archived contacts once a period, not on every run,
and still sees every contact archived since the last listing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.base import SyncCursor
from connectors.hubspot import HubSpotConnector
from connectors.hubspot.archived import scan_floor
from connectors.sandbox import SandboxCRM
from connectors.sandbox.hubspot_face import HubSpotFace, sandbox_id

DAY = datetime(2026, 3, 10, tzinfo=UTC)


def _lists(face: HubSpotFace) -> int:
    return sum(n for route, n in face.counters.by_route.items() if "search" not in route
               and "contacts" in route and "batch" not in route)


def test_scan_floor_lists_once_a_period_from_the_start_of_the_last_one() -> None:
    cursor = SyncCursor(DAY + timedelta(hours=9), "42", read_at=DAY + timedelta(hours=9))
    # Later the same day: no listing.
    assert scan_floor(cursor, now=DAY + timedelta(hours=15), every_hours=24) is None
    # The next day: everything archived since the start of the day of the last sync.
    assert scan_floor(cursor, now=DAY + timedelta(hours=25), every_hours=24) == (DAY, "")
    # No time of a last read, every-run listing, or a full sync: as before.
    assert scan_floor(SyncCursor(DAY, "7"), now=DAY, every_hours=24) == (DAY, "7")
    assert scan_floor(cursor, now=DAY + timedelta(hours=10), every_hours=0) == (
        cursor.modified_at, "42")
    assert scan_floor(None, now=DAY, every_hours=24) is not None


def test_incremental_sync_skips_the_archived_list_within_a_period(
    face: HubSpotFace, connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    full = list(connector.fetch_leads(since=None))
    last = full[-1]
    now = datetime.now(UTC)
    gone = full[0].crm_id
    crm.delete_lead(str(sandbox_id("L", gone)))
    before = _lists(face)
    same_period = SyncCursor(last.modified_at, last.crm_id, read_at=now)
    assert [r.crm_id for r in connector.fetch_leads(since=same_period)] == []
    assert _lists(face) == before  # no archived listing this run
    last_period = SyncCursor(last.modified_at, last.crm_id, read_at=now - timedelta(days=1))
    again = list(connector.fetch_leads(since=last_period))
    assert [(r.crm_id, r.deleted) for r in again] == [(gone, True)]
    assert _lists(face) == before + 1  # the day's one listing
