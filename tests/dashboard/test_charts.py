"""The dashboard's SVG charts: geometry, axis ticks, escaping, gaps, size and accessibility.

Charts are parsed as XML, so every test also checks the markup is well formed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reengage import seed_examples as examples
from reengage.dashboard import views
from reengage.dashboard.charts import Series, bar_chart, line_chart
from reengage.domain.settings import OrgSettings
from reengage.outreach.schemas import Performance, Trends
from reengage.risk.schemas import RiskSummary

NS = {"svg": "http://www.w3.org/2000/svg"}
SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    root = ET.fromstring(markup)
    assert root.tag == f"{SVG}svg"
    return root


def by_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [el for el in root.iter() if name in el.get("class", "").split()]


def y_ticks(root: ET.Element) -> list[float]:
    (axis,) = by_class(root, "y-axis")
    return [float((t.text or "").replace(",", "")) for t in axis.iter(f"{SVG}text")]


def plot_box(root: ET.Element) -> tuple[float, float, float, float]:
    """(left, right, top, bottom): the baseline gives x extent and bottom, the grid gives top."""
    (x_axis,) = by_class(root, "x-axis")
    baseline = x_axis.find("svg:line", NS)
    assert baseline is not None
    (grid,) = by_class(root, "grid")
    top = min(float(line.get("y1", "")) for line in grid.iter(f"{SVG}line"))
    return (
        float(baseline.get("x1", "")),
        float(baseline.get("x2", "")),
        top,
        float(baseline.get("y1", "")),
    )


def path_points(path: ET.Element) -> list[list[tuple[float, float]]]:
    """The path's runs, one list of (x, y) per ``M``: a gap starts a new run."""
    runs: list[list[tuple[float, float]]] = []
    for cmd, x, y in re.findall(r"([ML])(-?[\d.]+) (-?[\d.]+)", path.get("d", "")):
        if cmd == "M":
            runs.append([])
        runs[-1].append((float(x), float(y)))
    return runs


def x_labels(root: ET.Element) -> list[str]:
    (axis,) = by_class(root, "x-axis")
    return [t.text or "" for t in axis.iter(f"{SVG}text")]


def days(n: int) -> list[str]:
    start = date(2026, 1, 1)
    return [(start + timedelta(days=i)).isoformat() for i in range(n)]


# --- coordinates ---------------------------------------------------------------------------


def test_line_points_map_zero_to_the_bottom_and_the_top_tick_to_the_top() -> None:
    root = parse(
        line_chart("Risk", ["a", "b", "c"], [Series("At risk", [0, 5, 10], "s")], chart_id="c")
    )
    left, right, top, bottom = plot_box(root)
    assert y_ticks(root) == [0, 2, 4, 6, 8, 10]
    (line,) = by_class(root, "line")
    middle = ((left + right) / 2, (top + bottom) / 2)
    assert path_points(line) == [[(left, bottom), middle, (right, top)]]
    assert line.get("class") == "line s"


def test_line_markers_sit_on_the_line_and_carry_tooltips() -> None:
    root = parse(
        line_chart("Risk", ["Mon", "Tue"], [Series("New at risk", [3, 1234.56], "s")], chart_id="c")
    )
    points = by_class(root, "point")
    assert [p.findtext("svg:title", namespaces=NS) for p in points] == [
        "Mon: New at risk 3",
        "Tue: New at risk 1,234.6",
    ]
    (line,) = by_class(root, "line")
    assert [(float(p.get("cx", "")), float(p.get("cy", ""))) for p in points] == path_points(line)[
        0
    ]


def test_bars_are_proportional_and_stand_on_the_baseline() -> None:
    root = parse(
        bar_chart(
            "Outcomes",
            ["Phone", "SMS"],
            [Series("Reached", [40, 20], "a"), Series("Missed", [0, 10], "b")],
            chart_id="c",
        )
    )
    _, _, top, bottom = plot_box(root)
    assert y_ticks(root) == [0, 10, 20, 30, 40]
    bars = by_class(root, "bar")
    assert [b.get("class") for b in bars] == ["bar a", "bar a", "bar b", "bar b"]
    heights = [float(b.get("height", "")) for b in bars]
    assert heights == [bottom - top, (bottom - top) / 2, 0, (bottom - top) / 4]
    for bar in bars:
        assert float(bar.get("y", "")) + float(bar.get("height", "")) == bottom
    assert [b.findtext("svg:title", namespaces=NS) for b in bars] == [
        "Phone: Reached 40",
        "SMS: Reached 20",
        "Phone: Missed 0",
        "SMS: Missed 10",
    ]
    # Bars of one group sit side by side, groups left to right.
    xs = [float(b.get("x", "")) for b in bars]
    assert xs[0] < xs[2] < xs[1] < xs[3]


def test_value_labels_only_when_there_are_few_bars() -> None:
    few = parse(bar_chart("t", list("abcdef"), [Series("n", [1.5] * 6, "a")], chart_id="c"))
    assert [t.text for t in by_class(few, "value-label")] == ["1.5"] * 6
    many = parse(bar_chart("t", list("abcdefg"), [Series("n", [1] * 7, "a")] * 2, chart_id="c"))
    assert by_class(many, "value-label") == []
    assert len(by_class(many, "bar")) == 14


# --- ticks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("top_value", "ticks"),
    [
        (7, [0, 2, 4, 6, 8]),
        (8, [0, 2, 4, 6, 8]),
        (10, [0, 2, 4, 6, 8, 10]),
        (11, [0, 5, 10, 15]),
        (130, [0, 50, 100, 150]),
        (3, [0, 1, 2, 3]),
        (0.3, [0, 0.1, 0.2, 0.3]),
        (2500, [0, 500, 1000, 1500, 2000, 2500]),
        (12345, [0, 5000, 10000, 15000]),
    ],
)
def test_ticks_use_round_steps(top_value: float, ticks: list[float]) -> None:
    root = parse(line_chart("t", ["a", "b"], [Series("n", [0, top_value], "a")], chart_id="c"))
    assert y_ticks(root) == ticks


def test_tick_labels_use_thousands_separators_and_the_steps_decimals() -> None:
    big = parse(line_chart("t", ["a"], [Series("n", [12345], "a")], chart_id="c"))
    (axis,) = by_class(big, "y-axis")
    assert [t.text for t in axis] == ["0", "5,000", "10,000", "15,000"]
    small = parse(line_chart("t", ["a"], [Series("n", [0.18], "a")], chart_id="c"))
    (axis,) = by_class(small, "y-axis")
    assert [t.text for t in axis] == ["0", "0.05", "0.10", "0.15", "0.20"]


@pytest.mark.parametrize("tiny", [5e-324, 1e-100, 9.9e-7])
def test_data_too_small_to_label_gets_the_empty_charts_axis(tiny: float) -> None:
    """Hypothesis found 5e-324 refused as "too small for its labels": its ticks needed 324
    decimals. Below a millionth the axis is the 0..1 of a chart without data."""
    root = parse(line_chart("t", ["a", "b"], [Series("n", [0, tiny], "a")], chart_id="c"))
    assert y_ticks(root) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]


def test_all_zero_data_gets_a_zero_to_one_axis_with_points_on_the_baseline() -> None:
    root = parse(line_chart("t", days(3), [Series("n", [0, 0, 0], "a")], chart_id="c"))
    assert y_ticks(root) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    _, _, _, bottom = plot_box(root)
    (line,) = by_class(root, "line")
    assert [y for _, y in path_points(line)[0]] == [bottom] * 3


def test_empty_series_list_still_draws_axes() -> None:
    for chart in (line_chart, bar_chart):
        root = parse(chart("Nothing yet", ["a", "b"], [], chart_id="c"))
        assert root.get("data-series-count") == "0"
        assert root.get("data-points") == "2"
        assert y_ticks(root) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
        assert x_labels(root) == ["a", "b"]
        assert by_class(root, "line") == by_class(root, "bar") == []
        assert root.findtext("svg:desc", namespaces=NS).endswith("No series.")  # type: ignore[union-attr]


def test_no_positions_at_all() -> None:
    root = parse(line_chart("t", [], [Series("n", [], "a")], chart_id="c"))
    assert root.get("data-points") == "0"
    assert y_ticks(root) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert root.findtext("svg:desc", namespaces=NS) == "No data points. n: no data."
    root = parse(bar_chart("t", [], [Series("n", [], "a")], chart_id="c"))
    assert by_class(root, "bar") == []


# --- gaps ----------------------------------------------------------------------------------


def test_gaps_break_the_line_and_have_no_marker() -> None:
    labels = [f"d{i}" for i in range(6)]
    root = parse(
        line_chart("t", labels, [Series("n", [1, None, 3, 4, None, 6], "a")], chart_id="c")
    )
    (line,) = by_class(root, "line")
    runs = path_points(line)
    assert [len(run) for run in runs] == [1, 2, 1]
    titles = [p.findtext("svg:title", namespaces=NS) for p in by_class(root, "point")]
    assert titles == ["d0: n 1", "d2: n 3", "d3: n 4", "d5: n 6"]
    desc = root.findtext("svg:desc", namespaces=NS)
    assert desc == "6 points from d0 to d5. n: 1 to 6, total 14 (2 missing)."


def test_lone_points_stay_visible_when_long_series_hide_markers() -> None:
    values: list[float | None] = [1.0] * 100
    values[49] = values[51] = None  # index 50 is a lone value between gaps
    root = parse(line_chart("t", days(100), [Series("n", values, "a")], chart_id="c"))
    (group,) = by_class(root, "points")
    assert group.get("fill-opacity") == "0"
    visible = [p for p in by_class(root, "point") if p.get("fill-opacity") == "1"]
    assert [p.findtext("svg:title", namespaces=NS) for p in visible] == ["2026-02-20: n 1"]


def test_bar_gaps_draw_no_bar() -> None:
    root = parse(bar_chart("t", ["a", "b", "c"], [Series("n", [1, None, 2], "a")], chart_id="c"))
    assert len(by_class(root, "bar")) == 2


# --- text ----------------------------------------------------------------------------------


def test_labels_are_escaped() -> None:
    evil = "<script>alert('x')</script> & \"q\""
    for chart in (line_chart, bar_chart):
        markup = chart(
            evil,
            [evil, "b"],
            [Series(evil, [1, 2], "a")],
            chart_id="c",
            y_label=evil,
        )
        assert "<script>" not in markup
        root = parse(markup)
        assert root.findtext("svg:title", namespaces=NS) == evil
        assert x_labels(root)[0] == evil
        (legend,) = by_class(root, "legend")
        assert [t.text for t in legend.iter(f"{SVG}text")] == [evil]
        (axis_label,) = by_class(root, "axis-label")
        assert axis_label.text == evil


def test_ids_and_classes_that_could_break_out_of_attributes_are_refused() -> None:
    with pytest.raises(ValueError, match="chart_id"):
        line_chart("t", ["a"], [], chart_id='c" onload="x')
    with pytest.raises(ValueError, match="css_class"):
        line_chart("t", ["a"], [Series("n", [1], 'a"')], chart_id="c")


def test_invalid_values_are_refused() -> None:
    with pytest.raises(ValueError, match="3 positions"):
        bar_chart("t", ["a", "b", "c"], [Series("n", [1, 2], "a")], chart_id="c")
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="cannot show"):
            line_chart("t", ["a"], [Series("n", [bad], "a")], chart_id="c")


def test_accessible_name_and_summary() -> None:
    root = parse(
        line_chart(
            "Weekly reengagement",
            ["W1", "W2", "W3"],
            [
                Series("New at risk", [12, 0, 73], "series-a"),
                Series("Reengaged", [3, 9.25, None], "series-b"),
            ],
            chart_id="weekly",
        )
    )
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "weekly-title weekly-desc"
    assert root.find("svg:title", NS).get("id") == "weekly-title"  # type: ignore[union-attr]
    desc = root.find("svg:desc", NS)
    assert desc is not None
    assert desc.get("id") == "weekly-desc"
    assert desc.text == (
        "3 points from W1 to W3. New at risk: 0 to 73, total 85. "
        "Reengaged: 3 to 9.2, total 12.2 (1 missing)."
    )
    assert root.get("class") == "chart"
    assert root.get("data-series-count") == "2"
    assert root.get("data-points") == "3"
    assert root.get("width") == "100%"
    assert root.get("viewBox") == "0 0 720 240"
    assert root.get("preserveAspectRatio") == "xMidYMid meet"


def test_bar_summary_names_the_categories() -> None:
    root = parse(
        bar_chart("t", ["Phone", "SMS"], [Series("Reached", [1500, 2], "a")], chart_id="c")
    )
    desc = root.findtext("svg:desc", namespaces=NS)
    assert desc == "2 categories: Phone, SMS. Reached: 2 to 1,500, total 1,502."


def test_series_differ_by_dash_and_marker_shape_not_only_colour() -> None:
    series = [Series(f"s{i}", [1, 2], f"series-{i}") for i in range(4)]
    root = parse(line_chart("t", ["a", "b"], series, chart_id="c"))
    dashes = [line.get("stroke-dasharray") for line in by_class(root, "line")]
    assert dashes == [None, "6 3", "2 3", "8 3 2 3"]

    swatches = by_class(root, "swatch")
    assert [s.get("class") for s in swatches] == [f"swatch series-{i}" for i in range(4)]
    assert [s.find("svg:line", NS).get("stroke-dasharray") for s in swatches] == dashes  # type: ignore[union-attr]

    def shape(swatch: ET.Element) -> str:
        (marker,) = by_class(swatch, "marker")
        # A path's shape is its relative part, after the absolute start point.
        return marker.tag.removeprefix(SVG) + marker.get("d", "").partition("l")[2]

    assert [shape(s) for s in swatches] == [
        "circle",
        "rect",
        "path3.5 7h-7z",
        "path3.5 3.5l-3.5 3.5l-3.5 -3.5z",
    ]
    # Plot markers use the same shapes as the legend.
    assert [p.tag.removeprefix(SVG) for p in by_class(root, "point")] == [
        "circle",
        "circle",
        "rect",
        "rect",
        "path",
        "path",
        "path",
        "path",
    ]


def test_x_labels_are_thinned_keeping_first_and_last() -> None:
    labels = days(365)
    root = parse(line_chart("t", labels, [Series("n", [1] * 365, "a")], chart_id="c"))
    shown = x_labels(root)
    assert len(shown) <= 8
    assert shown[0] == labels[0]
    assert shown[-1] == labels[-1]
    assert shown == sorted(shown)
    assert x_labels(parse(line_chart("t", labels[:8], [], chart_id="c"))) == labels[:8]


# --- size and determinism ------------------------------------------------------------------


def test_a_year_of_two_series_stays_small_and_keeps_every_tooltip() -> None:
    labels = days(365)
    series = [
        Series("New at risk", [float((i * 37) % 101) for i in range(365)], "series-a"),
        Series("Reengaged", [float((i * 53) % 89) + 0.5 for i in range(365)], "series-b"),
    ]
    markup = line_chart("A year", labels, series, chart_id="year", y_label="Patients")
    assert len(markup.encode()) < 150_000
    root = parse(markup)
    assert len(by_class(root, "point")) == 730
    assert root.get("data-points") == "365"


def test_output_is_deterministic() -> None:
    def render() -> tuple[str, str]:
        series = [Series("a", [1, None, 3.5], "x"), Series("b", [2, 2, 2], "y")]
        return (
            str(line_chart("t", ["1", "2", "3"], series, chart_id="c", y_label="n")),
            str(bar_chart("t", ["1", "2", "3"], series, chart_id="c")),
        )

    assert render() == render()


# --- properties ----------------------------------------------------------------------------

values_strategy = st.one_of(
    st.none(),
    st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=10_000),
)


@st.composite
def chart_inputs(draw: st.DrawFn) -> tuple[list[str], list[Series]]:
    n = draw(st.integers(min_value=0, max_value=40))
    k = draw(st.integers(min_value=0, max_value=3))
    series = [
        Series(f"s{i}", draw(st.lists(values_strategy, min_size=n, max_size=n)), f"c{i}")
        for i in range(k)
    ]
    return [f"x{i}" for i in range(n)], series


@settings(max_examples=150, deadline=None)
@given(chart_inputs())
def test_everything_plotted_stays_inside_the_plot_area(
    inputs: tuple[list[str], list[Series]],
) -> None:
    labels, series = inputs
    top_value = max((float(v) for s in series for v in s.values if v is not None), default=0.0)

    root = parse(line_chart("t", labels, series, chart_id="c"))
    left, right, top, bottom = plot_box(root)
    ticks = y_ticks(root)
    assert ticks[0] == 0
    assert 4 <= len(ticks) <= 6
    assert ticks[-1] >= top_value
    for line in by_class(root, "line"):
        for run in path_points(line):
            for x, y in run:
                assert left <= x <= right
                assert top <= y <= bottom

    root = parse(bar_chart("t", labels, series, chart_id="c"))
    left, right, top, bottom = plot_box(root)
    assert y_ticks(root)[-1] >= top_value
    for bar in by_class(root, "bar"):
        x, y = float(bar.get("x", "")), float(bar.get("y", ""))
        assert left <= x and x + float(bar.get("width", "")) <= right + 0.1
        assert top <= y
        assert y + float(bar.get("height", "")) == pytest.approx(bottom)


# --- the pages' charts, from the API's answers (the seed's shapes) ---------------------------


def test_the_tier_bar_draws_the_risk_summary_under_the_seeds_names() -> None:
    summary = RiskSummary.model_validate(
        {"critical_risk": 1, "high_risk": 2, "medium_risk": 0, "low_risk": 3, "engaged": 4}
    )
    rows = views.tier_rows(summary, OrgSettings())
    assert [(r.tier, r.count) for r in rows] == [
        ("critical", 1),
        ("high", 2),
        ("medium", 0),
        ("low", 3),
        ("engaged", 4),
    ]
    assert [r.share for r in rows] == [10.0, 20.0, 0.0, 30.0, 40.0]
    root = ET.fromstring(views.tier_bar(rows))  # inline in the page's HTML: no namespace
    assert root.tag == "svg" and root.get("role") == "img"
    assert root.get("aria-label") == (
        "Patients by risk tier: Critical 1, High 2, Medium 0, Low 3, Engaged 4"
    )
    bars = root.findall("rect")
    # An empty tier draws nothing; the others fill the width in order, named as well as coloured.
    assert [(b.get("class"), b.get("x"), b.get("width")) for b in bars] == [
        ("tier-critical", "0.00", "100.00"),
        ("tier-high", "100.00", "200.00"),
        ("tier-low", "300.00", "300.00"),
        ("tier-engaged", "600.00", "400.00"),
    ]
    assert [b.findtext("title") for b in bars] == [
        "Critical: 1 (10.0%)",
        "High: 2 (20.0%)",
        "Low: 3 (30.0%)",
        "Engaged: 4 (40.0%)",
    ]


def test_an_empty_population_draws_one_empty_tier_bar() -> None:
    rows = views.tier_rows(RiskSummary.of(dict.fromkeys(views.TIER_LABELS, 0)), OrgSettings())
    assert [r.share for r in rows] == [0.0] * 5
    bars = ET.fromstring(views.tier_bar(rows)).findall("rect")
    assert [(b.get("class"), b.get("width")) for b in bars] == [("tier-empty", "1000")]


def test_each_channels_funnel_is_labelled_by_what_it_measures() -> None:
    seed = Performance.model_validate(
        examples.PERFORMANCE
        | {
            "organization_id": "org_x",
            "period_start": "2025-06-01",
            "period_end": "2025-06-30",
            "last_updated": "2025-06-30T08:00:00Z",
        }
    )
    funnels = views.channel_funnels(seed)
    found = {
        f.channel: ([(s.label, s.count) for s in f.steps], f.rate_label, f.rate) for f in funnels
    }
    assert found == {
        "sms": (
            [("Sent", 95), ("Delivered", 87), ("Replied", 52)],
            "Reply rate (replied ÷ delivered)",
            59.8,
        ),
        "email": (
            [("Sent", 78), ("Opened", 45), ("Replied", 23)],
            "Reply rate (replied ÷ opened)",
            51.1,
        ),
        "phone": (
            [("Called", 34), ("Connected", 28), ("Booked", 21)],
            "Booking rate (booked ÷ connected)",
            75.0,
        ),
    }
    for f in funnels:
        root = parse(f.chart)
        assert x_labels(root) == [s.label for s in f.steps]
        titles = [b.findtext("svg:title", namespaces=NS) for b in by_class(root, "bar")]
        assert titles == [f"{s.label}: {f.label} {s.count}" for s in f.steps]


def trends(channel_trends: dict[str, object] | None) -> Trends:
    return Trends.model_validate(
        {
            "organization_id": "org_x",
            "period": "30d",
            "period_start": "2025-06-01",
            "period_end": "2025-06-30",
            "metrics": ["channel_performance"],
            "channel_performance_trends": channel_trends,
            "last_updated": "2025-06-30T08:00:00Z",
        }
    )


def test_the_channel_rows_read_the_channel_trends_by_name_in_a_fixed_order() -> None:
    rates = {"current_rate": 40.0, "previous_rate": 35.6}
    seed = examples.TRENDS["channel_performance_trends"]
    # Given in another order than the page's: the rows still go SMS, email, phone.
    given_order = {channel: seed[channel] | rates for channel in ("phone", "email", "sms")}
    rows = views.channel_rows(trends(given_order))
    assert [(r.channel, r.label, r.change_pct, r.trend, r.arrow) for r in rows] == [
        ("sms", "SMS", 12.3, "improving", "▲"),
        ("email", "Email", -2.1, "stable", "▶"),
        ("phone", "Phone", -8.7, "declining", "▼"),
    ]
    assert {(r.current_rate, r.previous_rate) for r in rows} == {(40.0, 35.6)}
    missing = {"success_rate_trend": None, "change_pct": None, "current_rate": None}
    nothing = dict.fromkeys(("sms", "email", "phone"), missing | {"previous_rate": None})
    assert [r.arrow for r in views.channel_rows(trends(nothing))] == [views.EMPTY] * 3
    assert views.channel_rows(trends(None)) == []  # not asked for


def test_a_year_is_charted_in_calendar_weeks_that_add_up_to_its_days() -> None:
    last = date(2026, 12, 4)  # a Friday
    days = [last - timedelta(days=n) for n in reversed(range(365))]
    rows = [
        {
            "date": d.isoformat(),
            "new_at_risk": d.day % 3,
            "reengaged_successfully": 1,
            "outreach_attempts": d.day,
            "appointments_scheduled": d.weekday(),
        }
        for d in days
    ]
    result = Trends.model_validate(
        {
            "organization_id": "org_x",
            "period": "1y",
            "period_start": days[0].isoformat(),
            "period_end": last.isoformat(),
            "metrics": ["risk_levels", "success_rates"],
            "daily_trends": rows,
            "last_updated": "2026-12-04T08:00:00Z",
        }
    )
    points = views.trend_points(result)
    # 2025-12-05 (a Friday) to 2026-12-04: a 3-day first week, 51 whole weeks, a 5-day last.
    assert len(points) == 53
    assert (points[0].label, points[1].label, points[-1].label) == (
        "05 Dec",
        "08 Dec",
        "30 Nov",
    )
    for name in views.DAILY_FIELDS:
        assert sum(p.values[name] for p in points) == sum(r[name] for r in rows), name
    assert points[1].values["reengaged_successfully"] == 7
    for chart in views.trend_charts(result):
        assert parse(chart).get("data-points") == "53"
    # Thirty days stay daily.
    month = Trends.model_validate(
        result.model_dump() | {"period": "30d", "daily_trends": rows[-30:]}
    )
    assert [p.label for p in views.trend_points(month)][:2] == ["05 Nov", "06 Nov"]
