"""A small trained injection classifier, the second opinion beside the rules.

Character n-grams (2-5, within word boundaries) and word n-grams (1-2) feed a logistic
regression. It is trained from the corpus this package ships (``corpus/attempts.txt`` and
``corpus/ordinary.txt``, one text a line, written by the project) the first time it is
needed in a process, deterministically and in about a second; nothing is downloaded and
nothing is unpickled. Retraining from the same files always gives the same model.

Text is prepared the same way for training and for scoring: disguises undone
(:func:`drafting.guard.disguise.unmask`), lower case, every digit written as ``0`` so that
"90% off" and "75% off" look alike, and every link reduced to ``http link``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from drafting.guard.disguise import unmask

#: Probability of "attempt" at or above which a text is flagged. Chosen on cross-validation
#: of the training corpus only (``benchmarks/guard_quality.py``), never on the held-out set.
THRESHOLD = 0.5
_LINK_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_DIGIT_RE = re.compile(r"\d")


def prepare(text: str) -> str:
    """The text as the classifier sees it."""
    plain = unmask(text).text.lower()
    plain = _LINK_RE.sub(" http link ", plain)
    return " ".join(_DIGIT_RE.sub("0", plain).split())


def build_pipeline() -> Pipeline:
    """The untrained classifier; used by :func:`injection_model` and the benchmark's CV."""
    features = FeatureUnion(
        [
            (
                "chars",
                TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
            ),
            (
                "words",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=(1, 2),
                    token_pattern=r"(?u)\b\w+\b",
                    sublinear_tf=True,
                ),
            ),
        ]
    )
    model = LogisticRegression(C=10.0, class_weight="balanced", max_iter=5000)
    return Pipeline([("features", features), ("model", model)])


def training_corpus() -> tuple[list[str], list[int]]:
    """The shipped corpus: texts and labels (1 an attempt, 0 an ordinary CRM text)."""
    folder = resources.files("drafting.guard").joinpath("corpus")
    texts: list[str] = []
    labels: list[int] = []
    for name, label in (("attempts.txt", 1), ("ordinary.txt", 0)):
        for line in folder.joinpath(name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(line.strip())
                labels.append(label)
    return texts, labels


@dataclass(frozen=True, slots=True)
class InjectionModel:
    """A fitted classifier and its threshold."""

    pipeline: Pipeline
    threshold: float = THRESHOLD

    def probabilities(self, texts: Sequence[str]) -> list[float]:
        """The probability that each text is an injection attempt."""
        if not texts:
            return []
        scores = self.pipeline.predict_proba([prepare(t) for t in texts])[:, 1]
        return [float(s) for s in scores]

    def flags(self, texts: Sequence[str]) -> list[bool]:
        """Whether each text reads like an attempt."""
        return [p >= self.threshold for p in self.probabilities(texts)]


def train(texts: Sequence[str], labels: Sequence[int]) -> InjectionModel:
    """Fit the classifier on the given texts."""
    pipeline = build_pipeline()
    pipeline.fit([prepare(t) for t in texts], list(labels))
    return InjectionModel(pipeline)


@lru_cache(maxsize=1)
def injection_model() -> InjectionModel:
    """The classifier trained on the shipped corpus, once per process."""
    texts, labels = training_corpus()
    return train(texts, labels)
