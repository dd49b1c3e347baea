"""Meeting reminders on both stores: the loop on a built clock wakes at each reminder's time and posts
it once (across a restart too), the first opens a notes thread tagged ``meeting``, later ones answer in
it; each member's mail states the time in their zone and carries the invitation; a reply joins the
notes; the bridge's posts stay out of the indicators."""

from __future__ import annotations

import email
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from email.policy import default

import icalendar
import pytest

from bridge.config.schema import MeetingConfig, MemberConfig
from bridge.core.indicators import compute
from bridge.core.message_ids import post_message_id
from bridge.core.model import Channel, DeliveryKind, TagSource
from bridge.relay.community import CommunityContext
from bridge.relay.ingest import Ingestor
from bridge.relay.mail_courier import MailCourier
from bridge.relay.reminder_mail import ReminderCourier
from bridge.relay.reminders import Reminders
from bridge.store import Database, Store
from bridge.store.community_facts import CommunityFactsRepository
from tests.relay.test_ingest import KEY, NOW, community, mail

START = datetime(2026, 3, 16, 10, tzinfo=UTC)  # a Monday; Dublin moves to summer time on 29 March
PEOPLE = [
    MemberConfig(name="Ana Souza", email="ana@example.org", matrix="@ana:localhost", role="convener",
                 time_zone="America/Sao_Paulo"),
    MemberConfig(name="Kenji Watanabe", email="kenji@example.jp", role="core", time_zone="Asia/Tokyo"),
    MemberConfig(name="Siobhán Murphy", email="siobhan@example.ie"),  # the community's zone
    MemberConfig(name="Marcus Webb", email="marcus@example.com", delivery="digest"),
    MemberConfig(name="Lena Fischer", email="lena@example.de", role="reader"),
]  # fmt: skip
CALL = MeetingConfig(
    id="practice-call",
    title="Practice call",
    first=date(2026, 3, 17),
    slots=[time(15, 0)],
    call_url="https://meet.example.org/pm",
    description="Bring one practice.",
    reminder_hours=[24, 1],
)


class Stop(Exception):
    pass


class Clock:
    """Now, and a sleep that moves it on; stops the loop past ``until``."""

    def __init__(self, now: datetime, until: datetime) -> None:
        self.now, self.until = now, until
        self.wakes: list[datetime] = []

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        if self.now > self.until:
            raise Stop
        self.wakes.append(self.now)


class Smtp:
    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []

    async def send(self, message: bytes, *, envelope_from: str, recipients: Sequence[str]) -> None:
        self.mails.append(email.message_from_bytes(message, policy=default))  # type: ignore[arg-type]


def plain(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


@pytest.fixture
def store(database: Database) -> Store:
    return Store(database)


async def meetings_community(store: Store) -> CommunityContext:
    return await community(store, member=PEOPLE, meeting=[CALL], time_zone="Europe/Dublin")


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


async def test_the_loop_wakes_at_each_reminder_and_posts_it_once(store: Store) -> None:
    ctx = await meetings_community(store)
    clock = Clock(START, until=at(31, 15))
    reminders = Reminders(
        store, lambda: {ctx.id: ctx}, clock=clock, sleep=clock.sleep, max_sleep=timedelta(days=30)
    )
    with pytest.raises(Stop):
        await reminders.run()
    due_times = [at(16, 15), at(17, 14), at(23, 15), at(24, 14), at(30, 14), at(31, 13)]  # DST on the 29th
    assert [w.replace(microsecond=0) for w in clock.wakes] == due_times  # a wake per reminder, no polling
    assert all(
        timedelta(0) < w - d < timedelta(seconds=1) for w, d in zip(clock.wakes, due_times, strict=True)
    )

    sent = [await store.meetings.of_meeting(ctx.id, "practice-call", n) for n in range(3)]
    assert [[r.minutes_before for r in meeting] for meeting in sent] == [[1440, 60]] * 3
    first, second = sent[0]
    assert first.thread_id == second.thread_id
    root, reply = await store.posts.thread_posts(first.thread_id)
    assert (root.id, reply.id, reply.parent_id) == (first.post_id, second.post_id, first.post_id)
    assert root.subject == "Meeting: Practice call, Tue 17 Mar 2026"
    assert root.author_name == "Project Management Practice"
    assert root.text.startswith("Practice call, in 24 hours: Tuesday 17 March 2026, 15:00–16:00 UTC")
    assert "In the main time zones: 12:00 Sao Paulo · 15:00 Dublin · 00:00 (Wed 18 Mar) Tokyo" in root.text
    assert "This thread holds the meeting's notes" in root.text
    assert reply.text.startswith("Practice call, in 1 hour: Tuesday 17 March 2026")
    assert [(t.name, t.source) for t in await store.tags.of_thread(first.thread_id)] == [
        ("meeting", TagSource.MEETING)
    ]
    rows = await store.outbox.for_post(root.id)
    # Every member who gets list mail, by mail; not Marcus (digests only), not Lena (a reader).
    assert sorted((r.channel, r.kind, r.recipient) for r in rows) == [
        (Channel.EMAIL, DeliveryKind.REMINDER, "ana@example.org"),
        (Channel.EMAIL, DeliveryKind.REMINDER, "kenji@example.jp"),
        (Channel.EMAIL, DeliveryKind.REMINDER, "siobhan@example.ie"),
        (Channel.MATRIX, DeliveryKind.POST, "!room:localhost"),
    ]
    assert sent[2][0].meeting_start == at(31, 14)  # 15:00 in Dublin's summer time
    posted = await store.posts.get(sent[2][0].post_id)
    assert posted is not None
    assert timedelta(0) < posted.created_at - at(30, 14) < timedelta(seconds=1)  # a day before, on time

    # A restart (a new loop over the same store) finds every reminder done.
    again = Reminders(store, lambda: {ctx.id: ctx}, clock=lambda: at(17, 14))
    assert await again.send_due(at(17, 14)) == 0
    assert await again.send_due(datetime(2026, 3, 7, 13, tzinfo=UTC)) == 0  # before any reminder


async def test_after_an_absence_only_the_latest_reminder_goes_out(store: Store) -> None:
    ctx = await meetings_community(store)
    reminders = Reminders(store, lambda: {ctx.id: ctx})
    assert await reminders.send_due(at(17, 14) + timedelta(minutes=20)) == 1
    [only] = await store.meetings.of_meeting(ctx.id, "practice-call", 0)
    assert only.minutes_before == 60
    post = await store.posts.get(only.post_id)
    assert post is not None
    assert post.subject == "Meeting: Practice call, Tue 17 Mar 2026"  # it opens the notes itself
    assert await reminders.send_due(at(17, 15)) == 0


async def test_each_member_gets_their_time_and_the_invitation_and_a_reply_joins_the_notes(
    store: Store,
) -> None:
    ctx = await meetings_community(store)
    reminders = Reminders(store, lambda: {ctx.id: ctx})
    await reminders.send_due(at(16, 15))
    await reminders.send_due(at(17, 14))
    smtp = Smtp()
    mail_courier = MailCourier(store, smtp, lambda: {ctx.id: ctx}, KEY, "https://icop.example.com")  # type: ignore[arg-type]
    courier = ReminderCourier(store, mail_courier, smtp, lambda: {ctx.id: ctx}, "https://icop.example.com")  # type: ignore[arg-type]
    [first, second] = await store.meetings.of_meeting(ctx.id, "practice-call", 0)
    for sent in (first, second):
        for row in await store.outbox.for_post(sent.post_id):
            if row.kind is DeliveryKind.REMINDER:
                assert await courier.deliver([row]) == post_message_id(sent.post_id, ctx.domain)
    assert len(smtp.mails) == 6
    first_id = f"<{post_message_id(first.post_id, ctx.domain)}>"
    opening = [m for m in smtp.mails if str(m["Message-ID"]) == first_id]
    assert {plain(m).splitlines()[2] for m in opening} == {
        "For you: Tuesday 17 March 2026, 12:00–13:00 (America/Sao_Paulo, UTC−03:00).",
        "For you: Wednesday 18 March 2026, 00:00–01:00 (Asia/Tokyo, UTC+09:00).",
        "For you: Tuesday 17 March 2026, 15:00–16:00 (Europe/Dublin, UTC+00:00).",
    }
    kenji = next(
        m
        for m in smtp.mails
        if "Asia/Tokyo" in m.get_body(("plain",)).get_content() and str(m["Message-ID"]) == first_id
    )  # type: ignore[union-attr]
    assert str(kenji["Subject"]) == "[pm-practice] Meeting: Practice call, Tue 17 Mar 2026"
    assert str(kenji["Reply-To"]).startswith("pm+")
    calendars = [p for p in kenji.walk() if p.get_content_type() == "text/calendar"]
    assert len(calendars) == 1
    assert calendars[0].get_param("method") == "PUBLISH"
    [attached] = [p for p in kenji.iter_attachments() if p.get_filename() == "invite.ics"]
    for part in (calendars[0], attached):
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        [event] = icalendar.Calendar.from_ical(payload).walk("VEVENT")
        assert event.decoded("dtstart") == at(17, 15)
        assert str(event["uid"]) == "pm-practice.practice-call-0@lists.example.com"
        assert int(event["sequence"]) == 0
    later = next(m for m in smtp.mails if str(m["Message-ID"]) != first_id)
    assert str(later["In-Reply-To"]) == first_id
    assert str(later["Subject"]).startswith("Re: [pm-practice] Meeting: Practice call")
    [later_calendar] = [p for p in later.walk() if p.get_content_type() == "text/calendar"]
    later_payload = later_calendar.get_payload(decode=True)
    assert isinstance(later_payload, bytes)
    [later_event] = icalendar.Calendar.from_ical(later_payload).walk("VEVENT")
    assert int(later_event["sequence"]) == 1  # the newer copy of the same event

    # Siobhán answers the reminder by mail: her notes join the meeting's thread.
    outcome = await Ingestor(store, KEY, clock=lambda: at(17, 16)).ingest(
        ctx,
        mail("notes@x", "siobhan@example.ie", "Notes: we picked planning poker.", subject="Re: Meeting",
             in_reply_to=post_message_id(first.post_id, ctx.domain)),
    )  # fmt: skip
    assert outcome.thread_id == first.thread_id

    # The indicators count Siobhán's notes, never the bridge's reminders.
    until = NOW + timedelta(days=1)  # the helper's mail is dated NOW
    facts = await CommunityFactsRepository(store.db).load(ctx.id, ctx.slug, "Europe/Dublin", until)
    report = compute(facts, at(16, 0), until)
    assert (report.values["posts"], report.values["participants"], report.values["threads"]) == (1, 1, 1)
