"""Opening a database from its URL: dialects, SQLite's pragmas, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.store.database import Database, DatabaseOpenError, DatabaseUrlError, Dialect, dialect_of, redact


@pytest.mark.parametrize(
    ("url", "dialect"),
    [
        ("sqlite://var/icop.sqlite3", Dialect.SQLITE),
        ("sqlite:///srv/icop/icop.sqlite3", Dialect.SQLITE),
        ("sqlite://:memory:", Dialect.SQLITE),
        ("postgres://icop@db:5432/icop", Dialect.POSTGRES),
        ("postgresql://icop:secret@db/icop", Dialect.POSTGRES),
    ],
)
def test_the_url_selects_the_dialect(url: str, dialect: Dialect) -> None:
    assert dialect_of(url) is dialect


def test_other_urls_are_refused_without_showing_the_password() -> None:
    with pytest.raises(DatabaseUrlError, match=r"mysql://icop:\*\*\*@db/icop") as raised:
        Database("mysql://icop:hunter2@db/icop")
    assert "hunter2" not in str(raised.value)
    assert redact("postgres://icop:hunter2@db:5432/icop") == "postgres://icop:***@db:5432/icop"


async def test_sqlite_is_opened_with_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    async with Database(f"sqlite://{tmp_path / 'icop.sqlite3'}") as db:
        assert [r["journal_mode"] for r in await db.fetch("PRAGMA journal_mode")] == ["wal"]
        assert [r["foreign_keys"] for r in await db.fetch("PRAGMA foreign_keys")] == [1]
        assert [r["timeout"] for r in await db.fetch("PRAGMA busy_timeout")] == [5000]
    assert (tmp_path / "icop.sqlite3").exists()
    assert not db.is_open


async def test_in_memory_sqlite(tmp_path: Path) -> None:
    async with Database("sqlite://:memory:") as db:
        assert await db.fetch("SELECT 1 AS one") == [{"one": 1}]


async def test_a_relative_sqlite_path_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var").mkdir()
    async with Database("sqlite://var/icop.sqlite3"):
        pass
    assert (tmp_path / "var" / "icop.sqlite3").exists()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgres://nobody:hunter2@127.0.0.1:1/nothing", "postgres://nobody:***@127.0.0.1:1/nothing: "),
        ("sqlite:///no/such/dir/icop.sqlite3", "directory /no/such/dir does not exist"),
    ],
)
async def test_a_database_that_cannot_be_opened_says_which(url: str, reason: str) -> None:
    db = Database(url)
    with pytest.raises(DatabaseOpenError, match="cannot open database") as raised:
        await db.open()
    assert reason in str(raised.value)
    assert "hunter2" not in str(raised.value)
    assert not db.is_open


async def test_using_a_closed_database_says_so(tmp_path: Path) -> None:
    db = Database(f"sqlite://{tmp_path / 'x.sqlite3'}")
    with pytest.raises(RuntimeError, match="is not open"):
        await db.fetch("SELECT 1")
