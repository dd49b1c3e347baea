"""The composition root: builds the whole bridge from one loaded config, starts it, stops it.

Nothing else in the code base constructs long-lived objects from config. ``Bridge.start`` opens the
store (applying pending migrations, refusing a schema newer than the code) and its locks (the leases of
loops that run in one process at a time), syncs the communities and rosters from config, then starts
every component; long-running loops are handed to the ``Supervisor``. ``Bridge.stop`` stops them in
reverse order. ``serve`` wires SIGTERM/SIGINT to a clean stop. The bridge owns the metrics registry and
answers ``/healthz`` from what its loops report.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from aiohttp import web

from bridge import __version__
from bridge.archive.search import ArchiveSearch, ArchiveSearchPages
from bridge.config import LoadedConfig
from bridge.convener.component import ConvenerComponent
from bridge.digest.component import DigestComponent
from bridge.health import TaskHealth, health_report
from bridge.logs import SecretRedactor
from bridge.metrics import Metrics
from bridge.relay.faults import FAULTS_ENV, Faults
from bridge.relay.service import RelayService
from bridge.store import Store
from bridge.store.database import Database, redact
from bridge.store.lease import Locks, locks_for
from bridge.store.migrations import upgrade
from bridge.supervisor import Supervisor
from bridge.web.monitoring import MonitoringPages
from bridge.web.search import SearchEngine
from bridge.web.server import WebServer
from bridge.web.service import ArchiveService

log = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 5.0
HEALTH_QUERY_TIMEOUT_SECONDS = 2.0


class StartupError(RuntimeError):
    """The daemon cannot start; the message is one line naming what failed and why."""


async def open_database(url: str) -> Database:
    """Open the store at ``url`` (creating a SQLite file's folder), or raise StartupError in one line."""
    if url.startswith("sqlite://") and url != "sqlite://:memory:":
        folder = Path(url.removeprefix("sqlite://")).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StartupError(f"cannot create the database folder {folder}: {error.strerror}") from None
    database = Database(url)
    try:
        await database.open()
    except Exception as error:  # drivers raise many types; the person needs one line
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise StartupError(f"cannot open the database {redact(url)}: {reason}") from None
    return database


class Component(Protocol):
    """A part of the daemon with a start and a stop; ``loops`` are its long-running supervised tasks."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def loops(self) -> Mapping[str, Callable[[], Awaitable[None]]]: ...

    def web_routes(self) -> list[web.RouteDef]: ...


@dataclass
class Bridge:
    """Everything the daemon runs for one config."""

    loaded: LoadedConfig
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    redactor: SecretRedactor | None = None
    database: Database | None = None
    supervisor: Supervisor = field(init=False)
    web: WebServer = field(init=False)
    metrics: Metrics = field(init=False)
    locks: Locks | None = None
    components: list[Component] = field(default_factory=list)
    search: SearchEngine | None = None
    started_at: float = 0.0
    process: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    """Names this process to the others sharing the store (its delivery workers' id)."""

    def __post_init__(self) -> None:
        self.supervisor = Supervisor()
        self.metrics = Metrics(process_collector=True)
        self.metrics.tasks = self._tasks
        config = self.loaded.config
        self.web = WebServer(config.web.bind, https=str(config.base_url).startswith("https:"))
        self.web.add_routes(MonitoringPages(self.health, self.metrics, config.web.metrics_allow).routes())

    async def start(self) -> None:
        self.started_at = time.monotonic()
        log.info("icop-bridge %s starting", __version__, extra={"config": str(self.loaded.path)})
        self.database = database = await open_database(self.loaded.database_url(self.environ))
        before, after = await upgrade(database)
        if before != after:
            log.info("database schema upgraded from %d to %d", before, after)
        log.info("store ready", extra={"database": redact(database.url), "schema": after})
        self.locks = locks = locks_for(database, self.process)
        self.metrics.store = Store(database)
        if not self.components:
            try:
                faults = Faults.from_environ(self.environ)
            except ValueError as error:
                raise StartupError(str(error)) from None
            if faults.active:
                log.warning(
                    "%s is set: test-only faults are injected; never set it in a deployment", FAULTS_ENV
                )
            # Digests first: the relay hands subscription commands to its desk.
            digests = DigestComponent(self.loaded, database, self.redactor)
            relay = RelayService(
                self.loaded,
                database,
                self.redactor,
                metrics=self.metrics,
                locks=locks,
                process=self.process,
                digests=digests,
                faults=faults,
            )
            search = self.search or ArchiveSearchPages(
                ArchiveSearch(relay.store, str(self.loaded.config.base_url), self.loaded.config.community)
            )
            archive = ArchiveService(
                self.loaded, relay, stylesheet_url=self.web.assets.stylesheet_path, search=search
            )
            convener = ConvenerComponent(self.loaded, relay, locks=locks, process=self.process)
            self.components += [digests, relay, archive, convener]
        for component in self.components:
            await component.start()
            self.web.add_routes(component.web_routes())
        await self.web.start()
        for component in self.components:
            for name, loop in component.loops().items():
                self.supervisor.spawn(f"{component.name}.{name}", loop)
        log.info(
            "icop-bridge running",
            extra={"communities": len(self.loaded.config.community), "web": self.loaded.config.web.bind},
        )

    async def stop(self) -> None:
        log.info("icop-bridge stopping")
        await self.supervisor.stop(STOP_TIMEOUT_SECONDS)
        for component in reversed(self.components):
            try:
                await component.stop()
            except Exception:
                log.exception("component %s did not stop cleanly", component.name)
        await self.web.stop()
        if self.locks is not None:
            await self.locks.close()  # the leases go with it, to a process standing by
        if self.database is not None:
            await self.database.close()
        log.info("icop-bridge stopped")

    async def health(self) -> dict[str, object]:
        """The ``/healthz`` body: ``ok`` while every loop is connected and caught up (or standing by),
        every task runs and the database answers; ``failing`` names what does not."""
        report = health_report(
            self.metrics.watched(),
            self._tasks(),
            database_error=await self._database_error(),
            about={
                "version": __version__,
                "process": self.process,
                "uptime_seconds": round(time.monotonic() - self.started_at, 1),
            },
        )
        return report.body

    def _tasks(self) -> dict[str, TaskHealth]:
        return {
            name: TaskHealth(bool(state.task and not state.task.done()), state.restarts, state.last_error)
            for name, state in self.supervisor.tasks.items()
        }

    async def _database_error(self) -> str | None:
        database = self.database
        if database is None or not database.is_open:
            return "not open"
        try:
            await asyncio.wait_for(database.fetch("SELECT 1"), HEALTH_QUERY_TIMEOUT_SECONDS)
        except Exception as error:  # drivers raise many types; health needs one line
            return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return None


async def serve(bridge: Bridge) -> None:
    """Run ``bridge`` until SIGTERM or SIGINT, then stop it cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        try:
            await bridge.start()
        except BaseException:
            await bridge.stop()
            raise
        await stop.wait()
        log.info("signal received")
        await bridge.stop()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
