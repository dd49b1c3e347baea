"""The adapters' persistence hooks, backed by the store: ingest cursors and the Matrix login.

The adapters take small Protocols (``InboxCursorStore``, ``TokenStore``, since-token callbacks) so they
stay free of the store; these classes are the store-backed implementations the daemon hands them.
"""

from __future__ import annotations

import json

from bridge.email.inbox import InboxCursor
from bridge.matrix.session import StoredLogin
from bridge.store import Cursors, Settings


class StoredInboxCursor:
    """UIDVALIDITY + last UID of one mailbox, under a key naming the mailbox."""

    def __init__(self, cursors: Cursors, source_key: str) -> None:
        self.cursors = cursors
        self.source_key = source_key

    async def load(self) -> InboxCursor | None:
        value = await self.cursors.get(self.source_key)
        if value is None:
            return None
        data = json.loads(value)
        return InboxCursor(uidvalidity=int(data["uidvalidity"]), last_uid=int(data["last_uid"]))

    async def save(self, cursor: InboxCursor) -> None:
        value = json.dumps({"uidvalidity": cursor.uidvalidity, "last_uid": cursor.last_uid})
        await self.cursors.set(self.source_key, value)


def sync_cursor_key(user_id: str) -> str:
    """Where the daemon keeps its Matrix sync position for the bridge account ``user_id``."""
    return f"matrix:{user_id}"


class StoredSince:
    """The Matrix sync position (``next_batch``)."""

    def __init__(self, cursors: Cursors, source_key: str) -> None:
        self.cursors = cursors
        self.source_key = source_key

    async def load(self) -> str | None:
        return await self.cursors.get(self.source_key)

    async def save(self, since: str) -> None:
        await self.cursors.set(self.source_key, since)


class StoredMatrixLogin:
    """The token earned by a password login, kept in the store's settings (never in config)."""

    KEY = "matrix.login"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def load(self) -> StoredLogin | None:
        value = await self.settings.get(self.KEY)
        if value is None:
            return None
        data = json.loads(value)
        return StoredLogin(data["homeserver"], data["user_id"], data["device_id"], data["access_token"])

    async def save(self, login: StoredLogin) -> None:
        data = {
            "homeserver": login.homeserver,
            "user_id": login.user_id,
            "device_id": login.device_id,
            "access_token": login.access_token,
        }
        await self.settings.set(self.KEY, json.dumps(data))
