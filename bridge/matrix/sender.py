"""Outbound Matrix calls for the outbox: send, redact, upload, download.

Each call either returns what the outbox records (an event id, an mxc URI) or raises a
``MatrixTemporaryError`` (retry later) or ``MatrixPermanentError`` (park the delivery). Sends and
redactions take the transaction id from the caller, derived from the outbox row
(``bridge.core.message_ids.matrix_txn_id``): a retry after a crash repeats the same PUT, and the
homeserver answers with the event it already made instead of posting twice.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Mapping
from typing import Any

from bridge.matrix.session import MatrixPermanentError, MatrixSession, MatrixTemporaryError

MESSAGE_EVENT = "m.room.message"


class MatrixSender:
    """The session's client, seen from the outbox."""

    def __init__(self, session: MatrixSession) -> None:
        self._session = session

    async def send(
        self, room_id: str, content: Mapping[str, Any], txn_id: str, *, event_type: str = MESSAGE_EVENT
    ) -> str:
        """Send one event; its event id (the same one again for a repeated ``txn_id``)."""
        response = await self._session.call(
            f"send to {room_id}",
            self._session.client.room_send(room_id, event_type, dict(content), tx_id=txn_id),
        )
        return _event_id(response, f"send to {room_id}")

    async def redact(self, room_id: str, event_id: str, reason: str | None, txn_id: str) -> str:
        """Redact ``event_id``; the redaction's own event id."""
        response = await self._session.call(
            f"redact {event_id} in {room_id}",
            self._session.client.room_redact(room_id, event_id, reason=reason, tx_id=txn_id),
        )
        return _event_id(response, f"redact {event_id}")

    async def upload(self, data: bytes, content_type: str, filename: str) -> str:
        """Put a file into the media repository; its ``mxc://`` URI."""
        what = f"upload {filename} ({len(data)} bytes)"
        request = self._session.client.upload(
            io.BytesIO(data), content_type=content_type, filename=filename, filesize=len(data)
        )
        response = await self._session.call(what, _first(request))
        uri = getattr(response, "content_uri", None)
        if not isinstance(uri, str) or not uri.startswith("mxc://"):
            raise MatrixTemporaryError(f"{what}: the homeserver answered without a content URI")
        return uri

    async def download(self, mxc: str) -> tuple[bytes, str]:
        """The bytes and content type of an ``mxc://`` URI."""
        return await self._session.download(mxc)


async def _first(request: Awaitable[tuple[Any, Any]]) -> Any:
    """nio's upload answers (response, decryption keys); ``call`` checks the response."""
    response, _ = await request
    return response


def _event_id(response: object, what: str) -> str:
    event_id = getattr(response, "event_id", None)
    if not isinstance(event_id, str) or not event_id:
        raise MatrixPermanentError(f"{what}: the homeserver answered without an event id")
    return event_id
