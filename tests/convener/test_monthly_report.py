"""The monthly report mail on a built clock, over a real store (SQLite and PostgreSQL) and a real SMTP
peer (aiosmtpd in the test's loop, recording what it accepts and refusing what the test says).

What each case gets:
- before the moment (1 March 07:59 in Dublin) nothing; at 08:00 February's report goes to the active
  convener and core member; not to a member, a reader, a core member who takes no mail, nor one who
  joined after the moment;
- a temporary refusal (451) for one recipient is retried; a second sender made afresh (a restart)
  sends that one and never the other again; a third run sends nothing;
- a claim whose sender died is taken over once its lease has run out, and sent once;
- April 1st in summer time goes out at 08:00 Irish time (07:00 UTC), the late joiner included;
- the mail: headers, the figures of the month beside the month before, bars, the report page's link;
- the daemon's component: two processes' loops, one holding the lease (PostgreSQL), the team's two
  mails sent once.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from bridge.config import LoadedConfig, load_config
from bridge.config.schema import SmtpConfig
from bridge.convener.component import ConvenerComponent
from bridge.convener.monthly import MonthlyReports
from bridge.core.indicators import compute
from bridge.core.model import Channel, DeliveryMode, InboundMessage, Role, RosterMember
from bridge.email.smtp import SmtpSender
from bridge.store import CommunityRecord, Database, Dialect, NewThread, Store
from bridge.store.community_facts import CommunityFactsRepository
from bridge.store.lease import locks_for
from bridge.store.models import Membership
from bridge.supervisor import Supervisor
from tests.e2e.conftest import wait_for
from tests.integration.email.local_smtp import LocalSmtp, local_smtp
from tests.unit.config.test_load import ENV, VALID

MOMENT = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)  # 08:00 in Dublin (UTC+0 in winter)
JOINED = datetime(2027, 2, 10, tzinfo=UTC)
ROSTER = [
    RosterMember("Ana Souza", "ana@example.org", Role.CONVENER, None, "America/Sao_Paulo"),
    RosterMember("Kenji Sato", "kenji@example.jp", Role.CORE, None, "Asia/Tokyo"),
    RosterMember("Omar Haddad", "omar@example.eg", Role.CORE, None, "Africa/Cairo", DeliveryMode.NONE),
    RosterMember("Siobhán Murphy", "siobhan@example.ie", Role.MEMBER, None, "Europe/Dublin"),
    RosterMember("Lena Fischer", "lena@example.de", Role.READER, None, "Europe/Berlin"),
    RosterMember("Bea Late", "bea@example.org", Role.CORE, None, "Europe/Dublin"),
]


@dataclass
class Relay:
    """What the component borrows from the relay: its store and its SMTP sender."""

    store: Store
    smtp: SmtpSender | None


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _loaded(tmp_path: Path) -> LoadedConfig:
    """The test config: pm-practice sends reports (Dublin, digest hour 8), data-quality does not."""
    path = tmp_path / "icop.toml"
    text = VALID.replace(
        'list_address = "dq@lists.example.com"\n',
        'list_address = "dq@lists.example.com"\nmonthly_report = false\n',
    )
    path.write_text(text, encoding="utf-8")
    loaded = load_config(path, ENV)
    pm, dq = loaded.config.community
    assert (pm.time_zone, pm.digest.hour, pm.monthly_report, dq.monthly_report) == (
        "Europe/Dublin",
        8,
        True,
        False,
    )
    return loaded


async def _community(store: Store) -> CommunityRecord:
    sync = await store.communities.sync_community(
        slug="pm-practice",
        name="Project Management Practice",
        list_address="pm-practice@lists.example.com",
        room="#pm-practice:example.com",
        time_zone="Europe/Dublin",
        roster=ROSTER,
    )
    await store.communities.sync_community(
        slug="data-quality",
        name="Data Quality Guild",
        list_address="dq@lists.example.com",
        room="!abcdef:example.com",
        roster=[RosterMember("Grace Okafor", "grace@example.ng", Role.CONVENER)],
    )
    bea = await store.communities.person_by_email("bea@example.org")
    assert bea is not None
    async with store.db.session() as conn:
        await Membership.all().using_db(conn).update(created_at=JOINED)
        await (
            Membership.filter(community_id=sync.community_id, person_id=bea.id)
            .using_db(conn)
            .update(created_at=MOMENT + timedelta(minutes=30))  # joined after February's report fell due
        )
    record = await store.communities.by_slug("pm-practice")
    assert record is not None
    return record


async def _post(
    store: Store, community: CommunityRecord, key: str, who: str, at: datetime, thread: int = 0
) -> int:
    person = await store.communities.person_by_email(who)
    assert person is not None
    message = InboundMessage(
        channel=Channel.MATRIX if who.endswith(".jp") else Channel.EMAIL,
        origin_key=key,
        community_slug="pm-practice",
        sender_address=who,
        sender_name=who,
        text=f"post {key}",
        subject=f"Subject {key}",
        sent_at=at,
    )
    result = await store.posts.ingest(
        message,
        community_id=community.id,
        thread=thread or NewThread(f"Subject {key}", f"subject {key}"),
        author_id=person.id,
    )
    return result.thread_id


def _received(smtp: LocalSmtp) -> list[tuple[str, EmailMessage]]:
    found = []
    for envelope in smtp.handler.received:
        message = email.message_from_bytes(envelope.original_content or b"", policy=default)
        assert isinstance(message, EmailMessage)
        [recipient] = envelope.rcpt_tos
        found.append((recipient, message))
    return found


async def test_the_monthly_report_goes_once_to_the_team_across_restarts(
    database: Database, tmp_path: Path
) -> None:
    store = Store(database)
    community = await _community(store)
    january, february = datetime(2027, 1, 20, 9, tzinfo=UTC), datetime(2027, 2, 14, 9, tzinfo=UTC)
    await _post(store, community, "jan", "ana@example.org", january)
    question = await _post(store, community, "q", "siobhan@example.ie", february)
    await _post(store, community, "a1", "kenji@example.jp", february + timedelta(hours=2), question)
    await _post(store, community, "a2", "ana@example.org", february + timedelta(hours=5), question)

    async with local_smtp() as smtp:
        loaded = _loaded(tmp_path)
        clock = Clock(MOMENT - timedelta(minutes=1))
        sender = SmtpSender(SmtpConfig(host=smtp.host, port=smtp.port, security="none"), None)
        try:
            first = MonthlyReports(loaded, store, sender, worker="first", clock=clock)
            assert (await first.send_due(clock())).lines == []  # January fell due before anyone joined

            clock.now = MOMENT
            smtp.handler.rcpt_replies["kenji@example.jp"] = "451 4.3.0 mailbox busy, try later"
            run = await first.send_due(clock())
            assert run.lines == [
                "monthly report sent: pm-practice February 2027 report to ana@example.org",
                "monthly report will retry: pm-practice February 2027 report to kenji@example.jp: "
                f"smtp {smtp.host}:{smtp.port} refused every recipient: "
                "kenji@example.jp: 451 4.3.0 mailbox busy, try later",
            ]
            del smtp.handler.rcpt_replies["kenji@example.jp"]

            clock.now = MOMENT + timedelta(minutes=5)  # a restart: a new sender on the same store
            restarted = MonthlyReports(loaded, store, sender, worker="second", clock=clock)
            run = await restarted.send_due(clock())
            assert run.lines == ["monthly report sent: pm-practice February 2027 report to kenji@example.jp"]
            clock.now = MOMENT + timedelta(hours=1)
            assert (await restarted.send_due(clock())).lines == []
            assert [r for r, _ in _received(smtp)] == ["ana@example.org", "kenji@example.jp"]

            # A sender that claimed March's mail for Ana and died before sending it.
            april = datetime(2027, 4, 1, 7, 0, tzinfo=UTC)  # 08:00 in Dublin, summer time (UTC+1)
            ana = next(r for r in await store.report_mails.recipients(community.id, joined_by=april))
            assert ana.email == "ana@example.org"
            died = await store.report_mails.claim(
                community.id,
                datetime(2027, 3, 1, tzinfo=UTC),
                datetime(2027, 4, 1, tzinfo=UTC),
                [ana.membership_id],
                worker="dead",
                lease_until=april + timedelta(minutes=10),
            )
            clock.now = april - timedelta(seconds=1)
            assert (await restarted.send_due(clock())).lines == []  # February's moment has passed
            clock.now = april
            run = await restarted.send_due(clock())
            assert run.lines == [
                "monthly report sent: pm-practice March 2027 report to kenji@example.jp",
                "monthly report sent: pm-practice March 2027 report to bea@example.org",
            ]
            clock.now = april + timedelta(minutes=11)  # the dead sender's lease has run out
            run = await restarted.send_due(clock())
            assert run.lines == ["monthly report sent: pm-practice March 2027 report to ana@example.org"]
            assert (await store.report_mails.get(died[ana.membership_id])) is not None
            assert (await restarted.send_due(clock())).lines == []
        finally:
            await sender.close()
        received = _received(smtp)

    assert [r for r, _ in received] == [
        "ana@example.org",
        "kenji@example.jp",
        "kenji@example.jp",
        "bea@example.org",
        "ana@example.org",
    ]
    february_mails = await store.report_mails.of_month(community.id, datetime(2027, 2, 1, tzinfo=UTC))
    assert sorted((m.state.value, m.attempts) for m in february_mails) == [("sent", 1), ("sent", 2)]

    _, mail = received[0]
    facts = await CommunityFactsRepository(store.db).load(
        community.id, "pm-practice", "Europe/Dublin", datetime(2027, 3, 1, tzinfo=UTC)
    )
    figures = compute(facts, datetime(2027, 2, 1, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC)).values
    assert (figures["posts"], figures["participants"], figures["median_first_response_hours"]) == (3, 3, 2.0)
    # Folded after "Subject:" (the standard library's way with a long "[tag] …"); clients unfold it.
    assert (
        mail["Subject"].strip()
        == "[pm-practice] Monthly report: February 2027 in Project Management Practice"
    )
    assert mail["From"] == "Project Management Practice reports <pm-practice+request@lists.example.com>"
    assert mail["To"] == "Ana Souza <ana@example.org>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Loop"] == "pm-practice@lists.example.com"
    assert re.fullmatch(r"<icop-report\.\d+\.[0-9a-f]{10}@lists\.example\.com>", mail["Message-ID"])
    text_part, html_part = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text_part is not None
    assert html_part is not None
    text, html = text_part.get_content().replace("\r\n", "\n"), html_part.get_content()
    (tmp_path / "monthly.txt").write_text(text)
    (tmp_path / "monthly.html").write_text(html)
    report = "https://icop.example.com/c/pm-practice/report?from=2027-02-01&to=2027-02-28"
    assert f"The whole report: {report}" in text
    assert f'href="{report.replace("&", "&amp;")}"' in html
    assert "Hello Ana Souza, in February 2027 Project Management Practice had 3 posts by 3 people" in text
    assert "Posts: 3 (+2); January 2027: 1" in text
    assert "Time to a first answer (median): 2 h; January 2027: –" in text
    assert re.search(r"Feb 2027\s+█{20} 3\n", text)  # the month's bar is the longest
    assert re.search(r"Jan 2027\s+█{7} {14}1\n", text)
    assert "No figure here is money." in text
    assert "<style>" in html  # the dark-mode rules stay for the clients that read them
    assert 'class="section" style="' in html  # every other rule inlined
    assert 'width="100%"' in html
    assert "€" not in text + html


async def test_the_daemon_sends_the_report_from_its_leased_loop(database: Database, tmp_path: Path) -> None:
    """The component the daemon runs: its loop takes the lease (an advisory lock on PostgreSQL) and
    sends the due report; a second process's component stands by while the first holds it."""
    store = Store(database)
    await _community(store)
    async with local_smtp() as smtp:
        sender = SmtpSender(SmtpConfig(host=smtp.host, port=smtp.port, security="none"), None)
        relay = Relay(store, sender)
        locks, other_locks = locks_for(database, "one"), locks_for(database, "two")
        one = ConvenerComponent(_loaded(tmp_path), relay, locks=locks, process="one", clock=lambda: MOMENT)
        two = ConvenerComponent(
            _loaded(tmp_path), relay, locks=other_locks, process="two", clock=lambda: MOMENT
        )
        supervisor = Supervisor()
        try:
            for name, component in (("one", one), ("two", two)):
                await component.start()
                for loop_name, loop in component.loops().items():
                    supervisor.spawn(f"{name}.{loop_name}", loop)
            await wait_for(lambda: len(smtp.handler.received) >= 2, 30, "the team's reports")
            assert sorted(e.rcpt_tos[0] for e in smtp.handler.received) == [
                "ana@example.org",
                "kenji@example.jp",
            ]
            assert one.lease.held != two.lease.held or database.dialect is Dialect.SQLITE
        finally:
            await supervisor.stop()
            await sender.close()
            await locks.close()
            await other_locks.close()
        assert len(smtp.handler.received) == 2
