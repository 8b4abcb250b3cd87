"""Labels: outcomes read from leads, CSV outcome columns and reps' overrides."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from scoring.features import build_frames

MODEL_FIELDS_FROM_LEADS: tuple[str, ...] = (
    "email_domain",
    "title",
    "company",
    "industry",
    "country",
    "lead_source",
    "owner_id",
    "employees",
    "past_purchases",
    "lifetime_value",
    "email_opt_out",
    "account_age_days",
    "days_since_last_activity",
    "events_total",
    "events_page_view",
    "events_email_open",
    "events_email_click",
    "events_form_submit",
    "events_webinar",
    "events_other",
    "events_last_14d",
    "pricing_views_14d",
    "events_last_30d",
    "pricing_views_30d",
)
"""Lead-frame columns the model may use (no names, e-mail, notes, status or stamps)."""

POSITIVE_STATUSES = frozenset({"converted", "won", "closed won", "customer"})
NEGATIVE_STATUSES = frozenset({"disqualified", "lost", "closed lost", "unqualified"})


def outcome_of(status: Any) -> int | None:
    """1 for a converted or won lead, 0 for a disqualified or lost one, None otherwise."""
    if not isinstance(status, str):
        return None
    folded = status.strip().lower()
    if folded in POSITIVE_STATUSES:
        return 1
    if folded in NEGATIVE_STATUSES:
        return 0
    return None


@dataclass(frozen=True, slots=True)
class LabelledLeads:
    """Leads with a label, as a model frame, ready for :func:`train`."""

    frame: pd.DataFrame
    target: np.ndarray
    weight: np.ndarray
    from_outcomes: int
    from_overrides: int
    created: tuple[Any, ...] = ()  # when each lead came in, for a time-ordered holdout


def model_frame(leads: Iterable[Mapping[str, Any]], *, now: datetime) -> pd.DataFrame:
    """Lead mappings to the frame the model reads (:data:`MODEL_FIELDS_FROM_LEADS`).

    Args:
        leads: lead records as mappings (``Lead.model_dump()`` dicts or the same keys).
        now: the moment ages and event windows are measured from.

    Returns:
        One row per lead, indexed by ``crm_id``.
    """
    frames = build_frames(leads, now=now, columns=MODEL_FIELDS_FROM_LEADS)
    result = frames.leads[list(MODEL_FIELDS_FROM_LEADS)].copy()
    result["email_opt_out"] = result["email_opt_out"].astype("Float64")
    return result


def labelled_leads(
    leads: Iterable[Mapping[str, Any]],
    *,
    now: datetime,
    overrides: Mapping[str, int] | None = None,
    good_score: int = 45,
    override_weight: float = 0.5,
) -> LabelledLeads:
    """Labels from outcomes (the lead's ``status``) and from reps' score overrides.

    An outcome wins over an override. An override whose final score is at least
    ``good_score`` (by default the B threshold) counts as converted, any other as not, with
    weight ``override_weight``.

    Args:
        leads: lead mappings; ``status`` converted/won or disqualified/lost is an outcome.
        now: the moment ages and windows are measured from.
        overrides: the final score a rep set, per ``crm_id``.
        good_score: the final score from which an override counts as a good lead.
        override_weight: the weight of a label that comes from an override.

    Returns:
        The labelled leads as a model frame with targets and weights.
    """
    chosen: list[Mapping[str, Any]] = []
    created: list[Any] = []
    target: list[int] = []
    weight: list[float] = []
    outcomes = from_overrides = 0
    for lead in leads:
        label = outcome_of(lead.get("status"))
        if label is not None:
            outcomes += 1
            chosen.append(lead)
            created.append(lead.get("created_at"))
            target.append(label)
            weight.append(1.0)
            continue
        final = (overrides or {}).get(str(lead.get("crm_id")))
        if final is not None:
            from_overrides += 1
            chosen.append(lead)
            created.append(lead.get("created_at"))
            target.append(int(final >= good_score))
            weight.append(override_weight)
    frame = model_frame(chosen, now=now) if chosen else pd.DataFrame(
        columns=list(MODEL_FIELDS_FROM_LEADS)
    )
    return LabelledLeads(
        frame=frame,
        target=np.asarray(target, dtype=int),
        weight=np.asarray(weight, dtype=float),
        from_outcomes=outcomes,
        from_overrides=from_overrides,
        created=tuple(created),
    )


POSITIVE_WORDS = frozenset({"1", "1.0", "yes", "y", "true", "t", "won", "win", "converted",
                            "closed won", "customer"})
NEGATIVE_WORDS = frozenset({"0", "0.0", "no", "n", "false", "f", "lost", "loss",
                            "not converted", "unconverted", "closed lost", "disqualified",
                            "unqualified"})


@dataclass(frozen=True, slots=True)
class Outcomes:
    """An outcome column read as 1/0, and which rows had no outcome (left out)."""

    target: np.ndarray
    labelled: np.ndarray  # boolean mask of rows with an outcome
    positive: str


def read_outcomes(values: pd.Series, *, name: str, positive: str | None = None) -> Outcomes:
    """An outcome column of a CSV export as 1 (converted) and 0, case-insensitively.

    Args:
        values: the column as read.
        name: its name, for the error message.
        positive: the one value that means converted (every other value is 0); None to
            understand yes/no, true/false, won/lost, converted/not converted and 1/0.

    Returns:
        The outcomes of the rows that have one, and which rows those are.

    Raises:
        ValueError: a value is neither a known positive nor a known negative word.
    """
    present = values.notna().to_numpy()
    words = values[present].map(lambda v: str(v).strip().lower())
    if positive is not None:
        wanted = positive.strip().lower()
        if not (words == wanted).any():
            seen = ", ".join(repr(v) for v in sorted(words.unique())[:6])
            raise ValueError(f"--positive {positive!r}: no row of {name!r} holds it "
                             f"(values: {seen})")
        return Outcomes((words == wanted).to_numpy(dtype=int), present, positive)
    unknown = sorted(set(words) - POSITIVE_WORDS - NEGATIVE_WORDS)
    if unknown:
        shown = ", ".join(repr(v) for v in unknown[:6])
        raise ValueError(
            f"outcome column {name!r} holds {shown}: expected yes/no, true/false, won/lost, "
            "converted/not converted or 1/0; name the converted value with --positive VALUE"
        )
    return Outcomes(words.isin(POSITIVE_WORDS).to_numpy(dtype=int), present, "known words")
