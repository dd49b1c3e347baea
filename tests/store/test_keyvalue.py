"""Ingest cursors and settings on both backends."""

from __future__ import annotations

import asyncio

import pytest

from bridge.store import Database, Store


async def test_cursors_get_and_set(store: Store) -> None:
    assert await store.cursors.get("imap:lists@example.com:INBOX") is None
    await store.cursors.set("imap:lists@example.com:INBOX", "1700000000:41")
    await store.cursors.set("imap:lists@example.com:INBOX", "1700000000:42")
    await store.cursors.set("matrix:next_batch", "s72594_4483_1934")
    assert await store.cursors.get("imap:lists@example.com:INBOX") == "1700000000:42"
    assert await store.cursors.get("matrix:next_batch") == "s72594_4483_1934"


async def _move_cursor_then_crash(store: Store) -> None:
    async with store.db.transaction() as tx:
        await store.cursors.set("matrix:next_batch", "s2", tx=tx)
        assert await store.cursors.get("matrix:next_batch", tx=tx) == "s2"
        raise RuntimeError("crash before the commit")


async def test_a_cursor_set_in_a_transaction_moves_only_with_its_commit(store: Store) -> None:
    await store.cursors.set("matrix:next_batch", "s1")
    with pytest.raises(RuntimeError, match="crash before the commit"):
        await _move_cursor_then_crash(store)
    assert await store.cursors.get("matrix:next_batch") == "s1"


async def test_settings(store: Store) -> None:
    assert await store.settings.get("matrix.access_token") is None
    await store.settings.set("matrix.access_token", "syt_1")
    await store.settings.set("matrix.access_token", "syt_2")
    assert await store.settings.get("matrix.access_token") == "syt_2"
    assert await store.settings.delete("matrix.access_token")
    assert not await store.settings.delete("matrix.access_token")
    assert await store.settings.get("matrix.access_token") is None


async def test_the_first_generated_key_wins(store: Store, store_url: str) -> None:
    async with Database(store_url) as second_process:
        other = Store(second_process)
        keys = await asyncio.gather(
            store.settings.setdefault("signing_key", "key-a"),
            other.settings.setdefault("signing_key", "key-b"),
        )
    assert keys[0] == keys[1]
    assert await store.settings.setdefault("signing_key", "key-c") == keys[0]
