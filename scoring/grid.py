"""Fit and engagement apart: the two sub-scores and the fit x engagement grade grid.

A lead's fit sub-score is what its fit criteria add up to (after the fit cap), and its
engagement sub-score what its engagement criteria add up to (after the engagement cap),
each kept between 0 and 100. The base and a cap on the total belong to neither. So the
reasons of one group, added up, are that group's sub-score (before the 0-100 clamp).

The grade puts the two on a grid many sales teams work from: a fit letter (A, B or C by the
fit thresholds) and an engagement number (1, 2 or 3 by the engagement thresholds), e.g.
"A1" for a lead who fits well and is active now. The thresholds live in the weights file::

    [grid]
    fit_A = 40           # fit sub-score 40 or more: A
    fit_B = 20           # 20-39: B, below 20: C
    engagement_1 = 35    # engagement sub-score 35 or more: 1
    engagement_2 = 10    # 10-34: 2, below 10: 3
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

GRADES: tuple[str, ...] = tuple(f"{letter}{number}" for letter in "ABC" for number in "123")
"""Every grade, best first: A1, A2, A3, B1, ... C3."""


class Grid(BaseModel):
    """Thresholds of the fit x engagement grid (each is the lowest sub-score of its band)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    fit_A: int = Field(default=40, ge=1, le=100)
    fit_B: int = Field(default=20, ge=1, le=100)
    engagement_1: int = Field(default=35, ge=1, le=100)
    engagement_2: int = Field(default=10, ge=1, le=100)

    @model_validator(mode="after")
    def _descending(self) -> Grid:
        for high, low in (("fit_A", "fit_B"), ("engagement_1", "engagement_2")):
            if getattr(self, low) >= getattr(self, high):
                raise PydanticCustomError(
                    "grid_order",
                    f"must be below {high} ({getattr(self, high)}); got {getattr(self, low)}",
                    {"key": low},
                )
        return self

    def is_default(self) -> bool:
        """Whether every threshold is left at its default."""
        return self == Grid()

    def grade(self, fit: int, engagement: int) -> str:
        """The grade of one lead, e.g. ``"A1"``."""
        letter = "A" if fit >= self.fit_A else "B" if fit >= self.fit_B else "C"
        number = "1" if engagement >= self.engagement_1 else (
            "2" if engagement >= self.engagement_2 else "3")
        return letter + number

    def grades(self, fit: np.ndarray, engagement: np.ndarray) -> np.ndarray:
        """The grades of many leads at once (same as :meth:`grade` lead by lead)."""
        letters = np.select([fit >= self.fit_A, fit >= self.fit_B], ["A", "B"], default="C")
        numbers = np.select([engagement >= self.engagement_1, engagement >= self.engagement_2],
                            ["1", "2"], default="3")
        graded: np.ndarray = np.char.add(letters, numbers)
        return graded


def sub_score(points: int) -> int:
    """A group's points as a 0-100 sub-score."""
    return min(100, max(0, points))
