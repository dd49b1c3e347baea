"""Reactions on posts: counted once per reaction event, taken back when the reaction is redacted.

The archive and digests rank threads partly by reactions; a count that a replayed sync could inflate
would reward whatever arrived during a crash loop, so each reaction is kept by its event id.
"""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from bridge.store.database import Database, Transaction
from bridge.store.fit import fit_key
from bridge.store.models import ADDRESS_LENGTH, EVENT_ID_LENGTH, Post, Reaction


class Reactions:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        community_id: int,
        target_event_id: str,
        event_id: str,
        key: str,
        sender: str,
        *,
        tx: Transaction | None = None,
    ) -> bool:
        """Count a reaction to the post known by ``target_event_id``; False if unknown or counted."""
        target_event_id, event_id = (
            fit_key(target_event_id, EVENT_ID_LENGTH),
            fit_key(event_id, EVENT_ID_LENGTH),
        )
        key, sender = fit_key(key, EVENT_ID_LENGTH), fit_key(sender, ADDRESS_LENGTH)
        async with self._db.session(tx) as conn:
            post_ids = (
                await Post.filter(community_id=community_id, matrix_event_id=target_event_id)
                .using_db(conn)
                .values_list("id", flat=True)
            )
        if not post_ids:
            return False
        try:
            async with self._db.transaction(tx) as inner:
                await Reaction.create(
                    post_id=post_ids[0], event_id=event_id, key=key, sender=sender, using_db=inner.client
                )
                await (
                    Post.filter(id=post_ids[0])
                    .using_db(inner.client)
                    .update(reaction_count=F("reaction_count") + 1)
                )
        except IntegrityError:  # this event, or this sender's same key, is already counted
            return False
        return True

    async def remove(self, event_id: str, *, tx: Transaction | None = None) -> bool:
        """Take back a redacted reaction; False when it was never counted."""
        event_id = fit_key(event_id, EVENT_ID_LENGTH)
        async with self._db.transaction(tx) as inner:
            reaction = await Reaction.filter(event_id=event_id).using_db(inner.client).first()
            if reaction is None:
                return False
            await Reaction.filter(id=reaction.id).using_db(inner.client).delete()
            await (
                Post.filter(id=reaction.post_id)
                .using_db(inner.client)
                .update(reaction_count=F("reaction_count") - 1)
            )
        return True

    async def by_key(self, post_id: int) -> dict[str, int]:
        """How many of each reaction a post has, e.g. ``{"👍": 3}``."""
        async with self._db.session() as conn:
            keys = await Reaction.filter(post_id=post_id).using_db(conn).values_list("key", flat=True)
        counts: dict[str, int] = {}
        for reaction_key in keys:
            counts[str(reaction_key)] = counts.get(str(reaction_key), 0) + 1
        return counts
