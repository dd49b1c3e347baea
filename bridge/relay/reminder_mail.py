"""Meeting reminders by mail: list mail in the meeting's notes thread, personal in two ways.

Each member's copy states the meeting's time in that member's own zone (their membership's, else
their own, else the community's) and carries the iCalendar invitation (``bridge.email.calendar``,
``METHOD:PUBLISH``, one stable ``UID`` per meeting). It is otherwise list mail like a post: signed
reply address for the notes thread, the post's Message-ID (so a retry is the same message and a reply
threads), list headers and one-click unsubscribe. ``ReminderCourier`` writes the outbox rows of kind
``REMINDER`` and hands every other row to the mail courier it wraps, whose envelope it shares.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from bridge.config.schema import build_meeting_series
from bridge.core.links import thread_url
from bridge.core.meeting_series import meeting
from bridge.core.meeting_times import local_when, utc_when
from bridge.core.model import DeliveryKind, PostState
from bridge.core.reminders import lead_time
from bridge.email.calendar import meeting_invitation
from bridge.email.outbound import OutgoingReminder, compose_reminder_mail
from bridge.email.smtp import SmtpSender
from bridge.relay.community import CommunityContext
from bridge.relay.conversation import conversation_of, email_id
from bridge.relay.mail_courier import MailCourier, send_to_member
from bridge.relay.worker import PermanentDeliveryError
from bridge.rendering import Renderer
from bridge.store import OutboxEntry, Store


class ReminderCourier:
    """Mails ``REMINDER`` rows itself; every other row goes on to the mail courier it wraps."""

    def __init__(
        self,
        store: Store,
        mail: MailCourier,
        smtp: SmtpSender,
        communities: Callable[[], Mapping[int, CommunityContext]],
        base_url: str,
        *,
        renderer: Renderer | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.mail = mail  # posts, edits, batches; and the envelope a reminder shares with them
        self.smtp = smtp
        self.communities = communities
        self.base_url = base_url
        self.renderer = renderer or Renderer()
        self.clock = clock

    async def deliver(self, entries: Sequence[OutboxEntry]) -> str | None:
        entry = entries[0]
        if entry.kind is not DeliveryKind.REMINDER:
            return await self.mail.deliver(entries)
        post = await self.store.posts.get(entry.post_id)
        if post is None or post.state is not PostState.VISIBLE:
            raise PermanentDeliveryError("the reminder's post no longer exists")
        community = self.communities().get(post.community_id)
        if community is None:
            raise PermanentDeliveryError(f"community {post.community_id} is no longer configured")
        sent = await self.store.meetings.of_post(post.id)
        series = {s.key: s for s in build_meeting_series(community.config)}
        found = series.get(sent.series_key) if sent is not None else None
        held = meeting(found, sent.meeting_number) if found is not None and sent is not None else None
        if sent is None or held is None:
            raise PermanentDeliveryError("the meeting of this reminder is no longer configured")
        earlier = await self.store.meetings.of_meeting(community.id, sent.series_key, sent.meeting_number)
        sequence = next((n for n, r in enumerate(earlier) if r.post_id == post.id), 0)
        member_zone = (
            await self.store.communities.time_zone(entry.membership_id) if entry.membership_id else None
        )
        conversation = await conversation_of(self.store, post)
        message_id = email_id(post, community.domain)
        notes = thread_url(self.base_url, community.slug, post.thread_id)
        invitation = meeting_invitation(
            held,
            community_slug=community.slug,
            community_name=community.config.name,
            list_address=community.config.list_address,
            sequence=sequence,
            stamp=self.clock(),
            description="\n\n".join(
                part
                for part in (
                    held.series.description,
                    f"Agenda and notes: {notes}",
                    held.series.call_url or "",
                )
                if part
            ),
            notes_url=notes,
        )
        mail = OutgoingReminder(
            **self.mail.envelope(community, entry, conversation, message_id),  # type: ignore[arg-type]
            title=held.series.title,
            lead=lead_time(timedelta(minutes=sent.minutes_before)),
            when_local=local_when(held, member_zone or community.config.time_zone),
            when_utc=utc_when(held),
            call_url=held.series.call_url,
            description=held.series.description,
            opens_notes=sequence == 0,
            calendar=invitation,
        )
        message = compose_reminder_mail(mail, renderer=self.renderer)
        await send_to_member(self.smtp, message, community.config.list_address, entry.recipient)
        return message_id
