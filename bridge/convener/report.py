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
