"""Migrations on both backends: from empty, idempotent, refusing a newer schema, matching the models."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tortoise.utils import generate_schema_for_client

from bridge.store.database import Database, Dialect
from bridge.store.migrations import (
    SchemaTooNewError,
    current_version,
    latest_version,
    migrations,
    split_sqlite_script,
    upgrade,
)
from bridge.store.search import POSTGRES_INDEX_COLUMN, SQLITE_INDEX_TABLES
from tests.fixtures.postgres import fresh_database

Schema = dict[str, Any]


async def test_upgrade_from_empty_then_again_is_a_no_op(store_url: str) -> None:
    async with Database(store_url) as db:
        assert await current_version(db) == 0
        assert await upgrade(db) == (0, latest_version())
        assert await current_version(db) == latest_version()
        assert await upgrade(db) == (latest_version(), latest_version())
        rows = await db.fetch('SELECT "version", "description" FROM "schema_version"')
    assert [r["version"] for r in rows] == list(range(1, latest_version() + 1))
    assert rows[0]["description"].startswith("Initial schema")


async def test_upgrade_goes_step_by_step(store_url: str) -> None:
    async with Database(store_url) as db:
        assert await upgrade(db, target=1) == (0, 1)
        assert await current_version(db) == 1
        assert await upgrade(db) == (1, latest_version())
        assert latest_version() >= 2


async def test_a_newer_schema_is_refused(database: Database) -> None:
    newer = latest_version() + 4
    placeholders = "$1, $2, $3" if database.dialect is Dialect.POSTGRES else "?, ?, ?"
    await database.execute(
        f'INSERT INTO "schema_version" VALUES ({placeholders})',
        [newer, "from the future", "2030-01-01T00:00:00+00:00"],
    )
    with pytest.raises(SchemaTooNewError) as raised:
        await upgrade(database)
    assert str(raised.value) == (
        f"database schema version {newer} is newer than this icop-bridge "
        f"(knows up to {latest_version()}); upgrade icop-bridge"
    )


async def test_migrated_schema_matches_the_models(
    store_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A model change without its migration fails here: tables, columns, types, nullability, indexes."""
    async with Database(store_url) as migrated:
        await upgrade(migrated)
        async with _reference_url(store_url, request, tmp_path) as reference_url:
            async with Database(reference_url) as reference:
                async with reference.session() as client:
                    await generate_schema_for_client(client, safe=False)
                expected = await _schema(reference)
            actual = await _schema(migrated)
    actual.pop("schema_version")
    _set_search_index_aside(actual, migrated.dialect)
    assert actual == expected


def _set_search_index_aside(schema: Schema, dialect: Dialect) -> None:
    """The search index is no model (triggers keep it, bridge.store.search reads it): check that the
    migrations made it, then compare the rest with the models."""
    if dialect is Dialect.SQLITE:
        for table in SQLITE_INDEX_TABLES:
            assert table in schema, table
            schema.pop(table)
        return
    table, column = POSTGRES_INDEX_COLUMN
    assert schema[table]["columns"].pop(column) == (("tsvector", None), False)
    schema[table]["indexes"].remove((False, (column,)))


def test_every_dialect_has_every_step() -> None:
    for dialect in Dialect:
        steps = migrations(dialect)
        assert [s.version for s in steps] == list(range(1, latest_version() + 1))
        assert all(s.description for s in steps)


def test_sqlite_scripts_split_into_whole_statements() -> None:
    script = """-- a comment
CREATE TABLE "a" ("x" INT);

CREATE TRIGGER "t" AFTER INSERT ON "a" BEGIN
    UPDATE "a" SET "x" = 1;
END;
"""
    assert split_sqlite_script(script) == [
        'CREATE TABLE "a" ("x" INT);',
        'CREATE TRIGGER "t" AFTER INSERT ON "a" BEGIN\n    UPDATE "a" SET "x" = 1;\nEND;',
    ]


@contextlib.asynccontextmanager
async def _reference_url(
    store_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[str]:
    if store_url.startswith("sqlite"):
        yield f"sqlite://{tmp_path / 'reference.sqlite3'}"
        return
    async with fresh_database(request.getfixturevalue("postgres_server_url")) as url:
        yield url


async def _schema(db: Database) -> Schema:
    if db.dialect is Dialect.SQLITE:
        return await _sqlite_schema(db)
    return await _postgres_schema(db)


async def _sqlite_schema(db: Database) -> Schema:
    tables = await db.fetch(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    schema: Schema = {}
    for (table,) in (tuple(t.values()) for t in tables):
        columns = {
            c["name"]: (c["type"], bool(c["notnull"]) or bool(c["pk"]))
            for c in await db.fetch(f'PRAGMA table_info("{table}")')
        }
        indexes = set()
        for index in await db.fetch(f'PRAGMA index_list("{table}")'):
            names = [i["name"] for i in await db.fetch(f'PRAGMA index_info("{index["name"]}")')]
            indexes.add((bool(index["unique"]), tuple(names)))
        schema[table] = {"columns": columns, "indexes": indexes}
    return schema


_PG_INDEXES = """
SELECT t.relname AS table_name, i.indisunique AS is_unique, ic.relname AS index_name,
       array_agg(a.attname::text ORDER BY k.n) AS columns
FROM pg_index i
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace ns ON ns.oid = t.relnamespace
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
WHERE ns.nspname = current_schema()
GROUP BY t.relname, ic.relname, i.indisunique
"""


async def _postgres_schema(db: Database) -> Schema:
    schema: Schema = {}
    for c in await db.fetch(
        "SELECT table_name, column_name, data_type, character_maximum_length, is_nullable "
        "FROM information_schema.columns WHERE table_schema = current_schema()"
    ):
        table = schema.setdefault(c["table_name"], {"columns": {}, "indexes": set()})
        column_type = (c["data_type"], c["character_maximum_length"])
        table["columns"][c["column_name"]] = (column_type, c["is_nullable"] == "NO")
    for index in await db.fetch(_PG_INDEXES):
        schema[index["table_name"]]["indexes"].add((index["is_unique"], tuple(index["columns"])))
    return schema
