"""Digests as a daemon component: the scheduler loop, the subscription desk, the web pages.

The scheduler wakes every ``CHECK_SECONDS`` and runs the same ``send_due`` as ``icop digest send-due``:
a digest goes out within that many seconds of its local hour, and a missed one (the daemon was down)
goes out once at the first run after. Several daemons (or a daemon and a cron job) may run it at once:
the store's claim on (reader, slot) keeps each digest to one sender.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

from aiohttp import web

from bridge.config import LoadedConfig
from bridge.config.schema import build_meeting_series
from bridge.digest.desk import SubscriptionDesk
from bridge.digest.meetings import ConfiguredMeetings, MeetingSource
from bridge.digest.service import DigestService
from bridge.email.smtp import SmtpSender
from bridge.logs import SecretRedactor
from bridge.relay.keys import signing_key
from bridge.rendering import Renderer
from bridge.store import Database, Store
from bridge.web.subscribe import SubscribePages
from bridge.web.unsubscribe import UnsubscribePages

log = logging.getLogger(__name__)

CHECK_SECONDS = 30.0


class DigestComponent:
    name = "digests"

    def __init__(
        self,
        loaded: LoadedConfig,
        database: Database,
        redactor: SecretRedactor | None = None,
        *,
        meetings: MeetingSource | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.loaded = loaded
        self.store = Store(database)
        self.redactor = redactor
        self.meetings = meetings
        self.clock = clock
        self.smtp: SmtpSender | None = None
        self.service: DigestService | None = None
        self.desk: SubscriptionDesk | None = None
        self.signing_key: bytes | None = None
        self.renderer = Renderer()

    async def start(self) -> None:
        self.signing_key = key = await signing_key(self.loaded, self.store.settings)
        smtp = self.loaded.config.mail.smtp
        ref = self.loaded.secret(smtp.password_env, smtp.password_file)
        password = ref.read() if ref is not None else None
        if password is not None and self.redactor is not None:
            self.redactor.add(password)
        self.smtp = SmtpSender(smtp, password)
        self.service = DigestService(
            self.loaded,
            self.store,
            key,
            self.smtp,
            worker=f"{socket.gethostname()}:{os.getpid()}",
            meetings=self.meetings
            or ConfiguredMeetings(
                {c.slug: build_meeting_series(c) for c in self.loaded.config.community}, self._slugs
            ),
            concurrency=smtp.connections * 2,
            clock=self.clock,
        )
        self.desk = SubscriptionDesk(
            self.loaded, self.store, key, self.smtp, renderer=self.renderer, clock=self.clock
        )

    async def _slugs(self) -> dict[int, str]:
        return {c.id: c.slug for c in await self.store.communities.all()}

    async def stop(self) -> None:
        if self.smtp is not None:
            await self.smtp.close()

    def loops(self) -> Mapping[str, Callable[[], Awaitable[None]]]:
        return {"scheduler": self.run_scheduler}

    def web_routes(self) -> list[web.RouteDef]:
        assert self.desk is not None
        assert self.signing_key is not None
        return [
            *UnsubscribePages(self.store, self.signing_key, self.renderer, desk=self.desk).routes(),
            *SubscribePages(self.desk, self.store, self.renderer).routes(),
        ]

    async def run_scheduler(self) -> None:
        assert self.service is not None
        while True:
            summary = await self.service.send_due(self.clock(), report=_log_line)
            if summary.sent or summary.failed:
                log.info(
                    "digest run",
                    extra={"sent": summary.sent, "failed": summary.failed, "nothing_new": summary.empty},
                )
            await asyncio.sleep(CHECK_SECONDS)


def _log_line(line: str) -> None:
    log.info("%s", line)
