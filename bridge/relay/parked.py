"""After the shunt: conveners told once about each parked message, and parked messages re-processed when a
convener asks (``icop parked retry``, typically after an upgrade fixed the cause).

One supervised loop does both. It wakes when the shunt parks something, and otherwise looks every few
seconds for rows a convener queued from the command line (another process). A re-processed message goes
through the same handler as when it arrived; ingest is idempotent by origin key, so one that now
succeeds is relayed exactly once, even if it is queued twice or two processes claim it in turn.

Notices go by mail to the conveners of the message's community (to every community's conveners when the
mail named no list of ours), sent directly with a few quick retries like the bounce notices, and to the
community's moderators' room when one is configured. The room of the community itself is never told:
parked mail is often a stranger's, and its details are not for everyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import make_msgid

from bridge.core.loop_guard import ORIGIN_MARKER_KEY
from bridge.core.model import Channel, MembershipState, Role
from bridge.email.inbox import FetchedMail
from bridge.email.outbound import OutgoingNotice
from bridge.email.smtp import SmtpSender, SmtpTemporaryError
from bridge.relay.community import CommunityContext
from bridge.relay.direct_notices import mail_notice
from bridge.relay.failures import FailureKind, classify_failure, describe_failure
from bridge.rendering import Renderer
from bridge.store import ParkedRecord, Store

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
"""How often queued rows are looked for: ``icop parked retry`` runs in another process."""
STALE_CLAIM = timedelta(minutes=10)
"""A claim older than this was left by a process that died while re-processing."""
NOTICE_BACKOFF_MAX = 300.0

MailHandler = Callable[[FetchedMail], Awaitable[None]]
EventHandler = Callable[[str, bytes], Awaitable[None]]
RoomSend = Callable[[str, dict[str, object], str], Awaitable[object]]


def size_label(size: int) -> str:
    return f"{size} bytes" if size < 1024 else f"{size / 1024:.1f} KB"


def parked_line(record: ParkedRecord, *, details: bool) -> str:
    """One parked message in a sentence; ``details`` (sender, subject) only where only conveners read."""
    where = "mail" if record.channel is Channel.EMAIL else "Matrix event"
    line = f"{record.id}: {where}, {size_label(record.size)}"
    if details:
        line += f", from {record.sender or 'unknown'}"
        if record.subject:
            line += f", “{record.subject}”"
    return f"{line}: {record.reason}"


class ParkedNotices:
    """Tells the conveners of a community (and its moderators' room) about newly parked messages."""

    def __init__(
        self,
        store: Store,
        smtp: SmtpSender,
        room_send: RoomSend | None = None,
        *,
        moderators_rooms: Callable[[], Mapping[int, str]] = dict,
        renderer: Renderer | None = None,
        attempts: int = 3,
        retry_delay: float = 2.0,
    ) -> None:
        self.store = store
        self.smtp = smtp
        self.room_send = room_send
        self.moderators_rooms = moderators_rooms  # community id → moderators' room id
        self.renderer = renderer or Renderer()
        self.attempts = attempts
        self.retry_delay = retry_delay

    async def tell(self, community: CommunityContext, records: Sequence[ParkedRecord], *, own: bool) -> None:
        """Mail every active convener of ``community`` about ``records``; ``own`` when the messages are
        this community's (details shown), False when they named no list (only what and why)."""
        items = tuple(parked_line(r, details=own) for r in records)
        ids = " ".join(str(r.id) for r in records)
        count = len(records)
        what = "A message" if count == 1 else f"{count} messages"
        paragraphs = (
            f"{what} to {community.config.list_address if own else 'a list of this bridge'} could not be "
            "handled and "
            f"{'was' if count == 1 else 'were'} set aside, so the messages after "
            f"{'it' if count == 1 else 'them'} kept flowing. Nothing is lost: the raw message and the "
            "reason are kept.",
            "On the server: icop parked list shows them; icop parked retry "
            f"{ids} re-processes them once the cause is fixed (after an upgrade, say); icop parked "
            f"discard {ids} drops them.",
        )
        for member in await self.store.communities.recipients(community.id):
            if member.role is not Role.CONVENER or member.state is not MembershipState.ACTIVE:
                continue
            if not member.email:
                continue
            await self._mail(
                OutgoingNotice(
                    community=community.identity,
                    recipient=member.email,
                    subject=f"{what} could not be handled",
                    title=f"{what} could not be handled",
                    message_id=make_msgid("icop-parked", domain=community.domain).strip("<>"),
                    paragraphs=paragraphs,
                    items=items,
                )
            )
        room = self.moderators_rooms().get(community.id) if own else None
        if room is not None and self.room_send is not None:
            body = "\n".join(
                (f"{what} could not be handled and {'was' if count == 1 else 'were'} parked:", *items)
            )
            content: dict[str, object] = {
                "msgtype": "m.notice",
                "body": body
                + f"\n`icop parked retry {ids}` re-processes, `icop parked discard {ids}` drops.",
                ORIGIN_MARKER_KEY: {"notice": "parked"},
            }
            try:
                await self.room_send(room, content, f"icop.parked.{records[0].id}.{records[-1].id}")
            except Exception as error:  # the mail went; the room is a courtesy
                log.warning("could not post the parked-message notice in the moderators' room: %s", error)

    async def _mail(self, notice: OutgoingNotice) -> None:
        await mail_notice(
            self.smtp, notice, self.renderer, attempts=self.attempts, retry_delay=self.retry_delay
        )


class ParkedWork:
    """The loop that tells conveners about parked messages and re-processes the queued ones."""

    def __init__(
        self,
        store: Store,
        communities: Callable[[], Mapping[int, CommunityContext]],
        *,
        mail: MailHandler,
        notices: ParkedNotices | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.store = store
        self.communities = communities
        self.mail = mail
        self.event: EventHandler | None = None  # set once the Matrix loop is up
        self.notices = notices
        self.clock = clock
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._notices_due = 0.0  # monotonic time of the next try after a failed notice
        self._notice_delay = 0.0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        # The first round waits too: starting up, the ingest loops come first.
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()
            await self.tell()
            await self.reprocess()

    async def tell(self) -> int:
        """Tell about every parked message nobody was told of yet; how many were told."""
        if self.notices is None or time.monotonic() < self._notices_due:
            return 0
        untold = await self.store.parked.untold()
        if not untold:
            return 0
        communities = self.communities()
        groups: dict[int | None, list[ParkedRecord]] = {}
        for record in untold:
            known = record.community_id if record.community_id in communities else None
            groups.setdefault(known, []).append(record)
        told: list[int] = []
        try:
            for community_id, records in groups.items():
                if community_id is not None:
                    await self.notices.tell(communities[community_id], records, own=True)
                else:  # mail that named no list: every community's conveners look after the bridge
                    for community in communities.values():
                        await self.notices.tell(community, records, own=False)
                told.extend(r.id for r in records)
        except SmtpTemporaryError as error:
            self._notice_delay = min(max(self._notice_delay * 2, self.poll_seconds), NOTICE_BACKOFF_MAX)
            self._notices_due = time.monotonic() + self._notice_delay
            log.warning("could not tell the conveners about parked messages yet: %s", error)
        else:
            self._notice_delay = 0.0
        if told:
            await self.store.parked.mark_told(told, self.clock())
        return len(told)

    async def reprocess(self) -> int:
        """Re-process every queued message; how many were handled this time."""
        handled = 0
        for record in await self.store.parked.claim_queued(self.clock(), stale_after=STALE_CLAIM):
            data = await self.store.parked.data(record.id)
            if data is None:
                continue
            try:
                await self._handle(record, data)
            except Exception as error:
                kind = classify_failure(error)
                if kind is FailureKind.TRANSIENT:
                    await self.store.parked.release(record.id, self.clock())
                    log.warning(
                        "re-processing parked message %d waits: %s", record.id, describe_failure(error)
                    )
                    continue
                await self.store.parked.failed_again(
                    record.id, describe_failure(error), kind.value, self.clock()
                )
                log.error(
                    "parked message %d failed again: %s",
                    record.id,
                    describe_failure(error),
                    exc_info=kind is FailureKind.UNEXPECTED,
                )
                continue
            await self.store.parked.done(record.id, self.clock())
            handled += 1
            log.info("parked message %d re-processed", record.id, extra={"channel": record.channel.value})
        return handled

    async def _handle(self, record: ParkedRecord, data: bytes) -> None:
        if record.channel is Channel.EMAIL:
            await self.mail(FetchedMail(0, 0, data, (), None))
            return
        if self.event is None:
            raise ConnectionError("the Matrix loop is not connected yet")
        await self.event(record.source, data)
