"""The sync cursor: a sync with nothing changed reads nothing once the look-back has
passed, and no change that shows up late (within the look-back) is ever missed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import SyncCursor
from connectors.sandbox import SandboxConnector, SandboxCRM
from drafting import TemplateDrafter
from leadloop.pipeline import Pipeline
from leadloop.settings import Settings
from leadloop.steps.cursor import resume_from
from leadloop.wiring import sync_lookback
from review_api.store.db import Store
from scoring import default_weights_path, load_weights

T0 = datetime(2026, 3, 10, 9, tzinfo=UTC)
L = timedelta(seconds=30)


def test_a_settled_cursor_keeps_its_tie_break() -> None:
    stamp = T0
    assert resume_from(modified_at=stamp, last_id="L9", read_at=stamp + L,
                       lookback=L) == SyncCursor(stamp, "L9", stamp + L)


def test_a_cursor_read_soon_after_its_stamp_looks_back_from_the_read() -> None:
    read = T0 + timedelta(seconds=10)
    assert resume_from(modified_at=T0, last_id="L9", read_at=read, lookback=L) == SyncCursor(
        read - L, "", read)  # not T0 - L: what was stamped before read - L was seen then
    # No time of a last read (an old cursor, or a sync that failed): the full look-back.
    assert resume_from(modified_at=T0, last_id="L9", read_at=None, lookback=L) == SyncCursor(
        T0 - L, "")


# A record is (stamp offset s, id, delay d): stamped at T0 + s, visible only at T0 + s + d,
# with d within the look-back (a late commit, or a search index lagging).
records = st.lists(st.tuples(st.integers(0, 120), st.integers(0, 50), st.integers(0, 30)),
                   max_size=25, unique_by=lambda r: r[1])
sync_times = st.lists(st.integers(0, 160), min_size=1, max_size=12).map(sorted)


@settings(max_examples=300, deadline=None)
@given(records=records, times=sync_times)
def test_no_late_change_is_ever_missed(records: list[tuple[int, int, int]],
                                       times: list[int]) -> None:
    def at(seconds: int) -> datetime:
        return T0 + timedelta(seconds=seconds)

    position: tuple[datetime, str] | None = None
    read_at: datetime | None = None
    seen: set[str] = set()
    for now in [*times, 200]:  # at 200 everything is visible
        since = None if position is None else resume_from(
            modified_at=position[0], last_id=position[1], read_at=read_at, lookback=L)
        visible = sorted((at(s), f"L{i:03d}") for s, i, d in records if s + d <= now)
        for stamp, ident in visible:
            if since is None or (stamp, ident) > (since.modified_at, since.last_id):
                seen.add(ident)
                position = max(position or (stamp, ident), (stamp, ident))
        read_at = at(now) if position is not None else None
    assert seen == {f"L{i:03d}" for _, i, _ in records}


def _pipeline(crm: SandboxCRM, store: Store, now: datetime) -> Pipeline:
    return Pipeline(store=store, connector=SandboxConnector(crm, page_size=200),
                    weights=load_weights(default_weights_path()), drafter=TemplateDrafter(),
                    lookback=timedelta(seconds=300), clock=lambda: now)


def test_sync_with_nothing_changed_reads_nothing(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    crm = SandboxCRM(tmp_path / "crm.db", clock=lambda: now - timedelta(hours=1))
    crm.seed(600, seed=4, now=now - timedelta(hours=1))  # every lead within a second
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        first = _pipeline(crm, store, now).sync()
        assert first.fetched == len(crm.list_lead_ids())
        again = _pipeline(crm, store, now + timedelta(minutes=10)).sync()
        assert (again.fetched, again.stored) == (0, 0)
        crm.update_lead(crm.list_lead_ids()[7], title="VP Sales")
        changed = _pipeline(crm, store, now + timedelta(minutes=20)).sync()
        assert (changed.fetched, changed.stored) == (1, 1)
    finally:
        store.close()
        crm.close()


def test_hubspot_has_its_own_longer_look_back() -> None:
    assert sync_lookback(Settings(crm="hubspot")) >= timedelta(seconds=30)
    assert sync_lookback(Settings(crm="hubspot")) != sync_lookback(Settings(crm="salesforce"))
    assert sync_lookback(Settings(crm="hubspot", sync_lookback_seconds=7)) == timedelta(
        seconds=7)
