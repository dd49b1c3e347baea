"""Small named values: ingest cursors, and settings the daemon generates for itself.

A cursor (Matrix ``next_batch``, IMAP UIDVALIDITY + last UID) must move only in the commit that stores
what it covers (DESIGN §3), so ``Cursors.set`` joins the caller's transaction when given one.
"""

from __future__ import annotations

from bridge.store.database import Database, Transaction
from bridge.store.models import IngestCursor, Setting


class Cursors:
    """Where each ingest source got to, by source key (e.g. ``imap:lists@example.com:INBOX``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, source_key: str, *, tx: Transaction | None = None) -> str | None:
        async with self._db.session(tx) as conn:
            rows = await IngestCursor.filter(source_key=source_key).using_db(conn).values_list("value")
        return str(rows[0][0]) if rows else None

    async def set(self, source_key: str, value: str, *, tx: Transaction | None = None) -> None:
        # One holder per source (DESIGN §7), so update-then-insert does not race with itself.
        async with self._db.transaction(tx) as inner:
            updated = (
                await IngestCursor.filter(source_key=source_key).using_db(inner.client).update(value=value)
            )
            if not updated:
                await IngestCursor.create(source_key=source_key, value=value, using_db=inner.client)


class Settings:
    """Generated secrets and tokens; never config (that lives in the TOML, secrets by reference)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, key: str) -> str | None:
        async with self._db.session() as conn:
            rows = await Setting.filter(key=key).using_db(conn).values_list("value")
        return str(rows[0][0]) if rows else None

    async def set(self, key: str, value: str) -> None:
        async with self._db.transaction() as tx:
            updated = await Setting.filter(key=key).using_db(tx.client).update(value=value)
            if not updated:
                await Setting.create(key=key, value=value, using_db=tx.client)

    async def setdefault(self, key: str, value: str) -> str:
        """Store ``value`` unless the key has one; returns the stored value.

        Two processes generating a signing key at once both end up using the one that was stored first.
        """
        async with self._db.session() as conn:
            await Setting.bulk_create([Setting(key=key, value=value)], ignore_conflicts=True, using_db=conn)
        stored = await self.get(key)
        assert stored is not None  # just inserted, or there before
        return stored

    async def delete(self, key: str) -> bool:
        async with self._db.session() as conn:
            return bool(await Setting.filter(key=key).using_db(conn).delete())
