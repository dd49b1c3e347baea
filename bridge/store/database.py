"""One open database: the URL, the dialect and tortoise's connection state, owned by one object.

tortoise 1.x keeps its state in a ``TortoiseContext`` found through a context variable. Rather than
making that context current for the whole process, the ``Database`` activates its own context around
each unit of work (``session`` / ``transaction``), so several databases may be open in one process
(tests run two "processes" against one PostgreSQL) and no asyncio task depends on having been created
after ``open()``. The model classes and their prepared queries are shared, process-wide, so the databases
open at one time must all be of the same dialect.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.context import TortoiseContext, _current_context
from tortoise.transactions import in_transaction

from bridge.store.models import APP_LABEL

MODELS_MODULE = "bridge.store.models"
SQLITE_BUSY_TIMEOUT_MS = 5000
SQLITE_MMAP_BYTES = 2_147_418_112  # the most a default SQLite build maps


class Dialect(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgres"


class DatabaseUrlError(ValueError):
    """The database URL is neither ``sqlite://PATH`` nor ``postgres://…``."""


class DatabaseOpenError(RuntimeError):
    """The database could not be reached or opened; the message names it (without its password)."""


@dataclass(frozen=True, slots=True)
class Transaction:
    """An open transaction, handed back to repository methods so they join it (e.g. ingest + cursor)."""

    client: BaseDBAsyncClient


def dialect_of(url: str) -> Dialect:
    scheme = url.partition("://")[0].lower()
    if scheme == "sqlite":
        return Dialect.SQLITE
    if scheme in ("postgres", "postgresql"):
        return Dialect.POSTGRES
    raise DatabaseUrlError(
        f"unsupported database URL {redact(url)!r}: use sqlite://PATH or postgres://user@host:port/db"
    )


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, hostpart = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{hostpart}"


def _check_sqlite_directory(url: str) -> None:
    path = url.partition("://")[2]
    if path == ":memory:":
        return
    directory = Path(path).parent
    if not directory.is_dir():
        raise DatabaseOpenError(f"cannot open database {url}: directory {directory} does not exist")


def _connection_config(url: str, dialect: Dialect, pool_size: int) -> dict[str, Any]:
    if dialect is Dialect.SQLITE:
        path = url.partition("://")[2]
        if not path:
            raise DatabaseUrlError("sqlite:// URL without a path")
        # tortoise runs every extra credential as a PRAGMA on connect, in this order: the busy timeout
        # comes first, so switching to WAL waits for a daemon's write instead of failing at once.
        return {
            "engine": "tortoise.backends.sqlite",
            "credentials": {
                "file_path": path,
                "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
                "journal_mode": "WAL",
                "foreign_keys": "ON",
                "synchronous": "NORMAL",
                # Reads through a memory map instead of a read() per page: searching a large archive
                # visits thousands of scattered pages (about 4x faster at a million posts); the OS
                # shares the mapped pages with its cache. SQLite caps it at its build's maximum.
                "mmap_size": SQLITE_MMAP_BYTES,
            },
        }
    config = expand_db_url("postgres://" + url.partition("://")[2])
    config["credentials"].update({"minsize": 1, "maxsize": pool_size})
    return config


class Database:
    """The store's database; ``open()`` before use, ``close()`` after (or ``async with``)."""

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        self.url = url
        self.dialect = dialect_of(url)
        self._pool_size = pool_size
        self._context: TortoiseContext | None = None
        # tortoise caches each model's INSERT/DELETE SQL per connection alias, process-wide: an alias
        # per dialect keeps SQLite's "?" placeholders away from PostgreSQL and vice versa.
        self._alias = self.dialect.value

    def __repr__(self) -> str:
        return f"Database({redact(self.url)!r})"

    @property
    def is_open(self) -> bool:
        return self._context is not None

    async def open(self) -> None:
        if self._context is not None:
            return
        if self.dialect is Dialect.SQLITE:
            _check_sqlite_directory(self.url)
        context = TortoiseContext()
        config = {
            "connections": {self._alias: _connection_config(self.url, self.dialect, self._pool_size)},
            "apps": {APP_LABEL: {"models": [MODELS_MODULE], "default_connection": self._alias}},
        }
        with _activated(context):
            try:
                await context.init(config=config, use_tz=True, timezone="UTC")
                # Connect now, so a wrong URL fails at start rather than at the first query.
                await context.db(self._alias).execute_query("SELECT 1")
            except Exception as error:
                await context.close_connections()
                raise DatabaseOpenError(f"cannot open database {redact(self.url)}: {error}") from error
        self._context = context

    async def close(self) -> None:
        context, self._context = self._context, None
        if context is not None:
            with _activated(context):
                await context.close_connections()

    async def __aenter__(self) -> Database:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @contextlib.asynccontextmanager
    async def session(self, tx: Transaction | None = None) -> AsyncIterator[BaseDBAsyncClient]:
        """A connection for a few statements: the given transaction's, else the shared one."""
        with _activated(self._require_context()):
            yield tx.client if tx is not None else self._require_context().db(self._alias)

    @contextlib.asynccontextmanager
    async def transaction(self, tx: Transaction | None = None) -> AsyncIterator[Transaction]:
        """A transaction, or a savepoint inside ``tx``: all or nothing either way."""
        with _activated(self._require_context()):
            if tx is not None:
                # The transaction client's own nested context is a SAVEPOINT on its connection.
                async with tx.client._in_transaction() as nested:
                    yield Transaction(nested)
            else:
                async with in_transaction(self._alias) as client:
                    if self.dialect is Dialect.SQLITE:
                        await _take_write_lock(client)
                    yield Transaction(client)

    async def fetch(
        self, sql: str, params: Sequence[Any] = (), *, tx: Transaction | None = None
    ) -> list[dict[str, Any]]:
        """Rows of a raw query, as dicts; placeholders are ``?`` on SQLite and ``$1`` on PostgreSQL."""
        async with self.session(tx) as client:
            return list(await client.execute_query_dict(sql, list(params)))

    async def execute(self, sql: str, params: Sequence[Any] = (), *, tx: Transaction | None = None) -> int:
        """Run one raw statement; returns the number of rows it changed."""
        async with self.session(tx) as client:
            count, _ = await client.execute_query(sql, list(params))
            return count

    def _require_context(self) -> TortoiseContext:
        if self._context is None:
            raise RuntimeError(f"{self!r} is not open")
        return self._context


async def _take_write_lock(client: BaseDBAsyncClient) -> None:
    """Make tortoise's DEFERRED SQLite transaction an IMMEDIATE one.

    A deferred transaction that reads first and then writes cannot wait for another writer: SQLite
    refuses the upgrade at once ("database is locked") rather than risk a deadlock, whatever the busy
    timeout. Taking the write lock at the start makes a transaction wait its turn instead, so the daemon
    and a command beside it (an import storing thousands of posts) queue rather than fail.
    """
    await client.execute_query("ROLLBACK")  # the empty deferred transaction tortoise began
    await client.execute_query("BEGIN IMMEDIATE")


@contextlib.contextmanager
def _activated(context: TortoiseContext) -> Iterator[None]:
    # TortoiseContext.__enter__ keeps one token on the instance, which breaks as soon as two asyncio tasks
    # use the same database; a token per activation is safe to nest and to interleave.
    token = _current_context.set(context)
    try:
        yield
    finally:
        _current_context.reset(token)
