"""Direct messages from the bridge's account to one person (an archive sign-in link, say).

One private room per person, created on first use with the person invited and marked ``is_direct``,
and remembered in the store so later messages go to the same room. When the person has left it (or
never joined and declined), a fresh room is made: a message nobody can read is a message lost.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import quote

import nio

from bridge.core.loop_guard import ORIGIN_MARKER_KEY
from bridge.matrix.sender import MatrixSender
from bridge.matrix.session import MatrixPermanentError, MatrixSession
from bridge.store.keyvalue import Settings

log = logging.getLogger(__name__)

_PRESENT = frozenset({"join", "invite"})


class DirectMessages:
    def __init__(self, session: MatrixSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    async def send(self, user_id: str, body: str, html: str | None = None) -> str:
        """Send ``body`` (and its HTML form) as a notice to ``user_id``; the event id."""
        room_id = await self._room(user_id)
        content: dict[str, object] = {
            "msgtype": "m.notice",
            "body": body,
            ORIGIN_MARKER_KEY: {"notice": "direct"},
        }
        if html is not None:
            content.update(format="org.matrix.custom.html", formatted_body=html)
        return await MatrixSender(self.session).send(room_id, content, f"icop.direct.{secrets.token_hex(8)}")

    async def _room(self, user_id: str) -> str:
        key = f"matrix.direct:{user_id}"
        known = await self.settings.get(key)
        if known is not None and await self._present(known, user_id):
            return known
        response = await self.session.call(
            f"create a direct room with {user_id}",
            self.session.client.room_create(
                is_direct=True, invite=[user_id], preset=nio.RoomPreset.trusted_private_chat
            ),
        )
        room_id: str = response.room_id
        await self.settings.set(key, room_id)
        log.info("matrix: opened a direct room with %s", user_id)
        return room_id

    async def _present(self, room_id: str, user_id: str) -> bool:
        path = f"/_matrix/client/v3/rooms/{quote(room_id)}/state/m.room.member/{quote(user_id)}"
        try:
            state = await self.session.request_json(f"read {user_id}'s membership of {room_id}", "GET", path)
        except MatrixPermanentError:
            return False
        return state.get("membership") in _PRESENT
