"""Plots drawn on the server as inline SVG: grouped bars, horizontal bars and lines.

No chart library and no script: each function returns escaped SVG markup with a title and
an ``aria-label``, so a screen reader and a page with scripts off both get the figure.
Every piece of text (titles, labels, series names) is escaped here.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

COLOURS = ("#64748b", "#1d4ed8", "#b45309", "#15803d")  # contrast >= 4.5:1 on white
WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 44


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{int(value)}"


def _frame(title: str, body: list[str], legend: Sequence[str], *, height: int = HEIGHT) -> Markup:
    parts = [
        f'<svg class="plot" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        *body,
    ]
    for index, name in enumerate(legend):
        x = LEFT + index * 150
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" '
                     f'fill="{COLOURS[index % len(COLOURS)]}"/>')
        parts.append(f'<text x="{x + 16}" y="16" font-size="12">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _axes(top: float, height: int, fmt: str) -> list[str]:
    bottom = height - BOTTOM
    out = [f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" '
           'stroke="#4f5b6b"/>']
    for step in range(5):
        value = top * step / 4
        y = bottom - (bottom - TOP) * step / 4
        label = fmt.format(value) if fmt else _number(round(value, 2))
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" '
                   f'text-anchor="end">{escape(label)}</text>')
        if step:
            out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                       'stroke="#e5e7eb"/>')
    return out


def grouped_bars(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    value_format: str = "",
    baseline: float | None = None,
) -> Markup:
    """Bars for each category, one per series side by side (e.g. before and after)."""
    top = max([v for _, values in series for v in values] + [baseline or 0, 1e-9])
    bottom = HEIGHT - BOTTOM
    band = (WIDTH - LEFT - RIGHT) / max(len(categories), 1)
    bar = band * 0.8 / max(len(series), 1)
    body = _axes(top, HEIGHT, value_format)
    for c, category in enumerate(categories):
        x0 = LEFT + c * band + band * 0.1
        for s, (name, values) in enumerate(series):
            value = values[c] if c < len(values) else 0
            h = (bottom - TOP) * value / top
            shown = value_format.format(value) if value_format else _number(value)
            body.append(
                f'<rect x="{x0 + s * bar:.1f}" y="{bottom - h:.1f}" width="{bar - 1:.1f}" '
                f'height="{h:.1f}" fill="{COLOURS[s % len(COLOURS)]}">'
                f"<title>{escape(name)}, {escape(category)}: {escape(shown)}</title></rect>")
        body.append(f'<text x="{x0 + band * 0.4:.1f}" y="{bottom + 16}" font-size="11" '
                    f'text-anchor="middle">{escape(category)}</text>')
    if baseline is not None:
        y = bottom - (bottom - TOP) * baseline / top
        body.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                    'stroke="#9f1239" stroke-dasharray="4 3"/>')
    return _frame(title, body, [name for name, _ in series])


def horizontal_bars(title: str, rows: Sequence[tuple[str, float]]) -> Markup:
    """One bar per row, longest first as given (a funnel)."""
    height = TOP + 28 * len(rows) + 12
    label_width = 150
    top = max([value for _, value in rows] + [1e-9])
    span = WIDTH - label_width - RIGHT - 60
    body = []
    for index, (label, value) in enumerate(rows):
        y = TOP + index * 28
        w = span * value / top
        body.append(f'<text x="{label_width - 8}" y="{y + 15}" font-size="12" '
                    f'text-anchor="end">{escape(label)}</text>')
        body.append(f'<rect x="{label_width}" y="{y}" width="{w:.1f}" height="20" '
                    f'fill="{COLOURS[1]}"><title>{escape(label)}: {escape(_number(value))}'
                    "</title></rect>")
        body.append(f'<text x="{label_width + w + 6:.1f}" y="{y + 15}" font-size="12">'
                    f"{escape(_number(value))}</text>")
    return _frame(title, body, [], height=height)


def lines(
    title: str,
    series: Sequence[tuple[str, Sequence[tuple[float, float]]]],
    *,
    x_label: str,
    y_label: str,
    diagonal: bool = True,
) -> Markup:
    """Curves on a unit square (ROC, calibration), with the diagonal for reference."""
    bottom = HEIGHT - BOTTOM
    plot_w, plot_h = WIDTH - LEFT - RIGHT, bottom - TOP

    def at(x: float, y: float) -> str:
        return f"{LEFT + plot_w * x:.1f},{bottom - plot_h * y:.1f}"

    body = _axes(1.0, HEIGHT, "{:.2f}")
    if diagonal:
        body.append(f'<polyline points="{at(0, 0)} {at(1, 1)}" fill="none" stroke="#9ca3af" '
                    'stroke-dasharray="4 3"/>')
    for index, (name, points) in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        path = " ".join(at(min(max(x, 0), 1), min(max(y, 0), 1)) for x, y in points)
        body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2">'
                    f"<title>{escape(name)}</title></polyline>")
    body.append(f'<text x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 8}" font-size="12" '
                f'text-anchor="middle">{escape(x_label)}</text>')
    body.append(f'<text x="12" y="{TOP + plot_h / 2:.0f}" font-size="12" text-anchor="middle" '
                f'transform="rotate(-90 12 {TOP + plot_h / 2:.0f})">{escape(y_label)}</text>')
    return _frame(title, body, [name for name, _ in series])
