"""Published weights versions, kept byte for byte with author, time and note.

Apart from the model registry so that reading the weights in force needs no scikit-learn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from scoring.errors import ScoringError
from scoring.weights import Weights, default_weights_path, parse_weights


class RegistryError(ScoringError):
    """A registry action cannot be done (unknown version, nothing to roll back to, ...)."""

    code = "registry_error"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WeightsVersion:
    """One published weights version: who published it, when, and why."""

    version: str
    author: str
    published_at: str
    note: str
    file: str


class WeightsRegistry:
    """Every published weights file, kept byte for byte with author, time and note.

    Args:
        root: the data folder; versions live in ``root/weights``.
    """

    def __init__(self, root: Path) -> None:
        self.folder = Path(root) / "weights"

    def _index(self) -> list[dict[str, str]]:
        path = self.folder / "index.json"
        if not path.exists():
            return []
        index: list[dict[str, str]] = json.loads(path.read_text("utf-8"))
        return index

    def publish(
        self, text: str, *, author: str, note: str, source: str = "<text>"
    ) -> WeightsVersion:
        """Validate and publish a weights file; publishing the same content again is a no-op.

        Args:
            text: the TOML text.
            author: who publishes it.
            note: why.
            source: the file name, for error messages.

        Returns:
            The published version (the existing record when the content was published).

        Raises:
            WeightsError: the text is not valid weights.
        """
        weights = parse_weights(text, source=source)
        index = self._index()
        for entry in index:
            if entry["version"] == weights.version:
                return WeightsVersion(**entry)
        self.folder.mkdir(parents=True, exist_ok=True)
        file = f"{weights.version}.toml"
        (self.folder / file).write_text(text, "utf-8")
        record = WeightsVersion(
            version=weights.version,
            author=author,
            published_at=_now().isoformat(timespec="seconds"),
            note=note,
            file=file,
        )
        index.append({name: getattr(record, name) for name in WeightsVersion.__slots__})
        temporary = self.folder / "index.tmp"
        temporary.write_text(json.dumps(index, indent=2), "utf-8")
        temporary.replace(self.folder / "index.json")
        return record

    def restore(self, version: str, *, author: str, note: str) -> WeightsVersion:
        """Put a published version back in force (a rollback), recorded as a new entry.

        Args:
            version: a published version.
            author: who restores it.
            note: why.

        Returns:
            The new entry; its file is the version's own, kept byte for byte.

        Raises:
            RegistryError: no such version.
        """
        index = self._index()
        entry = next((e for e in index if e["version"] == version), None)
        if entry is None:
            raise RegistryError(f"no published weights version '{version}'")
        record = WeightsVersion(version=version, author=author,
                                published_at=_now().isoformat(timespec="seconds"),
                                note=note, file=entry["file"])
        index.append({name: getattr(record, name) for name in WeightsVersion.__slots__})
        temporary = self.folder / "index.tmp"
        temporary.write_text(json.dumps(index, indent=2), "utf-8")
        temporary.replace(self.folder / "index.json")
        return record

    def versions(self) -> list[WeightsVersion]:
        """Every published version, oldest first."""
        return [WeightsVersion(**entry) for entry in self._index()]

    def latest(self) -> WeightsVersion | None:
        """The most recently published version."""
        versions = self.versions()
        return versions[-1] if versions else None

    def text(self, version: str) -> str:
        """The published text of a version.

        Raises:
            RegistryError: no such version.
        """
        for entry in self._index():
            if entry["version"] == version:
                return (self.folder / entry["file"]).read_text("utf-8")
        raise RegistryError(f"no published weights version '{version}'")

    def load(self, version: str) -> Weights:
        """A published version, validated."""
        return parse_weights(self.text(version), source=f"{version}.toml")


def weights_in_force(root: Path, override: Path | None = None) -> tuple[Weights, str, str]:
    """The weights the pipeline uses, their TOML text, and where they come from.

    A file named in the settings wins; else the newest published version; else the
    shipped defaults.

    Args:
        root: the data directory holding the registry.
        override: a weights file the settings name, if any.

    Returns:
        (weights, text, source) where source is "file", "published" or "default".
    """
    if override is not None:
        text = Path(override).read_text("utf-8")
        return parse_weights(text, source=str(override)), text, "file"
    registry = WeightsRegistry(root)
    latest = registry.latest()
    if latest is not None:
        return registry.load(latest.version), registry.text(latest.version), "published"
    path = default_weights_path()
    text = path.read_text("utf-8")
    return parse_weights(text, source=str(path)), text, "default"
