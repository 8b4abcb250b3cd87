"""The rules registry: published texts kept as written, the newest in force, rollback as a
new entry, and which rules the pipeline uses (published, else the file, else shipped)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drafting.errors import PolicyError
from drafting.policy_registry import PolicyRegistry, PolicyRegistryError, policy_in_force

FIRST = "# big accounts\nrequire the manager when the company has more than 100 employees\n"
SECOND = "escalate when the tier is A\n"


def test_publish_keeps_the_text_and_the_newest_is_in_force(tmp_path: Path) -> None:
    registry = PolicyRegistry(tmp_path)
    assert registry.current() is None and registry.latest() is None
    first = registry.publish(FIRST, author="ann", note="bigger accounts")
    assert registry.current() == FIRST and registry.text(first.version) == FIRST
    second = registry.publish(SECOND, author="bob", note="tier A")
    assert registry.current() == SECOND
    assert [(v.author, v.note) for v in registry.versions()] == [
        ("ann", "bigger accounts"), ("bob", "tier A")]
    assert registry.diff(first.version, second.version) == [
        "-# big accounts",
        "-require the manager when the company has more than 100 employees",
        "+escalate when the tier is A"]
    with pytest.raises(PolicyRegistryError, match="already the version in force"):
        registry.publish(SECOND, author="bob", note="again")
    back = registry.restore(first.version, author="cy", note="")
    assert back.version == first.version and back.note == f"rollback to {first.version}"
    assert registry.current() == FIRST and len(registry.versions()) == 3


def test_invalid_rules_unknown_versions_and_missing_notes_are_refused(tmp_path: Path) -> None:
    registry = PolicyRegistry(tmp_path)
    with pytest.raises(PolicyError, match=r"^the rules: line 2: 'escalate sometimes'"):
        registry.publish(f"{SECOND}escalate sometimes\n", author="ann", note="n")
    with pytest.raises(PolicyRegistryError, match="say why in the note"):
        registry.publish(SECOND, author="ann", note=" ")
    assert registry.versions() == [] and not (tmp_path / "policy").exists()
    for version in ("rules-0000000000", "../../etc/passwd", "rules-../x"):
        with pytest.raises(PolicyRegistryError, match="no published rules version"):
            registry.restore(version, author="ann", note="n")


def test_published_rules_win_over_the_file_and_the_shipped_ones(tmp_path: Path) -> None:
    shipped, _, where = policy_in_force(tmp_path)
    assert where == "the shipped rules" and shipped.rules
    rules_file = tmp_path / "rules.txt"
    rules_file.write_text(FIRST, "utf-8")
    policy, text, where = policy_in_force(tmp_path, rules_file)
    assert (text, where, len(policy.rules)) == (FIRST, str(rules_file), 1)
    record = PolicyRegistry(tmp_path).publish(SECOND, author="ann", note="n")
    policy, text, where = policy_in_force(tmp_path, rules_file)
    assert (text, where) == (SECOND, f"published version {record.version}")
    assert [r.text for r in policy.rules] == ["escalate when the tier is A"]
