"""The leakage check: fields known only after the outcome, and identifiers.

Each rule is a plain function over one column and the outcomes; :func:`check_leakage`
applies them in order and says, in words and figures, why each field is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from scoring.model import _parse_dates, looks_like_dates

EXACT_SHARE = 0.97
"""A number zero on at least this share of lost leads and non-zero on this share of converted
ones is zero exactly when the outcome is negative: it records the outcome."""

AFTER_OUTCOME_SHARE = 0.5
"""A date later than the outcome's date on at least this share of leads was recorded after."""

NEAR_PERFECT_AUC = 0.90
"""A single field that alone reaches this cross-validated ROC AUC is a suspected leak."""

SPARSE_FILLED = 0.60
"""A field filled in on at most this share of leads is sparse (see :data:`DECISIVE_AUC`)."""

DECISIVE_AUC = 0.70
"""A sparse field whose values, where filled in, separate the outcomes with at least this
cross-validated ROC AUC is suspected of being a judgement staff record while working a lead
(a lead profile or quality): the form fields a lead fills in rarely say that much on their
own, and a judgement is filled in only for the leads someone looked at."""

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

NOT_SUSPECTS = ("constant", "identifier")
"""Rules that exclude a field for carrying nothing to learn; the others name suspected leaks."""


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A field left out of training, and why (``rule`` is a stable word, ``reason`` prose)."""

    field: str
    rule: str
    reason: str


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
    rarer = int(min(y.sum(), len(y) - y.sum())) if len(y) else 0
    if rarer < 2:
        return 0.5  # one outcome only (or one lead of the other): nothing to separate
    folds = min(folds, rarer)
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


def _zero_exactly_when_lost(values: pd.Series, y: np.ndarray) -> str:
    """Why a number looks like an amount known only once a lead converted ("" if not).

    A deal value, an order count or a revenue is zero (or empty) on every lead that did
    not convert and above zero on the ones that did: it records the outcome.
    """
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return ""
    numbers = pd.to_numeric(values, errors="coerce").fillna(0).to_numpy(dtype=float)
    lost, won = numbers[y == 0], numbers[y == 1]
    if len(lost) < 10 or len(won) < 10:
        return ""
    zero_on_lost = float(np.mean(lost == 0))
    set_on_won = float(np.mean(won != 0))
    if zero_on_lost >= EXACT_SHARE and set_on_won >= EXACT_SHARE:
        return (f"zero or empty on {zero_on_lost:.0%} of leads that did not convert and "
                f"non-zero on {set_on_won:.0%} of those that did: an amount recorded with "
                "the outcome")
    return ""


def _dated_after_outcome(outcome_date: pd.Series, values: pd.Series) -> str:
    """Why a date looks recorded after the outcome: it mostly falls after the outcome's date."""
    end, stamp = _parse_dates(outcome_date), _parse_dates(values)
    both = (end.notna() & stamp.notna()).to_numpy()
    if both.sum() < 10:
        return ""
    later = float(((stamp > end).to_numpy(dtype=bool) & both).sum() / both.sum())
    if later < AFTER_OUTCOME_SHARE:
        return ""
    return (f"later than the outcome's date ({outcome_date.name}) on {later:.0%} of the "
            f"{int(both.sum())} leads with both dates: recorded after the outcome")


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
    outcome_date: str | None = None,
    threshold: float = NEAR_PERFECT_AUC,
) -> tuple[Exclusion, ...]:
    """Fields to leave out of training by default: identifiers and suspected leaks.

    Rules, in order: the outcome's own date (``outcome_date``); a column that is empty or
    holds one value (``constant``); a row id (``identifier``); a field filled in only on
    leads with one outcome (``after_outcome_presence``); a number that is zero exactly when
    the outcome is negative (``zero_when_lost``); a field that alone predicts the outcome
    almost perfectly (``near_perfect``, cross-validated ROC AUC at least ``threshold``,
    missing values counted as a value); a field whose name says staff fill it in while
    working the lead or that it records the outcome (``after_outcome_name``, see
    :data:`AFTER_OUTCOME_WORDS`); a sparse field whose values, where filled in, nearly
    decide the outcome (``staff_assigned``, see :data:`DECISIVE_AUC`); a date mostly later
    than ``outcome_date``, or later than ``date_column`` on converted leads only
    (``after_outcome_date``); and a field that is a function of an excluded one, e.g. a
    band of a staff score (``derived``). The dominance check is apart, in
    :mod:`scoring.dominance`.

    Args:
        frame: the candidate fields, one row per lead (without the outcome).
        y: the outcomes, 1 converted and 0 not.
        date_column: when the lead was created, if known; never excluded.
        outcome_date: the column holding the outcome's date (won or lost), if any.
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
        if name == outcome_date:
            found[name] = Exclusion(name, "outcome_date", "the date of the outcome itself")
        elif values.nunique(dropna=True) <= 1 and not (
            values.isna().any() and values.notna().any()
        ):
            found[name] = Exclusion(name, "constant", "holds a single value")
        elif _is_identifier(values):
            found[name] = Exclusion(name, "identifier", "a different value on every lead")
        elif only_with := _present_with_one_outcome(values, target):
            found[name] = Exclusion(name, "after_outcome_presence", only_with)
        elif zero := _zero_exactly_when_lost(values, target):
            found[name] = Exclusion(name, "zero_when_lost", zero)
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
        elif looks_like_dates(values):
            if outcome_date is not None and (
                after := _dated_after_outcome(frame[outcome_date], values)
            ):
                found[name] = Exclusion(name, "after_outcome_date", after)
            elif date_column is not None and (
                later := _later_on_converted(frame[date_column], values, target)
            ):
                found[name] = Exclusion(name, "after_outcome_date", later)
    leaky = [name for name, exclusion in found.items() if exclusion.rule not in NOT_SUSPECTS]
    for name in frame.columns:
        if name in found or name == date_column:
            continue
        for source in leaky:
            if _determined_by(frame, name, source):
                found[name] = Exclusion(name, "derived", f"follows from '{source}', excluded")
                break
    return tuple(found[name] for name in frame.columns if name in found)


def _later_on_converted(created: pd.Series, values: pd.Series, y: np.ndarray) -> str:
    start, stamp = _parse_dates(created), _parse_dates(values)
    present = stamp.notna().to_numpy()
    later = (stamp > start).to_numpy(dtype=bool) & present
    if present.sum() < 10 or later[present].mean() < 0.95:
        return ""
    if y[present].mean() >= 0.95:
        return "a date after the lead was created, recorded only for converted leads"
    return ""
