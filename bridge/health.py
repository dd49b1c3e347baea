"""How each long-running loop is doing, and the daemon's health verdict built from it.

Every loop that talks to a server (the Matrix sync, the list mailbox, the two delivery lanes) keeps a
``LoopStatus`` up to date as it works: connected or not, caught up or behind, when it last succeeded and
its last error. ``/healthz`` and ``/metrics`` only read these objects, so asking for health costs the
loops nothing. ``health_report`` turns them into the verdict: healthy while every loop this process runs
is connected and caught up (a loop whose lease another process holds stands by, which is healthy),
every supervised task is running and the database answers; otherwise unhealthy, naming what is not.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


class LeaseState(StrEnum):
    HELD = "held"  # this process runs the loop
    STANDBY = "standby"  # another process holds the lease; this one tries again every second
    WAITING = "waiting"  # not asked for yet (the loop cannot start), or the database cannot be asked


class LoopState(StrEnum):
    OK = "ok"
    STANDBY = "standby"  # another process holds this loop's lease
    STARTING = "starting"  # not connected yet since it (re)started
    DISCONNECTED = "disconnected"
    BEHIND = "behind"  # connected, but a message cannot be handled yet


@dataclass
class LoopStatus:
    """Kept by the loop itself; read by the health endpoint and the metrics."""

    connected: bool = False
    caught_up: bool = False
    last_success: float | None = None
    """Unix time of the last successful round (a sync handled, the mailbox read up to date)."""
    error: str | None = None

    def starting(self) -> None:
        """The loop (re)starts: nothing is known until its first round."""
        self.connected = self.caught_up = False
        self.error = None

    def succeeded(self, now: float | None = None) -> None:
        self.connected = self.caught_up = True
        self.last_success = time.time() if now is None else now
        self.error = None

    def disconnected(self, error: str) -> None:
        self.connected = self.caught_up = False
        self.error = error

    def behind(self, error: str) -> None:
        """Connected, but stuck on a message (the store failing, a handler raising)."""
        self.caught_up = False
        self.error = error


def working_status() -> LoopStatus:
    """The status of a loop that is fine until it fails (a delivery lane with nothing to send)."""
    return LoopStatus(connected=True, caught_up=True)


@dataclass(frozen=True)
class WatchedLoop:
    """A loop as health sees it: its status, and its lease's state (None: a loop without a lease)."""

    status: LoopStatus
    lease: LeaseState | None = None

    @property
    def state(self) -> LoopState:
        if self.lease is LeaseState.STANDBY:
            return LoopState.STANDBY
        status = self.status
        if status.connected and status.caught_up:
            return LoopState.OK
        if status.connected:
            return LoopState.BEHIND
        if status.error is None:
            return LoopState.STARTING
        return LoopState.DISCONNECTED

    @property
    def healthy(self) -> bool:
        return self.state in (LoopState.OK, LoopState.STANDBY)


@dataclass(frozen=True)
class TaskHealth:
    running: bool
    restarts: int
    last_error: str | None = None


@dataclass(frozen=True)
class HealthReport:
    ok: bool
    failing: list[str]
    body: dict[str, object] = field(default_factory=dict)


def health_report(
    loops: Mapping[str, WatchedLoop],
    tasks: Mapping[str, TaskHealth],
    *,
    database_error: str | None,
    about: Mapping[str, object] | None = None,
) -> HealthReport:
    """The verdict and the ``/healthz`` JSON body (``failing`` names each loop, task or the database)."""
    failing = [f"loop {name}" for name, loop in loops.items() if not loop.healthy]
    failing += [f"task {name}" for name, task in tasks.items() if not task.running]
    if database_error is not None:
        failing.append("database")
    body: dict[str, object] = {
        "ok": not failing,
        "status": "ok" if not failing else "unhealthy",
        "failing": failing,
        **(about or {}),
        "database": {"ok": database_error is None, "error": database_error},
        "loops": {name: _loop_body(loop) for name, loop in loops.items()},
        "tasks": {
            name: {"running": task.running, "restarts": task.restarts, "last_error": task.last_error}
            for name, task in tasks.items()
        },
    }
    return HealthReport(not failing, failing, body)


def _loop_body(loop: WatchedLoop) -> dict[str, object]:
    status = loop.status
    return {
        "state": loop.state.value,
        "lease": None if loop.lease is None else loop.lease.value,
        "connected": status.connected,
        "caught_up": status.caught_up,
        "last_success": _iso(status.last_success),
        "error": status.error,
    }


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
