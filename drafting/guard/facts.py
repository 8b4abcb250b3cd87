"""The admin's product facts sheet: what any draft may say about us, and where it may link."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from drafting.errors import ProductFactsError


@dataclass(frozen=True, slots=True)
class ProductFacts:
    """The admin's product facts sheet: what any draft may say about us."""

    company: str = ""
    products: tuple[str, ...] = ()
    claims: tuple[str, ...] = ()
    competitors: tuple[str, ...] = ()
    allowed_phrases: tuple[str, ...] = ()
    link_domains: tuple[str, ...] = ()
    path: str = field(default="", compare=False)

    def grounding_text(self) -> str:
        """Everything a claim may trace to; competitors deliberately left out."""
        return "\n".join([self.company, *self.products, *self.claims, *self.allowed_phrases])


_PRODUCT_KEYS = (
    "company", "products", "claims", "competitors", "allowed_phrases", "link_domains"
)


def parse_product_facts(source: str, path: str = "<product facts>") -> ProductFacts:
    """Parse a product facts sheet.

    Args:
        source: The TOML text.
        path: The file's name, for error messages.

    Returns:
        The facts.

    Raises:
        ProductFactsError: Not TOML, an unknown key, or a value of the wrong type.
    """
    try:
        document = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise ProductFactsError(path, f"not valid TOML: {exc}") from exc
    unknown = sorted(set(document) - set(_PRODUCT_KEYS))
    if unknown:
        raise ProductFactsError(
            path, f"unknown key {unknown[0]!r}; expected only {', '.join(_PRODUCT_KEYS)}"
        )
    company = document.get("company", "")
    if not isinstance(company, str):
        raise ProductFactsError(path, "'company' must be a string")
    lists: dict[str, tuple[str, ...]] = {}
    for key in _PRODUCT_KEYS[1:]:
        value = document.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ProductFactsError(path, f"{key!r} must be a list of strings")
        lists[key] = tuple(v.strip() for v in value if v.strip())
    lists["link_domains"] = tuple(
        dict.fromkeys(_domain(d) for d in lists["link_domains"] if _domain(d))
    )
    return ProductFacts(company=company.strip(), path=path, **lists)


def _domain(value: str) -> str:
    """A domain as an admin may write it ("https://www.Example.com/x") in canonical form."""
    value = value.strip().lower()
    for prefix in ("https://", "http://", "*."):
        value = value.removeprefix(prefix)
    value = value.split("/", 1)[0].removeprefix("www.").strip(".")
    return value


def load_product_facts(path: Path | str | None = None) -> ProductFacts:
    """Read a product facts sheet; the packaged default when ``path`` is None.

    Raises:
        ProductFactsError: The file cannot be read or is invalid.
    """
    if path is None:
        return _default_product_facts()
    try:
        source = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ProductFactsError(path, f"cannot read the file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ProductFactsError(path, "not UTF-8 text; expected a UTF-8 file") from exc
    return parse_product_facts(source, str(path))


@lru_cache(maxsize=1)
def _default_product_facts() -> ProductFacts:
    resource = resources.files("drafting").joinpath("default_product_facts.toml")
    return parse_product_facts(resource.read_text(encoding="utf-8"), str(resource))
