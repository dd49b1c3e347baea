"""``icop report``: the value indicators of a period as a table, one JSON object, or CSV rows.

The table groups figures by value-creation cycle and prints each figure's definition beside it, so a
convener can hand it on without a glossary; the cycles that counts cannot show say so and point to the
value stories. JSON keys are the DESIGN §6.6 contract plus the documented extras.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from bridge.core.indicators import CYCLES_NEEDING_STORIES, DEFINITIONS, Report, ValueCycle
from bridge.core.stories import excerpt

DEFAULT_PERIOD = timedelta(days=30)
MAX_DAYS = 3 * 366  # the longest period the report page accepts (its trend reaches back 12 of them)

CYCLE_TITLES = {
    ValueCycle.IMMEDIATE: "Immediate value: activity and help given",
    ValueCycle.POTENTIAL: "Potential value: knowledge captured, people connected",
    ValueCycle.APPLIED: "Applied value: practice changed",
    ValueCycle.REALIZED: "Realized value: results improved",
    ValueCycle.REFRAMING: "Reframing value: success redefined",
}


class PeriodError(ValueError):
    """A --since/--until that is not a date, or a period that ends before it starts."""


def parse_day(text: str, option: str) -> datetime:
    """``YYYY-MM-DD`` (UTC midnight) or a full ISO 8601 time with its offset."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PeriodError(f"{option} {text!r}: expected YYYY-MM-DD or an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise PeriodError(f"{option} {text!r}: give a date, or a time with its offset (Z or +hh:mm)")
    return moment.astimezone(UTC)


def period(since: str | None, until: str | None, now: datetime) -> tuple[datetime, datetime]:
    """[since, until): ``--since D`` from D 00:00 UTC on, ``--until D`` up to D 00:00 UTC (as ``before:``)."""
    end = parse_day(until, "--until") if until else now.astimezone(UTC)
    start = parse_day(since, "--since") if since else end - DEFAULT_PERIOD
    if start >= end:
        raise PeriodError(f"the period is empty: --since {start.date()} is not before --until {end.date()}")
    return start, end


def day_period(first: str | None, last: str | None, today: date) -> tuple[date, date]:
    """The days ``first`` to ``last``, both included (UTC days, as the report page's form names them).

    Without both: the 30 days up to ``today``; with one: the 30 days from ``first`` or up to ``last``.
    Raises PeriodError, in the form's words, for a text that is not a date or a period that is empty,
    longer than ``MAX_DAYS`` or before 1970."""
    days = DEFAULT_PERIOD.days

    def day(text: str, field: str) -> date:
        try:
            found = date.fromisoformat(text.strip())
        except ValueError:
            raise PeriodError(f"{field} {text[:40]!r} is not a date (YYYY-MM-DD)") from None
        if found.year < 1970 or found > today + timedelta(days=MAX_DAYS):
            raise PeriodError(f"{field} {found} is out of range")
        return found

    start = day(first, "From") if first else None
    end = day(last, "To") if last else None
    if start is None:
        start = (end or today) - timedelta(days=days - 1)
    if end is None:
        end = start + timedelta(days=days - 1) if first else today
    if end < start:
        raise PeriodError(f"the period is empty: From {start} is after To {end}")
    if (end - start).days + 1 > MAX_DAYS:
        raise PeriodError(f"a period is at most {MAX_DAYS} days long")
    return start, end


def day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """``[first 00:00 UTC, the day after last 00:00 UTC)``: the instants ``icop report`` counts between."""
    start = datetime.combine(first, datetime.min.time(), UTC)
    return start, datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC)


def periods_back(since: datetime, until: datetime, count: int) -> list[tuple[datetime, datetime]]:
    """``count`` periods as long as ``[since, until)``, the last of them that one, oldest first."""
    length = until - since
    return [(since - n * length, until - n * length) for n in reversed(range(count))]


def as_json_line(report: Report, community: str) -> str:
    return json.dumps({"community": community, **report.as_json()}, ensure_ascii=False)


def csv_rows(report: Report) -> Iterator[tuple[str, str, str, str]]:
    """``indicator, key, value, cycle`` rows; a figure with parts (by channel, per tag) gives one row each."""
    for name, value in report.values.items():
        cycle = DEFINITIONS[name][0].value if name in DEFINITIONS else ""
        if isinstance(value, dict):
            for key, part in value.items():
                yield name, str(key), _plain(part), cycle
        else:
            yield name, "", _plain(value), cycle


def as_csv(report: Report, community: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["community", "since", "until", "indicator", "key", "value", "cycle"])
    for row in csv_rows(report):
        writer.writerow([community, report.since.isoformat(), report.until.isoformat(), *row])
    return out.getvalue()


def as_table(report: Report, community: str) -> str:
    lines = [
        f"Value indicators of {community}, {report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} "
        "UTC (end excluded)",
    ]
    for cycle in ValueCycle:
        lines += ["", CYCLE_TITLES[cycle]]
        names = [n for n, (c, _) in DEFINITIONS.items() if c is cycle]
        for name in names:
            lines.append(f"  {name:<28} {_shown(report.values.get(name)):<24} {DEFINITIONS[name][1]}")
        if cycle is ValueCycle.REALIZED:
            lines += _story_lines(report)
        elif cycle in CYCLES_NEEDING_STORIES:
            lines.append("  (counts cannot show this value: read the members' value stories)")
    return "\n".join(lines)


def _story_lines(report: Report) -> list[str]:
    """The period's stories in the members' words: they speak for applied and realized value."""
    if not report.stories:
        return [
            "  (counts cannot show this value: read the members' value stories; none was told in the "
            "period: `!icop story TEXT` in a practice's thread, or #story in a post)"
        ]
    lines = ["  Value stories of the period (applied and realized value, in the members' words):"]
    for story in report.stories:
        about = f" about “{story.practice}”" if story.practice else f" about thread {story.thread_id}"
        lines.append(
            f"  - {story.created_at:%Y-%m-%d} {story.author_name or story.author}{about}: "
            f"“{excerpt(story.text)}”"
        )
    return lines


def _plain(value: object) -> str:
    return "" if value is None else str(value)


def _shown(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_shown(v)}" for k, v in value.items()) or "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
