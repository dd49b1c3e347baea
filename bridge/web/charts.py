"""Charts for the report page, drawn on the server as inline SVG: no script, no image files, nothing the
strict CSP of the archive forbids.

The CSP allows styles from our stylesheet only, so nothing here is a ``style`` attribute: shapes carry
SVG presentation attributes (``fill``, ``stroke``, ``font-size``), which are not styles and which the
stylesheet may still override by class. This module computes the geometry as plain numbers in a
``viewBox`` of ``WIDTH`` units, about a phone's width, so the text stays readable when the chart is
scaled to the screen; ``templates/web/archive/_chart.html.j2`` writes the markup (escaping every
label). Each chart carries its title, a description that says the figures in words, and the rows of
the data table the page shows beside it, so a screen reader and a reader without graphics get the
same numbers. Every mark also carries its number in ``data-value``: what a test reads back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 360
LABEL_WIDTH = 112  # a bar chart's left column of labels
VALUE_ROOM = 44  # room right of the longest bar for its number
BAR = 18
BAR_GAP = 8
LINE_HEIGHT = 190
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 40, 24, 20, 30
GRID_STEPS = 4
LABEL_CHARACTERS = 17  # longer labels are shortened on the chart (the title and the table keep them whole)


@dataclass(frozen=True, slots=True)
class BarMark:
    label: str  # as shown on the chart (perhaps shortened)
    full_label: str
    value: float
    shown: str  # the value as text
    y: float
    width: float
    text_y: float


@dataclass(frozen=True, slots=True)
class BarChart:
    key: str  # names the chart's ids in the page
    title: str
    description: str
    bars: tuple[BarMark, ...]
    height: float
    rows: tuple[tuple[str, str], ...]  # the data table: (label, value)
    head: tuple[str, str]  # the data table's column names
    kind: str = "bars"
    width: int = WIDTH
    label_x: int = LABEL_WIDTH - 6
    bar_x: int = LABEL_WIDTH
    bar_height: int = BAR


@dataclass(frozen=True, slots=True)
class Point:
    label: str  # the period's full name, for the tooltip
    value: float
    shown: str
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Tick:
    position: float  # x for an axis label under the plot, y for a gridline
    text: str


@dataclass(frozen=True, slots=True)
class LineChart:
    key: str
    title: str
    description: str
    points: tuple[Point, ...]
    lines: tuple[str, ...]  # polyline point lists; a period without a value breaks the line
    gridlines: tuple[Tick, ...]
    x_labels: tuple[Tick, ...]
    missing: tuple[Tick, ...]  # x of periods without a value: marked on the axis
    rows: tuple[tuple[str, str], ...]
    head: tuple[str, str]
    kind: str = "line"
    width: int = WIDTH
    height: int = LINE_HEIGHT
    plot_left: int = MARGIN_LEFT
    plot_right: int = WIDTH - MARGIN_RIGHT
    plot_top: int = MARGIN_TOP
    plot_bottom: int = LINE_HEIGHT - MARGIN_BOTTOM


def number(value: float) -> str:
    """A figure as text: whole numbers plain, others with at most two decimals."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def shorten(label: str, limit: int = LABEL_CHARACTERS) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def bar_chart(
    key: str, title: str, items: Sequence[tuple[str, float]], *, unit: str, head: tuple[str, str]
) -> BarChart:
    """Horizontal bars, one per item in the order given, scaled to the largest value."""
    largest = max((value for _, value in items), default=0)
    room = WIDTH - LABEL_WIDTH - VALUE_ROOM
    bars = []
    for n, (label, value) in enumerate(items):
        y = 4 + n * (BAR + BAR_GAP)
        bars.append(
            BarMark(
                label=shorten(label),
                full_label=label,
                value=value,
                shown=number(value),
                y=y,
                width=round(room * value / largest, 2) if largest > 0 else 0.0,
                text_y=y + BAR / 2 + 4,
            )
        )
    said = "; ".join(f"{label}: {number(value)}" for label, value in items) or "nothing to show"
    return BarChart(
        key=key,
        title=title,
        description=f"{title}, {unit}. {said}.",
        bars=tuple(bars),
        height=max(8 + len(items) * (BAR + BAR_GAP), 34),
        rows=tuple((label, number(value)) for label, value in items),
        head=head,
    )


def nice_step(value: float, *, whole: bool) -> float:
    """The smallest of 1, 2, 5 × 10^k at or above ``value``: a gridline step people read at a glance
    (at least 1 for counts, which have no fractions)."""
    if value <= 0 or (whole and value <= 1):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 5.0, 10.0):
        if value <= step * power + 1e-9:
            return step * power
    raise AssertionError("unreachable")


def line_chart(
    key: str,
    title: str,
    periods: Sequence[tuple[str, str, float | None]],
    *,
    unit: str,
    head: tuple[str, str],
) -> LineChart:
    """A trend: one point per period (``(axis label, full label, value)``, oldest first); a period
    without a value (a median of nothing) is left out and breaks the line."""
    left, right = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
    top, bottom = MARGIN_TOP, LINE_HEIGHT - MARGIN_BOTTOM
    values = [v for _, _, v in periods if v is not None]
    step_size = nice_step(max(values, default=0) / GRID_STEPS, whole=all(v.is_integer() for v in values))
    ceiling = step_size * GRID_STEPS
    step = (right - left) / max(len(periods) - 1, 1)

    def x_of(n: int) -> float:
        return round(left + n * step if len(periods) > 1 else (left + right) / 2, 2)

    def y_of(value: float) -> float:
        return round(bottom - (bottom - top) * value / ceiling, 2)

    points: list[Point] = []
    lines: list[str] = []
    missing: list[Tick] = []
    run: list[str] = []
    for n, (_, full, value) in enumerate(periods):
        if value is None:
            missing.append(Tick(x_of(n), "no value"))
            if run:
                lines.append(" ".join(run))
            run = []
            continue
        point = Point(full, value, number(value), x_of(n), y_of(value))
        points.append(point)
        run.append(f"{point.x},{point.y}")
    if run:
        lines.append(" ".join(run))
    every = 1 if len(periods) <= 6 else 2
    x_labels = tuple(
        Tick(x_of(n), short)
        for n, (short, _, _) in enumerate(periods)
        if (len(periods) - 1 - n) % every == 0  # the latest period is always named
    )
    gridlines = tuple(Tick(y_of(step_size * k), number(step_size * k)) for k in range(GRID_STEPS + 1))
    said = "; ".join(f"{full}: {number(v) if v is not None else 'no value'}" for _, full, v in periods)
    return LineChart(
        key=key,
        title=title,
        description=f"{title}, {unit}, oldest period first. {said}.",
        points=tuple(points),
        lines=tuple(lines),
        gridlines=gridlines,
        x_labels=x_labels,
        missing=tuple(missing),
        rows=tuple((full, number(v) if v is not None else "–") for _, full, v in periods),
        head=head,
    )
