"""The audit log: every moderation, tagging, practice and subscription action on a community.

The repositories that carry out these actions write the event themselves, in the transaction of the
action (``record``): a tag is never filed without its line in the log, nor the other way round, whoever
asked (the room, a mail, the command line, the web). ``icop audit`` reads it back.

Actors: a Matrix id or an email address for a person, ``cli`` for the command line, ``icop-bridge`` for
what a rule did on its own (a keyword's tag, a suspension for bounces). Targets name what was acted on:
``thread 12``, ``post 40``, ``member ana@example.org``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bridge.store.database import Database, Transaction
from bridge.store.models import AuditEvent
from bridge.store.records import as_utc

BRIDGE_ACTOR = "icop-bridge"
MAX_DETAIL = 2000


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    community_id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: str


async def record(
    tx: Transaction,
    community_id: int,
    actor: str | None,
    action: str,
    target: str,
    detail: str = "",
    *,
    now: datetime,
) -> None:
    """Write one event in ``tx``, the transaction of the action it records."""
    await AuditEvent.create(
        community_id=community_id,
        at=as_utc(now),
        actor=(actor or BRIDGE_ACTOR)[:320],
        action=action,
        target=target[:400],
        detail=detail[:MAX_DETAIL],
        using_db=tx.client,
    )


class AuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        community_id: int,
        actor: str | None,
        action: str,
        target: str,
        detail: str = "",
        *,
        now: datetime,
        tx: Transaction | None = None,
    ) -> None:
        async with self._db.transaction(tx) as inner:
            await record(inner, community_id, actor, action, target, detail, now=now)

    async def of_community(
        self,
        community_id: int,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        action: str | None = None,
    ) -> list[AuditRecord]:
        """The community's events, oldest first (of a period, of one kind of action)."""
        async with self._db.session() as conn:
            query = AuditEvent.filter(community_id=community_id)
            if since is not None:
                query = query.filter(at__gte=as_utc(since))
            if until is not None:
                query = query.filter(at__lt=as_utc(until))
            if action is not None:
                query = query.filter(action=action)
            rows = await query.using_db(conn).order_by("at", "id")
        return [
            AuditRecord(r.id, r.community_id, as_utc(r.at), r.actor, r.action, r.target, r.detail)
            for r in rows
        ]
