"""Where an incremental read resumes: the stored cursor, the look-back, and the tie-break.

A CRM can show a change late: Salesforce may commit a record with a SystemModstamp a
little before one already read, and HubSpot's search index lags by seconds. The look-back
``L`` bounds that lateness: a record stamped ``s`` is visible by ``s + L`` (our clock; so
``L`` must also cover the skew between our clock and the CRM's).

A read that began at ``T`` therefore saw every record stamped up to ``T - L`` at or past its
own start. So the next read only has to look back to ``max(S - L, T - L)``, where ``S`` is
the cursor's stamp; and once ``T - L`` has passed ``S`` it need not look back at all and
keeps the cursor's (stamp, id) tie-break, reading nothing when nothing changed. Looking
back only ``S - L`` (the old rule) re-read every record stamped within ``L`` of the newest
one on every run, for ever.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from connectors.base import SyncCursor
from review_api.store.models import SyncCursor as CursorRow


def resume_from(*, modified_at: datetime, last_id: str, read_at: datetime | None,
                lookback: timedelta) -> SyncCursor:
    """The position the next read starts from (see the module's docstring)."""
    if not lookback:
        return SyncCursor(modified_at, last_id, read_at)
    if read_at is not None and read_at - lookback >= modified_at:
        return SyncCursor(modified_at, last_id, read_at)  # settled: the tie-break holds
    start = modified_at - lookback
    if read_at is not None:
        start = max(start, read_at - lookback)
    return SyncCursor(start, "", read_at)


def load(session: Session, stream: str, lookback: timedelta) -> SyncCursor | None:
    """Where the next read of ``stream`` starts; None for a first, full read."""
    row = session.get(CursorRow, stream)
    if row is None:
        return None
    return resume_from(modified_at=row.modified_at, last_id=row.last_id,
                       read_at=row.read_at, lookback=lookback)


def advance(session: Session, stream: str, modified_at: datetime, last_id: str) -> None:
    """Move the cursor forward to a record just stored (never back)."""
    row = session.get(CursorRow, stream)
    if row is None:
        session.add(CursorRow(stream=stream, modified_at=modified_at, last_id=last_id))
    elif (modified_at, last_id) > (row.modified_at, row.last_id):
        row.modified_at, row.last_id = modified_at, last_id


def finish(session: Session, stream: str, started: datetime) -> None:
    """Record that a read begun at ``started`` went to the end without failing."""
    row = session.get(CursorRow, stream)
    if row is not None and (row.read_at is None or started > row.read_at):
        row.read_at = started
