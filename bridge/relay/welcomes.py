"""Onboarding: every newcomer is welcomed once, on their channel, with what they need to take part.

Who is new: a member added to the roster in config, a reader who subscribed, anyone who joins the room.
A member who gets list mail is welcomed by mail; a member who only chats, and anyone joining the room,
by a notice in the room that mentions them (a Matrix client shows no per-reader zone and no private
greeting is needed: the room sees a newcomer welcomed). The welcome says the community's mission (its
``description``), who convenes it and who is on the core team, how to take part by mail or in chat, the
main tags and practices, the next meetings and how to get digests (the request address's and the
room's commands of DESIGN §6.3). Its words are the template pairs ``email/welcome`` and
``room/welcome``.

Once: each welcome is a row in the store, queued before it is sent (``bridge.store.welcomes``), so a
restart never greets anyone twice; it is sent by the ``Welcomer`` loop, retried with backoff while a
server is down, with a Message-ID and a transaction id derived from the row so a repeat after a crash is
recognised. Members who were there before welcomes existed count as welcomed. ``[[community]] welcome =
false`` turns greetings off for a community.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from bridge.config.schema import build_meeting_series
from bridge.core.links import community_url, practices_url, tag_url, thread_url
from bridge.core.loop_guard import ORIGIN_MARKER_KEY
from bridge.core.meeting_times import upcoming_for_reader
from bridge.core.message_ids import post_message_id
from bridge.core.model import Channel, DeliveryMode, Role
from bridge.email.mail_context import NamedLink, WelcomeContext
from bridge.email.outbound import OutgoingNotice, compose_welcome_mail
from bridge.email.smtp import SmtpSender
from bridge.matrix.events import MatrixJoin
from bridge.matrix.session import MatrixPermanentError, MatrixTemporaryError
from bridge.relay.community import CommunityContext
from bridge.relay.filing import tag_overview
from bridge.relay.mail_courier import send_to_member
from bridge.relay.worker import PermanentDeliveryError, TemporaryDeliveryError
from bridge.rendering import Renderer
from bridge.store import MemberRecord, RetryPolicy, Store, WelcomeRecord

log = logging.getLogger(__name__)

RoomSend = Callable[[str, Mapping[str, Any], str], Awaitable[str]]

MAIN_TAGS = 8
LISTED_PRACTICES = 5
LISTED_MEETINGS = 3
SCAN_EVERY = timedelta(minutes=5)  # memberships made elsewhere (a subscription, another process)
LEASE = timedelta(minutes=5)
WELCOME_KIND = "welcome"  # its Message-ID: icop.<welcome id>.welcome.0…@domain


def welcome_channel(member: MemberRecord) -> tuple[Channel, str] | None:
    """Where a new member is greeted: by mail when list mail reaches them, else in the room."""
    if member.email and member.delivery is not DeliveryMode.NONE:
        return Channel.EMAIL, member.email
    if member.matrix_id:
        return Channel.MATRIX, member.matrix_id
    if member.email:
        return Channel.EMAIL, member.email
    return None


class Welcomer:
    def __init__(
        self,
        store: Store,
        communities: Callable[[], Mapping[int, CommunityContext]],
        base_url: str,
        *,
        smtp: SmtpSender | None = None,
        send: RoomSend | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        renderer: Renderer | None = None,
        ready: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.store = store
        self.communities = communities
        self.base_url = base_url
        self.smtp = smtp
        self.send = send  # MatrixSender.send
        self.retry = retry or RetryPolicy()
        self.clock = clock
        self.renderer = renderer or Renderer()
        self.ready = ready
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    # -- who is new ----------------------------------------------------------------------------
    async def greet_newcomers(self, now: datetime) -> int:
        """Queue a welcome for each member not yet welcomed; returns how many were queued."""
        queued = 0
        for community in self.communities().values():
            if not community.config.welcome:
                continue
            for member in await self.store.welcomes.newcomers(community.id):
                where = welcome_channel(member)
                if where is None:
                    continue
                channel, address = where
                if channel is Channel.MATRIX and community.room_id is None:
                    continue  # greeted once the room is known
                queued += await self.store.welcomes.queue(
                    community.id, address, channel, membership_id=member.membership_id, now=now
                )
        if queued:
            self.wake()
        return queued

    async def room_joined(self, community: CommunityContext, join: MatrixJoin) -> None:
        """Someone joined the room: a member not yet welcomed, or a visitor, is greeted there."""
        if not community.config.welcome:
            return
        person = await self.store.communities.person_by_matrix_id(join.user_id)
        member = await self.store.communities.member(community.id, person.id) if person else None
        if member is not None and await self._welcomed(community, member.membership_id):
            return
        queued = await self.store.welcomes.queue(
            community.id,
            join.user_id,
            Channel.MATRIX,
            membership_id=member.membership_id if member else None,
            now=self.clock(),
        )
        if queued:
            log.info("newcomer in the room", extra={"community": community.slug, "user": join.user_id})
            self.wake()

    async def _welcomed(self, community: CommunityContext, membership_id: int) -> bool:
        rows = await self.store.welcomes.of_community(community.id)
        return any(r.membership_id == membership_id for r in rows)

    # -- the loop --------------------------------------------------------------------------------
    async def run(self) -> None:
        """Greet newcomers at start and every ``SCAN_EVERY``; send what is due; sleep until the next
        retry, a wake (a join, a new member) or the next scan. One process only, like the reminders:
        wrap it in the singleton lease where several daemons share PostgreSQL."""
        if self.ready is not None:
            await self.ready()
        next_scan = self.clock()
        while True:
            self._wake.clear()
            now = self.clock()
            if now >= next_scan:
                await self.greet_newcomers(now)
                next_scan = now + SCAN_EVERY
            await self.send_due(now)
            due = await self.store.welcomes.next_due_at()
            wake_at = min(next_scan, due) if due is not None else next_scan
            pause = max((wake_at - self.clock()).total_seconds(), 0.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)

    async def send_due(self, now: datetime) -> int:
        """Send the due welcomes; returns how many went out."""
        sent = 0
        for welcome in await self.store.welcomes.claim_due(now, LEASE):
            community = self.communities().get(welcome.community_id)
            if community is None:
                await self.store.welcomes.mark_failed(welcome.id, "community no longer configured", None)
                continue
            try:
                await self._send(community, welcome)
            except TemporaryDeliveryError as error:
                dead = welcome.attempts >= self.retry.max_attempts
                retry_at = None if dead else self.clock() + self.retry.delay(welcome.attempts)
                await self.store.welcomes.mark_failed(welcome.id, str(error), retry_at)
                log.log(
                    logging.ERROR if dead else logging.INFO,
                    "welcome to %s not sent: %s",
                    welcome.address,
                    error,
                    extra={"community": community.slug, "attempts": welcome.attempts},
                )
            except PermanentDeliveryError as error:
                await self.store.welcomes.mark_failed(welcome.id, str(error), None)
                log.error(
                    "welcome to %s refused: %s", welcome.address, error, extra={"community": community.slug}
                )
            else:
                await self.store.welcomes.mark_sent(welcome.id, self.clock())
                log.info(
                    "newcomer welcomed",
                    extra={
                        "community": community.slug,
                        "to": welcome.address,
                        "channel": welcome.channel.value,
                    },
                )
                sent += 1
        return sent

    async def _send(self, community: CommunityContext, welcome: WelcomeRecord) -> None:
        context = await self.context(community, welcome)
        if welcome.channel is Channel.EMAIL:
            if self.smtp is None:
                raise PermanentDeliveryError("no SMTP sender for welcomes")
            notice = OutgoingNotice(
                community=community.identity,
                recipient=welcome.address,
                subject=f"Welcome to {community.config.name}",
                title=f"Welcome to {community.config.name}",
                message_id=post_message_id(welcome.id, community.domain, kind=WELCOME_KIND),
                date=self.clock(),
            )
            mail = compose_welcome_mail(notice, context, renderer=self.renderer)
            await send_to_member(self.smtp, mail, community.config.list_address, welcome.address)
            return
        if self.send is None or community.room_id is None:
            raise TemporaryDeliveryError("the room is not reachable yet")
        text, html = self.renderer.render_pair("room/welcome", context)
        content = {
            "msgtype": "m.notice",
            "body": text.strip(),
            "format": "org.matrix.custom.html",
            "formatted_body": html.strip(),
            "m.mentions": {"user_ids": [welcome.address]},
            ORIGIN_MARKER_KEY: {"notice": "welcome", "welcome": welcome.id},
        }
        try:
            await self.send(community.room_id, content, f"icop.welcome.{welcome.id}")
        except MatrixPermanentError as error:
            raise PermanentDeliveryError(str(error)) from error
        except MatrixTemporaryError as error:
            raise TemporaryDeliveryError(str(error)) from error

    async def context(self, community: CommunityContext, welcome: WelcomeRecord) -> WelcomeContext:
        """What the welcome templates say to this newcomer."""
        config, slug, base = community.config, community.slug, self.base_url
        member = (
            await self.store.communities.member_record(welcome.membership_id)
            if welcome.membership_id
            else None
        )
        person = await self.store.communities.person_by_matrix_id(welcome.address)
        name = member.name if member else person.display_name if person else welcome.address
        zone = await self.store.communities.time_zone(member.membership_id) if member else None
        local, _, domain = config.list_address.partition("@")
        tags = (await tag_overview(self.store, community))[:MAIN_TAGS]
        practices = (await self.store.practices.catalogue(community.id))[:LISTED_PRACTICES]
        meetings = upcoming_for_reader(
            build_meeting_series(config), self.clock(), zone or config.time_zone, horizon=timedelta(days=31)
        )
        return {
            "person": name,
            "member": member is not None,
            "reader": member is not None and member.role is Role.READER,
            "community": config.name,
            "mission": config.description,
            "conveners": [m.name for m in config.member if m.role == "convener"],
            "core_team": [m.name for m in config.member if m.role == "core"],
            "list_address": config.list_address,
            "request_address": f"{local}+request@{domain}",
            "room": config.room,
            "room_url": f"https://matrix.to/#/{quote(config.room, safe='')}",
            "archive_url": community_url(base, slug),
            "practices_url": practices_url(base, slug),
            "tags": [NamedLink(label=t.name, url=tag_url(base, slug, t.name)) for t in tags],
            "practices": [
                NamedLink(label=p.practice.title, url=thread_url(base, slug, p.practice.thread_id))
                for p in practices
            ],
            "meetings": [f"{m.title}: {m.when}" for m in meetings[:LISTED_MEETINGS]],
        }
