"""Owns the daemon's long-lived tasks: each is named, logged when it fails, restarted with backoff.

No task of the daemon is started with a bare ``asyncio.create_task``: a loop that dies (Synapse down, an
IMAP connection reset, a bug) is logged with its traceback and started again after a growing delay,
and ``stop`` cancels every task and waits for it, so SIGTERM leaves nothing running.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

TaskFactory = Callable[[], Awaitable[None]]


@dataclass
class TaskState:
    name: str
    restarts: int = 0
    last_error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class Supervisor:
    """Runs named coroutines, restarting each when it raises, until ``stop``."""

    def __init__(
        self, *, backoff_base: float = 1.0, backoff_max: float = 60.0, healthy_after: float = 60.0
    ) -> None:
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.healthy_after = healthy_after
        self.tasks: dict[str, TaskState] = {}
        self._stopping = False

    def spawn(self, name: str, factory: TaskFactory, *, restart: bool = True) -> None:
        """Start ``factory()`` as task ``name``; when it raises and ``restart``, start it again."""
        if name in self.tasks:
            raise ValueError(f"a task named {name!r} is already supervised")
        state = TaskState(name)
        state.task = asyncio.create_task(self._keep_running(state, factory, restart), name=name)
        self.tasks[name] = state

    async def _keep_running(self, state: TaskState, factory: TaskFactory, restart: bool) -> None:
        delay = self.backoff_base
        while not self._stopping:
            started = time.monotonic()
            try:
                await factory()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                state.last_error = f"{type(error).__name__}: {error}"
                if time.monotonic() - started > self.healthy_after:
                    delay = self.backoff_base  # it ran well for a while: this is a new incident
                log.error(
                    "task %s failed; restarting in %.1f s",
                    state.name,
                    delay,
                    exc_info=True,
                    extra={"task": state.name, "restarts": state.restarts},
                )
                if not restart:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
                state.restarts += 1
            else:
                log.debug("task %s finished", state.name)
                return

    async def stop(self, timeout: float = 5.0) -> None:
        """Cancel every task and wait up to ``timeout`` seconds for them to finish."""
        self._stopping = True
        tasks = [state.task for state in self.tasks.values() if state.task and not state.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                log.warning("task %s did not stop within %.1f s", task.get_name(), timeout)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.error("task %s ended with an error", task.get_name(), exc_info=task.exception())
