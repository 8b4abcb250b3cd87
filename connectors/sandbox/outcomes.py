"""What the sandbox's leads do with the emails they get: replies, bounces, meetings, opt-outs.

The sandbox simulates outcomes from a seed, once each sent email's moment has come on the
CRM's clock. A lead answers more readily when its hidden propensity (the logistic pull of
company size, industry, title, purchases, pricing visits and webinars that the generator
draws conversions from, without the noise) is high, and when the email itself is better:
it names the lead and its company, asks a question, and is not long. So drafts that reps
improve earn more replies, and a model of replies has something real to learn.

The same seed and the same emails give the same outcomes, whatever order they are read
in: each email's fate is drawn from its own random stream (seed and idempotency key).
Events land in the ``outcome_events`` table with a modification stamp from the CRM's
clock, so every face (the sandbox connector, the Salesforce and HubSpot faces) reads the
same rows incrementally. An unsubscribe is not an event row a face serves: it sets the
lead's ``email_opt_out``, as a real recipient's click would, and reaches leadloop by sync.
"""

from __future__ import annotations

import math
import random
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.outcomes import OutcomeKind
from connectors.sandbox.crm import (
    SandboxCRM,
    SentEmail,
    _lead_dict,
    _parse_stamp,
    _stamp_text,
)
from connectors.sandbox.generator import (
    _INDUSTRIES,
    _TITLES,
    PRICING_RECENT_DAYS,
    _size_pull,
)

DEFAULT_SEED = 7
BOUNCE_RATE = 0.03
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS outcome_events ("
    " seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,"
    " lead_crm_id TEXT NOT NULL, message_id TEXT, occurred_at TEXT NOT NULL,"
    " modified_at TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '')",
    "CREATE INDEX IF NOT EXISTS outcome_events_by_stamp ON outcome_events (modified_at, event_id)",
)
# Event id prefixes by kind; the number is the sent email's (M000012 -> R000012).
_PREFIX = {OutcomeKind.REPLIED: "R", OutcomeKind.BOUNCED: "B",
           OutcomeKind.MEETING_BOOKED: "V", OutcomeKind.UNSUBSCRIBED: "X"}
_SENIORITY = {title: pull for _, pull, titles in _TITLES.values() for title in titles}
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class SandboxOutcome:
    """One simulated outcome as the sandbox stores it."""

    event_id: str
    kind: OutcomeKind
    lead_crm_id: str
    message_id: str | None
    occurred_at: datetime
    modified_at: datetime
    detail: str


@dataclass(frozen=True, slots=True)
class _Fate:
    kind: OutcomeKind
    after: timedelta
    detail: str = ""


def set_seed(crm: SandboxCRM, seed: int) -> None:
    """Choose the seed outcomes are drawn from (default 7); set it before emails go out."""
    with crm._write() as db:
        _ensure_schema(db)
        db.execute("INSERT INTO meta (key, value) VALUES ('outcome_seed', ?) ON CONFLICT (key) "
                   "DO UPDATE SET value = excluded.value", (str(seed),))


def propensity(fields: dict[str, Any], *, now: datetime) -> float:
    """The lead's hidden pull towards buying (log-odds, without the generator's noise)."""
    employees = fields.get("employees")
    size = _size_pull(employees) if isinstance(employees, int) else 0.0
    industry = _INDUSTRIES.get(str(fields.get("industry") or ""), (0.0, 0.0))[1]
    seniority = _SENIORITY.get(str(fields.get("title") or ""), 0.0)
    events = fields.get("events") or []
    cutoff = now - timedelta(days=PRICING_RECENT_DAYS)
    pricing = sum(1 for e in events if isinstance(e, dict) and e.get("detail") == "/pricing"
                  and _event_time(e) >= cutoff)
    webinar = any(isinstance(e, dict) and e.get("kind") == "webinar" for e in events)
    purchases = fields.get("past_purchases") or 0
    return (size + industry + seniority + 1.0 * min(pricing, 3) + 1.3 * webinar
            + 1.0 * min(int(purchases), 3))


def email_quality(body: str, fields: dict[str, Any]) -> float:
    """How much the email itself helps (log-odds): personal, a question, not long."""
    words = _WORD.findall(body)
    text = body.lower()
    personal = sum(1 for name in ("first_name", "company", "industry", "title")
                   if str(fields.get(name) or "").strip()
                   and str(fields[name]).lower() in text)
    asks = "?" in body
    return 0.35 * min(personal, 3) + 0.3 * asks - 0.012 * max(0, len(words) - 110)


def fate(email: SentEmail, fields: dict[str, Any], *, seed: int) -> list[_Fate]:
    """What the lead will do with this email, drawn from the email's own random stream."""
    rng = random.Random(f"{seed}:{email.idempotency_key}")
    if rng.random() < BOUNCE_RATE:
        return [_Fate(OutcomeKind.BOUNCED, timedelta(minutes=rng.uniform(1, 90)),
                      "550 5.1.1 mailbox unavailable")]
    pull = propensity(fields, now=email.sent_at)
    logit = -3.6 + 0.35 * pull + email_quality(email.body, fields)
    if rng.random() < _sigmoid(logit):
        reply = timedelta(hours=rng.uniform(1, 96))
        fates = [_Fate(OutcomeKind.REPLIED, reply, f"Re: {email.subject}"[:255])]
        if rng.random() < _sigmoid(-1.6 + 0.25 * pull):
            fates.append(_Fate(OutcomeKind.MEETING_BOOKED,
                               reply + timedelta(hours=rng.uniform(1, 72)), "Intro call"))
        return fates
    long_email = len(_WORD.findall(email.body)) > 150
    if rng.random() < 0.02 + 0.03 * long_email:
        return [_Fate(OutcomeKind.UNSUBSCRIBED, timedelta(hours=rng.uniform(1, 48)))]
    return []


def simulate_due(crm: SandboxCRM) -> int:
    """Record every simulated outcome whose moment has come on the CRM's clock; returns how
    many are new. Safe to call often and from every face: a recorded one is kept as is."""
    now = crm._now()
    emails = crm.sent_emails()
    with crm._write() as db:
        _ensure_schema(db)
        seed = _seed(db)
        known = {r[0] for r in db.execute("SELECT event_id FROM outcome_events")}
        due: list[tuple[SentEmail, _Fate, str]] = []
        for email in emails:
            number = email.message_id.lstrip("M")
            for planned in fate(email, _fields(db, email.lead_crm_id), seed=seed):
                event_id = f"{_PREFIX[planned.kind]}{number}"
                if event_id not in known and email.sent_at + planned.after <= now:
                    due.append((email, planned, event_id))
        if not due:
            return 0
        stamp = crm._next_stamp(db)
        for email, planned, event_id in due:
            db.execute(
                "INSERT INTO outcome_events (event_id, kind, lead_crm_id, message_id, "
                "occurred_at, modified_at, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (event_id, planned.kind.value, email.lead_crm_id, email.message_id,
                 _text(email.sent_at + planned.after), stamp, planned.detail))
            if planned.kind is OutcomeKind.UNSUBSCRIBED:
                # A recipient's click opts the lead out in the CRM; leadloop sees it by sync.
                db.execute("UPDATE leads SET email_opt_out = 1, modified_at = ? "
                           "WHERE crm_id = ?", (stamp, email.lead_crm_id))
    return len(due)


def outcomes_after(crm: SandboxCRM, after: tuple[datetime, str] | None, *,
                   limit: int = 500) -> list[SandboxOutcome]:
    """The next ``limit`` served outcomes after a (modified_at, event_id) position.

    Unsubscribes are left out: they reach leadloop as the lead's opt-out.
    """
    simulate_due(crm)
    stamp, last_id = ("", "") if after is None else (_text(after[0]), after[1])
    with crm._lock:
        rows = crm._db.execute(
            "SELECT * FROM outcome_events WHERE kind != 'unsubscribed' AND "
            "(modified_at > ? OR (modified_at = ? AND event_id > ?)) "
            "ORDER BY modified_at, event_id LIMIT ?", (stamp, stamp, last_id, limit)).fetchall()
    return [SandboxOutcome(
        event_id=r["event_id"], kind=OutcomeKind(r["kind"]), lead_crm_id=r["lead_crm_id"],
        message_id=r["message_id"], occurred_at=_parse(r["occurred_at"]),
        modified_at=_parse(r["modified_at"]), detail=r["detail"]) for r in rows]


def all_outcomes(crm: SandboxCRM) -> list[SandboxOutcome]:
    """Every served outcome recorded so far, in stamp order."""
    out: list[SandboxOutcome] = []
    after: tuple[datetime, str] | None = None
    while page := outcomes_after(crm, after, limit=5000):
        out.extend(page)
        after = (page[-1].modified_at, page[-1].event_id)
    return out


def _fields(db: sqlite3.Connection, crm_id: str) -> dict[str, Any]:
    row = db.execute("SELECT * FROM leads WHERE crm_id = ?", (crm_id,)).fetchone()
    return {} if row is None else _lead_dict(row)


def _ensure_schema(db: sqlite3.Connection) -> None:
    for statement in _SCHEMA:
        db.execute(statement)


def _seed(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT value FROM meta WHERE key = 'outcome_seed'").fetchone()
    return DEFAULT_SEED if row is None else int(row[0])


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _event_time(event: dict[str, Any]) -> datetime:
    value = event.get("at")
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(moment: datetime) -> str:
    return _stamp_text(moment)


def _parse(text: str) -> datetime:
    return _parse_stamp(text)
