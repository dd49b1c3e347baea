"""Monthly report mails: one per convener or core member and month, even across restarts and processes.

A sender first *claims* the (membership, month) rows of everyone due: the unique index lets exactly one
claim of each succeed, whichever process (or restart) tries. The claim is a lease (``claimed_until``):
a sender killed between its claim and its send leaves a row that is taken over once the lease has run
out. The row is marked sent just before the final dot of SMTP DATA (``SmtpSender.send_committed``), so a
kill at any moment sends the mail at most once. A temporary failure hands the row back with a later
``claimed_until`` (the retry's backoff); a permanent one, or too many attempts, parks it as dead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import F

from bridge.core.model import DeliveryMode, DeliveryState, MembershipState, Role
from bridge.store.database import Database
from bridge.store.models import Identity, IdentityKind, Membership, Person, ReportMail
from bridge.store.records import as_utc

TEAM_ROLES = (Role.CONVENER, Role.CORE)


@dataclass(frozen=True, slots=True)
class TeamRecipient:
    membership_id: int
    name: str
    email: str
    role: Role


@dataclass(frozen=True, slots=True)
class ReportMailRecord:
    id: int
    membership_id: int
    period_start: datetime
    period_end: datetime
    state: DeliveryState
    attempts: int
    message_id: str | None
    sent_at: datetime | None
    last_error: str | None


class ReportMails:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def recipients(self, community_id: int, *, joined_by: datetime) -> list[TeamRecipient]:
        """Active conveners and core members with an address who take mail (delivery other than
        ``none``) and whose membership existed at ``joined_by``, conveners first."""
        async with self._db.session() as conn:
            rows = (
                await Membership.filter(
                    community_id=community_id,
                    state=MembershipState.ACTIVE,
                    role__in=TEAM_ROLES,
                    created_at__lte=as_utc(joined_by),
                )
                .exclude(delivery=DeliveryMode.NONE)
                .using_db(conn)
                .order_by("id")
                .values_list("id", "person_id", "role")
            )
            people = [person for _, person, _ in rows]
            names = dict(await Person.filter(id__in=people).using_db(conn).values_list("id", "display_name"))
            addresses = (
                await Identity.filter(person_id__in=people, kind=IdentityKind.EMAIL)
                .using_db(conn)
                .order_by("-id")
                .values_list("person_id", "address")
            )
        emails = dict(addresses)  # the oldest address of each person wins (read newest first)
        found = [
            TeamRecipient(membership, str(names.get(person, "")), emails[person], Role(role))
            for membership, person, role in rows
            if person in emails
        ]
        return sorted(found, key=lambda r: TEAM_ROLES.index(r.role))

    async def claim(
        self,
        community_id: int,
        period_start: datetime,
        period_end: datetime,
        membership_ids: Iterable[int],
        *,
        worker: str,
        lease_until: datetime,
    ) -> dict[int, int]:
        """Claim the month's mail for each membership in one statement; ``worker`` must be unique to
        this run. Returns membership → row id for the claims this run won (a month claimed before, by
        anyone, is left out)."""
        rows = [
            ReportMail(
                community_id=community_id,
                membership_id=membership_id,
                period_start=as_utc(period_start),
                period_end=as_utc(period_end),
                state=DeliveryState.SENDING,
                claimed_by=worker,
                claimed_until=as_utc(lease_until),
                attempts=1,
            )
            for membership_id in membership_ids
        ]
        if not rows:
            return {}
        async with self._db.transaction() as tx:
            await ReportMail.bulk_create(rows, ignore_conflicts=True, using_db=tx.client)
            won = (
                await ReportMail.filter(claimed_by=worker, state=DeliveryState.SENDING)
                .using_db(tx.client)
                .values_list("membership_id", "id")
            )
        return {int(membership): int(row) for membership, row in won}

    async def stale(self, community_id: int, now: datetime) -> list[ReportMailRecord]:
        """Claimed mails of the community whose lease ran out (a dead sender, a retry that is due)."""
        async with self._db.session() as conn:
            rows = (
                await ReportMail.filter(
                    community_id=community_id, state=DeliveryState.SENDING, claimed_until__lt=as_utc(now)
                )
                .using_db(conn)
                .order_by("id")
            )
        return [_record(row) for row in rows]

    async def take_over(self, mail_id: int, *, worker: str, now: datetime, lease_until: datetime) -> bool:
        """Claim a row whose lease ran out; False when another sender got there first."""
        async with self._db.session() as conn:
            count = await (
                ReportMail.filter(id=mail_id, state=DeliveryState.SENDING, claimed_until__lt=as_utc(now))
                .using_db(conn)
                .update(claimed_by=worker, claimed_until=as_utc(lease_until), attempts=F("attempts") + 1)
            )
        return count > 0

    async def mark_sent(self, mail_id: int, message_id: str, at: datetime) -> None:
        await self._update(
            mail_id,
            state=DeliveryState.SENT,
            message_id=message_id,
            sent_at=as_utc(at),
            claimed_until=None,
            last_error=None,
        )

    async def retry_later(self, mail_id: int, error: str, at: datetime) -> None:
        """A temporary failure (also after the row was marked sent and the server refused the dot)."""
        await self._update(
            mail_id,
            state=DeliveryState.SENDING,
            sent_at=None,
            claimed_by=None,
            claimed_until=as_utc(at),
            last_error=error[:2000],
        )

    async def give_up(self, mail_id: int, error: str) -> None:
        await self._update(mail_id, state=DeliveryState.DEAD, claimed_until=None, last_error=error[:2000])

    async def get(self, mail_id: int) -> ReportMailRecord | None:
        async with self._db.session() as conn:
            row = await ReportMail.filter(id=mail_id).using_db(conn).first()
        return _record(row) if row is not None else None

    async def of_month(self, community_id: int, period_start: datetime) -> list[ReportMailRecord]:
        """Every mail of the community's report that starts at ``period_start``, by row."""
        async with self._db.session() as conn:
            rows = (
                await ReportMail.filter(community_id=community_id, period_start=as_utc(period_start))
                .using_db(conn)
                .order_by("id")
            )
        return [_record(row) for row in rows]

    async def _update(self, mail_id: int, **values: object) -> None:
        async with self._db.session() as conn:
            await ReportMail.filter(id=mail_id).using_db(conn).update(**values)


def _record(row: ReportMail) -> ReportMailRecord:
    return ReportMailRecord(
        id=row.id,
        membership_id=row.membership_id,
        period_start=as_utc(row.period_start),
        period_end=as_utc(row.period_end),
        state=DeliveryState(row.state),
        attempts=row.attempts,
        message_id=row.message_id,
        sent_at=as_utc(row.sent_at) if row.sent_at else None,
        last_error=row.last_error,
    )
