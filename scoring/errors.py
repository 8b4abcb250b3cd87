"""Errors the scoring package raises; each has a stable ``code``."""

from __future__ import annotations

from dataclasses import dataclass


class ScoringError(Exception):
    """Base of every scoring error."""

    code = "scoring_error"


@dataclass(frozen=True, slots=True)
class WeightsProblem:
    """One thing wrong in a weights file: where it is and what is expected there."""

    source: str
    key_path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = [self.source]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.key_path:
            where.append(self.key_path)
        return f"{', '.join(where)}: {self.message}"


class WeightsError(ScoringError):
    """The admin's weights file is unreadable or invalid.

    The message names the file, the line where known, the key path and what is expected,
    e.g. ``weights.toml, line 14, criteria[3].points: expected a whole number, got 'lots'``.
    When a file has several problems they are all listed, separated by ``; ``, and
    ``problems`` holds each one; ``source``, ``key_path`` and ``line`` describe the first.
    """

    code = "invalid_weights"

    def __init__(self, problems: list[WeightsProblem] | tuple[WeightsProblem, ...]) -> None:
        if not problems:
            raise ValueError("a WeightsError needs at least one problem")
        self.problems = tuple(problems)
        first = self.problems[0]
        self.source = first.source
        self.key_path = first.key_path
        self.line = first.line
        super().__init__("; ".join(str(problem) for problem in self.problems))

    @classmethod
    def single(
        cls, *, source: str, key_path: str, message: str, line: int | None = None
    ) -> WeightsError:
        """Build an error that reports one problem."""
        return cls([WeightsProblem(source=source, key_path=key_path, message=message, line=line)])


class LeadDataError(ScoringError):
    """A lead handed to scoring has a value scoring cannot read (not merely a missing one)."""

    code = "bad_lead_data"

    def __init__(self, crm_id: str, reason: str) -> None:
        super().__init__(f"lead {crm_id}: {reason}")
        self.crm_id = crm_id
        self.reason = reason
