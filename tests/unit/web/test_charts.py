"""The report page's chart geometry and its figures in words: pure functions, known answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bridge.convener.figures import change, readable, sections
from bridge.core.indicators import Report, ValueCycle
from bridge.web.charts import bar_chart, line_chart, nice_step, number, shorten


def test_bars_are_as_long_as_their_share_of_the_largest() -> None:
    chart = bar_chart(
        "c", "Posts per channel", [("email", 30), ("chat", 10), ("none", 0)], unit="posts", head=("", "")
    )
    email, chat, nothing = chart.bars
    assert email.width == 360 - 112 - 44  # the largest fills the room
    assert chat.width == pytest.approx(email.width / 3, abs=0.01)
    assert nothing.width == 0
    assert [b.y for b in chart.bars] == [4, 30, 56]
    assert chart.height == 8 + 3 * 26
    assert chart.description == "Posts per channel, posts. email: 30; chat: 10; none: 0."
    assert chart.rows == (("email", "30"), ("chat", "10"), ("none", "0"))


def test_an_empty_bar_chart_keeps_room_for_its_message() -> None:
    chart = bar_chart("t", "Threads per tag", [], unit="threads", head=("", ""))
    assert chart.bars == ()
    assert chart.height == 34
    assert chart.description == "Threads per tag, threads. nothing to show."


def test_a_trend_scales_to_a_readable_axis_and_breaks_where_a_period_has_no_value() -> None:
    chart = line_chart(
        "r",
        "Time to a first answer",
        [("1 Jan", "a", 10.5), ("1 Feb", "b", None), ("1 Mar", "c", 12.0), ("1 Apr", "d", 16.5)],
        unit="hours",
        head=("", ""),
    )
    assert [t.text for t in chart.gridlines] == ["0", "5", "10", "15", "20"]  # 16.5 / 4 → a step of 5
    assert [p.value for p in chart.points] == [10.5, 12.0, 16.5]
    assert len(chart.lines) == 2  # the missing February breaks the line
    assert chart.lines[0].count(",") == 1  # January alone
    [gap] = chart.missing
    assert gap.position == pytest.approx((chart.points[0].x + chart.points[1].x) / 2, abs=0.01)
    top, bottom = chart.plot_top, chart.plot_bottom
    assert chart.points[2].y == pytest.approx(bottom - (bottom - top) * 16.5 / 20)
    assert chart.rows[1] == ("b", "–")


def test_gridline_steps_are_whole_for_counts() -> None:
    assert nice_step(3 / 4, whole=True) == 1
    assert nice_step(0.75, whole=False) == 1
    assert nice_step(115 / 4, whole=True) == 50
    assert nice_step(0.3, whole=False) == pytest.approx(0.5)
    assert nice_step(0, whole=True) == 1
    assert number(3.0) == "3"
    assert number(2.125) == "2.12"
    assert shorten("estimation-and-forecasting") == "estimation-and-f…"


def test_figures_are_written_for_people() -> None:
    assert readable("median_first_response_hours", 3.5) == "3.5 h"
    assert readable("median_first_response_hours", None) == "–"
    assert readable("engaged_share", 0.667) == "67 %"
    assert readable("by_channel", {"email": 12, "matrix": 4}) == "email 12, chat 4"
    assert (
        readable("newcomer_return", {"newcomers": 5, "returned": 3, "share": 0.6})
        == "3 of 5 came back (60 %)"
    )
    assert readable("newcomer_return", {"newcomers": 0, "returned": 0, "share": None}) == "no newcomers"
    assert readable("concentration", {"people_for_half": 1, "share_of_participants": 0.25}) == (
        "1 person (25 % of the participants)"
    )
    assert (
        readable("digest_usefulness", {"useful": 8, "not_useful": 2, "share": 0.8})
        == "8 of 10 answers (80 %)"
    )
    assert readable("tags", {}) == "none"
    assert change("posts", 5, 3) == "+2"
    assert change("median_first_response_hours", 2.5, 4.0) == "−1.5"
    assert change("engaged_share", 0.5, 0.75) == "−25 points"
    assert change("readers", 9, 4) is None  # about now, not about a period
    assert change("by_channel", {"email": 1}, {"email": 2}) is None


def test_sections_follow_the_value_cycles_and_say_where_stories_are_needed() -> None:
    moment = datetime(2026, 11, 1, tzinfo=UTC)
    now = Report(moment, moment, {"posts": 5, "readers": 9, "reuse": 2})
    before = Report(moment, moment, {"posts": 3, "readers": 4, "reuse": 2})
    found = {s.cycle: s for s in sections(now, before)}
    assert list(found) == list(ValueCycle)
    [posts] = found[ValueCycle.IMMEDIATE].figures
    assert (posts.label, posts.value, posts.previous, posts.change) == ("Posts", "5", "3", "+2")
    [readers] = found[ValueCycle.POTENTIAL].figures
    assert (readers.previous, readers.change) == (None, None)
    assert found[ValueCycle.APPLIED].needs_stories
    assert found[ValueCycle.REFRAMING].figures == ()
    assert not found[ValueCycle.IMMEDIATE].needs_stories
