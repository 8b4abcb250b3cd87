"""Training: a leakage check, a validation split, the model, and the figures that judge it.

The default training path (:func:`train`) takes any frame of historical leads with an
outcome: it names and drops identifiers and suspected leaks, splits by time when a date is
there (the most recent leads are the holdout), fits a :class:`~scoring.model.LeadModel`,
and reports ROC AUC, PR AUC, Brier score, a calibration table and lift by decile.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from scoring.features import build_frames
from scoring.model import LeadModel, Monotone, looks_like_dates

NEAR_PERFECT_AUC = 0.90
"""A single field that alone reaches this cross-validated ROC AUC is a suspected leak."""

SPARSE_FILLED = 0.60
"""A field filled in on at most this share of leads is sparse (see :data:`DECISIVE_AUC`)."""

DECISIVE_AUC = 0.70
"""A sparse field whose values, where filled in, separate the outcomes with at least this
cross-validated ROC AUC is suspected of being a judgement staff record while working a lead
(a lead profile or quality): the form fields a lead fills in rarely say that much on their
own, and a judgement is filled in only for the leads someone looked at."""

MIN_LABELS = 200
"""Below this many labelled leads the score is the points score alone."""

AFTER_OUTCOME_WORDS: tuple[str, ...] = (
    "tag",
    "tags",
    "quality",
    "score",
    "rating",
    "grade",
    "stage",
    "status",
    "won",
    "lost",
    "closed",
    "outcome",
    "converted",
    "conversion",
    "disqualified",
)
"""Words that, in a field's name, say a CRM field is filled in by staff during the sales
process or records the outcome (``Lead Quality``, ``Lead Status``, ``Tags``, ``Won Date``):
such fields are known only after the lead has been worked, so they are excluded by default."""

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


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A field left out of training, and why (``rule`` is a stable word, ``reason`` prose)."""

    field: str
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class Metrics:
    """How well probabilities rank and how well they are calibrated, on held-out leads."""

    rows: int
    positives: int
    roc_auc: float
    pr_auc: float
    brier: float
    ece: float
    calibration: tuple[tuple[float, float, float, int], ...]
    lift: tuple[tuple[int, float, float], ...]

    def as_dict(self) -> dict[str, Any]:
        """The figures as plain JSON-ready values."""
        return {
            "rows": self.rows,
            "positives": self.positives,
            "roc_auc": self.roc_auc,
            "pr_auc": self.pr_auc,
            "brier": self.brier,
            "ece": self.ece,
            "calibration": [list(row) for row in self.calibration],
            "lift": [list(row) for row in self.lift],
        }


@dataclass(frozen=True, slots=True)
class TrainingResult:
    """A fitted model and everything a registry keeps beside it."""

    model: LeadModel
    metrics: Metrics
    excluded: tuple[Exclusion, ...]
    fields: tuple[str, ...]
    split: str
    summary: dict[str, Any] = field(default_factory=dict)
    holdout: pd.DataFrame | None = None
    holdout_target: np.ndarray | None = None


def evaluate(y_true: Any, probability: Any, *, bins: int = 10) -> Metrics:
    """ROC AUC, PR AUC, Brier score, expected calibration error, calibration table, lift.

    Args:
        y_true: outcomes, 1 converted and 0 not.
        probability: predicted probabilities of conversion.
        bins: bins of the calibration table (equal width) and of the lift table (deciles).

    Returns:
        The figures. The calibration table rows are (bin low, mean predicted, observed
        rate, leads); lift rows are (decile from the top, conversion rate, lift over the
        base rate). ECE is the lead-weighted mean gap between predicted and observed.
    """
    y = np.asarray(y_true).astype(int)
    p = np.asarray(probability, dtype=float)
    both = len(np.unique(y)) == 2
    edges = np.linspace(0.0, 1.0, bins + 1)
    slot = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    table = []
    ece = 0.0
    for index in range(bins):
        chosen = slot == index
        count = int(chosen.sum())
        if not count:
            continue
        predicted, observed = float(p[chosen].mean()), float(y[chosen].mean())
        ece += count / len(y) * abs(predicted - observed)
        table.append((float(edges[index]), predicted, observed, count))
    base = float(y.mean()) if len(y) else 0.0
    order = np.argsort(-p, kind="stable")
    lift = []
    for decile, part in enumerate(np.array_split(order, bins), start=1):
        if len(part):
            rate = float(y[part].mean())
            lift.append((decile, rate, rate / base if base else 0.0))
    return Metrics(
        rows=len(y),
        positives=int(y.sum()),
        roc_auc=float(roc_auc_score(y, p)) if both else float("nan"),
        pr_auc=float(average_precision_score(y, p)) if both else float("nan"),
        brier=float(brier_score_loss(y, p)) if len(y) else float("nan"),
        ece=ece,
        calibration=tuple(table),
        lift=tuple(lift),
    )


# -- the leakage check -----------------------------------------------------------------------


def _name_words(name: str) -> set[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return set(re.findall(r"[a-z]+", spaced.lower()))


def _single_field_auc(values: pd.Series, y: np.ndarray, *, folds: int = 5) -> float:
    """Cross-validated ROC AUC of one field alone (values or quantile bins, missing kept)."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        numbers = pd.to_numeric(values.astype("Float64") if pd.api.types.is_bool_dtype(values)
                                else values, errors="coerce")
        if numbers.nunique() > 20:
            ranks = numbers.rank(method="average", pct=True)
            keys = np.floor(ranks.to_numpy(dtype=float, na_value=np.nan) * 20).astype(str)
        else:
            keys = numbers.astype(str).to_numpy()
    else:
        keys = values.astype(str).where(values.notna(), "(missing)").to_numpy()
    codes, _ = pd.factorize(pd.Series(keys, dtype=object), use_na_sentinel=False)
    score = np.zeros(len(y))
    prior = float(y.mean())
    splitter = StratifiedKFold(folds, shuffle=True, random_state=0)
    for train_rows, test_rows in splitter.split(codes, y):
        sums = np.bincount(codes[train_rows], weights=y[train_rows], minlength=codes.max() + 1)
        counts = np.bincount(codes[train_rows], minlength=codes.max() + 1)
        # A little smoothing keeps a value seen once from looking certain.
        rates = (sums + prior * 5) / (counts + 5)
        score[test_rows] = rates[codes[test_rows]]
    auc = float(roc_auc_score(y, score))
    return max(auc, 1.0 - auc)


def _present_with_one_outcome(values: pd.Series, y: np.ndarray) -> str:
    """Why a field is filled in only on leads with one outcome ("" when it is not)."""
    present = values.notna().to_numpy()
    if present.sum() < 20 or present.mean() > 0.95:
        return ""
    rate = float(y[present].mean())
    base = float(y.mean())
    if rate >= 0.98 and base < 0.9:
        return f"filled in only on converted leads ({present.sum()} of them): recorded after"
    if rate <= 0.02 and base > 0.1:
        return f"filled in only on leads that did not convert ({present.sum()}): recorded after"
    return ""


def _decisive_where_filled(values: pd.Series, y: np.ndarray) -> str:
    """Why a sparse field looks like a staff judgement ("" when it does not).

    Such a field is empty on most leads, and where someone filled it in its values nearly
    decide the outcome (a lead profile "Potential Lead" against "Student"), because it
    was filled in after talking to the lead.
    """
    present = values.notna().to_numpy()
    filled = float(present.mean()) if len(present) else 0.0
    if filled > SPARSE_FILLED:
        return ""
    outcomes = y[present]
    if min(int(outcomes.sum()), int(len(outcomes) - outcomes.sum())) < 20:
        return ""
    shown = values[present].reset_index(drop=True)
    if shown.nunique() < 2:
        return ""
    auc = _single_field_auc(shown, outcomes)
    if auc < DECISIVE_AUC:
        return ""
    return (
        f"filled in on {filled:.0%} of leads, and where filled its values alone separate "
        f"the outcomes (ROC AUC {auc:.3f}): a judgement recorded while the lead was worked"
    )


def _is_identifier(values: pd.Series) -> bool:
    present = values.dropna()
    if len(present) < 20:
        return False
    unique_share = present.nunique() / len(present)
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        whole = bool(np.all(np.mod(present.to_numpy(dtype=float), 1) == 0))
        return whole and unique_share >= 0.99
    if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
        text = present.astype(str)
        return unique_share >= 0.95 and not text.str.contains(" ").mean() > 0.5
    return False


def _determined_by(frame: pd.DataFrame, name: str, source: str) -> bool:
    """Whether ``name`` is (almost always) a function of ``source``, e.g. a band of a score."""
    pair = frame[[source, name]].dropna()
    if len(pair) < 20 or pair[name].nunique() < 2:
        return False
    if frame[source].nunique() > 0.5 * len(frame):
        return False
    if frame[name].isna().ne(frame[source].isna()).mean() > 0.01:
        return False
    typical = pair.groupby(source, observed=True)[name].agg(lambda v: v.value_counts().iloc[0])
    return bool(typical.sum() >= 0.99 * len(pair))


def check_leakage(
    frame: pd.DataFrame,
    y: Any,
    *,
    date_column: str | None = None,
    threshold: float = NEAR_PERFECT_AUC,
) -> tuple[Exclusion, ...]:
    """Fields to leave out of training by default: identifiers and suspected leaks.

    Rules, in order: a column that is empty or holds one value (``constant``); a row id
    (``identifier``); a field filled in only on leads with one outcome
    (``after_outcome_presence``); a field that alone predicts the outcome almost perfectly
    (``near_perfect``, cross-validated ROC AUC at least ``threshold``, missing values
    counted as a value); a field whose name says staff fill it in while working the lead or
    that it records the outcome (``after_outcome_name``, see :data:`AFTER_OUTCOME_WORDS`); a
    sparse field whose values, where filled in, nearly decide the outcome (``staff_assigned``,
    see :data:`DECISIVE_AUC`); a
    date mostly later than ``date_column`` on converted leads only (``after_outcome_date``);
    and a field that is a function of an excluded one, e.g. a band of a staff score
    (``derived``).

    Args:
        frame: the candidate fields, one row per lead (without the outcome).
        y: the outcomes, 1 converted and 0 not.
        date_column: when the lead was created, if known; never excluded.
        threshold: the single-field ROC AUC from which a field is a suspected leak.

    Returns:
        The exclusions, one per field, in column order.
    """
    target = np.asarray(y).astype(int)
    found: dict[str, Exclusion] = {}
    for name in frame.columns:
        if name == date_column:
            continue
        values = frame[name]
        if values.nunique(dropna=True) <= 1 and not (values.isna().any() and values.notna().any()):
            found[name] = Exclusion(name, "constant", "holds a single value")
        elif _is_identifier(values):
            found[name] = Exclusion(name, "identifier", "a different value on every lead")
        elif only_with := _present_with_one_outcome(values, target):
            found[name] = Exclusion(name, "after_outcome_presence", only_with)
        elif (auc := _single_field_auc(values, target)) >= threshold:
            found[name] = Exclusion(
                name, "near_perfect",
                f"predicts the outcome almost perfectly on its own (ROC AUC {auc:.3f})",
            )
        elif words := _name_words(str(name)) & set(AFTER_OUTCOME_WORDS):
            found[name] = Exclusion(
                name, "after_outcome_name",
                f"its name ('{sorted(words)[0]}') says it is filled in while the lead is "
                "worked or records the outcome",
            )
        elif staff := _decisive_where_filled(values, target):
            found[name] = Exclusion(name, "staff_assigned", staff)
        else:
            if date_column is not None and looks_like_dates(values):
                if later := _later_on_converted(frame[date_column], values, target):
                    found[name] = Exclusion(name, "after_outcome_date", later)
    leaky = [name for name, exclusion in found.items()
             if exclusion.rule not in ("constant", "identifier")]
    for name in frame.columns:
        if name in found or name == date_column:
            continue
        for source in leaky:
            if _determined_by(frame, name, source):
                found[name] = Exclusion(name, "derived", f"follows from '{source}', excluded")
                break
    return tuple(found[name] for name in frame.columns if name in found)


def _later_on_converted(created: pd.Series, values: pd.Series, y: np.ndarray) -> str:
    from scoring.model import _parse_dates

    start, stamp = _parse_dates(created), _parse_dates(values)
    present = stamp.notna().to_numpy()
    later = (stamp > start).to_numpy(dtype=bool) & present
    if present.sum() < 10 or later[present].mean() < 0.95:
        return ""
    if y[present].mean() >= 0.95:
        return "a date after the lead was created, recorded only for converted leads"
    return ""


# -- the default training path ---------------------------------------------------------------


def find_date_column(frame: pd.DataFrame) -> str | None:
    """The column that says when each lead came in: the first date column with few gaps."""
    preferred = [name for name in frame.columns if _name_words(str(name)) & {"created", "first"}]
    for name in [*preferred, *frame.columns]:
        values = frame[name]
        if values.notna().mean() >= 0.95 and looks_like_dates(values):
            return str(name)
    return None


def prepare(
    frame: pd.DataFrame,
    y: Any,
    *,
    fields: Sequence[str] | None = None,
    keep: Iterable[str] = (),
    keep_leaky: bool = False,
    date_column: str | None = None,
) -> tuple[list[str], tuple[Exclusion, ...]]:
    """The fields to train on after the leakage check, and what it excluded.

    Args:
        frame: candidate fields (without the outcome).
        y: outcomes.
        fields: the admin's chosen fields; None for every column.
        keep: fields to keep although the check would exclude them.
        keep_leaky: keep every suspected leak (identifiers and constants still go).
        date_column: when each lead came in, if known.

    Returns:
        The fields to use and the exclusions (those kept on request are not listed).
    """
    chosen = list(fields) if fields is not None else list(frame.columns)
    missing = [name for name in chosen if name not in frame.columns]
    if missing:
        raise ValueError(f"chosen fields not in the data: {missing}")
    exclusions = check_leakage(frame[chosen], y, date_column=date_column)
    kept = set(keep)
    final = []
    for exclusion in exclusions:
        if exclusion.field in kept:
            continue
        if keep_leaky and exclusion.rule not in ("constant", "identifier"):
            continue
        final.append(exclusion)
    gone = {exclusion.field for exclusion in final}
    return [name for name in chosen if name not in gone], tuple(final)


def _split(
    frame: pd.DataFrame, y: np.ndarray, *, date_column: str | None, holdout: float, seed: int
) -> tuple[np.ndarray, np.ndarray, str]:
    n = len(frame)
    size = max(1, int(round(n * holdout)))
    if date_column is not None:
        from scoring.model import _parse_dates

        order = np.argsort(_parse_dates(frame[date_column]).to_numpy(dtype="datetime64[ns]")
                           .astype("int64"), kind="stable")
        train_rows, test_rows = order[: n - size], order[n - size :]
        if len(np.unique(y[train_rows])) == 2 and len(np.unique(y[test_rows])) == 2:
            return train_rows, test_rows, f"time-ordered: the latest {size} leads by {date_column}"
    rng = np.random.default_rng(seed)
    test_rows = np.sort(rng.choice(n, size=size, replace=False))
    train_rows = np.setdiff1d(np.arange(n), test_rows)
    return train_rows, test_rows, f"random: {size} leads held out"


def train(
    frame: pd.DataFrame,
    y: Any,
    *,
    fields: Sequence[str] | None = None,
    keep: Iterable[str] = (),
    keep_leaky: bool = False,
    date_column: str | None = "auto",
    monotone: Mapping[str, Monotone] | None = None,
    text_fields: Sequence[str] = (),
    sample_weight: Any = None,
    holdout: float = 0.2,
    random_state: int = 0,
) -> TrainingResult:
    """The default training path: check for leaks, split, fit, evaluate on the holdout.

    Args:
        frame: historical leads, one row per lead (without the outcome column).
        y: outcomes, 1 converted and 0 not.
        fields: the admin's chosen fields; None for every column.
        keep: fields to keep although the leakage check would exclude them.
        keep_leaky: keep every suspected leak.
        date_column: when each lead came in: ``"auto"`` to find it, None for none. With a
            date the holdout is the most recent leads; the date enters the model as an age.
        monotone: the admin's monotone hints (see :class:`~scoring.model.LeadModel`).
        text_fields: fields to read as free text.
        sample_weight: per-lead weights (e.g. lower for rep overrides than for outcomes).
        holdout: the share of leads held out for the figures.
        random_state: seed.

    Returns:
        The model (fitted on the training part), its holdout figures, the exclusions, the
        fields used, how the split was made, and a summary of the training data.

    Raises:
        ValueError: the outcome is not binary, or a chosen field is not in the data.
    """
    target = np.asarray(y).astype(int)
    if set(np.unique(target).tolist()) != {0, 1}:
        raise ValueError("the outcome needs both converted (1) and not converted (0) leads")
    date = find_date_column(frame) if date_column == "auto" else date_column
    used, excluded = prepare(
        frame, target, fields=fields, keep=keep, keep_leaky=keep_leaky, date_column=date
    )
    train_rows, test_rows, split = _split(
        frame, target, date_column=date, holdout=holdout, seed=random_state
    )
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    model = LeadModel(
        fields=used,
        monotone={k: v for k, v in (monotone or {}).items() if k in used},
        text_fields=tuple(name for name in text_fields if name in used),
        random_state=random_state,
    )
    model.fit(
        frame.iloc[train_rows], target[train_rows],
        sample_weight=None if weights is None else weights[train_rows],
    )
    probability = model.predict_proba(frame.iloc[test_rows])[:, 1]
    metrics = evaluate(target[test_rows], probability)
    summary = {
        "rows": len(frame),
        "positives": int(target.sum()),
        "train_rows": len(train_rows),
        "holdout_rows": len(test_rows),
        "date_column": date,
        "fields": used,
        "roles": dict(model.features_.roles_),
    }
    return TrainingResult(
        model=model,
        metrics=metrics,
        excluded=excluded,
        fields=tuple(used),
        split=split,
        summary=summary,
        holdout=frame.iloc[test_rows],
        holdout_target=target[test_rows],
    )


def cross_validate(
    frame: pd.DataFrame, y: Any, *, folds: int = 5, random_state: int = 0
) -> tuple[Metrics, tuple[Exclusion, ...]]:
    """Out-of-fold figures of the default path (leakage check and fit inside every fold).

    Args:
        frame: historical leads without the outcome.
        y: outcomes.
        folds: stratified folds.
        random_state: seed.

    Returns:
        Figures over all out-of-fold predictions, and the exclusions of the whole data.
    """
    target = np.asarray(y).astype(int)
    date = find_date_column(frame)
    _, excluded = prepare(frame, target, date_column=date)
    out_of_fold = np.zeros(len(frame))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    for train_rows, test_rows in splitter.split(np.zeros(len(target)), target):
        part = frame.iloc[train_rows]
        used, _ = prepare(part, target[train_rows], date_column=date)
        model = LeadModel(fields=used, random_state=random_state)
        model.fit(part, target[train_rows])
        out_of_fold[test_rows] = model.predict_proba(frame.iloc[test_rows])[:, 1]
    return evaluate(target, out_of_fold), excluded


# -- labels from leadloop's own leads --------------------------------------------------------


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


CREATED = "created_at"


def train_labelled(labelled: LabelledLeads, **options: Any) -> TrainingResult:
    """:func:`train` on leads from the store, holding out the most recent leads.

    The model frame carries ages, not dates; the leads' creation dates ride along only to
    order the split (they are not a model field). Without dates the holdout is random.

    Args:
        labelled: what :func:`labelled_leads` returned.
        options: passed to :func:`train` (keep, keep_leaky, holdout, ...).

    Returns:
        The training result.
    """
    frame = labelled.frame.reset_index(drop=True)
    fields = options.pop("fields", None) or list(frame.columns)
    date: str | None = None
    if labelled.created and sum(c is not None for c in labelled.created) >= 0.95 * len(frame):
        frame = frame.assign(**{CREATED: pd.to_datetime(
            pd.Series(labelled.created, dtype=object), utc=True, errors="coerce",
            format="ISO8601")})
        date = CREATED
    return train(frame, labelled.target, fields=fields, date_column=date,
                 sample_weight=labelled.weight, **options)
