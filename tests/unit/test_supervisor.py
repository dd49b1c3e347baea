"""The supervisor: a failing task is logged and restarted with growing delays; stop cancels everything."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from bridge.supervisor import Supervisor


async def test_a_failing_task_is_logged_and_restarted_with_backoff(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[float] = []
    loop = asyncio.get_running_loop()
    healthy = asyncio.Event()

    async def flaky() -> None:
        runs.append(loop.time())
        if len(runs) == 4:
            healthy.set()
        if len(runs) < 4:
            raise RuntimeError(f"boom {len(runs)}")
        await asyncio.Event().wait()  # healthy from the fourth start on

    supervisor = Supervisor(backoff_base=0.01, backoff_max=0.04)
    with caplog.at_level(logging.ERROR, logger="bridge.supervisor"):
        supervisor.spawn("flaky", flaky)
        await asyncio.wait_for(healthy.wait(), 5)
        await supervisor.stop(timeout=1)
    gaps = [later - earlier for earlier, later in itertools.pairwise(runs)]
    assert len(runs) == 4
    assert gaps[0] >= 0.01
    assert gaps[1] >= 0.02  # the delay doubles
    assert gaps[2] >= 0.04  # and stops growing at backoff_max
    state = supervisor.tasks["flaky"]
    assert state.restarts == 3
    assert state.last_error == "RuntimeError: boom 3"
    failures = [r for r in caplog.records if "task flaky failed" in r.getMessage()]
    assert len(failures) == 3
    assert all(r.exc_info for r in failures)  # the traceback is logged, never lost


async def test_stop_cancels_every_task_and_a_finished_task_is_not_restarted() -> None:
    started: list[str] = []
    cancelled: list[str] = []

    async def forever(name: str) -> None:
        started.append(name)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(name)
            raise

    async def once() -> None:
        started.append("once")

    supervisor = Supervisor(backoff_base=0.01)
    supervisor.spawn("a", lambda: forever("a"))
    supervisor.spawn("b", lambda: forever("b"))
    supervisor.spawn("once", once)
    await asyncio.sleep(0.05)
    await supervisor.stop(timeout=1)
    assert sorted(started) == ["a", "b", "once"]
    assert sorted(cancelled) == ["a", "b"]
    assert all(state.task is not None and state.task.done() for state in supervisor.tasks.values())


async def test_two_tasks_cannot_share_a_name() -> None:
    supervisor = Supervisor()

    async def idle() -> None:
        await asyncio.Event().wait()

    supervisor.spawn("x", idle)
    with pytest.raises(ValueError, match="already supervised"):
        supervisor.spawn("x", idle)
    await supervisor.stop(timeout=1)
