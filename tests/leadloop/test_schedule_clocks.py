"""Hypothesis over clocks near daylight-saving changes: the window holds on the lead's wall
clock on the days it is 23 or 25 hours long, and the caps hold per UTC day, whichever
side of a change or of midnight the run happens on."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from leadloop.settings import SendingConfig
from leadloop.steps.schedule import Planner, holiday_checker, next_open

DST_ZONES = ["America/New_York", "Europe/Berlin", "Europe/London", "Australia/Sydney",
             "America/St_Johns", "America/Santiago", "Pacific/Auckland", "America/Havana"]
# Windows that straddle the hours clocks skip or repeat (01:00-03:00, or midnight in
# Santiago and Havana), and ordinary business hours.
WINDOWS = ["09:00-17:00", "00:00-24:00", "01:30-03:30", "02:00-02:30", "00:00-01:00",
           "23:00-24:00"]


@cache
def _changes(zone: str) -> list[datetime]:
    """The UTC instants in 2026-2028 at which ``zone``'s offset changes (to the hour)."""
    where, found = ZoneInfo(zone), []
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    before = moment.astimezone(where).utcoffset()
    while moment < datetime(2029, 1, 1, tzinfo=UTC):
        moment += timedelta(hours=1)
        offset = moment.astimezone(where).utcoffset()
        if offset != before:
            found.append(moment)
            before = offset
    return found


@st.composite
def near_a_change(draw: st.DrawFn) -> tuple[str, datetime]:
    zone = draw(st.sampled_from(DST_ZONES))
    change = draw(st.sampled_from(_changes(zone)))
    return zone, change + timedelta(minutes=draw(st.integers(-3 * 24 * 60, 3 * 24 * 60)))


def _open_at(moment: datetime, zone: ZoneInfo, config: SendingConfig) -> bool:
    local = moment.astimezone(zone)
    start, end = config.window_times
    return (local.weekday() in config.weekdays and start <= local.time()
            and (end == time.max or local.time() < end))


def test_the_clocks_do_change_in_every_zone_sampled() -> None:
    assert all(len(_changes(zone)) >= 4 for zone in DST_ZONES)


@settings(max_examples=400, deadline=None)
@given(clock=near_a_change(), window=st.sampled_from(WINDOWS),
       days=st.sampled_from(["mon-fri", "mon-sun"]))
# Found by hypothesis: the second 02:00 of Sydney's repeated hour is inside 02:00-02:30,
# though the window's first 02:30 has passed.
@example(clock=("Australia/Sydney", datetime(2026, 4, 4, 16, 0, tzinfo=UTC)),
         window="02:00-02:30", days="mon-sun")
def test_next_open_across_a_daylight_saving_change(clock: tuple[str, datetime], window: str,
                                                   days: str) -> None:
    zone, moment = clock
    config = SendingConfig(window=window, days=days, holidays=[])
    start, end = config.window_times
    where = ZoneInfo(zone)
    at, why = next_open(moment, zone=where, start=start, end=end, weekdays=config.weekdays,
                        holiday=holiday_checker([]))
    assert at >= moment
    assert _open_at(at, where, config), (at.astimezone(where), window)
    assert (why is None) == (at == moment)
    if at > moment:
        # Nothing in between was open: checked every 15 minutes, and the minute before.
        probe = moment
        while probe < at:
            assert not _open_at(probe, where, config), probe.astimezone(where)
            probe += timedelta(minutes=15)
        assert not _open_at(at - timedelta(minutes=1), where, config) or (
            at - timedelta(minutes=1) < moment)


@settings(max_examples=150, deadline=None)
@given(clock=near_a_change(), cap=st.integers(1, 4), emails=st.integers(1, 20),
       window=st.sampled_from(["09:00-17:00", "00:00-24:00", "01:30-03:30"]))
def test_caps_hold_per_utc_day_across_a_daylight_saving_change(
        clock: tuple[str, datetime], cap: int, emails: int, window: str) -> None:
    zone, moment = clock
    config = SendingConfig(max_per_mailbox_per_day=cap, max_per_domain_per_day=cap + 1,
                           window=window, days="mon-sun", default_time_zone=zone,
                           holidays=[])
    planner = Planner(config, sent_by_mailbox=Counter(), sent_by_domain=Counter())
    slots = [planner.place(owner_id="U1", to=f"p{i}@acme.example", lead={}, now=moment)
             for i in range(emails)]
    assert max(Counter(s.at.astimezone(UTC).date() for s in slots).values()) <= cap
    assert all(_open_at(s.at, ZoneInfo(zone), config) for s in slots)
    assert [s.at for s in slots] == sorted(s.at for s in slots)
    # Emails sent on a day already counted leave the next UTC day at the earliest.
    full = Counter({("U1", moment.astimezone(UTC).date()): cap})
    busy = Planner(config, sent_by_mailbox=full, sent_by_domain=Counter())
    slot = busy.place(owner_id="U1", to="x@acme.example", lead={}, now=moment)
    assert slot.at.astimezone(UTC).date() > moment.astimezone(UTC).date()
    assert slot.held_because is not None
