"""The sliding window behind sign-in limits: what each request gets as time passes."""

from __future__ import annotations

from bridge.core.rate_limit import SlidingWindow


def test_a_key_gets_its_limit_per_window_then_again_as_old_events_leave_it() -> None:
    window = SlidingWindow(limit=2, seconds=10)
    assert [window.allow("a", t) for t in (0, 1, 2, 9)] == [True, True, False, False]
    assert window.allow("b", 2)  # another key has its own count
    assert window.allow("a", 10.5)  # the event at 0 left the window
    assert not window.allow("a", 10.6)  # the one at 1 is still in it
    assert window.allow("a", 11.5)


def test_refused_attempts_do_not_extend_the_wait() -> None:
    window = SlidingWindow(limit=1, seconds=10)
    assert window.allow("a", 0)
    assert not any(window.allow("a", t) for t in range(1, 10))
    assert window.allow("a", 10)


def test_memory_is_bounded_by_forgetting_the_least_recent_keys() -> None:
    window = SlidingWindow(limit=1, seconds=100, max_keys=3)
    for key in ("a", "b", "c", "d"):
        assert window.allow(key, 0)
    assert window.allow("a", 1)  # forgotten, so counted afresh
    assert not window.allow("d", 1)
