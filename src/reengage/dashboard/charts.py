"""Server-rendered SVG charts for the staff dashboard.

Clinic machines may have no internet access, so the dashboard cannot rely on a JavaScript chart
library or a CDN: charts are drawn here as inline SVG strings, with no I/O and no dependency
beyond markupsafe. Output is deterministic so pages can be cached and compared in tests.

Colours live in the stylesheet, not here. Every coloured shape paints with ``currentColor``, so
one ``color`` rule per series class (``.series-a { color: ... }``) colours that series' line,
points, bars and legend swatch together; without any stylesheet the chart still renders in the
page's text colour. Line series are also told apart by dash pattern and marker shape, so colour
is never the only cue.

CSS classes used:

- ``chart``: the ``<svg>`` root (with ``data-chart-type``, ``data-series-count`` and
  ``data-points``, the number of x positions, for browser tests).
- ``grid``: the group of horizontal grid lines, one per y tick.
- ``axis``: the axis groups, also ``y-axis`` (tick labels) or ``x-axis`` (baseline and
  x labels); ``axis-label``: the optional rotated y-axis title.
- ``line``: one ``<path>`` per line series, with the series' css_class.
- ``points``: the group of one line series' markers, with the series' css_class; ``point``: each
  marker, carrying a ``<title>`` tooltip.
- ``bar``: one ``<rect>`` per bar value, with the series' css_class; ``value-label``: the number
  above a bar when the chart has few bars.
- ``legend``: the legend group; ``legend-item``: one entry; ``swatch``: its sample shape, with
  the series' css_class.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

from markupsafe import Markup, escape

__all__ = ["Series", "bar_chart", "line_chart"]

# No font metrics on the server: a rough advance width for the 11px sans-serif text is enough to
# keep labels from being clipped by the margins.
_FONT_SIZE: Final = 11
_CHAR_WIDTH: Final = 6.5
_LEGEND_ROW: Final = 18
_X_LABEL_SPACE: Final = 24
_MAX_X_LABELS: Final = 8
# Past this many x positions the markers would merge into a smear; they stay as transparent
# hover targets so every value keeps its tooltip.
_VISIBLE_POINTS_MAX: Final = 60
_VALUE_LABELS_MAX_BARS: Final = 12
_MARKER_RADIUS: Final = 3.0
_DASHES: Final = ("", "6 3", "2 3", "8 3 2 3", "1 4")
_ID_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
_CLASS_RE: Final = re.compile(r"-?[A-Za-z_][A-Za-z0-9_-]*\Z")

_Shape = Literal["circle", "square", "triangle", "diamond", "triangle-down"]
_SHAPES: Final[tuple[_Shape, ...]] = ("circle", "square", "triangle", "diamond", "triangle-down")
# Legend sample drawer: (series index, css class, x, centre y) -> (markup, width).
_SwatchDrawer = Callable[[int, str, float, float], tuple[str, float]]


@dataclass(frozen=True)
class Series:
    """One named run of values, styled by the stylesheet through ``css_class``.

    ``values`` has one entry per x position (or category); ``None`` marks a missing value, which
    breaks a line rather than pretending the value was zero.
    """

    label: str
    values: Sequence[float | None]
    css_class: str


@dataclass(frozen=True)
class _Scale:
    """The y axis always starts at 0 so bar heights and line levels compare honestly."""

    ticks: tuple[float, ...]
    decimals: int

    @property
    def top(self) -> float:
        return self.ticks[-1]

    def label(self, tick: float) -> str:
        if tick == 0:
            return "0"
        return f"{tick:,.{self.decimals}f}"


@dataclass(frozen=True)
class _Frame:
    """Plot-area edges in viewBox units; margins hold tick labels, legend and x labels."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    legend_top: int

    def y(self, value: float, scale: _Scale) -> float:
        # Rounded once here so every consumer (path, marker, bar) agrees on the same pixel.
        return round(self.bottom - value / scale.top * (self.bottom - self.top), 1)


def line_chart(
    title: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    *,
    chart_id: str,
    y_label: str = "",
    width: int = 720,
    height: int = 240,
) -> Markup:
    """Draw series over ordered x positions (usually dates) as lines with hoverable points."""
    _validate(chart_id, x_labels, series)
    n = len(x_labels)
    scale = _nice_scale(_max_value(series))
    shown = _label_indices(n)
    first_w = _text_width(x_labels[shown[0]]) if shown else 0.0
    last_w = _text_width(x_labels[shown[-1]]) if shown else 0.0
    legend_widths = [26 + _text_width(s.label) for s in series]
    frame = _layout(
        width,
        height,
        scale,
        y_label,
        legend_widths,
        min_left=math.ceil(first_w / 2) + 4,
        min_right=math.ceil(last_w / 2) + 4,
        extra_top=0,
    )

    def x_at(i: int) -> float:
        if n == 1:
            return (frame.left + frame.right) / 2
        return frame.left + i * (frame.right - frame.left) / (n - 1)

    parts = _open_svg("line", title, _line_summary(x_labels, series), chart_id, frame, series, n)
    parts += _grid_and_y_axis(frame, scale, y_label)
    parts += _x_axis(frame, [(x_at(i), x_labels[i]) for i in shown])
    hide_points = n > _VISIBLE_POINTS_MAX
    for index, s in enumerate(series):
        dash = _DASHES[index % len(_DASHES)]
        shape = _SHAPES[index % len(_SHAPES)]
        commands: list[str] = []
        markers: list[str] = []
        for i, value in enumerate(s.values):
            if value is None:
                continue
            x, y = x_at(i), frame.y(value, scale)
            starts = i == 0 or s.values[i - 1] is None
            commands.append(f"{'M' if starts else 'L'}{_num(x)} {_num(y)}")
            isolated = starts and (i == n - 1 or s.values[i + 1] is None)
            tip = f"{x_labels[i]}: {s.label} {_format_value(value)}"
            # A lone value has no line segment to show it, so its marker stays visible.
            extra = ' fill-opacity="1"' if hide_points and isolated else ""
            markers.append(_marker(shape, x, y, _MARKER_RADIUS, "point", tip, extra))
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<path class="line {_e(s.css_class)}" d="{"".join(commands)}" fill="none" '
            f'stroke="currentColor" stroke-width="2" stroke-linejoin="round"{dash_attr}/>'
        )
        hidden_attr = ' fill-opacity="0"' if hide_points else ""
        parts.append(
            f'<g class="points {_e(s.css_class)}" fill="currentColor"{hidden_attr}>'
            + "".join(markers)
            + "</g>"
        )
    parts += _legend(frame, series, legend_widths, _line_swatch)
    parts.append("</svg>")
    return Markup("\n".join(parts))  # noqa: S704 - all caller text went through _e()


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    chart_id: str,
    y_label: str = "",
    width: int = 720,
    height: int = 240,
) -> Markup:
    """Draw grouped vertical bars, one group per category, one bar per series in each group."""
    _validate(chart_id, categories, series)
    n = len(categories)
    scale = _nice_scale(_max_value(series))
    bar_count = sum(1 for s in series for v in s.values if v is not None)
    value_labels = bar_count <= _VALUE_LABELS_MAX_BARS
    legend_widths = [16 + _text_width(s.label) for s in series]
    frame = _layout(
        width,
        height,
        scale,
        y_label,
        legend_widths,
        min_left=0,
        min_right=12,
        extra_top=12 if value_labels else 0,
    )
    group_width = (frame.right - frame.left) / n if n else 0.0
    padding = group_width * 0.2
    slot = (group_width - padding) / len(series) if series else 0.0
    # A hairline between neighbouring bars, unless bars are too thin to spare it.
    gap = 1.0 if slot > 4 else 0.0

    parts = _open_svg("bar", title, _bar_summary(categories, series), chart_id, frame, series, n)
    parts += _grid_and_y_axis(frame, scale, y_label)
    shown = _label_indices(n)
    parts += _x_axis(frame, [(frame.left + (i + 0.5) * group_width, categories[i]) for i in shown])
    for index, s in enumerate(series):
        bars: list[str] = []
        labels: list[str] = []
        for i, value in enumerate(s.values):
            if value is None:
                continue
            x = frame.left + i * group_width + padding / 2 + index * slot + gap / 2
            y = frame.y(value, scale)
            tip = f"{categories[i]}: {s.label} {_format_value(value)}"
            bars.append(
                f'<rect class="bar {_e(s.css_class)}" x="{_num(x)}" y="{_num(y)}" '
                f'width="{_num(slot - gap)}" height="{_num(frame.bottom - y)}" '
                f'fill="currentColor"><title>{_e(tip)}</title></rect>'
            )
            if value_labels:
                labels.append(
                    f'<text class="value-label" x="{_num(x + (slot - gap) / 2)}" '
                    f'y="{_num(y - 4)}" text-anchor="middle">{_e(_format_value(value))}</text>'
                )
        parts += bars + labels
    parts += _legend(frame, series, legend_widths, _bar_swatch)
    parts.append("</svg>")
    return Markup("\n".join(parts))  # noqa: S704 - all caller text went through _e()


def _validate(chart_id: str, positions: Sequence[str], series: Sequence[Series]) -> None:
    """Fail loudly on input the axis cannot show truthfully, instead of drawing a wrong chart."""
    if not _ID_RE.match(chart_id):
        raise ValueError(f"chart_id must be a plain HTML id, got {chart_id!r}")
    for s in series:
        if not _CLASS_RE.match(s.css_class):
            raise ValueError(f"css_class must be a single CSS class name, got {s.css_class!r}")
        if len(s.values) != len(positions):
            raise ValueError(
                f"series {s.label!r} has {len(s.values)} values for {len(positions)} positions"
            )
        for value in s.values:
            # The axis is anchored at 0: a negative value would be drawn outside the plot.
            if value is not None and (not math.isfinite(value) or value < 0):
                raise ValueError(f"series {s.label!r} has a value the axis cannot show: {value}")


def _max_value(series: Sequence[Series]) -> float:
    return max((float(v) for s in series for v in s.values if v is not None), default=0.0)


_FINEST_VALUE = 1e-6


def _nice_scale(max_value: float) -> _Scale:
    """Pick 4 to 6 ticks from 0 with a 1, 2 or 5 x 10^k step, the smallest that covers the data.

    Decimal keeps the step exact, so tick labels never read 0.30000000000000004 and the top
    tick is never a rounding error below the largest value. No data still gets a 0..1 axis,
    and so does data below ``_FINEST_VALUE``: its steps would need labels hundreds of digits
    wide (5e-324 made the chart "too small for its labels"), and nothing the dashboard
    plots, counts and one-decimal rates, is that small.
    """
    if max_value < _FINEST_VALUE:
        max_value = 1.0
    target = Decimal(max_value)
    # Start one decade low so the first candidate is too fine; the first that fits then has
    # at least 3 intervals, because consecutive steps differ by at most 2.5x.
    exponent = math.floor(math.log10(max_value)) - 1
    while True:
        for multiple in (1, 2, 5):
            step = Decimal(multiple).scaleb(exponent)
            intervals = math.ceil(target / step)
            if step * intervals < target:
                intervals += 1
            if intervals <= 5:
                ticks = tuple(float(step * i) for i in range(intervals + 1))
                return _Scale(ticks=ticks, decimals=max(0, -exponent))
        exponent += 1


def _label_indices(n: int) -> list[int]:
    """Thin x labels to about eight, keeping the first and last so the range is always clear."""
    if n <= _MAX_X_LABELS:
        return list(range(n))
    step = math.ceil((n - 1) / (_MAX_X_LABELS - 1))
    indices = list(range(0, n - 1, step))
    if (n - 1) - indices[-1] < step / 2:
        indices.pop()  # would crowd the last label
    indices.append(n - 1)
    return indices


def _layout(
    width: int,
    height: int,
    scale: _Scale,
    y_label: str,
    legend_widths: Sequence[float],
    *,
    min_left: int,
    min_right: int,
    extra_top: int,
) -> _Frame:
    tick_width = max(_text_width(scale.label(t)) for t in scale.ticks)
    left = max(math.ceil(tick_width) + 10 + (16 if y_label else 0), min_left, 24)
    right = width - max(min_right, 12)
    rows = _legend_rows(legend_widths, right - left)
    legend_rows = max(rows) + 1 if rows else 0
    top = 10 + legend_rows * _LEGEND_ROW + 4 + extra_top
    bottom = height - _X_LABEL_SPACE
    if right - left < 40 or bottom - top < 40:
        raise ValueError(f"a {width}x{height} chart is too small for its labels and legend")
    return _Frame(width, height, left, right, top, bottom, legend_top=10)


def _legend_rows(widths: Sequence[float], available: float) -> list[int]:
    """Wrap legend entries onto extra rows rather than letting them run off the chart."""
    rows: list[int] = []
    row, used = 0, 0.0
    for item in widths:
        if used and used + item > available:
            row, used = row + 1, 0.0
        rows.append(row)
        used += item + 16
    return rows


def _open_svg(
    kind: str,
    title: str,
    summary: str,
    chart_id: str,
    frame: _Frame,
    series: Sequence[Series],
    points: int,
) -> list[str]:
    cid = _e(chart_id)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart-type="{kind}" '
        f'viewBox="0 0 {frame.width} {frame.height}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" '
        f'data-series-count="{len(series)}" data-points="{points}" '
        f'fill="currentColor" font-family="sans-serif" font-size="{_FONT_SIZE}">',
        f'<title id="{cid}-title">{_e(title)}</title>',
        f'<desc id="{cid}-desc">{_e(summary)}</desc>',
    ]


def _grid_and_y_axis(frame: _Frame, scale: _Scale, y_label: str) -> list[str]:
    grid = [
        f'<line x1="{frame.left}" y1="{_num(y)}" x2="{frame.right}" y2="{_num(y)}"/>'
        for y in (frame.y(t, scale) for t in scale.ticks)
    ]
    labels = [
        f'<text x="{frame.left - 6}" y="{_num(frame.y(t, scale) + 4)}">{_e(scale.label(t))}</text>'
        for t in scale.ticks
    ]
    parts = [
        '<g class="grid" stroke="currentColor" stroke-opacity="0.15">' + "".join(grid) + "</g>",
        '<g class="axis y-axis" text-anchor="end" fill="currentColor">' + "".join(labels) + "</g>",
    ]
    if y_label:
        mid = _num((frame.top + frame.bottom) / 2)
        parts.append(
            f'<text class="axis-label" x="12" y="{mid}" text-anchor="middle" '
            f'transform="rotate(-90 12 {mid})">{_e(y_label)}</text>'
        )
    return parts


def _x_axis(frame: _Frame, labels: Sequence[tuple[float, str]]) -> list[str]:
    baseline = (
        f'<line x1="{frame.left}" y1="{frame.bottom}" x2="{frame.right}" y2="{frame.bottom}" '
        f'stroke="currentColor"/>'
    )
    texts = [f'<text x="{_num(x)}" y="{frame.bottom + 16}">{_e(text)}</text>' for x, text in labels]
    return [
        '<g class="axis x-axis" text-anchor="middle" fill="currentColor">'
        + baseline
        + "".join(texts)
        + "</g>"
    ]


def _legend(
    frame: _Frame,
    series: Sequence[Series],
    widths: Sequence[float],
    swatch: _SwatchDrawer,
) -> list[str]:
    rows = _legend_rows(widths, frame.right - frame.left)
    items: list[str] = []
    x, row = float(frame.left), 0
    for index, (s, item_width, item_row) in enumerate(zip(series, widths, rows, strict=True)):
        if item_row != row:
            x, row = float(frame.left), item_row
        mid = frame.legend_top + row * _LEGEND_ROW + 5
        swatch_markup, swatch_width = swatch(index, s.css_class, x, mid)
        items.append(
            '<g class="legend-item">'
            + swatch_markup
            + f'<text x="{_num(x + swatch_width + 6)}" y="{mid + 4}">{_e(s.label)}</text></g>'
        )
        x += item_width + 16
    return ['<g class="legend" fill="currentColor">' + "".join(items) + "</g>"]


def _line_swatch(index: int, css_class: str, x: float, mid: float) -> tuple[str, float]:
    dash = _DASHES[index % len(_DASHES)]
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    shape = _SHAPES[index % len(_SHAPES)]
    markup = (
        f'<g class="swatch {_e(css_class)}" fill="currentColor">'
        f'<line x1="{_num(x)}" y1="{mid}" x2="{_num(x + 20)}" y2="{mid}" '
        f'stroke="currentColor" stroke-width="2"{dash_attr}/>'
        + _marker(shape, x + 10, mid, 3.5, "marker", None)
        + "</g>"
    )
    return markup, 20.0


def _bar_swatch(index: int, css_class: str, x: float, mid: float) -> tuple[str, float]:
    markup = (
        f'<rect class="swatch {_e(css_class)}" x="{_num(x)}" y="{mid - 5}" '
        f'width="10" height="10" fill="currentColor"/>'
    )
    return markup, 10.0


def _marker(
    shape: _Shape,
    x: float,
    y: float,
    r: float,
    css: str,
    tooltip: str | None,
    extra_attrs: str = "",
) -> str:
    """Distinct shapes per series so points can be told apart without colour."""
    cls = f'class="{css}"{extra_attrs}'
    d = _num(2 * r)
    if shape == "circle":
        tag, attrs = "circle", f'{cls} cx="{_num(x)}" cy="{_num(y)}" r="{_num(r)}"'
    elif shape == "square":
        tag = "rect"
        attrs = f'{cls} x="{_num(x - r)}" y="{_num(y - r)}" width="{d}" height="{d}"'
    elif shape == "triangle":
        tag, attrs = "path", f'{cls} d="M{_num(x)} {_num(y - r)}l{_num(r)} {d}h-{d}z"'
    elif shape == "diamond":
        rr = _num(r)
        tag, attrs = "path", f'{cls} d="M{_num(x)} {_num(y - r)}l{rr} {rr}l-{rr} {rr}l-{rr} -{rr}z"'
    else:
        tag, attrs = "path", f'{cls} d="M{_num(x)} {_num(y + r)}l{_num(r)} -{d}h-{d}z"'
    if tooltip is None:
        return f"<{tag} {attrs}/>"
    return f"<{tag} {attrs}><title>{_e(tooltip)}</title></{tag}>"


def _line_summary(x_labels: Sequence[str], series: Sequence[Series]) -> str:
    n = len(x_labels)
    if n == 0:
        lead = "No data points."
    elif n == 1:
        lead = f"1 point: {x_labels[0]}."
    else:
        lead = f"{n} points from {x_labels[0]} to {x_labels[-1]}."
    return _summary(lead, series)


def _bar_summary(categories: Sequence[str], series: Sequence[Series]) -> str:
    n = len(categories)
    if n == 0:
        lead = "No categories."
    elif n == 1:
        lead = f"1 category: {categories[0]}."
    elif n <= _VALUE_LABELS_MAX_BARS:
        lead = f"{n} categories: {', '.join(categories)}."
    else:
        lead = f"{n} categories from {categories[0]} to {categories[-1]}."
    return _summary(lead, series)


def _summary(lead: str, series: Sequence[Series]) -> str:
    """Say in words what a sighted reader takes from the chart: each series' range and total."""
    sentences = [lead]
    if not series:
        sentences.append("No series.")
    for s in series:
        present = [float(v) for v in s.values if v is not None]
        if not present:
            sentences.append(f"{s.label}: no data.")
            continue
        text = (
            f"{s.label}: {_format_value(min(present))} to {_format_value(max(present))}, "
            f"total {_format_value(math.fsum(present))}"
        )
        missing = len(s.values) - len(present)
        if missing:
            text += f" ({missing} missing)"
        sentences.append(text + ".")
    return " ".join(sentences)


def _format_value(value: float) -> str:
    """Counts read as counts (1,234), anything else to one decimal (12.5)."""
    rounded = round(float(value), 1)
    if rounded.is_integer():
        return f"{int(rounded):,}"
    return f"{rounded:,.1f}"


def _num(value: float) -> str:
    """Coordinates to 0.1 unit: invisible on screen, and keeps long series' markup small."""
    text = f"{value:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


def _text_width(text: str) -> float:
    return len(text) * _CHAR_WIDTH


def _e(text: str) -> str:
    return str(escape(text))
