"""Held posts and the conveners' decisions on them, banned senders, and who was told how to join.

A decision is one transaction: the post leaves the held state only if it is still held (two conveners
deciding at once: the first wins, the second is told), the decision is recorded with its reason, the
outbox rows it causes (the relay of an approved post, the rejection notice) are queued, and a ban is
written. Nothing here decides who may moderate or what to deliver; the relay does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError

from bridge.core.model import DeliverySpec, PostState
from bridge.store import audit
from bridge.store.database import Database, Transaction
from bridge.store.fit import fit_key
from bridge.store.models import ADDRESS_LENGTH, JoinHint, ModerationDecision, Post, SenderBan
from bridge.store.outbox import create_deliveries
from bridge.store.records import as_utc


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    post_id: int
    decision: str  # approved | rejected | banned
    reason: str | None
    decided_by: str
    decided_at: datetime


class ModerationLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def held_ids(self, community_id: int | None = None) -> list[int]:
        """Ids of the posts waiting for a decision, oldest first (of one community, or of all)."""
        async with self._db.session() as conn:
            query = Post.filter(state=PostState.HELD)
            if community_id is not None:
                query = query.filter(community_id=community_id)
            rows = await query.using_db(conn).order_by("id").values_list("id")
        return [int(r[0]) for r in rows]

    async def decide(
        self,
        post_id: int,
        state: PostState,
        decision: str,
        *,
        decided_by: str,
        now: datetime,
        reason: str | None = None,
        deliveries: Sequence[DeliverySpec] = (),
        delivery_revision: int = 0,
        ban: tuple[int, str] | None = None,  # (community id, address)
        tx: Transaction | None = None,
    ) -> bool:
        """Move a held post to ``state`` with everything the decision causes; False if it was not held."""
        now = as_utc(now)
        async with self._db.transaction(tx) as inner:
            conn = inner.client
            count = await Post.filter(id=post_id, state=PostState.HELD).using_db(conn).update(state=state)
            if count == 0:
                return False
            community_id = (await Post.filter(id=post_id).using_db(conn).values_list("community_id"))[0][0]
            action = {"approved": "post.approve", "rejected": "post.reject", "banned": "post.ban"}[decision]
            await audit.record(
                inner, int(community_id), decided_by, action, f"post {post_id}", reason or "", now=now
            )
            await ModerationDecision.create(
                post_id=post_id,
                decision=decision,
                reason=reason,
                decided_by=decided_by,
                decided_at=now,
                using_db=conn,
            )
            await create_deliveries(post_id, deliveries, revision=delivery_revision, now=now, tx=inner)
            if ban is not None:
                community_id, address = ban[0], fit_key(ban[1].strip().lower(), ADDRESS_LENGTH)
                exists = await SenderBan.filter(community_id=community_id, address=address).using_db(conn)
                if not exists:
                    await SenderBan.create(
                        community_id=community_id,
                        address=address,
                        reason=reason,
                        banned_by=decided_by,
                        created_at=now,
                        using_db=conn,
                    )
        return True

    async def decision(self, post_id: int) -> DecisionRecord | None:
        async with self._db.session() as conn:
            row = await ModerationDecision.filter(post_id=post_id).using_db(conn).first()
        if row is None:
            return None
        return DecisionRecord(row.post_id, row.decision, row.reason, row.decided_by, row.decided_at)

    async def is_banned(self, community_id: int, address: str) -> bool:
        async with self._db.session() as conn:
            return (
                await SenderBan.filter(
                    community_id=community_id, address=fit_key(address.strip().lower(), ADDRESS_LENGTH)
                )
                .using_db(conn)
                .exists()
            )

    async def remember_told(self, community_id: int, address: str, now: datetime) -> bool:
        """Record that ``address`` was told how to join; False when it already was (tell nobody twice)."""
        address = fit_key(address, ADDRESS_LENGTH)
        try:
            async with self._db.session() as conn:
                if await JoinHint.filter(community_id=community_id, address=address).using_db(conn).exists():
                    return False
                await JoinHint.create(
                    community_id=community_id, address=address, told_at=as_utc(now), using_db=conn
                )
        except IntegrityError:
            return False  # told concurrently by another process
        return True

    async def forget_told(self, community_id: int, address: str) -> None:
        """The hint could not be posted: let the next post try again."""
        address = fit_key(address, ADDRESS_LENGTH)
        async with self._db.session() as conn:
            await JoinHint.filter(community_id=community_id, address=address).using_db(conn).delete()
