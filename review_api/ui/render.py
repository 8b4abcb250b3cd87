"""The Jinja2 environment (autoescape on) and how a page is rendered."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from review_api.keys import Principal, Role
from review_api.ui.session import Visit

TEMPLATES = Path(__file__).with_name("templates")
# Explicit bidi embeddings, overrides and isolates, plus the invisible marks: lead text
# could use them to make a draft read differently from what it says.
BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True, slots=True)
class NavLink:
    """A link in the page header, shown only to the roles listed."""

    label: str
    href: str
    roles: tuple[Role, ...] = (Role.REP, Role.ADMIN, Role.ANALYST)


NAV: list[NavLink] = []  # filled by app.mount from each page module's NAV


def lead_text(value: object) -> Markup:
    """Text that came from a lead or a model: escaped, bidi controls shown as visible codes,
    isolated from the page's direction."""
    shown = BIDI.sub(lambda m: f"[U+{ord(m.group()):04X}]", str(value))
    return Markup("<bdi>") + escape(shown) + Markup("</bdi>")


def no_bidi(value: object) -> str:
    """Text for an edit field: the bidi controls taken out (a field cannot show them)."""
    return BIDI.sub("", str(value))


def when(value: datetime | None) -> str:
    """A time as pages show it."""
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def span(seconds: float) -> str:
    """A duration in the largest whole unit: '3 d', '5 h', '12 min'."""
    seconds = abs(seconds)
    if seconds >= 86_400:
        return f"{int(seconds // 86_400)} d"
    if seconds >= 3_600:
        return f"{int(seconds // 3_600)} h"
    return f"{max(1, int(seconds // 60))} min"


ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters["lead"] = lead_text
ENV.filters["when"] = when
ENV.filters["no_bidi"] = no_bidi
ENV.filters["span"] = span


def add_templates(folder: Path) -> None:
    """Let templates in ``folder`` be found too (after this package's own)."""
    loader = ENV.loader
    assert isinstance(loader, FileSystemLoader)
    if str(folder) not in loader.searchpath:
        loader.searchpath.append(str(folder))


def render(visit: Visit, template: str, *, who: Principal | None, status: int = 200,
           **context: Any) -> HTMLResponse:
    """``template`` filled with ``context``, the logged-in key, the nav and the CSRF token."""
    nav = [link for link in NAV if who is not None and who.role in link.roles]
    html = ENV.get_template(template).render(
        who=who, nav=nav, csrf=visit.csrf, path=visit.request.url.path, **context)
    return visit.remember(HTMLResponse(html, status_code=status))
