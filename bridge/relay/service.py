"""The relay as one daemon component: builds the adapters from config and hands their loops to the
supervisor.

The loops: the Matrix loop (log in, resolve and join the rooms, then sync forever), the mailbox loop
(waits until every room id is known, so no mail is routed without its room, then reads the mailbox
forever), a delivery worker per channel, the parked messages' retries and notices, the meeting
reminders (``bridge.relay.reminders``, sleeping until the next reminder is due) and the welcomes of
newcomers (``bridge.relay.welcomes``). Each is restarted with backoff by the supervisor when it fails,
so a homeserver or mail server that is down at start delays the bridge; it does not stop it.

The Matrix sync, the mailbox, the parked messages, the reminders and the welcomes run under a lease
(``bridge.store.lease``): with several processes on one PostgreSQL, one of them runs each while the
others stand by and deliver; on SQLite the one process holds them all. Every process logs in and joins
the rooms, since every process delivers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta

from aiohttp import web

from bridge.archive.search import ArchiveSearch
from bridge.config import LoadedConfig
from bridge.config.secrets import SecretRef
from bridge.core.loop_guard import ORIGIN_MARKER_KEY
from bridge.core.model import Channel
from bridge.digest.component import DigestComponent
from bridge.digest.mail import MailRequests
from bridge.email.inbox import ImapInbox
from bridge.email.smtp import SmtpSender
from bridge.health import LoopStatus
from bridge.logs import SecretRedactor
from bridge.matrix.sender import MatrixSender
from bridge.matrix.session import MatrixError, MatrixSession
from bridge.matrix.sync import SyncLoop
from bridge.metrics import Metrics
from bridge.relay.bounces import (
    BounceHandler,
    BounceNotices,
    BounceOutcome,
    MailAndRoomNotices,
    bounce_policy,
)
from bridge.relay.community import CommunityContext, sync_community
from bridge.relay.failures import MessageFailure
from bridge.relay.faults import NO_FAULTS, Faults
from bridge.relay.filing import ArchiveFiling
from bridge.relay.from_email import MailInbound
from bridge.relay.from_matrix import MatrixInbound
from bridge.relay.ingest import Ingestor
from bridge.relay.keys import signing_key
from bridge.relay.mail_courier import MailCourier
from bridge.relay.matrix_courier import MatrixCourier
from bridge.relay.moderation import JoinHints, Moderation, SenderGate
from bridge.relay.notices import NoticeCourier
from bridge.relay.parked import ParkedNotices, ParkedWork
from bridge.relay.persistence import StoredInboxCursor, StoredMatrixLogin, StoredSince, sync_cursor_key
from bridge.relay.reminder_mail import ReminderCourier
from bridge.relay.reminders import Reminders
from bridge.relay.room_commands import RoomCommands
from bridge.relay.room_commands.families import every_family
from bridge.relay.shunt import Shunt
from bridge.relay.welcomes import Welcomer
from bridge.relay.worker import Courier, DeliveryWorker
from bridge.rendering import Renderer
from bridge.store import Database, MemberRecord, OutboxEntry, RetryPolicy, Store
from bridge.store.lease import Lease, LocalLocks, Locks
from bridge.web.files import FileLinks, FilePages
from bridge.web.unsubscribe import UnsubscribePages

log = logging.getLogger(__name__)


class RelayService:
    """Matrix ⇄ email for every configured community."""

    name = "relay"

    def __init__(
        self,
        loaded: LoadedConfig,
        database: Database,
        redactor: SecretRedactor | None = None,
        *,
        metrics: Metrics | None = None,
        locks: Locks | None = None,
        process: str | None = None,
        digests: DigestComponent | None = None,
        faults: Faults = NO_FAULTS,
    ) -> None:
        self.digests = digests  # subscription requests by mail and !icop digest go to its desk
        self.faults = faults  # test-only (bridge.relay.faults); none in a deployment
        self.loaded = loaded
        config = loaded.config
        self.metrics = metrics if metrics is not None else Metrics()
        self.locks = locks if locks is not None else LocalLocks()
        self.process = process or f"{socket.gethostname()}:{os.getpid()}"
        imap = config.mail.imap
        self.matrix_status, self.mailbox_status = LoopStatus(), LoopStatus()
        self.leases = {
            "matrix": Lease(self.locks, f"matrix sync {config.matrix.user_id}", label="matrix"),
            "mailbox": Lease(self.locks, f"mailbox {imap.user}@{imap.host}/{imap.mailbox}", label="mailbox"),
            # Parked messages are retried and told about by one process, so conveners hear once.
            "parked": Lease(self.locks, "parked messages", label="parked"),
            # A meeting's reminders are posted by one process, so a room and a mailbox get each once.
            "meetings": Lease(self.locks, "meeting reminders", label="meetings"),
            "welcomes": Lease(self.locks, "welcomes", label="welcomes"),
        }
        outbox = config.outbox
        self.store = Store(
            database,
            retry_policy=RetryPolicy(
                max_attempts=outbox.max_attempts,
                base=timedelta(seconds=outbox.backoff_base_seconds),
                cap=timedelta(seconds=outbox.backoff_max_seconds),
                jitter=0.2,
            ),
        )
        self.redactor = redactor
        self.communities: dict[int, CommunityContext] = {}
        self.rooms_ready = asyncio.Event()
        self.session: MatrixSession | None = None
        self.smtp: SmtpSender | None = None
        self.inbox: ImapInbox | None = None
        self.workers: dict[Channel, DeliveryWorker] = {}
        self.ingestor: Ingestor | None = None
        self.moderation: Moderation | None = None
        self.filing: ArchiveFiling | None = None
        self.signing_key: bytes | None = None
        self.parked: ParkedWork | None = None
        self.shunt: Shunt | None = None
        self.moderators_rooms: dict[int, str] = {}  # community id → its moderators' room id, once joined
        self.reminders: Reminders | None = None
        self.welcomer: Welcomer | None = None

    # -- secrets -----------------------------------------------------------------------------
    def _read(self, ref: SecretRef | None) -> str | None:
        if ref is None:
            return None
        value = ref.read()
        if self.redactor is not None:
            self.redactor.add(value)
        return value

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        loaded, config = self.loaded, self.loaded.config
        await self._sync_communities()
        await self._refresh_communities()
        self.signing_key = key = await signing_key(loaded, self.store.settings)
        if self.redactor is not None:
            self.redactor.add(key.decode(errors="replace"))
        matrix = config.matrix
        self.session = MatrixSession(
            matrix,
            access_token=self._read(loaded.secret(matrix.access_token_env, matrix.access_token_file)),
            password=self._read(loaded.secret(matrix.password_env, matrix.password_file)),
        )
        smtp = config.mail.smtp
        self.smtp = SmtpSender(smtp, self._read(loaded.secret(smtp.password_env, smtp.password_file)))
        mail = MailCourier(self.store, self.smtp, self._by_id, key, config.base_url)
        couriers: dict[Channel, Courier] = {
            Channel.MATRIX: MatrixCourier(
                self.store,
                MatrixSender(self.session),
                self._by_id,
                file_links=FileLinks(config.base_url, key),
            ),
            # Meeting reminders are list mail with a personal time and an invitation.
            Channel.EMAIL: ReminderCourier(self.store, mail, self.smtp, self._by_id, config.base_url),
        }
        notices = MatrixSender(self.session)  # held-post notices ride the outbox like posts
        couriers = {
            channel: NoticeCourier(self.store, inner, self._by_id, matrix=notices, smtp=self.smtp)
            for channel, inner in couriers.items()
        }
        # One delivery lane per channel, so the room never waits for a round of mail and vice versa.
        self.workers = {
            channel: DeliveryWorker(
                self.store,
                couriers,
                self.process,
                email_concurrency=smtp.connections * 8,  # mails composed while others are on the wire
                channel=channel,
                on_dead=self._tell_conveners,
                metrics=self.metrics,
                alive=self.locks.alive,
            )
            for channel in (Channel.MATRIX, Channel.EMAIL)
        }
        self.filing = ArchiveFiling(self.store)
        self.moderation = Moderation(self.store, on_queued=self._wake, filing=self.filing)
        self.ingestor = Ingestor(
            self.store,
            key,
            on_queued=self._wake,
            gate=self.moderation,
            filing=self.filing,
            metrics=self.metrics,
            faults=self.faults,
        )
        self.reminders = Reminders(self.store, self._by_id, on_queued=self._wake, ready=self.rooms_ready.wait)
        self.welcomer = Welcomer(
            self.store,
            self._by_id,
            config.base_url,
            smtp=self.smtp,
            send=MatrixSender(self.session).send,
            retry=self.store.outbox.policy,
            ready=self.rooms_ready.wait,
        )
        imap = config.mail.imap
        mail_inbound = MailInbound(
            self.store,
            self.ingestor,
            self._by_slug,
            sender_gate=SenderGate(self.store, key, config.mail.trusted_authserv_ids),
            bounces=BounceHandler(
                self.store,
                bounce_policy(config.mail),
                CountedSuspensions(
                    MailAndRoomNotices(self.smtp, MatrixSender(self.session).send), self.metrics
                ),
            ),
            requests=MailRequests(self.digests.desk).handle
            if self.digests is not None and self.digests.desk is not None
            else None,
            faults=self.faults,
        )
        self.parked = ParkedWork(
            self.store,
            self._by_id,
            mail=mail_inbound.handle,
            notices=ParkedNotices(
                self.store,
                self.smtp,
                MatrixSender(self.session).send,
                moderators_rooms=lambda: self.moderators_rooms,
            ),
        )
        self.shunt = Shunt(self.store.parked, on_parked=self.parked.wake)
        mailbox_key = f"imap:{imap.user}@{imap.host}/{imap.mailbox}"
        self.inbox = ImapInbox(
            imap,
            self._read(loaded.secret(imap.password_env, imap.password_file)) or "",
            cursor=StoredInboxCursor(self.store.cursors, mailbox_key),
            handle=mail_inbound.shunted(self.shunt, mailbox_key),
            status=self.mailbox_status,
        )
        self.metrics.watch_loop("matrix", self.matrix_status, self.leases["matrix"])
        self.metrics.watch_loop("mailbox", self.mailbox_status, self.leases["mailbox"])
        for channel, worker in self.workers.items():
            self.metrics.watch_loop(f"outbox.{channel.value}", worker.status)

    async def _sync_communities(self) -> None:
        """Communities and rosters from config into the store (idempotent; delivery choices survive)."""
        for community in self.loaded.config.community:
            await sync_community(self.store, community)

    async def stop(self) -> None:
        if self.inbox is not None:
            self.inbox.stop()
        if self.smtp is not None:
            await self.smtp.close()
        if self.session is not None:
            await self.session.close()

    def web_routes(self) -> list[web.RouteDef]:
        assert self.signing_key is not None
        download = self.session.download if self.session is not None else None
        unsubscribe = (
            []  # the digest component serves it, with confirmations by mail
            if self.digests is not None
            else UnsubscribePages(self.store, self.signing_key, Renderer()).routes()
        )
        return [*unsubscribe, *FilePages(self.store, self.signing_key, download=download).routes()]

    def loops(self) -> Mapping[str, Callable[[], Awaitable[None]]]:
        assert self.reminders is not None
        assert self.welcomer is not None
        return {
            "matrix": self._matrix_loop,
            "mailbox": self._mailbox_loop,
            "outbox.matrix": self.workers[Channel.MATRIX].run,
            "outbox.email": self.workers[Channel.EMAIL].run,
            "parked": self._parked_loop,
            "meetings": self._reminders_loop,
            "welcomes": self._welcomes_loop,
        }

    # -- loops -------------------------------------------------------------------------------
    async def _matrix_loop(self) -> None:
        assert self.session is not None
        assert self.ingestor is not None
        session = self.session
        try:
            room_ids = await self._enter_rooms(session)
        except Exception as error:  # the sync cannot start: /healthz says why, the supervisor retries
            self.matrix_status.disconnected(f"matrix: cannot start: {type(error).__name__}: {error}")
            raise
        self.rooms_ready.set()
        assert self.moderation is not None
        room_commands = RoomCommands(
            self.store,
            MatrixSender(session).send,
            every_family(
                self.moderation,
                self.loaded.config.base_url,
                self.ingestor.clock,
                digests=self.digests.desk if self.digests is not None else None,
                search=ArchiveSearch(
                    self.store, str(self.loaded.config.base_url), self.loaded.config.community
                ),
                ingest=self.ingestor.ingest,
            ),
            hints=JoinHints(self.moderation),
        )
        inbound = MatrixInbound(
            self.store,
            self.ingestor,
            self._by_room,
            download=session.download,
            on_queued=self._wake,
            intercept=room_commands.intercept,
            filing=self.filing,
            shunt=self.shunt,
            faults=self.faults,
            moderators=self._by_moderators_room,
            in_moderators_room=room_commands.in_moderators_room,
            on_join=self.welcomer.room_joined if self.welcomer else None,
        )
        since = StoredSince(self.store.cursors, sync_cursor_key(session.user_id))
        sync = SyncLoop(
            session,
            load_since=since.load,
            save_since=since.save,
            handle=inbound.handle,
            rooms=room_ids,
            timeout_ms=int(self.loaded.config.matrix.sync_timeout_seconds * 1000),
            community_slugs={
                **{room: self.communities[cid].slug for cid, room in self.moderators_rooms.items()},
                **{c.room_id: c.slug for c in self.communities.values() if c.room_id},
            },
            status=self.matrix_status,
        )

        async def reprocess_event(room_id: str, data: bytes) -> None:
            community = self._by_room().get(room_id)
            if community is None:
                raise MessageFailure(f"room {room_id} is no longer a community's room")
            await inbound.handle_event(community, await sync.convert(room_id, json.loads(data)))

        assert self.parked is not None
        self.parked.event = reprocess_event
        await self.leases["matrix"].run(sync.run)

    async def _enter_rooms(self, session: MatrixSession) -> set[str]:
        """Log in, resolve every community's room and join it (every process does: every process
        delivers); the room ids to sync."""
        await session.login(StoredMatrixLogin(self.store.settings))
        for context in list(self.communities.values()):
            try:
                room_id = await session.resolve_room(context.config.room)
            except MatrixError:
                if context.room_id is None:
                    raise
                room_id = context.room_id  # known from an earlier run; the alias may be briefly broken
            if room_id != context.room_id:
                await self.store.communities.set_room_id(context.id, room_id)
            await self._resolve_moderators_room(context)
        await self._refresh_communities()
        room_ids = {c.room_id for c in self.communities.values() if c.room_id}
        room_ids |= set(self.moderators_rooms.values())
        waiting = await session.ensure_joined(room_ids)
        for room_id in waiting:
            log.warning("not in room %s yet: invite %s to it", room_id, session.user_id)
        return room_ids

    async def _parked_loop(self) -> None:
        assert self.parked is not None
        await self.rooms_ready.wait()
        await self.leases["parked"].run(self.parked.run)

    async def _reminders_loop(self) -> None:
        assert self.reminders is not None
        await self.leases["meetings"].run(self.reminders.run)

    async def _welcomes_loop(self) -> None:
        assert self.welcomer is not None
        await self.leases["welcomes"].run(self.welcomer.run)

    async def _mailbox_loop(self) -> None:
        assert self.inbox is not None
        await self.rooms_ready.wait()
        await self.leases["mailbox"].run(self.inbox.run)

    # -- helpers -----------------------------------------------------------------------------
    def _wake(self) -> None:
        for worker in self.workers.values():
            worker.wake()

    async def _resolve_moderators_room(self, context: CommunityContext) -> None:
        """The configured moderators' room as a room id; without it, details go by mail only."""
        assert self.session is not None
        wanted = context.config.moderators_room
        if wanted is None:
            return
        try:
            self.moderators_rooms[context.id] = await self.session.resolve_room(wanted)
        except MatrixError as error:
            log.warning(
                "moderators' room %s not found (%s): held posts are told by mail only",
                wanted,
                error,
                extra={"community": context.slug},
            )

    async def _refresh_communities(self) -> None:
        configs = {c.slug: c for c in self.loaded.config.community}
        records = await self.store.communities.all()
        self.communities = {
            r.id: CommunityContext(configs[r.slug], r, self.moderators_rooms.get(r.id))
            for r in records
            if r.slug in configs
        }

    def _by_id(self) -> Mapping[int, CommunityContext]:
        return self.communities

    def _by_slug(self) -> Mapping[str, CommunityContext]:
        return {c.slug: c for c in self.communities.values()}

    def _by_moderators_room(self) -> Mapping[str, CommunityContext]:
        return {
            room: self.communities[cid]
            for cid, room in self.moderators_rooms.items()
            if cid in self.communities
        }

    def _by_room(self) -> Mapping[str, CommunityContext]:
        return {c.room_id: c for c in self.communities.values() if c.room_id}

    async def _tell_conveners(self, entry: OutboxEntry, error: str) -> None:
        """A dead delivery is shown in the community's room as a notice (and is in the log already)."""
        post = await self.store.posts.get(entry.post_id)
        context = self.communities.get(post.community_id) if post else None
        if context is None or context.room_id is None or self.session is None:
            return
        body = (
            f"icop-bridge could not deliver post {entry.post_id} to {entry.recipient} "
            f"after {entry.attempts} attempts: {error}. A convener can send it again with "
            f"`icop outbox retry {entry.id}`."
        )
        content = {"msgtype": "m.notice", "body": body, ORIGIN_MARKER_KEY: {"notice": "dead"}}
        try:
            await MatrixSender(self.session).send(
                context.room_id, content, f"icop.dead.{entry.id}.{entry.attempts}"
            )
        except MatrixError as notice_error:
            log.warning("could not post the dead-delivery notice: %s", notice_error)


class CountedSuspensions:
    """Bounce notices that also count each suspension for ``/metrics``."""

    def __init__(self, notices: BounceNotices, metrics: Metrics) -> None:
        self.notices = notices
        self.metrics = metrics

    async def suspended(
        self,
        community: CommunityContext,
        member: MemberRecord,
        conveners: Sequence[MemberRecord],
        outcome: BounceOutcome,
    ) -> None:
        self.metrics.suspension(community.slug)
        await self.notices.suspended(community, member, conveners, outcome)
