"""The composition root: builds the whole bridge from one loaded config, starts it, stops it.

Nothing else in the code base constructs long-lived objects from config. ``Bridge.start`` opens the
store (applying pending migrations, refusing a schema newer than the code), syncs the communities and
rosters from config, then starts every component; long-running loops are handed to the ``Supervisor``.
``Bridge.stop`` stops them in reverse order. ``serve`` wires SIGTERM/SIGINT to a clean stop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from aiohttp import web

from bridge import __version__
from bridge.config import LoadedConfig
from bridge.logs import SecretRedactor
from bridge.relay.faults import FAULTS_ENV, Faults
from bridge.relay.service import RelayService
from bridge.store.database import Database, redact
from bridge.store.migrations import upgrade
from bridge.supervisor import Supervisor
from bridge.web.server import WebServer

log = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 5.0


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
    components: list[Component] = field(default_factory=list)
    started_at: float = 0.0

    def __post_init__(self) -> None:
        self.supervisor = Supervisor()
        self.web = WebServer(self.loaded.config.web.bind, self.health)

    async def start(self) -> None:
        self.started_at = time.monotonic()
        log.info("icop-bridge %s starting", __version__, extra={"config": str(self.loaded.path)})
        self.database = database = await open_database(self.loaded.database_url(self.environ))
        before, after = await upgrade(database)
        if before != after:
            log.info("database schema upgraded from %d to %d", before, after)
        log.info("store ready", extra={"database": redact(database.url), "schema": after})
        if not self.components:
            try:
                faults = Faults.from_environ(self.environ)
            except ValueError as error:
                raise StartupError(str(error)) from None
            if faults.active:
                log.warning(
                    "%s is set: test-only faults are injected; never set it in a deployment", FAULTS_ENV
                )
            self.components.append(RelayService(self.loaded, database, self.redactor, faults=faults))
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
        if self.database is not None:
            await self.database.close()
        log.info("icop-bridge stopped")

    async def health(self) -> dict[str, object]:
        tasks = {
            name: {"running": bool(state.task and not state.task.done()), "restarts": state.restarts}
            for name, state in self.supervisor.tasks.items()
        }
        return {
            "ok": self.database is not None
            and self.database.is_open
            and all(t["running"] for t in tasks.values()),
            "version": __version__,
            "uptime_seconds": round(time.monotonic() - self.started_at, 1),
            "tasks": tasks,
        }


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
