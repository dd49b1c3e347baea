"""An archive served over a real SQLite store for the page tests: the store migrated and its communities
and rosters synced from a config, the archive component started, aiohttp's test client in front."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bridge.config import LoadedConfig
from bridge.config.schema import Config
from bridge.core.model import Role, RosterMember
from bridge.email.smtp import SmtpSender
from bridge.matrix.session import MatrixSession
from bridge.store import Database, Store
from bridge.store.migrations import upgrade
from bridge.web.search import SearchEngine
from bridge.web.server import WebServer
from bridge.web.service import ArchiveService

KEY = b"k" * 32
BASE = "http://archive.test"
Client = TestClient[web.Request, web.Application]


def archive_config(*communities: dict[str, Any]) -> Config:
    """A config for the archive at ``BASE`` with these ``[[community]]`` tables (its servers unused)."""
    return Config.model_validate(
        {
            "base_url": BASE,
            "matrix": {
                "homeserver": "http://127.0.0.1:1",
                "user_id": "@icop:example.org",
                "access_token_env": "T",
            },
            "mail": {
                "imap": {"host": "127.0.0.1", "user": "l", "password_env": "P"},
                "smtp": {"host": "127.0.0.1"},
            },
            "community": list(communities),
        }
    )


@dataclass
class Relay:
    store: Store
    signing_key: bytes | None = KEY
    smtp: SmtpSender | None = None
    session: MatrixSession | None = None


@asynccontextmanager
async def synced_store(config: Config, folder: Path) -> AsyncIterator[Store]:
    """A migrated SQLite store in ``folder`` holding the config's communities and rosters."""
    db = Database(f"sqlite://{folder / 'store.sqlite3'}")
    await db.open()
    try:
        await upgrade(db)
        store = Store(db)
        for community in config.community:
            await store.communities.sync_community(
                slug=community.slug,
                name=community.name,
                list_address=community.list_address,
                room=community.room,
                time_zone=community.time_zone,
                roster=[
                    RosterMember(m.name, m.email, Role(m.role), time_zone=m.time_zone)
                    for m in community.member
                ],
            )
        yield store
    finally:
        await db.close()


@asynccontextmanager
async def served(
    config: Config,
    store: Store,
    folder: Path,
    *,
    clock: Callable[[], datetime],
    search: SearchEngine | None = None,
) -> AsyncIterator[tuple[Client, ArchiveService]]:
    """The archive of ``config`` over ``store``, started, behind a test client."""
    loaded = LoadedConfig(config=config, path=folder / "icop.toml", key_lines={})
    server = WebServer("127.0.0.1:0")
    archive = ArchiveService(
        loaded, Relay(store), stylesheet_url=server.assets.stylesheet_path, search=search, clock=clock
    )
    await archive.start()
    server.add_routes(archive.web_routes())
    client: Client = TestClient(TestServer(server.app))
    await client.start_server()
    try:
        yield client, archive
    finally:
        await client.close()
