"""Weights back to TOML text, so a version edited in the form is published like a file."""

from __future__ import annotations

import json
from typing import Any

from scoring.weights import Weights

_TOP_ORDER = ("name", "base")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a TOML basic string, except that TOML wants DEL escaped too.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007F")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _pairs(table: dict[str, Any]) -> list[str]:
    return [f"{_key(key)} = {_value(value)}" for key, value in table.items()
            if value is not None and not isinstance(value, dict)
            and not (isinstance(value, list) and value and isinstance(value[0], dict))]


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else _value(key)


def _criterion(criterion: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in criterion.items() if v is not None}


def weights_toml(weights: Weights, *, comment: str = "") -> str:
    """The weights as a TOML file that parses back to the same version."""
    dumped = weights.model_dump(mode="json", by_alias=True)
    lines = [f"# {line}" for line in comment.splitlines() if line.strip()]
    lines += [f"{key} = {_value(dumped[key])}" for key in _TOP_ORDER]
    lines += ["", "[tiers]", *_pairs(dumped["tiers"])]
    if weights.caps.is_set():
        lines += ["", "[caps]", *_pairs(dumped["caps"])]
    if weights.decay.half_life_days is not None:
        lines += ["", "[decay]", *_pairs(dumped["decay"])]
    for criterion in dumped["criteria"]:
        lines += ["", "[[criteria]]", *_pairs(_criterion(criterion))]
    for profile in dumped["profiles"]:
        lines += ["", "[[profiles]]", *_pairs(profile)]
        lines += ["[profiles.when]", *_pairs(_criterion(profile["when"]))]
        for part in ("tiers", "caps", "decay"):
            if profile.get(part) is not None:
                lines += [f"[profiles.{part}]", *_pairs(profile[part])]
        for criterion in profile["criteria"]:
            lines += ["[[profiles.criteria]]", *_pairs(_criterion(criterion))]
    return "\n".join(lines) + "\n"
