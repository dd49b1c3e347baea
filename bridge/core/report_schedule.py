"""When the monthly report goes to a community's conveners and core team, and which month it covers.

The report covers one calendar month in UTC, from the 1st at 00:00 UTC to the next 1st at 00:00 UTC:
the days ``icop report --since`` / ``--until`` and the report page count, so the mail's figures are
the ones the page shows for the same month. It goes out on the 1st of the next month at the community's
digest hour (``[community.digest] hour``) in the community's time zone, one moment per community rather
than one per recipient (a team of a few people reads it the same day wherever they are: 08:00 in Dublin
is 17:00 in Tokyo and 05:00 in São Paulo, in the inbox when they wake), and never before the month has
ended in UTC (east of UTC an early hour comes first: at 08:00 in Tokyo the UTC month still has an hour
to run, so Tokyo's report leaves at 09:00).

Daylight saving time as for digests (``bridge.core.digest.schedule.local_instant``): a local time the
clocks skip moves to the instant they jump, a repeated one is its first occurrence.

Catching up: only the latest month whose moment has come is due, so after a downtime the missed report
goes out once, late, and never a report of an older month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from bridge.core.digest.schedule import local_instant


@dataclass(frozen=True, slots=True)
class ReportMonth:
    """One month's report: ``month`` (its 1st), the UTC instants ``[start, end)`` it covers, and
    ``send_at``, the UTC instant it goes out."""

    month: date
    start: datetime
    end: datetime
    send_at: datetime


def _shift(month: date, months: int) -> date:
    year, index = divmod(month.year * 12 + month.month - 1 + months, 12)
    return date(year, index + 1, 1)


def report_month(month: date, zone: ZoneInfo, hour: int) -> ReportMonth:
    """The report of the month that ``month`` falls in."""
    first = month.replace(day=1)
    following = _shift(first, 1)
    end = datetime.combine(following, time(), UTC)
    return ReportMonth(
        month=first,
        start=datetime.combine(first, time(), UTC),
        end=end,
        send_at=max(local_instant(following, hour, zone), end),
    )


def due_month(now: datetime, zone: ZoneInfo, hour: int) -> ReportMonth:
    """The latest month whose report should have gone out at ``now``."""
    this_month = now.astimezone(UTC).date().replace(day=1)
    last = report_month(_shift(this_month, -1), zone, hour)
    return last if last.send_at <= now else report_month(_shift(this_month, -2), zone, hour)


def months_up_to(month: ReportMonth, count: int, zone: ZoneInfo, hour: int) -> list[ReportMonth]:
    """``count`` months ending with ``month``, oldest first (the report's trend)."""
    return [report_month(_shift(month.month, -n), zone, hour) for n in reversed(range(count))]
