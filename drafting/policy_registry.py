"""Published escalation rules: each rules text kept as written, with author, time and note.

Layout under the data directory::

    policy/<version>.txt   a published rules text, byte for byte; the version names its content
    policy/history.jsonl   one line per publish or rollback: version, author, time, note

The history is append-only: the newest line is the version in force, and a rollback is a
new line naming an older version.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from drafting.errors import DraftingError
from drafting.policy import Policy, load_policy, parse_policy


class PolicyRegistryError(DraftingError):
    """A rules registry action cannot be done (no note, unknown version, ...)."""

    code = "policy_registry"


@dataclass(frozen=True, slots=True)
class RulesVersion:
    """One entry of the history: which rules text was put in force, by whom, when, why."""

    version: str
    author: str
    published_at: str
    note: str


def rules_version(text: str) -> str:
    """The version of a rules text: the same text always gets the same version."""
    return "rules-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


class PolicyRegistry:
    """Every published rules text, and the history of which was in force.

    Args:
        root: the data folder; the rules live in ``root/policy``.
    """

    def __init__(self, root: Path) -> None:
        self.folder = Path(root) / "policy"
        self._history = self.folder / "history.jsonl"

    def versions(self) -> list[RulesVersion]:
        """Every publish and rollback, oldest first."""
        if not self._history.exists():
            return []
        lines = self._history.read_text("utf-8").splitlines()
        return [RulesVersion(**json.loads(line)) for line in lines if line.strip()]

    def latest(self) -> RulesVersion | None:
        """The entry in force (the newest), if anything was published."""
        versions = self.versions()
        return versions[-1] if versions else None

    def current(self) -> str | None:
        """The rules text in force, or None when nothing was published."""
        latest = self.latest()
        return None if latest is None else self.text(latest.version)

    def text(self, version: str) -> str:
        """The published text of ``version``.

        Raises:
            PolicyRegistryError: no such version.
        """
        path = self.folder / f"{version}.txt"
        if not re.fullmatch(r"rules-[0-9a-f]{10}", version) or not path.is_file():
            raise PolicyRegistryError(f"no published rules version '{version}'")
        return path.read_text("utf-8")

    def diff(self, a: str, b: str) -> list[str]:
        """The lines removed (``-``) and added (``+``) from version ``a`` to ``b``.

        Raises:
            PolicyRegistryError: either is not a published version.
        """
        old, new = self.text(a).splitlines(), self.text(b).splitlines()
        lines = difflib.unified_diff(old, new, lineterm="", n=0)
        return [line for line in lines
                if line[:1] in "+-" and not line.startswith(("+++", "---"))]

    def publish(self, text: str, *, author: str, note: str) -> RulesVersion:
        """Validate ``text`` and put it in force; a text published before is put back.

        Raises:
            PolicyError: a line is not a rule (one line naming the line number).
            PolicyRegistryError: no note, or these rules are already in force.
        """
        parse_policy(text, "the rules")
        if not note.strip():
            raise PolicyRegistryError("say why in the note: it is kept with the version")
        version = rules_version(text)
        path = self.folder / f"{version}.txt"
        if not path.is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            temporary = self.folder / f"{version}.tmp"
            temporary.write_text(text, "utf-8")
            temporary.replace(path)
        return self._append(version, author=author, note=note)

    def restore(self, version: str, *, author: str, note: str) -> RulesVersion:
        """Put an older published version back in force (a rollback), as a new entry.

        Raises:
            PolicyRegistryError: no such version, or it is the one in force.
        """
        self.text(version)
        return self._append(version, author=author, note=note.strip() or f"rollback to {version}")

    def _append(self, version: str, *, author: str, note: str) -> RulesVersion:
        latest = self.latest()
        if latest is not None and latest.version == version:
            raise PolicyRegistryError(f"{version} is already the version in force")
        record = RulesVersion(version=version, author=author, note=note,
                              published_at=datetime.now(UTC).isoformat(timespec="seconds"))
        with self._history.open("a", encoding="utf-8") as history:
            history.write(json.dumps(asdict(record)) + "\n")
        return record


def policy_in_force(root: Path, path: Path | None = None) -> tuple[Policy, str, str]:
    """The rules the pipeline uses, their text, and where they come from.

    The newest published version wins; else the file ``path`` (the settings'
    ``LEADLOOP_POLICY_PATH``); else the shipped rules.

    Returns:
        (policy, text, where): where is "published version rules-…", the file, or
        "the shipped rules".

    Raises:
        PolicyError: the file cannot be read or a line is invalid.
    """
    registry = PolicyRegistry(root)
    latest = registry.latest()
    if latest is not None:
        where = f"published version {latest.version}"
        text = registry.text(latest.version)
        return parse_policy(text, where), text, where
    policy = load_policy(path)
    if path is not None:
        return policy, Path(path).read_text("utf-8"), str(path)
    text = resources.files("drafting").joinpath("default_policy.txt").read_text("utf-8")
    return policy, text, "the shipped rules"
