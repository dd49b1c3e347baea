"""The convener's tools as a daemon component: the monthly report loop.

The loop wakes every ``CHECK_SECONDS`` and runs ``MonthlyReports.send_due``: a report goes out within a
minute of its moment, and a missed one (the daemon was down) at the first run after. It runs in one
process at a time, under a lease (``bridge.store.lease``) like the relay's ingest loops: with several
processes on one PostgreSQL, one sends and the others stand by, taking over within seconds when it
dies. The per-mail claims keep every mail to one sender even without the lease.

It borrows the relay's store and SMTP sender, so the daemon keeps one connection of each kind.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol

from aiohttp import web

from bridge.config import LoadedConfig
from bridge.convener.monthly import MonthlyReports
from bridge.email.smtp import SmtpSender
from bridge.store import Store
from bridge.store.lease import Lease, LocalLocks, Locks

log = logging.getLogger(__name__)

CHECK_SECONDS = 60.0


class Mailer(Protocol):
    """What the component borrows from the relay once it has started."""

    store: Store
    smtp: SmtpSender | None


class ConvenerComponent:
    name = "convener"

    def __init__(
        self,
        loaded: LoadedConfig,
        relay: Mailer,
        *,
        locks: Locks | None = None,
        process: str = "icop",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.loaded = loaded
        self.relay = relay
        self.process = process
        self.clock = clock
        self.lease = Lease(locks or LocalLocks(), "monthly reports", label="reports")
        self.reports: MonthlyReports | None = None

    async def start(self) -> None:
        self.reports = MonthlyReports(
            self.loaded, self.relay.store, self.relay.smtp, worker=self.process, clock=self.clock
        )

    async def stop(self) -> None:
        return None

    def web_routes(self) -> list[web.RouteDef]:
        return []

    def loops(self) -> Mapping[str, Callable[[], Awaitable[None]]]:
        return {"monthly_report": self.run}

    async def run(self) -> None:
        await self.lease.run(self._every_minute)

    async def _every_minute(self) -> None:
        assert self.reports is not None
        while True:
            run = await self.reports.send_due(self.clock())
            if run.sent or run.failed:
                log.info("monthly report run", extra={"sent": run.sent, "failed": run.failed})
            await asyncio.sleep(CHECK_SECONDS)
