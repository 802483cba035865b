"""Charts as SVG rendered on the server: no JavaScript library, no CDN, the same markup on
the dashboard and in the PDF (WeasyPrint draws inline SVG).

* Accessible: ``role="img"`` with a ``<title>`` and a ``<desc>`` that names every value, so a
  screen reader (and ``pdftotext``) gets the figures; the table next to each chart holds them
  too.
* Colour-blind safe and print-safe: the Okabe–Ito blue and vermilion (told apart by people
  with any colour vision, each at least 3:1 against white), and the second series hatched
  too, so that the series differ in greyscale as well; every legend names its series in
  words and every bar carries its value: nothing relies on colour alone.
* Suppression-safe: charts are drawn from the figures *as shown*. A hidden value (``<5`` or
  ``s``) gets no bar and no point, only its mark, so a bar's length never reveals it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

INK = "#1a1a1a"
DARK = "#4d4d4d"
GRID = "#d9d9d9"
BLUE = "#0072B2"  # Okabe–Ito blue: 5.1:1 on white
VERMILION = "#B84F00"  # Okabe–Ito vermilion, darkened to 5:1 on white
FONT = "DejaVu Sans, Verdana, sans-serif"


@dataclass(frozen=True)
class Point:
    """One value of a chart: its label, the number (None when hidden) and how to write it."""

    label: str
    value: float | None
    text: str


def _nice_step(maximum: float, ticks: int = 4) -> float:
    if maximum <= 0:
        return 1.0
    raw = maximum / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):  # whole steps: counts are whole
        if raw <= factor * magnitude:
            return max(factor * magnitude, 1.0)
    return 10 * magnitude


def _svg(chart_id: str, title: str, desc: str, width: int, height: int, body: list[str]) -> Markup:
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{title_id} {desc_id}" font-family="{FONT}" font-size="11">'
        f'<title id="{title_id}">{escape(title)}</title><desc id="{desc_id}">{escape(desc)}</desc>'
        f'<defs><pattern id="{chart_id}-hatch" width="6" height="6" '
        f'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        f'<rect width="6" height="6" fill="#ffffff"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{DARK}" stroke-width="2"/></pattern>'
        f'<pattern id="{chart_id}-second" width="6" height="6" '
        f'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        f'<rect width="6" height="6" fill="{VERMILION}"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="#ffffff" stroke-width="1.5"/></pattern></defs>'
    )
    # Every text went through escape() above; the rest is numbers and fixed markup.
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704


def _describe(points: Sequence[Point]) -> str:
    return "; ".join(f"{p.label}: {p.text}" for p in points)


def _text(x: float, y: float, content: str, anchor: str = "start", **attributes) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attributes.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{INK}"{extra}>'
        f"{escape(content)}</text>"
    )


def line_chart(
    chart_id: str, title: str, points: Sequence[Point], *, width: int = 720, height: int = 240
) -> Markup:
    """A trend: one point per period, joined where consecutive values are shown."""
    left, right, top, bottom = 48, 12, 12, 42
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [p.value for p in points if p.value is not None]
    step = _nice_step(max(values, default=0))
    ceiling = step * max(1, math.ceil(max(values, default=0) / step))
    body = _y_axis(left, top, plot_w, plot_h, ceiling, step)
    count = max(len(points), 1)
    spacing = plot_w / count

    def x_of(index: int) -> float:
        return left + spacing * (index + 0.5)

    def y_of(value: float) -> float:
        return top + plot_h - plot_h * value / ceiling

    segment: list[str] = []
    paths: list[list[str]] = []
    for index, point in enumerate(points):
        if point.value is None:
            if segment:
                paths.append(segment)
            segment = []
            body.append(_text(x_of(index), top + plot_h - 4, point.text, "middle", font_size=9))
            continue
        segment.append(f"{x_of(index):.1f},{y_of(point.value):.1f}")
    if segment:
        paths.append(segment)
    for path in paths:
        if len(path) > 1:
            body.append(
                f'<polyline points="{" ".join(path)}" fill="none" stroke="{BLUE}" '
                f'stroke-width="2"/>'
            )
    for index, point in enumerate(points):
        if point.value is not None:
            body.append(
                f'<circle cx="{x_of(index):.1f}" cy="{y_of(point.value):.1f}" r="3" '
                f'fill="#ffffff" stroke="{BLUE}" stroke-width="2"/>'
            )
    body += _x_labels(points, x_of, top + plot_h, count)
    return _svg(chart_id, title, _describe(points), width, height, body)


def _y_axis(left, top, plot_w, plot_h, ceiling, step) -> list[str]:
    body = []
    ticks = round(ceiling / step)
    for tick in range(ticks + 1):
        value = step * tick
        y = top + plot_h - plot_h * value / ceiling
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        label = f"{value:,.0f}".replace(",", "\u202f") if value >= 1 or value == 0 else f"{value}"
        body.append(_text(left - 6, y + 4, label, "end", font_size=10))
    body.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        f'stroke="{INK}" stroke-width="1"/>'
    )
    return body


def _x_labels(points: Sequence[Point], x_of, baseline: float, count: int) -> list[str]:
    # Keep labels readable: at most about twelve of them, "janv. 2025" on two lines.
    every = max(1, math.ceil(count / 12))
    labels = []
    for i, p in enumerate(points):
        if i % every:
            continue
        first, _space, second = p.label.rpartition(" ")
        if not first:
            labels.append(_text(x_of(i), baseline + 16, p.label, "middle", font_size=10))
            continue
        x = f"{x_of(i):.1f}"
        labels.append(
            f'<text x="{x}" y="{baseline + 15:.1f}" text-anchor="middle" fill="{INK}" '
            f'font-size="10">{escape(first)}'
            f'<tspan x="{x}" dy="12">{escape(second)}</tspan></text>'
        )
    return labels


def hbar_chart(
    chart_id: str, title: str, points: Sequence[Point], *, width: int = 720, label_width=210
) -> Markup:
    """Horizontal bars, longest first (violence types, regions)."""
    row, top = 22, 8
    height = top * 2 + row * max(len(points), 1)
    plot_w = width - label_width - 70
    values = [p.value for p in points if p.value is not None]
    largest = max(values, default=0) or 1
    body = []
    for index, point in enumerate(points):
        y = top + index * row
        body.append(_text(label_width - 8, y + 15, _shorten(point.label, 34), "end"))
        if point.value is None:
            body.append(
                f'<rect x="{label_width}" y="{y + 4}" width="14" height="{row - 8}" '
                f'fill="url(#{chart_id}-hatch)" stroke="{DARK}" stroke-width="0.5"/>'
            )
            body.append(_text(label_width + 20, y + 15, point.text))
            continue
        length = plot_w * point.value / largest
        body.append(
            f'<rect x="{label_width}" y="{y + 4}" width="{length:.1f}" height="{row - 8}" '
            f'fill="{BLUE}"/>'
        )
        body.append(_text(label_width + length + 6, y + 15, point.text))
    return _svg(chart_id, title, _describe(points), width, height, body)


def grouped_bars(
    chart_id: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[Point]]],
    *,
    width: int = 720,
    height: int = 250,
) -> Markup:
    """Vertical bars per category, one per series (solid, then hatched), with a legend."""
    left, right, top, bottom = 48, 12, 28, 42
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [p.value for _name, points in series for p in points if p.value is not None]
    step = _nice_step(max(values, default=0))
    ceiling = step * max(1, math.ceil(max(values, default=0) / step))
    body = _y_axis(left, top, plot_w, plot_h, ceiling, step)
    count = max(len(categories), 1)
    group = plot_w / count
    bar = min(group * 0.8 / max(len(series), 1), 28)
    fills = [BLUE, f"url(#{chart_id}-second)", DARK]
    for s_index, (name, points) in enumerate(series):
        fill = fills[s_index % len(fills)]
        legend_x = left + s_index * 200
        body.append(
            f'<rect x="{legend_x}" y="6" width="12" height="12" fill="{fill}" '
            f'stroke="{INK}" stroke-width="0.5"/>'
        )
        body.append(_text(legend_x + 18, 16, name))
        for index, point in enumerate(points):
            x = left + group * index + (group - bar * len(series)) / 2 + bar * s_index
            if point.value is None:
                body.append(_text(x + bar / 2, top + plot_h - 4, point.text, "middle", font_size=9))
                continue
            bar_h = plot_h * point.value / ceiling
            body.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - bar_h:.1f}" width="{bar:.1f}" '
                f'height="{bar_h:.1f}" fill="{fill}" stroke="{INK}" stroke-width="0.5"/>'
            )
    labels = [Point(c, None, c) for c in categories]
    body += _x_labels(labels, lambda i: left + group * (i + 0.5), top + plot_h, count)
    flat = [
        Point(f"{name} – {categories[i]}", p.value, p.text)
        for name, points in series
        for i, p in enumerate(points)
    ]
    return _svg(chart_id, title, _describe(flat), width, height, body)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
