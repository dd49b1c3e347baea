"""Numbered, described schema migrations, committed as SQL per dialect, and the runner that applies them.

Each step is a pair of files ``NNN_name.sqlite.sql`` / ``NNN_name.postgres.sql`` whose leading ``--``
comment describes it. The runner records applied steps in ``schema_version``, applies each missing step
in its own transaction, and refuses a database newer than the code rather than guess at it. On
PostgreSQL an advisory lock makes concurrent ``upgrade`` calls (several processes starting together)
apply each step once.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources

from bridge.store.database import Database, Dialect, Transaction

VERSION_TABLE = "schema_version"
_FILE_NAME = re.compile(r"^(?P<version>\d{3})_(?P<name>\w+)\.(?P<dialect>sqlite|postgres)\.sql$")
_ADVISORY_LOCK_KEY = 0x1C0B_0001  # any constant; only this program takes it


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer icop-bridge; running older code on it could corrupt it."""

    def __init__(self, database_version: int, known_version: int) -> None:
        super().__init__(
            f"database schema version {database_version} is newer than this icop-bridge "
            f"(knows up to {known_version}); upgrade icop-bridge"
        )
        self.database_version = database_version
        self.known_version = known_version


class MigrationFilesError(RuntimeError):
    """The packaged migration files are inconsistent (a missing dialect, a gap in the numbering)."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    description: str
    sql: str


@cache
def migrations(dialect: Dialect) -> tuple[Migration, ...]:
    """The packaged steps for ``dialect``, in order; checked to be complete for every dialect."""
    found: dict[Dialect, dict[int, Migration]] = {d: {} for d in Dialect}
    for entry in resources.files(__name__).iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None:
            continue
        sql = entry.read_text(encoding="utf-8")
        step = Migration(
            version=int(match["version"]),
            name=match["name"],
            description=_description(sql) or match["name"].replace("_", " "),
            sql=sql,
        )
        found[Dialect(match["dialect"])][step.version] = step
    versions = sorted(found[dialect])
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationFilesError(f"{dialect} migrations are not numbered 1..n: {versions}")
    for other, steps in found.items():
        if sorted(steps) != versions:
            raise MigrationFilesError(
                f"{dialect} and {other} migrations differ: {versions} vs {sorted(steps)}"
            )
    return tuple(found[dialect][v] for v in versions)


def latest_version() -> int:
    """The version this code migrates to (the same for every dialect: ``migrations`` checks it)."""
    return len(migrations(Dialect.SQLITE))


async def current_version(db: Database, *, tx: Transaction | None = None) -> int:
    """The highest applied step; 0 for an empty database."""
    await _ensure_version_table(db, tx)
    rows = await db.fetch('SELECT MAX("version") AS v FROM "schema_version"', tx=tx)
    value = rows[0]["v"] if rows else None
    return int(value) if value is not None else 0


async def upgrade(db: Database, *, target: int | None = None) -> tuple[int, int]:
    """Apply every missing step up to ``target`` (default: all); returns (from, to) versions."""
    steps = migrations(db.dialect)
    known = len(steps)
    target = known if target is None else min(target, known)
    async with _locked(db) as tx:
        start = await current_version(db, tx=tx)
    if start > known:
        raise SchemaTooNewError(start, known)
    for step in steps[start:target]:
        async with _locked(db) as tx:
            applied = await current_version(db, tx=tx)
            if applied > known:
                raise SchemaTooNewError(applied, known)
            if applied < step.version:  # else another process applied it while we waited
                await _apply(db, step, tx)
    return start, max(start, target)


@contextlib.asynccontextmanager
async def _locked(db: Database) -> AsyncIterator[Transaction]:
    """A transaction that, on PostgreSQL, first waits for every other upgrading process."""
    async with db.transaction() as tx:
        if db.dialect is Dialect.POSTGRES:
            await db.execute("SELECT pg_advisory_xact_lock($1)", [_ADVISORY_LOCK_KEY], tx=tx)
        yield tx


async def _apply(db: Database, step: Migration, tx: Transaction) -> None:
    if db.dialect is Dialect.POSTGRES:
        async with db.session(tx) as client:
            await client.execute_script(step.sql)
    else:
        # sqlite3's executescript commits first, which would break the step's transaction.
        for statement in split_sqlite_script(step.sql):
            await db.execute(statement, tx=tx)
    await db.execute(
        'INSERT INTO "schema_version" ("version", "description", "applied_at") '
        + ("VALUES ($1, $2, $3)" if db.dialect is Dialect.POSTGRES else "VALUES (?, ?, ?)"),
        [step.version, step.description, datetime.now(UTC).isoformat()],
        tx=tx,
    )


async def _ensure_version_table(db: Database, tx: Transaction | None) -> None:
    await db.execute(
        'CREATE TABLE IF NOT EXISTS "schema_version" ('
        '"version" INTEGER NOT NULL PRIMARY KEY, '
        '"description" TEXT NOT NULL, '
        '"applied_at" VARCHAR(40) NOT NULL)',
        tx=tx,
    )


def split_sqlite_script(sql: str) -> list[str]:
    """Complete statements of a script, trigger bodies kept whole (sqlite3 decides completeness)."""
    statements: list[str] = []
    pending = ""
    for line in sql.splitlines(keepends=True):
        if not pending and (not line.strip() or line.lstrip().startswith("--")):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise MigrationFilesError(f"incomplete SQL statement at the end: {pending[:80]!r}")
    return statements


def _description(sql: str) -> str:
    lines = []
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line.removeprefix("--").strip())
    return " ".join(lines).split(". ")[0].strip()
