"""The health verdict from what the loops report: what each state of a loop, a task and the database gets."""

from __future__ import annotations

from bridge.health import (
    LeaseState,
    LoopState,
    LoopStatus,
    TaskHealth,
    WatchedLoop,
    health_report,
    working_status,
)
from bridge.web.monitoring import _without_errors


def _status(*, connected: bool, caught_up: bool, error: str | None = None) -> LoopStatus:
    return LoopStatus(connected=connected, caught_up=caught_up, error=error)


def test_each_loop_state_and_whether_it_is_healthy() -> None:
    cases = {
        # (status, lease held?) → state
        "connected and caught up": (_status(connected=True, caught_up=True), None, LoopState.OK),
        "holds its lease": (_status(connected=True, caught_up=True), LeaseState.HELD, LoopState.OK),
        "stands by": (
            _status(connected=False, caught_up=False, error="old"),
            LeaseState.STANDBY,
            LoopState.STANDBY,
        ),
        "never connected yet": (LoopStatus(), LeaseState.HELD, LoopState.STARTING),
        "cannot start (login refused)": (
            _status(connected=False, caught_up=False, error="M_UNKNOWN_TOKEN"),
            LeaseState.WAITING,
            LoopState.DISCONNECTED,
        ),
        "lease not asked for yet": (LoopStatus(), LeaseState.WAITING, LoopState.STARTING),
        "server gone": (
            _status(connected=False, caught_up=False, error="refused"),
            None,
            LoopState.DISCONNECTED,
        ),
        "stuck on a message": (
            _status(connected=True, caught_up=False, error="store"),
            None,
            LoopState.BEHIND,
        ),
    }
    for case, (status, held, state) in cases.items():
        loop = WatchedLoop(status, held)
        assert loop.state is state, case
        assert loop.healthy is (state in (LoopState.OK, LoopState.STANDBY)), case


def test_a_status_follows_its_loop() -> None:
    status = LoopStatus()
    status.succeeded(now=1_800_000_000.0)
    assert (status.connected, status.caught_up, status.last_success) == (True, True, 1_800_000_000.0)
    status.behind("UID 7 failed 2 time(s)")
    assert (status.connected, status.caught_up, status.error) == (True, False, "UID 7 failed 2 time(s)")
    status.disconnected("imap unreachable")
    assert (status.connected, status.last_success) == (False, 1_800_000_000.0)  # the last success stays
    status.starting()
    assert WatchedLoop(status).state is LoopState.STARTING
    assert WatchedLoop(working_status()).state is LoopState.OK  # a delivery lane is fine until it fails


def test_the_report_names_what_fails() -> None:
    good = WatchedLoop(_status(connected=True, caught_up=True))
    report = health_report(
        {
            "matrix": good,
            "mailbox": WatchedLoop(
                _status(connected=False, caught_up=False, error="imap down"), LeaseState.HELD
            ),
            "outbox.email": WatchedLoop(LoopStatus(), LeaseState.STANDBY),
        },
        {"relay.matrix": TaskHealth(True, 0), "relay.mailbox": TaskHealth(False, 3, "OSError: boom")},
        database_error="connection refused",
        about={"version": "1.0"},
    )
    assert not report.ok
    assert report.failing == ["loop mailbox", "task relay.mailbox", "database"]
    body = report.body
    assert body["ok"] is False
    assert body["status"] == "unhealthy"
    assert body["version"] == "1.0"
    assert body["loops"]["mailbox"] == {  # type: ignore[index]
        "state": "disconnected",
        "lease": "held",
        "connected": False,
        "caught_up": False,
        "last_success": None,
        "error": "imap down",
    }
    assert body["loops"]["outbox.email"]["state"] == "standby"  # type: ignore[index]
    assert body["database"] == {"ok": False, "error": "connection refused"}

    fine = health_report({"matrix": good}, {"relay.matrix": TaskHealth(True, 0)}, database_error=None)
    assert (fine.ok, fine.failing, fine.body["status"]) == (True, [], "ok")


def test_visitors_outside_the_monitoring_networks_see_states_without_error_texts() -> None:
    report = health_report(
        {"mailbox": WatchedLoop(_status(connected=False, caught_up=False, error="imap lists@x down"))},
        {"relay.mailbox": TaskHealth(False, 1, "OSError: lists@x")},
        database_error="no route to db.internal",
    )
    public = _without_errors(report.body)
    assert "lists@x" not in str(public)
    assert "db.internal" not in str(public)
    assert public["failing"] == ["loop mailbox", "task relay.mailbox", "database"]
    assert public["loops"]["mailbox"]["state"] == "disconnected"  # type: ignore[index]
