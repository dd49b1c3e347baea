"""The subscribe form's hourly limits: past them no confirmation mail goes out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridge.web.subscribe import RateLimit


def test_three_requests_an_hour_then_none_until_the_first_is_an_hour_old() -> None:
    now = [datetime(2026, 3, 9, 8, tzinfo=UTC)]
    limit = RateLimit(3, lambda: now[0])
    assert [limit.allow("dee@example.net") for _ in range(4)] == [True, True, True, False]
    assert limit.allow("fay@example.net")  # another address has its own window
    now[0] += timedelta(minutes=59)
    assert not limit.allow("dee@example.net")
    now[0] += timedelta(minutes=2)
    assert limit.allow("dee@example.net")
