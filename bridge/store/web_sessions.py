"""Archive sign-in: sessions kept server-side and sign-in links that work once.

The cookie and the link carry random secrets; only their SHA-256 reaches the store, so a copy of the
database opens nothing. A session is a row: signing out deletes it, and an expired one is refused
even before it is purged. A sign-in link is consumed by one conditional UPDATE, so two clicks (or a
browser and a link scanner racing) cannot both succeed. Links are also counted per person and hour,
which is what keeps a stranger from flooding a member's mailbox through the sign-in form.
"""

from __future__ import annotations

from datetime import datetime

from bridge.core.model import Channel
from bridge.store.database import Database
from bridge.store.models import SignInLink, WebSession
from bridge.store.records import as_utc


class WebSessions:
    """Sessions of signed-in archive readers and the sign-in links that open them."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def open(self, token_hash: str, person_id: int, now: datetime, expires_at: datetime) -> None:
        async with self._db.session() as conn:
            await WebSession.create(
                token_hash=token_hash,
                person_id=person_id,
                created_at=as_utc(now),
                expires_at=as_utc(expires_at),
                using_db=conn,
            )

    async def person_of(self, token_hash: str, now: datetime) -> int | None:
        """Whose session this is, while it has not expired."""
        async with self._db.session() as conn:
            rows = (
                await WebSession.filter(token_hash=token_hash, expires_at__gt=as_utc(now))
                .using_db(conn)
                .values_list("person_id")
            )
        return int(rows[0][0]) if rows else None

    async def close(self, token_hash: str) -> bool:
        """Sign out: the session is gone for every copy of its cookie."""
        async with self._db.session() as conn:
            return bool(await WebSession.filter(token_hash=token_hash).using_db(conn).delete())

    async def issue_link(
        self, nonce_hash: str, person_id: int, channel: Channel, now: datetime, expires_at: datetime
    ) -> None:
        async with self._db.session() as conn:
            await SignInLink.create(
                nonce_hash=nonce_hash,
                person_id=person_id,
                channel=channel,
                created_at=as_utc(now),
                expires_at=as_utc(expires_at),
                using_db=conn,
            )

    async def links_since(self, person_id: int, since: datetime) -> int:
        """Sign-in links sent to the person since ``since`` (used or not)."""
        async with self._db.session() as conn:
            return await (
                SignInLink.filter(person_id=person_id, created_at__gte=as_utc(since)).using_db(conn).count()
            )

    async def link_usable(self, nonce_hash: str, now: datetime) -> bool:
        """Whether the link would still sign in (unused, unexpired), without using it."""
        async with self._db.session() as conn:
            return await (
                SignInLink.filter(nonce_hash=nonce_hash, used_at__isnull=True, expires_at__gt=as_utc(now))
                .using_db(conn)
                .exists()
            )

    async def consume_link(self, nonce_hash: str, now: datetime) -> int | None:
        """The person a valid, unused link signs in, marking it used; None for a used, expired or
        unknown link."""
        moment = as_utc(now)
        async with self._db.transaction() as tx:
            used = (
                await SignInLink.filter(nonce_hash=nonce_hash, used_at__isnull=True, expires_at__gt=moment)
                .using_db(tx.client)
                .update(used_at=moment)
            )
            if not used:
                return None
            rows = await SignInLink.filter(nonce_hash=nonce_hash).using_db(tx.client).values_list("person_id")
        return int(rows[0][0])

    async def purge(self, now: datetime, *, keep_links_since: datetime) -> int:
        """Delete expired sessions, and links older than ``keep_links_since`` (kept that long so the
        hourly count sees them); the number of rows deleted."""
        moment = as_utc(now)
        async with self._db.session() as conn:
            sessions = await WebSession.filter(expires_at__lte=moment).using_db(conn).delete()
            links = await SignInLink.filter(created_at__lt=as_utc(keep_links_since)).using_db(conn).delete()
        return int(sessions) + int(links)
