"""When the monthly report goes out and which month it covers: UTC months, the community's local hour,
never before the month has ended, daylight saving time, catching up after a downtime."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from bridge.core.report_schedule import due_month, months_up_to, report_month

DUBLIN, TOKYO, SAO_PAULO = ZoneInfo("Europe/Dublin"), ZoneInfo("Asia/Tokyo"), ZoneInfo("America/Sao_Paulo")


def test_a_month_is_its_utc_days_and_goes_out_on_the_first_at_the_local_hour() -> None:
    november = report_month(date(2026, 11, 17), DUBLIN, 8)
    assert november.month == date(2026, 11, 1)
    assert (november.start, november.end) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert november.send_at == datetime(2026, 12, 1, 8, tzinfo=UTC)  # Dublin is on UTC in winter
    assert report_month(date(2026, 11, 1), SAO_PAULO, 8).send_at == datetime(2026, 12, 1, 11, tzinfo=UTC)
    assert report_month(date(2026, 12, 1), DUBLIN, 8).end == datetime(2027, 1, 1, tzinfo=UTC)


def test_east_of_utc_an_early_hour_waits_for_the_month_to_end() -> None:
    """08:00 in Tokyo on 1 December is 23:00 UTC on 30 November: the month is not over, so the report
    leaves at 00:00 UTC (09:00 in Tokyo); at 10:00 local the hour itself is after the month's end."""
    assert report_month(date(2026, 11, 1), TOKYO, 8).send_at == datetime(2026, 12, 1, tzinfo=UTC)
    assert report_month(date(2026, 11, 1), TOKYO, 10).send_at == datetime(2026, 12, 1, 1, tzinfo=UTC)


def test_summer_time_moves_the_moment_in_utc() -> None:
    """1 April is in Irish summer time (UTC+1): 08:00 local is 07:00 UTC."""
    assert report_month(date(2027, 3, 1), DUBLIN, 8).send_at == datetime(2027, 4, 1, 7, tzinfo=UTC)


def test_only_the_latest_due_month_is_due() -> None:
    just_before = datetime(2026, 12, 1, 7, 59, tzinfo=UTC)
    at = datetime(2026, 12, 1, 8, tzinfo=UTC)
    weeks_later = datetime(2026, 12, 28, tzinfo=UTC)
    assert due_month(just_before, DUBLIN, 8).month == date(2026, 10, 1)
    assert due_month(at, DUBLIN, 8).month == date(2026, 11, 1)
    assert due_month(weeks_later, DUBLIN, 8).month == date(2026, 11, 1)  # once, late after a downtime
    assert due_month(datetime(2027, 1, 1, 0, 30, tzinfo=UTC), TOKYO, 8).month == date(2026, 12, 1)


def test_months_up_to_cross_the_year() -> None:
    months = months_up_to(report_month(date(2027, 2, 1), DUBLIN, 8), 4, DUBLIN, 8)
    assert [m.month for m in months] == [
        date(2026, 11, 1),
        date(2026, 12, 1),
        date(2027, 1, 1),
        date(2027, 2, 1),
    ]
